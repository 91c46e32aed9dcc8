#!/bin/bash
# How often `compare` cries wolf, and how small a slowdown it catches, with
# its default settings (--max-regression 20, p < 0.01) and the default stop
# rule of `disk --probe fsync` (adaptive: p99 stable, at most 6 s) and of
# `net --probe rtt` (5 s of 100-byte pings at 200/s).
#
# Every scenario runs in ROUNDS: each round runs the baseline, then one run
# at every level, so a baseline and the runs judged against it are minutes
# apart at most and drift hits every level alike. Each level's run of round
# r is compared with the baseline run of round r (one-run baseline: its
# time blocks are the replicates) and with the baseline runs of rounds
# r-4..r (five-run baseline: the between-run spread); level "1" is a second
# unchanged run, so its row is a false-alarm rate.
#
# Phases (PHASES, default "slow blkio writer net"):
#   slow:   a disk of known speed. A loop ext4 on a tmpfs (fast and steady)
#           seen through benches/slow_fdatasync.c: every fdatasync takes
#           FACTOR x (its own time + BASE_US), BASE_US=2000 (a 2 ms disk);
#           FACTORS="1 1.25 1.5 2 3". The size of the change is known by
#           construction; the achieved p99 ratio is printed too.
#   blkio:  the same loop ext4 (no shim) throttled by a cgroup v1 blkio
#           write-IOPS limit at each of IOPS="2000 1000" against no limit.
#   writer: the same loop ext4 beside a competing fio writer (64 KiB
#           blocks, fdatasync every 8) at each of WRITERS="8m 32m" per s.
#   net:    rtt from a client namespace through a router namespace to a
#           server namespace; the router's link to the server is shaped to
#           20 Mbit/s (HTB, a 1000-packet FIFO: no drops). Beside the pings
#           a bulk TCP flow (iperf3 -w) keeps its window of WINDOW_KB=24
#           KiB x level in that FIFO, so every ping waits behind about
#           window / rate (this kernel has no netem for a fixed delay).
#           Levels FACTORS; the baseline runs beside the 24 KiB flow too.
#   b2b:    RUNS back-to-back runs on DIR (the real disk): each against the
#           one before, and against the five before (false alarms only).
#   span:   SPAN_ROUNDS (8) interleaved rounds of the unchanged 2 ms disk at
#           each --duration in SPANS="6 24": the between-run spread of
#           p50/p90/p99 per run length (no comparisons).
# Every probe runs at nice -10 (PIN=cpulist adds taskset) so that other
# jobs' CPU use disturbs it less; the load average is printed per phase.
#
# Prints one line per scenario and baseline: regressions called (any metric
# of the subject) / comparisons, "not enough evidence" verdicts, and
# min/median/max of the current/baseline p99 ratio and of the p99 noise
# floor compare reported. Raw rows go to RESULTS, reports stay in KEEP
# (when set) so that `compare` can be re-run on them: a changed rule is
# measured on the same runs with benches/compare_rejudge.py BIN KEEP.
# Usage (as root): benches/compare_noise.sh [DIR [ROUNDS]]   e.g. /var/tmp 20
# BIN=path/to/etcd-doctor skips the build (default: the release binary if
# it exists, else the debug one after `cargo build`).
# Bounded: about 8 s per disk run and 6 s per net run; with the defaults
# (20 rounds) slow ~15 min, blkio ~6, writer ~8, net ~12. Everything
# created (tmpfs, loop device, cgroup, namespaces, background processes)
# carries the prefix pw-<pid> and is removed on exit.
set -eu
cd "$(dirname "$0")/.."
DIR=${1:-/var/tmp}
ROUNDS=${2:-20}
RUNS=${RUNS:-21}
FACTORS=${FACTORS:-"1 1.25 1.5 2 3"}
BASE_US=${BASE_US:-2000}
IOPS=${IOPS:-"2000 1000"}
WRITERS=${WRITERS:-"8m 32m"}
WINDOW_KB=${WINDOW_KB:-24}
PHASES=${PHASES:-"slow blkio writer net"}
TARGET=${CARGO_TARGET_DIR:-target}
[ "$(id -u)" -eq 0 ] || { echo "compare_noise: needs root (loop device, blkio, netns)" >&2; exit 2; }
for tool in fio iperf3 losetup mkfs.ext4 ip tc python3 cc taskset; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run scripts/install-test-deps" >&2; exit 2; }
done
if [ -z "${BIN:-}" ]; then
  if [ -x "$TARGET/release/etcd-doctor" ]; then BIN="$PWD/$TARGET/release/etcd-doctor"; else
    cargo build --quiet; BIN="$PWD/$TARGET/debug/etcd-doctor"; fi
