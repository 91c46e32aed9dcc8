#!/bin/bash
# How often `compare` cries wolf, and how small a slowdown it catches, with
# its default settings (--max-regression 20, p < 0.01).
#
# Disk (fsync probe, --duration SECS per run):
#   false alarms, back-to-back: RUNS runs on DIR one after the other; each
#     run compared with the one before (one-run baseline: time blocks are
#     the replicates), and with the 5 runs before it (between-run model).
#   false alarms, interleaved with a steady writer: the same while fio
#     writes 4 MiB/s (64 KiB blocks, fdatasync every 8) to DIR throughout.
#   power: a loop-mounted ext4 (sparse image on DIR), 6 unthrottled runs as
#     baselines, then 20 runs at each blkio write-IOPS limit in LEVELS and
#     20 runs beside a competing fio writer at each rate in WRITERS; each
#     compared with the last baseline run and with the 5 before it.
# Net (rtt probe, two namespaces on a veth pair, --duration SECS):
#   false alarms: RUNS back-to-back runs, the same comparisons.
#   power: the client's side shaped to 20 Mbit/s (HTB), 6 baseline runs,
#     then 20 runs beside a competing iperf3 flow at each rate in FLOWS
#     (queueing delays the pings; this kernel has no netem to add a delay).
#
# Prints one line per scenario: regressions called / comparisons, and
# min/median/max of the current/baseline p99 ratio and of the p99 noise
# floor compare reported. Usage (as root):
#   benches/compare_noise.sh [DIR [RUNS [SECS]]]     e.g. /var/tmp 21 3
# (BIN=path/to/etcd-doctor skips the release build; LEVELS, WRITERS,
# FLOWS and PER (runs per level) override the defaults; PHASES picks
# some of "b2b steady power net"; raw rows are kept in RESULTS.)
set -eu
cd "$(dirname "$0")/.."
DIR=${1:-/var/tmp}
RUNS=${2:-21}
PER=${PER:-20}
SECS=${3:-3}
LEVELS=${LEVELS:-"1000 400 150"}
WRITERS=${WRITERS:-"32m"}
FLOWS=${FLOWS:-"6M 12M 16M"}
TARGET=${CARGO_TARGET_DIR:-target}
[ "$(id -u)" -eq 0 ] || { echo "compare_noise: needs root (loop device, blkio, netns)" >&2; exit 2; }
for tool in fio iperf3 losetup mkfs.ext4 ip tc python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run scripts/install-test-deps" >&2; exit 2; }
done
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="$PWD/$TARGET/release/etcd-doctor"
fi
OUT=$(mktemp -d "$DIR/compare-noise-XXXXXX")
# Not "etcd-doctor-<pid>-...": the tests' netns sweep deletes those whose pid is gone.
ID="edcn-$$"
RESULTS=${RESULTS:-$DIR/compare-noise-$$.tsv}
PHASES=${PHASES:-"b2b steady power net"}
CG=/sys/fs/cgroup/blkio/$ID
C="$ID-c"; S="$ID-s"; IP=10.231.19.2
BG=""
cleanup() {
  if [ -n "$BG" ]; then kill "$BG" 2>/dev/null; wait "$BG" 2>/dev/null || true; fi
  if [ -d "$CG" ]; then
    while read -r p; do echo "$p" > /sys/fs/cgroup/blkio/cgroup.procs 2>/dev/null || true; done < "$CG/cgroup.procs"
    rmdir "$CG" 2>/dev/null || true
  fi
  mountpoint -q "$OUT/mnt" 2>/dev/null && umount -l "$OUT/mnt"
  [ -n "${LOOP:-}" ] && losetup -d "$LOOP" 2>/dev/null
  for ns in "$C" "$S"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

disk_run() { # dir out [cgroup]
  if [ -n "${3:-}" ]; then
    sh -c "echo \$\$ > $3/cgroup.procs; exec \"$BIN\" disk --dir \"$1\" --probe fsync --duration $SECS -w json --out \"$2\"" 2>/dev/null
  else
    "$BIN" disk --dir "$1" --probe fsync --duration "$SECS" -w json --out "$2" 2>/dev/null
  fi
}
net_run() { # out
  ip netns exec "$C" "$BIN" net --peers "$IP:7481" --token bench --probe rtt \
    --duration "$SECS" -w json --out "$1" --fail-on fail 2>/dev/null || true
}
compare_one() { # label subject current baseline...
  local label=$1 subject=$2 cur=$3; shift 3
  "$BIN" compare "$@" --current "$cur" -w json > "$OUT/cmp.json" || true
  python3 - "$label" "$subject" "$OUT/cmp.json" >> "$RESULTS" <<'PY'
import json, sys
label, subject, path = sys.argv[1:]
c = json.load(open(path))
s = next(s for s in c["subjects"] if s["subject"].startswith(subject))
p99 = next(r for r in s["rows"] if r["metric"] == "p99 latency")
called = any(r["status"] == "regression" for r in s["rows"])
ratio = p99["current"] / p99["baseline"] if p99["baseline"] else 0
print(f'{label}\t{int(called)}\t{ratio:.3f}\t{p99["noise"].get("floor_pct", "nan")}\t{p99["noise"]["model"]}')
PY
}
# series label prefix subject: compares run i with run i-1 and with runs i-5..i-1
series() {
  local label=$1 prefix=$2 subject=$3 n i
  n=$(ls "$OUT"/"$prefix".*.json | wc -l)
  for i in $(seq 1 $((n - 1))); do
    compare_one "$label one-run baseline" "$subject" "$OUT/$prefix.$i.json" "$OUT/$prefix.$((i - 1)).json"
    if [ "$i" -ge 5 ]; then
      compare_one "$label 5-run baseline" "$subject" "$OUT/$prefix.$i.json" \
        $(for j in 1 2 3 4 5; do echo "$OUT/$prefix.$((i - j)).json"; done)
    fi
  done
}
# against label prefix subject base-prefix: every run of prefix against the baselines
against() {
  local label=$1 prefix=$2 subject=$3 base=$4 f
  for f in "$OUT"/"$prefix".*.json; do
    compare_one "$label one-run baseline" "$subject" "$f" "$OUT/$base.5.json"
    compare_one "$label 5-run baseline" "$subject" "$f" $(for j in 0 1 2 3 4; do echo "$OUT/$base.$j.json"; done)
  done
}

has() { case " $PHASES " in *" $1 "*) return 0;; esac; return 1; }

