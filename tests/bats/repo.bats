#!/usr/bin/env bats
# The repository stands alone: a fresh clone runs `make test` with nothing beside it (issue 20).
load helpers

@test "repo: every file SOURCES.tsv lists is vendored in tests/corpus, with a licence text for each licence" {
  c=$KF_ROOT/tests/corpus
  [ -f "$c/SOURCES.tsv" ]
  [ -f "$c/LICENSES.md" ]
  missing=0
  while IFS=$'\t' read -r path _ _ _ lic _; do
    [ "$path" = path ] && continue
    [ -f "$c/$path" ] || { echo "missing: $path"; missing=$((missing + 1)); }
    case "$lic" in
      MIT) [ -f "$c/LICENSES/MIT.txt" ] ;;
      Apache-2.0) [ -f "$c/LICENSES/Apache-2.0.txt" ] ;;
      LGPL-3.0) [ -f "$c/LICENSES/LGPL-3.0.txt" ] ;;
      BSD-3-Clause*) [ -f "$c/LICENSES/BSD-3-Clause.txt" ] ;;
      *) echo "no licence text for $lic ($path)"; false ;;
    esac
  done < "$c/SOURCES.tsv"
  [ "$missing" -eq 0 ]
}

@test "repo: tests default to the vendored corpus, a bigger one is opt-in with KF_CORPUS" {
  grep -q 'KF_CORPUS=${KF_CORPUS:-$PWD/tests/corpus}' "$KF_ROOT/tests/run.sh"
  run grep -rlE --exclude=repo.bats --exclude-dir=node_modules '\.\./shared|shared/corpus' "$KF_ROOT/tests" "$KF_ROOT/Makefile" "$KF_ROOT/scripts" "$KF_ROOT/bench"
  [ "$status" -eq 1 ] || { echo "$output"; false; }
}

@test "repo: docs, man pages and the README point only inside the repository" {
  run grep -rnE '\.\./shared|KFL\.md|/work/' "$KF_ROOT/docs" "$KF_ROOT/man" "$KF_ROOT/README.md" "$KF_ROOT/deploy"
  # the only mention of KFL.md allowed is the note that its text now lives in docs/kfl.md
  out=$(printf '%s\n' "$output" | grep -v 'formerly a separate KFL.md' || true)
  [ -z "$out" ] || { echo "$out"; false; }
  # every repository path a doc names in backquotes (docs/…, man/…, deploy/…, scripts/…) exists
  # (tests/… left out: test files land separately from the docs that mention them)
  bad=0
  for f in "$KF_ROOT"/docs/*.md "$KF_ROOT/README.md"; do
    for p in $(grep -oE '`(docs|man|deploy|scripts)/[A-Za-z0-9_./-]+`' "$f" | tr -d '`' | sort -u); do
      case "$p" in *'*'*|*'<'*) continue;; esac
      [ -e "$KF_ROOT/$p" ] || { echo "$f names $p, which does not exist"; bad=$((bad + 1)); }
    done
  done
  [ "$bad" -eq 0 ]
}
