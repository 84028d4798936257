#!/usr/bin/env bats
# Docs match the code (issue 20): --help lists every option, the man pages every dissector and
# subcommand, docs/time.md only options that exist.
load helpers

helps() { # every --help text of every tool and ksnap subcommand
  for t in kexport kdissect kfl kresolve; do "$KF_BIN/$t" --help; done
  [ -x "$KF_BIN/kstat" ] && "$KF_BIN/kstat" --help
  for c in capture ls prune freeze info verify merge; do "$KF_BIN/ksnap" $c --help; done
  "$KF_BIN/ksnap" meta record --help; "$KF_BIN/ksnap" meta import --help
}

@test "docs: every option a tool accepts is listed by its --help" {
  run python3 "$KF_ROOT/tests/docs/options_in_help.py" "$KF_ROOT" "$KF_BIN"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "docs: man kdissect names every dissector 'kdissect -p list' has" {
  run "$KF_BIN/kdissect" -p list
  assert_success
  [ "${#lines[@]}" -ge 10 ]
  for d in $(echo "$output" | cut -f1); do
    grep -qF "\\fB$d\\fR" "$KF_ROOT/man/kdissect.1" || { echo "man kdissect lacks $d"; false; }
  done
}

@test "docs: man ksnap documents every subcommand 'ksnap --help' lists" {
  run "$KF_BIN/ksnap" --help
  cmds=$(echo "$output" | awk '/^commands:/{f=1;next} f && /^  [a-z]/{print $1}')
  [ "$(echo "$cmds" | wc -w)" -ge 8 ]
  for c in $cmds; do
    # a synopsis line and a section (or paragraph) that starts with the subcommand
    grep -qE "^\.B ksnap $c( |$)" "$KF_ROOT/man/ksnap.1" || { echo "no synopsis for ksnap $c"; false; }
    [ "$(grep -cE "ksnap $c|^\.SH .*${c^^}" "$KF_ROOT/man/ksnap.1")" -ge 2 ] || { echo "ksnap $c is not described"; false; }
  done
}

@test "docs: docs/time.md names only options that exist" {
  all=$(helps 2>&1)
  bad=0
  for o in $(grep -oE -- '--[a-z][a-z-]+' "$KF_ROOT/docs/time.md" | sort -u); do
    grep -qF -- "$o" <<< "$all" || { echo "docs/time.md names $o, which no tool has"; bad=$((bad + 1)); }
  done
  [ "$bad" -eq 0 ]
}

@test "docs: ksnap capture --help lists every flag, in the usage line too" {
  run "$KF_BIN/ksnap" capture --help
  for o in --dir --node -i --snaplen -f --segment-size --segment-time --retain-size --retain-time --backend --ring-size --stats --user -v; do
    echo "${lines[0]}${lines[1]}${lines[2]}${lines[3]}" | grep -qF -- "$o" || { echo "usage lacks $o"; false; }
  done
}
