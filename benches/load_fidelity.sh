#!/bin/sh
# Fidelity and ceiling of `etcd-doctor load` against `etcdctl check perf`.
#   1. Three etcd 3.5 members on loopback (data dirs under $TMPDIR):
#      ROUNDS interleaved rounds (the order alternates so drift hits both
#      alike) of `etcdctl check perf --load s` and `etcd-doctor load
#      --load s` (both 150 puts/s, 50 clients, 60 s). Per round: achieved
#      throughput ratio ours/check perf and both slowest requests (ours is
#      timed from the scheduled send, check perf's from the actual send).
#   2. One member with its data dir on tmpfs (/dev/shm): `check perf
#      --load xl` (15000 puts/s target, 1000 clients) against `etcd-doctor
#      load --load xl`: the ops/s each reaches and the client CPU each
#      used (cores = CPU seconds / wall seconds, from getrusage of the child).
# Prints one line per run and min/median/max of the ratios.
#
# Usage: benches/load_fidelity.sh [ROUNDS]   (ETCD_DOCTOR_BIN=path skips the release build)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
. benches/prelude.sh
BIN=$ETCD_DOCTOR_BIN
WORK=$(mktemp -d)
SHM=$(mktemp -d /dev/shm/load-fidelity.XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT INT TERM

# Free loopback ports, held open together while picked.
ports() {
  python3 -c 'import socket,sys
socks=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# start_cluster N DATA_ROOT: starts N members, sets EP (client URLs, comma-separated).
start_cluster() {
  n=$1; root=$2
  # shellcheck disable=SC2046
  set -- $(ports $((2 * n)))
  EP=""; CLUSTER=""; i=0; CS=""; PS=""
  while [ $i -lt "$n" ]; do
    CS="$CS $1"; PS="$PS $2"
    EP="${EP:+$EP,}http://127.0.0.1:$1"
    CLUSTER="${CLUSTER:+$CLUSTER,}m$i=http://127.0.0.1:$2"
    shift 2; i=$((i + 1))
  done
  i=0
  for c in $CS; do
    p=$(echo "$PS" | cut -d' ' -f$((i + 2)))
    ETCD_UNSUPPORTED_ARCH=$(uname -m) "$ETCDBIN/etcd" --name "m$i" --data-dir "$root/m$i" \
      --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
      --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
      --initial-cluster "$CLUSTER" --initial-cluster-token "load-fidelity-$n" \
      --initial-cluster-state new > "$root/m$i.log" 2>&1 &
    PIDS="$PIDS $!"
    i=$((i + 1))
  done
  tries=0
  until ETCDCTL_API=3 "$ETCDBIN/etcdctl" --endpoints="$EP" endpoint health >/dev/null 2>&1; do
    tries=$((tries + 1)); [ $tries -lt 100 ] || { echo "cluster did not start" >&2; exit 1; }
    sleep 0.2
  done
}

# timed CMD...: runs CMD, prints "<cpu cores> <wall s>" on fd 3, its stdout on stdout.
timed() {
  python3 -c 'import resource,subprocess,sys,time
t=time.time(); r=subprocess.run(sys.argv[1:], stdout=subprocess.PIPE); w=time.time()-t
u=resource.getrusage(resource.RUSAGE_CHILDREN); sys.stdout.write(r.stdout.decode())
open("/dev/fd/3","w").write("%.2f %.1f\n" % ((u.ru_utime+u.ru_stime)/w, w))' "$@"
}

# check_perf LOAD: "<writes/s> <slowest ms> <client cores>"
check_perf() {
  out=$(timed env ETCDCTL_API=3 "$ETCDBIN/etcdctl" --endpoints="$EP" check perf --load "$1" 3>"$WORK/cpu" 2>/dev/null || true)
  echo "$out" | python3 -c 'import re,sys
t=sys.stdin.read(); tp=re.search(r"(\d+) writes/s",t); sl=re.search(r"took(?: too long:)? ([0-9.]+)s",t)
print(tp.group(1) if tp else "nan", "%.1f" % (float(sl.group(1))*1000) if sl else "nan", open(sys.argv[1]).read().split()[0])' "$WORK/cpu"
}

# ours LOAD: "<ops/s> <slowest ms> <client cores>"
ours() {
  timed "$BIN" load --endpoints "$EP" --load "$1" --prefix /load-fidelity/ -w json 3>"$WORK/cpu" 2>/dev/null \
    | python3 -c 'import json,sys
r=json.load(sys.stdin)["load"]
print("%.1f" % r["achieved_ops_s"], "%.1f" % (r["all"]["latency_us"]["max"]/1000), open(sys.argv[1]).read().split()[0])' "$WORK/cpu"
}

stats() {
  python3 -c 'import statistics,sys
v=sorted(float(x) for x in sys.argv[1:] if x!="nan")
print("min %.2f median %.2f max %.2f (n=%d)" % (v[0], statistics.median(v), v[-1], len(v)) if v else "no data")' "$@"
}

start_cluster 3 "$WORK"
echo "== 3 members, --load s, $ROUNDS interleaved rounds"
RATIOS=""; SLOW=""
r=1
while [ $r -le "$ROUNDS" ]; do
  if [ $((r % 2)) -eq 1 ]; then a=$(ours s); b=$(check_perf s); else b=$(check_perf s); a=$(ours s); fi
  set -- $a $b
  ratio=$(python3 -c "print('%.3f' % ($1/$4))" 2>/dev/null || echo nan)
  sratio=$(python3 -c "print('%.3f' % ($2/$5))" 2>/dev/null || echo nan)
  echo "round $r: ours $1 ops/s slowest $2 ms ($3 cores) | check perf $4 writes/s slowest $5 ms ($6 cores) | throughput ratio $ratio, slowest ratio $sratio"
  RATIOS="$RATIOS $ratio"; SLOW="$SLOW $sratio"
  r=$((r + 1))
done
echo "throughput ours/check perf: $(stats $RATIOS)"
echo "slowest ours/check perf:    $(stats $SLOW)"

for p in $PIDS; do kill "$p" 2>/dev/null || true; done
for p in $PIDS; do wait "$p" 2>/dev/null || true; done
PIDS=""
start_cluster 1 "$SHM"
echo "== 1 member on tmpfs, --load xl (generator ceiling)"
b=$(check_perf xl); a=$(ours xl)
set -- $a $b
echo "ours $1 ops/s slowest $2 ms using $3 client cores | check perf xl $4 writes/s slowest $5 ms using $6 client cores"
