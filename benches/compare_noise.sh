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
#   net:    rtt between two namespaces over a veth whose client side is
#           shaped to 20 Mbit/s (HTB); levels: a UDP iperf3 flow at each
#           of FLOWS="4M 8M 12M 16M" bit/s sharing the link (queueing
#           delays the pings; this kernel has no netem for a fixed delay).
#   b2b:    RUNS back-to-back runs on DIR (the real disk): each against the
#           one before, and against the five before (false alarms only).
# Every probe runs at nice -10 (PIN=cpulist adds taskset) so that other
# jobs' CPU use disturbs it less; the load average is printed per phase.
#
# Prints one line per scenario and baseline: regressions called (any metric
# of the subject) / comparisons, "not enough evidence" verdicts, and
# min/median/max of the current/baseline p99 ratio and of the p99 noise
# floor compare reported. Raw rows go to RESULTS, reports stay in KEEP
# (when set) so that `compare` can be re-run on them.
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
FLOWS=${FLOWS:-"4M 8M 12M 16M"}
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
C="$ID-c"; S="$ID-s"; IP=10.231.29.2
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
  for ns in "$C" "$S"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$OUT"/*.json "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
load() { echo "$1: load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)" >&2; }

disk_run() { # dir out [env...]: `disk --probe fsync`, default stop rule
  local dir=$1 out=$2; shift 2
  env "$@" "${RUN[@]}" "$BIN" disk --dir "$dir" --probe fsync -w json --out "$out" 2>/dev/null
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
if has slow || has blkio || has writer; then
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

flow() { # level out ("1": a second unchanged run)
  if [ "$1" != base ] && [ "$1" != 1 ]; then
    ip netns exec "$C" iperf3 -u -c "$IP" -p 5211 -b "$1" -t 600 >/dev/null 2>&1 &
    BG=$!; sleep 1
  fi
  net_run "$2"
  if [ -n "$BG" ]; then kill "$BG"; wait "$BG" 2>/dev/null || true; BG=""; sleep 0.5; fi
}
if has net; then
  ip netns add "$C"; ip netns add "$S"
  ip link add "$ID-v" netns "$C" type veth peer name "$ID-v" netns "$S"
  ip -n "$C" addr add 10.231.29.1/24 dev "$ID-v"
  ip -n "$S" addr add "$IP/24" dev "$ID-v"
  for ns in "$C" "$S"; do ip -n "$ns" link set lo up; ip -n "$ns" link set "$ID-v" up; done
  ip netns exec "$C" tc qdisc add dev "$ID-v" root handle 1: htb default 10
  ip netns exec "$C" tc class add dev "$ID-v" parent 1: classid 1:10 htb rate 20mbit
  ip netns exec "$S" "$BIN" agent --listen "$IP:7481" --token bench 2>/dev/null &
  AGENT=$!
  ip netns exec "$S" iperf3 -s -B "$IP" -p 5211 >/dev/null 2>&1 &
  AGENT="$AGENT $!"
  sleep 1
  load "net: UDP flows of $FLOWS bit/s on a 20 Mbit/s link"
  rounds "net rtt flow" "net rtt" flow "1 $FLOWS" flow
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