if has b2b; then
echo "disk: back-to-back runs on $DIR" >&2
for i in $(seq 0 $((RUNS - 1))); do disk_run "$DIR" "$OUT/b2b.$i.json"; done
series "disk same dir, back-to-back" b2b "disk fsync"
fi

if has steady; then
echo "disk: runs beside a steady 4 MiB/s writer" >&2
fio --name=steady --directory="$OUT" --rw=write --bs=64k --size=256m --rate=4m --fdatasync=8 \
  --time_based --runtime=3600 --output=/dev/null >/dev/null 2>&1 &
BG=$!
sleep 2
for i in $(seq 0 $((RUNS - 1))); do disk_run "$DIR" "$OUT/steady.$i.json"; done
kill "$BG"; wait "$BG" 2>/dev/null || true; BG=""
rm -f "$OUT"/steady.0.0
series "disk same dir, steady writer" steady "disk fsync"
fi

if has power; then
echo "disk: power on a loop ext4" >&2
truncate -s 2G "$OUT/disk.img"
LOOP=$(losetup --find --show "$OUT/disk.img")
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
mkdir "$OUT/mnt"; mount "$LOOP" "$OUT/mnt"
MM=$(printf '%d:%d' "$(stat -c '0x%t' "$LOOP")" "$(stat -c '0x%T' "$LOOP")")
mkdir "$CG"
for i in 0 1 2 3 4 5; do disk_run "$OUT/mnt" "$OUT/loopbase.$i.json"; done
for level in $LEVELS; do
  echo "$MM $level" > "$CG/blkio.throttle.write_iops_device"
  for i in $(seq 1 "$PER"); do disk_run "$OUT/mnt" "$OUT/iops$level.$i.json" "$CG"; done
  echo "$MM 0" > "$CG/blkio.throttle.write_iops_device"
  against "disk blkio ${level} write IOPS" "iops$level" "disk fsync" loopbase
done
for rate in $WRITERS; do
  fio --name=rival --directory="$OUT/mnt" --rw=write --bs=64k --size=256m --rate="$rate" --fdatasync=8 \
    --time_based --runtime=3600 --output=/dev/null >/dev/null 2>&1 &
  BG=$!
  sleep 2
  for i in $(seq 1 "$PER"); do disk_run "$OUT/mnt" "$OUT/writer$rate.$i.json"; done
  kill "$BG"; wait "$BG" 2>/dev/null || true; BG=""
  rm -f "$OUT"/mnt/rival.*
  against "disk competing writer ${rate}/s" "writer$rate" "disk fsync" loopbase
done
fi

if has net; then
echo "net: rtt between two namespaces" >&2
ip netns add "$C"; ip netns add "$S"
ip link add veth0 netns "$C" type veth peer name veth0 netns "$S"
ip -n "$C" addr add 10.231.19.1/24 dev veth0
ip -n "$S" addr add "$IP/24" dev veth0
for ns in "$C" "$S"; do ip -n "$ns" link set lo up; ip -n "$ns" link set veth0 up; done
ip netns exec "$S" "$BIN" agent --listen "$IP:7481" --token bench 2>/dev/null &
sleep 1
for i in $(seq 0 $((RUNS - 1))); do net_run "$OUT/rtt.$i.json"; done
series "net rtt, back-to-back" rtt "net rtt"
ip netns exec "$S" iperf3 -s -B "$IP" -p 5211 >/dev/null 2>&1 &
ip netns exec "$C" tc qdisc add dev veth0 root handle 1: htb default 10
ip netns exec "$C" tc class add dev veth0 parent 1: classid 1:10 htb rate 20mbit
sleep 1
for i in 0 1 2 3 4 5; do net_run "$OUT/netbase.$i.json"; done
for rate in $FLOWS; do
  ip netns exec "$C" iperf3 -c "$IP" -p 5211 -b "$rate" -t 3600 >/dev/null 2>&1 &
  BG=$!
  sleep 2
  for i in $(seq 1 "$PER"); do net_run "$OUT/flow$rate.$i.json"; done
  kill "$BG"; wait "$BG" 2>/dev/null || true; BG=""
  sleep 1
  against "net rtt beside a ${rate}bit/s flow (20 Mbit/s link)" "flow$rate" "net rtt" netbase
done
fi

python3 - "$RESULTS" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    label, called, ratio, floor, model = line.rstrip("\n").split("\t")
    rows.setdefault(label, []).append((int(called), float(ratio), float(floor), model))
def mmm(v):
    v = [x for x in v if x == x]
    return f"{min(v):.2f}/{statistics.median(v):.2f}/{max(v):.2f}" if v else "-"
print(f"{'scenario':58} {'called':>8}  p99 ratio min/med/max   p99 floor % min/med/max")
for label, r in rows.items():
    called = sum(x[0] for x in r)
    print(f"{label:58} {called:>3}/{len(r):<4}  {mmm([x[1] for x in r]):22} {mmm([x[2] for x in r])}")
PY
