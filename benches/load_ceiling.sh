#!/bin/sh
# Ceiling of the load generator against etcd's own benchmark tool
# (tools/benchmark of etcd's root module, built by scripts/install-test-deps
# beside etcd 3.6, docs/compatibility.md), on one three-member etcd 3.6
# cluster this script starts on loopback ports with its data dirs on tmpfs
# (/dev/shm: etcd still calls fdatasync on every WAL write, tmpfs answers it
# at once, so the members' CPU, not a disk, sets the ceiling).
#   reference: benchmark put --clients C --conns N --total T
#              --key-size K --val-size V --key-space-size S
#   ours:      etcd-doctor load --rate 100000 (its maximum: unpaced, every
#              client busy all the time) --clients C --conns N
#              --duration D --key-size K-len(prefix) --value-size V --key-space S
# Both send puts only, over N connections round-robin over the members,
# with at most C in flight; T is set once from a warm-up run of the
# reference so that both sides run about D seconds. Rounds alternate the
# order. Per round: ops/s of each (ours: successful puts over its run, from
# its JSON; the reference's "Requests/sec"), their ratio, and client CPU
# seconds per 1000 operations (user + sys of each whole client process, from
# wait4: ours includes its pre-check, its /metrics scrapes and the deletion
# of its keys afterwards). Prints min/median/max of the ratios, and the load
# average and CPU steal (/proc/stat) over the run. Before each run, untimed,
# the members are compacted and defragmented (settle, below).
#
# Usage: benches/load_ceiling.sh [ROUNDS]
#   env: CLIENTS (100), CONNS (10), DURATION_S (10), KEY_SIZE (256),
#        VALUE_SIZE (1024), KEY_SPACE (100000); ETCD_DOCTOR_BIN=path skips
#        the release build.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
CLIENTS=${CLIENTS:-100}
CONNS=${CONNS:-10}
DURATION_S=${DURATION_S:-10}
KEY_SIZE=${KEY_SIZE:-256}
VALUE_SIZE=${VALUE_SIZE:-1024}
KEY_SPACE=${KEY_SPACE:-100000}
PREFIX=/load-ceiling/
TARGET=${CARGO_TARGET_DIR:-target}
command -v python3 >/dev/null 2>&1 || { echo "missing python3: run scripts/install-test-deps" >&2; exit 2; }
want=$(awk '$1 == "go.etcd.io/etcd/server/v3" { sub(/^v/, "", $2); print $2 }' tools/etcd/v3.6/go.mod)
ETCDBIN=${ETCD_DOCTOR_ETCD_CACHE:-/var/cache/etcd-doctor}/etcd-v$want
for b in etcd etcdctl benchmark; do
  [ -x "$ETCDBIN/$b" ] || { echo "$ETCDBIN/$b missing: run scripts/install-test-deps" >&2; exit 2; }
done
if [ -z "${ETCD_DOCTOR_BIN:-}" ]; then
  cargo build --release --quiet
  ETCD_DOCTOR_BIN="$TARGET/release/etcd-doctor"