fi
ID="pw-$$"
OUT=$(mktemp -d "/tmp/$ID-XXXXXX")
RESULTS=${RESULTS:-$DIR/compare-noise-$$.tsv}
CG=/sys/fs/cgroup/blkio/$ID
C="$ID-c"; R="$ID-r"; S="$ID-s"; IP=10.231.30.2
BG=""; AGENT=""; LOOP=""
RUN=(nice -n -10)
[ -n "${PIN:-}" ] && RUN+=(taskset -c "$PIN")
cleanup() {
  for p in $BG $AGENT; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -d "$CG" ]; then
    while read -r p; do echo "$p" > /sys/fs/cgroup/blkio/cgroup.procs 2>/dev/null || true; done < "$CG/cgroup.procs"
    rmdir "$CG" 2>/dev/null || true
  fi
  mountpoint -q "$OUT/mnt" 2>/dev/null && { umount "$OUT/mnt" 2>/dev/null || umount -l "$OUT/mnt"; }
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
  mountpoint -q "$OUT/shm" 2>/dev/null && umount -l "$OUT/shm"
  for ns in "$C" "$R" "$S"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$OUT"/*.json "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
load() { echo "$1: load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)" >&2; }

DISK_ARGS=()
disk_run() { # dir out [env...]: `disk --probe fsync`, default stop rule (DISK_ARGS adds flags)
  local dir=$1 out=$2; shift 2
  env "$@" "${RUN[@]}" "$BIN" disk --dir "$dir" --probe fsync "${DISK_ARGS[@]}" -w json --out "$out" 2>/dev/null
}
throttled_run() { # dir out: the same inside the blkio cgroup
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CG" \
    "${RUN[@]}" "$BIN" disk --dir "$1" --probe fsync -w json --out "$2" 2>/dev/null
}
net_run() { # out
  ip netns exec "$C" "${RUN[@]}" "$BIN" net --peers "$IP:7481" --token bench --probe rtt \
    -w json --out "$1" --fail-on fail 2>/dev/null || true
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
nee = any(r["status"] == "not-enough-evidence" for r in s["rows"])
ratio = p99["current"] / p99["baseline"] if p99["baseline"] else 0
print(f'{label}\t{int(called)}\t{int(nee)}\t{ratio:.3f}\t{p99["noise"].get("floor_pct", "nan")}\t{p99["status"]}')
PY
}
# rounds label subject prefix levels runner...: ROUNDS rounds (plus 4 lead-in
# baseline runs); "$runner level out" makes one run ("base" for the
# baseline); then every level's runs are judged against the baselines.
rounds() {
  local label=$1 subject=$2 prefix=$3 levels=$4 r l j; shift 4
  for r in -3 -2 -1 0; do "$@" base "$OUT/$prefix.base.$r.json"; done
  for r in $(seq 1 "$ROUNDS"); do
    "$@" base "$OUT/$prefix.base.$r.json"
    for l in $levels; do "$@" "$l" "$OUT/$prefix.$l.$r.json"; done
  done
  for l in $levels; do
    for r in $(seq 1 "$ROUNDS"); do
      compare_one "$label $l one-run" "$subject" "$OUT/$prefix.$l.$r.json" "$OUT/$prefix.base.$r.json"
      compare_one "$label $l five-run" "$subject" "$OUT/$prefix.$l.$r.json" \
        $(for j in 0 1 2 3 4; do echo "$OUT/$prefix.base.$((r - j)).json"; done)
    done
  done
}

has() { case " $PHASES " in *" $1 "*) return 0;; esac; return 1; }
if has slow || has span || has blkio || has writer; then
  mkdir "$OUT/shm" "$OUT/mnt"
  mount -t tmpfs -o size=1200m "$ID" "$OUT/shm"
  truncate -s 1G "$OUT/shm/disk.img"
  LOOP=$(losetup --find --show "$OUT/shm/disk.img")
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
  mount "$LOOP" "$OUT/mnt"
  MM=$(printf '%d:%d' "$(stat -c '0x%t' "$LOOP")" "$(stat -c '0x%T' "$LOOP")")
  cc -O2 -shared -fPIC -o "$OUT/slow_fdatasync.so" benches/slow_fdatasync.c -ldl
fi

slow() { # level out
  local f=$1; [ "$f" = base ] && f=1
  disk_run "$OUT/mnt" "$2" LD_PRELOAD="$OUT/slow_fdatasync.so" SLOW_FDATASYNC_FACTOR="$f" SLOW_FDATASYNC_BASE_US="$BASE_US"
}
if has slow; then
  load "slow: a ${BASE_US} us disk, fdatasync x $FACTORS"
  rounds "disk x" "disk fsync" slow "$FACTORS" slow
  load "slow: done"
fi

blkio() { # level out
  local l=$1; [ "$l" = base ] && l=0
  echo "$MM $l" > "$CG/blkio.throttle.write_iops_device"
  throttled_run "$OUT/mnt" "$2"
}
if has span; then
  # Does a longer run make p99 steadier? SPAN_ROUNDS rounds of one run of
  # the unchanged 2 ms disk per length in SPANS (--duration), interleaved;
  # prints the between-run SD of log p50/p90/p99 per length.
  load "span: runs of ${SPANS:=6 24} s"
  for r in $(seq 1 "${SPAN_ROUNDS:-8}"); do
    for sp in $SPANS; do DISK_ARGS=(--duration "$sp"); slow 1 "$OUT/span.$sp.$r.json"; done
  done
  DISK_ARGS=()
  python3 - "$OUT" $SPANS <<'PY'
