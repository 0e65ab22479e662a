#!/usr/bin/env bash
# Stops what deploy/up.sh started (by the pids it recorded): SIGTERM, then SIGKILL after 10 s.
#   ./deploy/down.sh [--state-dir DIR] [--purge]   (--purge also deletes the cluster's data)
# The client config (context "skiff-local") is left as it is: the next up.sh serves the same address.
set -euo pipefail
state=${SKIFF_STATE_DIR:-$HOME/.skiff}
purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state=${2:?--state-dir needs a directory}; shift 2 ;;
    --state-dir=*) state=${1#*=}; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "down.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
shopt -s nullglob
pids=()
for f in "$state"/run/*.pid; do
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" && pids+=("$pid") && echo "stopping $(basename "$f" .pid) (pid $pid)"
  fi
  rm -f "$f"
done
for _ in $(seq 100); do
  alive=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  [ ${#alive[@]} -eq 0 ] && break
  sleep 0.1
done
for pid in "${alive[@]:-}"; do
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && { echo "pid $pid ignored SIGTERM: SIGKILL"; kill -KILL "$pid"; }
done
if [ $purge = 1 ]; then rm -rf "$state/store" "$state/log" "$state/run" "$state/store-endpoints"; echo "removed cluster data in $state"; fi
echo "stopped"
