#!/usr/bin/env bash
# Makes .venv/ at the repository root (when missing or out of date) with Skiff and its test tools,
# and installs the Debian packages the tests use (etcd-server and etcd-client: the reference store
# and the real etcdctl). Sourced by deploy/up.sh and tests/run.sh; safe to run again.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
stamp=$venv/.skiff-installed
if [ ! -x "$venv/bin/python" ]; then
  echo "creating virtualenv $venv" >&2
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  echo "installing Skiff and its dependencies into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e "$root[dev]"
  touch "$stamp"
fi
if [ "${SKIFF_SKIP_APT:-}" != 1 ] && { ! command -v etcdctl >/dev/null || ! command -v etcd >/dev/null; }; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing etcd-server and etcd-client (apt)" >&2
    (apt-get install -y -q etcd-server etcd-client >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q etcd-server etcd-client >/dev/null; })
  else
    echo "warning: etcdctl/etcd missing and not root: tests that compare with etcd will be skipped" >&2
  fi
fi