fi
BIN=$ETCD_DOCTOR_BIN
OUR_KEY=$((KEY_SIZE - ${#PREFIX}))
WORK=$(mktemp -d)
SHM=$(mktemp -d /dev/shm/load-ceiling.XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT INT TERM

# Six distinct free loopback ports, held open together while picked.
# shellcheck disable=SC2046
set -- $(python3 -c 'import socket
socks=[socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
EP=""; CLUSTER=""; CS=""; PS=""
for i in 0 1 2; do
  CS="$CS $1"; PS="$PS $2"
  EP="${EP:+$EP,}http://127.0.0.1:$1"
  CLUSTER="${CLUSTER:+$CLUSTER,}m$i=http://127.0.0.1:$2"
  shift 2
done
i=0
for c in $CS; do
  p=$(echo "$PS" | cut -d' ' -f$((i + 2)))
  "$ETCDBIN/etcd" --name "m$i" --data-dir "$SHM/m$i" \
    --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
    --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
    --initial-cluster "$CLUSTER" --initial-cluster-token load-ceiling \
    --initial-cluster-state new > "$WORK/m$i.log" 2>&1 &
  PIDS="$PIDS $!"
  i=$((i + 1))
done
tries=0
until "$ETCDBIN/etcdctl" --endpoints="$EP" endpoint health >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "cluster did not become healthy" >&2; tail "$WORK"/m*.log >&2; exit 2; }
  sleep 0.2
done

# run NAME CMD...: runs CMD, prints its stdout on stdout and
# "<wall s> <user+sys s>" of that one process (wait4) into $WORK/NAME.cpu.
run() {
  name=$1; shift
  python3 -c 'import os,subprocess,sys,time
t=time.time(); p=subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
out=p.stdout.read(); _, status, ru = os.wait4(p.pid, 0); w=time.time()-t
sys.stdout.write(out.decode())
open(sys.argv[1],"w").write("%.3f %.3f\n" % (w, ru.ru_utime+ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status))' "$WORK/$name.cpu" "$@"
}

# reference TOTAL: "<ops/s> <ops> <cpu s>"
reference() {
  run ref "$ETCDBIN/benchmark" --endpoints "$EP" --clients "$CLIENTS" --conns "$CONNS" \
    put --total "$1" --key-size "$KEY_SIZE" --val-size "$VALUE_SIZE" --key-space-size "$KEY_SPACE" \
    > "$WORK/ref.out"
  python3 -c 'import re,sys
t=open(sys.argv[1]).read(); rps=re.search(r"Requests/sec:\s*([0-9.]+)",t)
errs=re.search(r"Error distribution", t)
if not rps or errs: sys.exit("benchmark: no Requests/sec or errors:\n"+t[-2000:])
print(rps.group(1), sys.argv[2], open(sys.argv[3]).read().split()[1])' "$WORK/ref.out" "$1" "$WORK/ref.cpu"
}

# ours: "<ops/s> <ops> <cpu s> <cpu s in the run>"
ours() {
  run ours "$BIN" load --endpoints "$EP" --rate 100000 --clients "$CLIENTS" --conns "$CONNS" \
    --duration "${DURATION_S}s" --key-size "$OUR_KEY" --value-size "$VALUE_SIZE" \
    --key-space "$KEY_SPACE" --prefix "$PREFIX" -w json > "$WORK/ours.json" || true
  python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["load"]
if r["all"]["errors"]: sys.exit("ours: %d errors: %s" % (r["all"]["errors"], r["errors"]))
cpu=float(open(sys.argv[2]).read().split()[1])
print("%.1f" % r["achieved_ops_s"], r["all"]["ok"], cpu, "%.3f" % (r["schedule"]["client_cpu_cores"]*r["elapsed_s"]))' \
    "$WORK/ours.json" "$WORK/ours.cpu"
}

# settle: compacts to the current revision and defragments every member
# (untimed), so that each run starts from the same small backend: without
# it the history of earlier rounds grew the members' databases round
# after round (a later round ran on a bigger backend than an earlier one)
# until etcd's 2 GiB quota raised NOSPACE in the seventh round.
settle() {
  rev=$("$ETCDBIN/etcdctl" --endpoints="$EP" endpoint status -w json \
    | python3 -c 'import json,sys; print(max(s["Status"]["header"]["revision"] for s in json.load(sys.stdin)))')
  # Fails only when nothing was written since the last settle (the
  # revision is compacted already); defrag below still runs and must pass.
  "$ETCDBIN/etcdctl" --endpoints="$EP" compaction --physical "$rev" > /dev/null 2>&1 || true
  "$ETCDBIN/etcdctl" --endpoints="$EP" defrag > /dev/null
}

cpu_stat() { awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $9 }' /proc/stat; }
STAT0=$(cpu_stat)
echo "load average at the start: $(cut -d" " -f1-3 /proc/loadavg)"

# Warm-up of both; the reference's rate sets its --total for about D s.
set -- $(reference 5000)
TOTAL=$(python3 -c "print(max(1000, int(float('$1') * $DURATION_S)))")
ours > /dev/null
echo "3 members etcd $want, data on tmpfs; puts, key $KEY_SIZE B, value $VALUE_SIZE B, key space $KEY_SPACE,"
echo "$CLIENTS clients over $CONNS connections; reference --total $TOTAL, ours --duration ${DURATION_S}s"
echo "round ref_ops/s ours_ops/s ratio ref_cpu_ms/1k ours_cpu_ms/1k (in run)"
: > "$WORK/rows"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  if [ $((r % 2)) -eq 1 ]; then
    settle; a=$(reference "$TOTAL"); settle; b=$(ours)
  else
    settle; b=$(ours); settle; a=$(reference "$TOTAL")
  fi
  echo "$r $a $b" >> "$WORK/rows"
  # shellcheck disable=SC2086
  python3 -c 'import sys
r,ra,na,ca,rb,nb,cb,cbr=sys.argv[1:9]
print("%s %s %s %.2f %.1f %.1f (%.1f)" % (r, ra, rb, float(rb)/float(ra),
  float(ca)/int(na)*1e6, float(cb)/int(nb)*1e6, float(cbr)/int(nb)*1e6))' $r $a $b
  r=$((r + 1))
done
STAT1=$(cpu_stat)
python3 - "$WORK/rows" "$STAT0" "$STAT1" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def mmm(v):
    v = sorted(v)
    return "%.2f / %.2f / %.2f" % (v[0], statistics.median(v), v[-1])
ratio = [float(r[4]) / float(r[1]) for r in rows]
ref_cpu = [float(r[3]) / int(r[2]) * 1e6 for r in rows]
our_cpu = [float(r[6]) / int(r[5]) * 1e6 for r in rows]
our_run = [float(r[7]) / int(r[5]) * 1e6 for r in rows]
print("ops/s reference (min/median/max):", mmm([float(r[1]) for r in rows]))
print("ops/s ours:                      ", mmm([float(r[4]) for r in rows]))
print("ratio ours/reference:            ", mmm(ratio), "(goal >= 1)")
print("client CPU ms per 1k ops, reference:", mmm(ref_cpu))
print("client CPU ms per 1k ops, ours:     ", mmm(our_cpu), "(whole process)", mmm(our_run), "(during the run)")
t0, s0 = map(float, sys.argv[2].split()); t1, s1 = map(float, sys.argv[3].split())
steal = 100 * (s1 - s0) / max(1, t1 - t0)
print("load average:", open("/proc/loadavg").read().split()[:3], "CPU steal over the run: %.1f %%" % steal)
PY