import glob, json, math, statistics, sys
for sp in sys.argv[2:]:
    runs = [json.load(open(f))["disk"][0]["latency_us"] for f in glob.glob(f"{sys.argv[1]}/span.{sp}.*.json")]
    sd = {k: statistics.stdev(math.log(r[k]) for r in runs) for k in ("p50", "p90", "p99")}
    print(f"span {sp} s, {len(runs)} runs: between-run SD of log p50 {sd['p50']:.3f}, p90 {sd['p90']:.3f}, p99 {sd['p99']:.3f}")
PY
  load "span: done"
fi

if has blkio; then
  mkdir "$CG"
  load "blkio: write IOPS $IOPS against no limit"
  rounds "disk blkio IOPS" "disk fsync" blkio "$IOPS" blkio
  load "blkio: done"
fi

writer() { # level out
  if [ "$1" != base ]; then
    fio --name=rival --directory="$OUT/mnt" --rw=write --bs=64k --size=256m --rate="$1" --fdatasync=8 \
      --time_based --runtime=600 --output=/dev/null >/dev/null 2>&1 &
    BG=$!; sleep 1
  fi
  disk_run "$OUT/mnt" "$2"
  if [ "$1" != base ]; then kill "$BG"; wait "$BG" 2>/dev/null || true; BG=""; rm -f "$OUT"/mnt/rival.*; fi
}
if has writer; then
  load "writer: fio at $WRITERS per s"
  rounds "disk writer/s" "disk fsync" writer "$WRITERS" writer
  load "writer: done"
fi

flow() { # level out: a bulk TCP flow whose window is WINDOW_KB x level
  local kb; kb=$(python3 -c "print(round($WINDOW_KB * ${1/base/1}))")
  ip netns exec "$C" iperf3 -c "$IP" -p 5211 -w "${kb}K" -t 600 >/dev/null 2>&1 &
  BG=$!; sleep 1
  net_run "$2"
  kill "$BG"; wait "$BG" 2>/dev/null || true; BG=""; sleep 0.5
}
if has net; then
  # client -- router -- server: the router's side toward the server is the
  # shaped link, so the flow's window queues there (in the sender's own
  # qdisc, TCP small queues would keep it to about a millisecond).
  ip netns add "$C"; ip netns add "$R"; ip netns add "$S"
  ip link add "$ID-a" netns "$C" type veth peer name "$ID-b" netns "$R"
  ip link add "$ID-c" netns "$R" type veth peer name "$ID-d" netns "$S"
  ip -n "$C" addr add 10.231.29.1/24 dev "$ID-a"
  ip -n "$R" addr add 10.231.29.254/24 dev "$ID-b"
  ip -n "$R" addr add 10.231.30.254/24 dev "$ID-c"
  ip -n "$S" addr add "$IP/24" dev "$ID-d"
  for dev in "$C $ID-a" "$R $ID-b" "$R $ID-c" "$S $ID-d"; do set -- $dev; ip -n "$1" link set "$2" up; done
  for ns in "$C" "$R" "$S"; do ip -n "$ns" link set lo up; done
  ip -n "$C" route add default via 10.231.29.254
  ip -n "$S" route add default via 10.231.30.254
  ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$R" tc qdisc add dev "$ID-c" root handle 1: htb default 10
  ip netns exec "$R" tc class add dev "$ID-c" parent 1: classid 1:10 htb rate 20mbit quantum 1514
  ip netns exec "$R" tc qdisc add dev "$ID-c" parent 1:10 handle 10: pfifo limit 1000
  ip netns exec "$S" "$BIN" agent --listen "$IP:7481" --token bench 2>/dev/null &
  AGENT=$!
  ip netns exec "$S" iperf3 -s -B "$IP" -p 5211 >/dev/null 2>&1 &
  AGENT="$AGENT $!"
  sleep 1
  load "net: a 20 Mbit/s link queueing a bulk flow's window of ${WINDOW_KB} KiB x $FACTORS"
  rounds "net rtt window x" "net rtt" flow "$FACTORS" flow
  load "net: done"
fi

if has b2b; then
  load "b2b: $RUNS runs on $DIR"
  for i in $(seq 0 $((RUNS - 1))); do disk_run "$DIR" "$OUT/b2b.$i.json"; done
  for i in $(seq 1 $((RUNS - 1))); do
    compare_one "disk same dir b2b one-run" "disk fsync" "$OUT/b2b.$i.json" "$OUT/b2b.$((i - 1)).json"
    [ "$i" -ge 5 ] && compare_one "disk same dir b2b five-run" "disk fsync" "$OUT/b2b.$i.json" \
      $(for j in 1 2 3 4 5; do echo "$OUT/b2b.$((i - j)).json"; done)
  done
  load "b2b: done"
fi

python3 benches/compare_noise_summary.py "$RESULTS"
