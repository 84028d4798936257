# Shared by kstat_report*.bats: render a page, open it in headless Chromium (tests/report/browser.py),
# keep the screenshot, and compare what the browser read with kstat's own outputs and the records.
# Debian packages: chromium graphviz python3 jq.
REPORT_T=$KF_ROOT/tests/report
# screenshots and pages are kept here (CI keeps the folder as the tests' artefacts)
: "${KF_ARTEFACTS:=/tmp/kf-artefacts}"

need_browser() {
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
    fail "chromium not installed (scripts/install-deps installs Debian's chromium)"
  command -v dot >/dev/null || fail "Graphviz's dot not installed (scripts/install-deps: graphviz)"
}

# browse PAGE NAME: browser.py's JSON into $W/NAME.json, the screenshot into the artefacts folder;
# fails when the page logged an error, asked for anything over the network or showed a dialog
browse() {
  local page=$1 name=$2
  mkdir -p "$KF_ARTEFACTS/kstat_report"
  python3 "$REPORT_T/browser.py" "$page" --screenshot "$KF_ARTEFACTS/kstat_report/$name.png" > "$W/$name.json"
  cp "$page" "$KF_ARTEFACTS/kstat_report/$name.html"
  echo "# screenshot: $KF_ARTEFACTS/kstat_report/$name.png" >&3
  run jq -c '.console' "$W/$name.json"; assert_output '[]'
  run jq -c '.requests' "$W/$name.json"; assert_output '[]'
  run jq -r '.dom.pwned' "$W/$name.json"; assert_output 'null'
  # our one script and nothing else that could run or fetch
  [ "$(jq '.dom.scripts' "$W/$name.json")" -eq 1 ]
  [ "$(jq '.dom.elements_with_on_attributes' "$W/$name.json")" -eq 0 ]
  [ "$(jq '.dom.foreign_elements' "$W/$name.json")" -eq 0 ]
  [ -s "$KF_ARTEFACTS/kstat_report/$name.png" ]
}

# check_against_kstat RECORDS NAME: the page's map and tables against kstat's JSON and the records
check_against_kstat() {
  local recs=$1 name=$2
  "$KF_BIN/kstat" --json "$recs" > "$W/stats.ndjson" || true
  "$KF_BIN/kstat" map --format json --top-edges 40 "$recs" > "$W/map.json"
  run python3 "$REPORT_T/check_report.py" "$W/$name.json" --records "$recs" --stats "$W/stats.ndjson" --map "$W/map.json"
  assert_success
}

# every "reproduce" command of the failing and slowest tables: its kfl part, run in a shell with
# the tools on PATH, selects exactly the row's calls (the group's count; the one call by id)
check_commands() {
  local name=$1 cmd n want id
  while IFS=$'\t' read -r cmd want; do
    n=$(PATH="$KF_BIN:$PATH" bash -c "${cmd%% | kexport *} | wc -l")
    [ "$n" -eq "$want" ] || fail "command selects $n calls, the row says $want: ${cmd%% | kexport *}"
  done < <(jq -r '.dom.tables.failing[]? | [.command, .calls] | @tsv' "$W/$name.json")
  while IFS=$'\t' read -r cmd id; do
    n=$(PATH="$KF_BIN:$PATH" bash -c "${cmd%% | kexport *}" | jq -r .id)
    [ "$n" = "$id" ] || fail "command selects '$n', the row is $id: $cmd"
  done < <(jq -r '.dom.tables.slowest[]? | [.command, .id] | @tsv' "$W/$name.json")
}
