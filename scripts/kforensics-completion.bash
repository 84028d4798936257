# bash completion for the kforensics tools — generated from each tool's own --help, so a new
# option (or a new tool: `make install` registers every tool in tools/) completes without an
# edit here. Installed by `make install` as share/bash-completion/completions/<tool>;
# or: source scripts/kforensics-completion.bash
#   kexport --fr<TAB>          --from
#   ksnap <TAB>                capture ls prune meta freeze info verify merge
#   ksnap freeze --<TAB>       that subcommand's options
#   kresolve <TAB>             workloads ips
# Anything else completes file names (captures, snapshots, stores).

# the long options a --help text names (cached per command line prefix)
declare -gA _kf_opts_cache 2>/dev/null || true
_kf_opts() { # cmd [sub...]
  local key="$*"
  if [[ -z "${_kf_opts_cache[$key]+x}" ]]; then
    _kf_opts_cache[$key]=$("$@" --help 2>&1 | grep -oE -- '(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' \
      | sed -E 's/^[^-]*//' | sort -u | tr '\n' ' ')
  fi
  printf '%s' "${_kf_opts_cache[$key]}"
}

# the subcommands a --help text lists under "commands:" (ksnap) or as "usage: tool SUB"
_kf_subs() { # cmd
  "$1" --help 2>&1 | awk -v t="$1" '
    /^commands:/ { c = 1; next }
    c && /^  [a-z]/ { print $1; next }
    c && /^$/ { c = 0 }
    tolower($1) == "usage:" && $2 == t && $3 ~ /^[a-z][a-z_-]*$/ { print $3 }
    NR <= 6 && $1 == t && $2 ~ /^[a-z][a-z_-]*$/ { print $2 }'
}

_kforensics() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[0]} i w
  local -a sub=()
  local subs
  subs=$(_kf_subs "$cmd" | sort -u | tr '\n' ' ')
  # the subcommand words typed so far (ksnap meta record, kresolve workloads)
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    [[ $w == -* ]] && break
    if [[ " $subs " == *" $w "* ]]; then
      sub+=("$w")
      subs=$(_kf_subs_of "$cmd" "${sub[@]}")
    else
      break
    fi
  done
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_kf_opts "$cmd" "${sub[@]}")" -- "$cur"))
  elif [[ -n $subs && ${#sub[@]} -eq $((COMP_CWORD - 1)) ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
  fi
}

# subcommands below a subcommand ("ksnap meta" → record import), from its usage lines
_kf_subs_of() { # cmd sub...
  local cmd=$1; shift
  "$cmd" "$@" --help 2>&1 | awk -v w="$*" '
    $1 == "usage:" || $0 ~ /^ +'"$cmd"' / { line = $0; sub(/^ *(usage: *)?/, "", line); n = split(line, a, " ")
      k = split(w, ws, " ")
      if (a[1] == "'"$cmd"'") { ok = 1; for (j = 1; j <= k; j++) if (a[1 + j] != ws[j]) ok = 0
        if (ok && a[k + 2] ~ /^[a-z][a-z_-]*$/) print a[k + 2] } }' | sort -u | tr '\n' ' '
}

complete -F _kforensics ${KF_COMPLETE_TOOLS:-ksnap kdissect kexport kfl kresolve kstat kmcp}
