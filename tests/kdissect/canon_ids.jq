# records with their ids replaced by canonical numbers: conns and flows numbered by first
# appearance in content order (an interval flow record's conn_id names no connection)
def number: reduce .[] as $x ({}; if .[$x] then . else .[$x] = length end);
map(. as $r | {k: ($r | del(.id, .stream, .conn_id, .flow_id, .capture.conn_id) | tojson),
               c: (if $r.flow and $r.flow_state == "open" then null else $r.conn_id end), f: $r.flow_id})
| sort_by(.k)
| ([.[].c | select(.)] | number) as $cm
| ([.[].f | select(.)] | number) as $fm
| .[] | .k + " c=" + (if .c then $cm[.c] | tostring else "-" end) + " f=" + (if .f then $fm[.f] | tostring else "-" end)
