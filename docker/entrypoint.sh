#!/usr/bin/env bash
# Entrypoint of the flash-green image: the first argument selects what the container runs.
#
#   run | orchestrator | api   the bot (API + orchestrator, or one of them); `flash-green preflight`
#                              checks settings, secret backend and journal first, and a failed check
#                              stops the container with its report before anything trades
#   operator                   the Kubernetes operator (`python -m arbitrage_operator`, kopf flags follow)
#   preflight | migrate | settings
#                              the flash-green subcommand of that name, alone
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: <image> run|orchestrator|api [--env-file FILE] [options]
       <image> operator [kopf run flags]
       <image> preflight|migrate|settings [options]
USAGE
}

# The --env-file given to the bot command, so preflight checks the same configuration.
env_file_args() {
  while (($# > 0)); do
    case "$1" in
      --env-file) [[ $# -ge 2 ]] && printf '%s\0%s\0' "--env-file" "$2"; return 0 ;;
      --env-file=*) printf '%s\0%s\0' "--env-file" "${1#--env-file=}"; return 0 ;;
    esac
    shift
  done
}

command="${1:-run}"
if (($# > 0)); then shift; fi

case "${command}" in
  run | orchestrator | api)
    preflight_args=()
    while IFS= read -r -d '' arg; do preflight_args+=("${arg}"); done < <(env_file_args "$@")
    if ! flash-green preflight "${preflight_args[@]}"; then
      echo "flash-green: preflight failed; not starting '${command}' (fix the settings named above)" >&2
      exit 78 # EX_CONFIG
    fi
    exec flash-green "${command}" "$@"
    ;;
  operator)
    exec python -m arbitrage_operator "$@"
    ;;
  preflight | migrate | settings)
    exec flash-green "${command}" "$@"
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    echo "flash-green: unknown command '${command}'" >&2
    usage >&2
    exit 64 # EX_USAGE
    ;;
esac
