#!/usr/bin/env python3
"""Turn kdissect records into hostile ones for `kstat report`'s escaping test.
    hostile.py < calls.ndjson > hostile.ndjson
Each record comes out twice: once with every string replaced (protocol, DNS rcode names and times
kept, so the record still lands in the HTTP/DNS/… tables), once with every string but the time
replaced (unknown protocols, names, everything). A replacement closes tags, quotes and scripts,
opens new ones, and carries control characters, a bidi override and the field's name."""
import json
import sys

PAYLOAD = ('</td></tr></table></svg></title><script>window.__pwned=1;alert(1)</script>'
           '"\'><img src=x onerror="window.__pwned=2;alert(2)">&amp;&lt;\\"\x01\x07\x1b[31m\x7f\u202e'
           '<style>body{display:none}</style>{{x}}$(touch /tmp/kf-pwned)`id`\n\t')
KEEP_ALWAYS = {'timestamp', 'first_ts', 'last_ts', 'conn_first_ts', 'conn_last_ts'}
KEEP_TYPED = KEEP_ALWAYS | {'protocol', 'dns_rcode', 'tcp_error_type', 'dns_question_types', 'method'}


def hostile(v, keep, name=''):
    if isinstance(v, dict):
        return {k: (v[k] if k in keep else hostile(v[k], keep, k)) for k in v}
    if isinstance(v, list):
        return [hostile(x, keep, name) for x in v]
    if isinstance(v, str):
        return PAYLOAD + name
    return v


for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    for keep in (KEEP_TYPED, KEEP_ALWAYS):
        print(json.dumps(hostile(r, keep)))
