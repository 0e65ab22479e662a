#!/usr/bin/env bash
# Starts a local Skiff cluster on loopback: the 3-member store (etcd-compatible), an apiserver, the
# scheduler, the controller manager and a hollow kubelet hosting N hollow nodes (no real containers
# yet: hollow nodes report their pods Running, as Kubernetes' kubemark does).
#   ./deploy/up.sh [--state-dir DIR] [--hollow-nodes N]   (default ~/.skiff, 3 nodes; SKIFF_STATE_DIR also works)
# Stop it with ./deploy/down.sh (same --state-dir). Writes the client config ($SKIFFCONFIG, else ~/.skiff/config).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${SKIFF_STATE_DIR:-$HOME/.skiff}
hollow_nodes=3
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state=${2:?--state-dir needs a directory}; shift 2 ;;
    --state-dir=*) state=${1#*=}; shift ;;
    --hollow-nodes) hollow_nodes=${2:?--hollow-nodes needs a number}; shift 2 ;;
    --hollow-nodes=*) hollow_nodes=${1#*=}; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$hollow_nodes" in ''|*[!0-9]*) echo "up.sh: --hollow-nodes must be a number, not '$hollow_nodes'" >&2; exit 2 ;; esac
"$root/deploy/venv.sh"
py=$root/.venv/bin/python
mkdir -p "$state/run" "$state/log"
if [ ! -s "$state/peer-password" ]; then
  (umask 077; "$py" -c 'import secrets; print(secrets.token_hex(32))' > "$state/peer-password")
fi
names=(s1 s2 s3)
client_ports=(2379 22379 32379)
peer_ports=(2380 22380 32380)
metrics_ports=(2381 22381 32381)
cluster=""
for i in 0 1 2; do cluster+="${cluster:+,}${names[$i]}=http://127.0.0.1:${peer_ports[$i]}"; done
endpoints=""
for i in 0 1 2; do
  n=${names[$i]}
  endpoints+="${endpoints:+,}127.0.0.1:${client_ports[$i]}"
  pidfile=$state/run/store-$n.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "store $n already running (pid $(cat "$pidfile"))"
    continue
  fi
  mkdir -p "$state/store/$n"
  cp "$state/peer-password" "$state/store/$n/peer-password"
  (cd "$root" && exec nohup "$py" -m store --name "$n" --data-dir "$state/store/$n" \
      --listen-client-urls "http://127.0.0.1:${client_ports[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
      --listen-metrics-urls "http://127.0.0.1:${metrics_ports[$i]}" \
      --initial-cluster "$cluster" --initial-cluster-token skiff-local \
      >>"$state/log/store-$n.log" 2>&1 </dev/null) &
  echo $! > "$pidfile"
  echo "started store $n (pid $!, client 127.0.0.1:${client_ports[$i]}, log $state/log/store-$n.log)"
done
echo "$endpoints" > "$state/store-endpoints"
"$py" - "$endpoints" "$state" <<'PY'
import sys, time
import grpc
from skiffpb.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
endpoints, state = sys.argv[1].split(","), sys.argv[2]
deadline = time.monotonic() + 60
waiting = set(endpoints)
while waiting and time.monotonic() < deadline:
    for ep in sorted(waiting):
        try:
            with grpc.insecure_channel(ep) as ch:
                st = rpc_pb2_grpc.MaintenanceStub(ch).Status(rpc_pb2.StatusRequest(), timeout=1)
                if st.leader:
                    rpc_pb2_grpc.KVStub(ch).Range(rpc_pb2.RangeRequest(key=b"health"), timeout=2)
                    waiting.discard(ep)
                    print(f"  {ep}: ready (leader {st.leader:x}, term {st.raftTerm})", flush=True)
        except grpc.RpcError:
            pass
    if waiting:
        print(f"  waiting for {', '.join(sorted(waiting))} ...", flush=True)
        time.sleep(0.5)
if waiting:
    sys.exit(f"store members {', '.join(sorted(waiting))} not ready after 60 s: see {state}/log/")
PY
echo "store ready. Try: etcdctl --endpoints=$endpoints put hello world"

# start NAME MODULE ARGS...: starts `python -m MODULE ARGS` unless NAME's recorded pid is alive.
start() {
  local name=$1; shift
  local pidfile=$state/run/$name.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  (cd "$root" && exec nohup "$py" -m "$@" >>"$state/log/$name.log" 2>&1 </dev/null) &
  echo $! > "$pidfile"
  echo "started $name (pid $!, log $state/log/$name.log)"
}

# The API server, in front of the store.
start apiserver apiserver --etcd-servers "$endpoints" --listen 127.0.0.1:6443 --metrics-listen 127.0.0.1:6444
"$py" - "$state" <<'PY'
import sys, time
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
state = sys.argv[1]
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with grpc.insecure_channel("127.0.0.1:6443") as ch:
            st = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1).status
            if st == health_pb2.HealthCheckResponse.SERVING:
                print("  127.0.0.1:6443: serving", flush=True)
                break
    except grpc.RpcError:
        pass
    print("  waiting for the apiserver ...", flush=True)
    time.sleep(0.5)
else:
    sys.exit(f"the apiserver is not serving after 60 s: see {state}/log/apiserver.log")
PY

# The scheduler, the controller manager and the hollow kubelet, each a process in front of the apiserver.
start scheduler scheduler --apiserver 127.0.0.1:6443 --metrics-listen 127.0.0.1:10259
start controller-manager controller --apiserver 127.0.0.1:6443 --metrics-listen 127.0.0.1:10257
if [ "$hollow_nodes" -gt 0 ]; then
  start kubelet kubelet --hollow --apiserver 127.0.0.1:6443 --nodes "$hollow_nodes" --control-listen 127.0.0.1:10250
fi

# The client config: add (or update) the cluster and context "skiff-local" and make it current, keeping
# every other context in the file, so that plain `skiff get pods` reaches this cluster.
config=${SKIFFCONFIG:-$HOME/.skiff/config}
if ! out=$( (cd "$root" && export SKIFFCONFIG="$config" &&
    "$py" -m cli config set-cluster skiff-local --server=127.0.0.1:6443 &&
    "$py" -m cli config set-context skiff-local --cluster=skiff-local &&
    "$py" -m cli config use-context skiff-local) 2>&1); then
  echo "$out" >&2
  echo "up.sh: the cluster is running, but the client config $config could not be written: fix it, then run up.sh again" >&2
  exit 1
fi
echo "wrote context \"skiff-local\" to $config (now the current context; other contexts kept)"
echo "apiserver ready. Try: .venv/bin/skiff apply -f examples/"
