#!/usr/bin/env bats
# kfl's table-driven tests (tests/kfl/): KFL.md's filters over a fixture with the records each
# must select (and jq as an independent oracle for the same table), CEL behaviour, and the exact
# messages of refused expressions.
load helpers

setup() {
  T=$KF_ROOT/tests/kfl
  KFL=$KF_BIN/kfl
  W=$BATS_TEST_TMPDIR
  now=$(date -u +%s)
  sed -e "s/@NOW-60@/$(date -u -d @$((now - 60)) +%FT%T.5Z)/" \
      -e "s/@NOW-600@/$(date -u -d @$((now - 600)) +%FT%T.5Z)/" "$T/records.ndjson" > "$W/records.ndjson"
}

@test "kfl: every filter of KFL.md's must-work list selects exactly the expected records" {
  n=0 bad=0
  while IFS=$'\t' read -r filter want jqexpr; do
    case "$filter" in '#'*|'') continue;; esac
    n=$((n + 1))
    got=$("$KFL" -- "$filter" "$W/records.ndjson" | jq -r .id | paste -sd, -)
    [ -n "$got" ] || got=-
    if [ "$got" != "$want" ]; then echo "filter: $filter"; echo "  want $want"; echo "  got  $got"; bad=$((bad + 1)); fi
  done < "$T/must_work.tsv"
  echo "$n filters"
  [ "$n" -ge 27 ]
  [ "$bad" -eq 0 ]
}

@test "kfl: jq (independent oracle) selects the same records as the must-work table says" {
  n=0 bad=0
  while IFS=$'\t' read -r filter want jqexpr; do
    case "$filter" in '#'*|'') continue;; esac
    n=$((n + 1))
    got=$(jq -r "select($jqexpr) | .id" "$W/records.ndjson" | paste -sd, -)
    [ -n "$got" ] || got=-
    if [ "$got" != "$want" ]; then echo "jq: $jqexpr"; echo "  want $want"; echo "  got  $got"; bad=$((bad + 1)); fi
  done < "$T/must_work.tsv"
  [ "$n" -ge 27 ]
  [ "$bad" -eq 0 ]
}

@test "kfl: the must-work table holds every filter of docs/kfl.md's reference verbatim" {
  md=$KF_ROOT/docs/kfl.md
  sed -n '/^### Filters that must work verbatim/,$p' "$md" | sed -n '/^```$/,/^```$/p' | grep -v '^```' > "$W/list"
  [ "$(wc -l < "$W/list")" -ge 27 ]
  cut -f1 "$T/must_work.tsv" > "$W/have"
  missing=0
  while IFS= read -r f; do grep -qxF -- "$f" "$W/have" || { echo "missing: $f"; missing=$((missing + 1)); }; done < "$W/list"
  [ "$missing" -eq 0 ]
}

@test "kfl: every fixture record is valid JSON and the fixture has near misses for each filter" {
  run jq -c . "$W/records.ndjson"
  [ "$status" -eq 0 ]
  # each filter leaves out at least one record of its own protocol family: no filter selects all
  while IFS=$'\t' read -r filter want jqexpr; do
    case "$filter" in '#'*|'') continue;; esac
    [ "$(echo "$want" | tr ',' '\n' | wc -l)" -lt 26 ]
  done < "$T/must_work.tsv"
}

@test "kfl: CEL behaviour table (precedence, errors in && ||, numbers, escapes, regex, time, macros)" {
  n=0 bad=0
  while IFS=$'\t' read -r want opt expr; do
    case "$want" in '#'*|'') continue;; esac
    n=$((n + 1))
    rc=0
    if [ "$opt" = - ]; then "$KFL" -q -- "$expr" "$T/cel_record.ndjson" 2> "$W/err" || rc=$?
    else "$KFL" -q "$opt" -- "$expr" "$T/cel_record.ndjson" 2> "$W/err" || rc=$?; fi
    exp=1; [ "$want" = match ] && exp=0
    if [ "$rc" -ne "$exp" ]; then echo "want $want, exit $rc: $expr"; head -3 "$W/err"; bad=$((bad + 1)); fi
  done < "$T/cel.tsv"
  echo "$n cases"
  [ "$n" -ge 200 ]
  [ "$bad" -eq 0 ]
}

@test "kfl: refused expressions exit 2 with the exact message" {
  n=0 bad=0
  while IFS=$'\t' read -r expr msg; do
    case "$expr" in '#'*|'') continue;; esac
    n=$((n + 1))
    rc=0; "$KFL" --check -- "$expr" 2> "$W/err" || rc=$?
    got=$(head -1 "$W/err")
    if [ "$rc" -ne 2 ] || [ "$got" != "$msg" ]; then echo "expr: $expr (exit $rc)"; echo "  want $msg"; echo "  got  $got"; bad=$((bad + 1)); fi
  done < "$T/errors.tsv"
  [ "$n" -ge 30 ]
  [ "$bad" -eq 0 ]
}

@test "kfl: differential against jq over 2 MB of generated records (same count for each predicate)" {
  python3 "$T/gen_records.py" "$W/gen.ndjson" 2
  n=0 bad=0
  while IFS=$'\t' read -r filter jqexpr; do
    case "$filter" in '#'*|'') continue;; esac
    n=$((n + 1))
    a=$("$KFL" -c -- "$filter" "$W/gen.ndjson" || true)
    b=$(jq -c "select($jqexpr)" "$W/gen.ndjson" | wc -l)
    if [ "$a" != "$b" ] || [ "$b" -eq 0 ]; then echo "kfl $a, jq $b: $filter"; bad=$((bad + 1)); fi
  done < "$T/differential.tsv"
  [ "$n" -ge 14 ]
  [ "$bad" -eq 0 ]
}
