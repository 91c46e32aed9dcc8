#!/bin/sh
# Reading speed of `etcd-doctor logs` on etcd 3.5 zap JSON against
# `grep -c` with three needles over the same file (the operator's tool
# today). The file is generated: SIZE_MB of zap lines in one of three mixes
# (MIX):
#   bench  served requests, compactions, request stats and snapshot lines
#          (~250 B) with a catalogued warning every 200 lines (the old mix);
#   quiet  short lines (80-200 B: heartbeats, watch and lease info) and one
#          catalogued warning in 2000: the per-line cost shows, grep skips;
#   busy   a loaded member: line lengths 60 B to 3 KB (long requests in
#          `apply request took too long`, trace steps), about a third of
#          the lines catalogued (slow applies, traces, slow fdatasync,
#          heartbeats, elections), the rest of many kinds.
# MIX=all (the default) runs the three one after another.
#
# Each round runs ours and grep back to back on the warm page cache,
# alternating which goes first, for ours on one core (taskset -c 0,
# --threads 1) and on two (taskset -c 0,1, --threads 2); grep always on one
# core (it has no threads). Wall and CPU (user + sys) time from GNU time
# (10 ms resolution). Prints per round the times and ratios ours/grep, then
# min/median/max of each ratio (wall and CPU: CPU is what the other builds
# on a shared machine inflate least), the
# load average and the CPU steal (from /proc/stat) during the run: six other
# builds may share this machine, so say what it was doing.
#
# Usage: [ETCD_DOCTOR_BIN=path] [MIX=bench|quiet|busy|all] benches/logs_speed.sh [SIZE_MB] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 2; }
SIZE_MB=${1:-200}
ROUNDS=${2:-5}
MIX=${MIX:-all}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${ETCD_DOCTOR_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN="$TARGET/release/etcd-doctor"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

make_log() { # MIX PATH
  python3 - "$2" "$SIZE_MB" "$1" <<'PY'
import sys, random
path, size, mix = sys.argv[1], int(sys.argv[2]) * 1_000_000, sys.argv[3]
random.seed(7)
TS = '"level":"%s","ts":"2024-03-01T12:%02d:%02d.%03dZ"'
def pad(n):
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789/-") for _ in range(n))
def served(t):
    return '{%s,"caller":"v3rpc/interceptor.go:197","msg":"request served %d","detail":"{range_begin:/registry/pods/default/web-%d; range_end:; response_count:1; response_revision:%d; }","duration":"%dms","start":"2024-03-01T12:00:00.000Z","end":"2024-03-01T12:00:00.100Z","steps":["agreement among raft nodes before linearized reading (duration: 99ms)"],"step_count":1}' % ((TS % (("info",) + t)), random.randrange(99999), random.randrange(99999), random.randrange(99999), random.randrange(999))
def compact(t):
    return '{%s,"caller":"mvcc/index.go:214","msg":"compact tree index","revision":%d,"pods":%d,"ms":%d}' % (TS % (("info",) + t), random.randrange(99999), random.randrange(999), random.randrange(999))
def stats(t):
    return '{%s,"caller":"v3rpc/interceptor.go:182","msg":"request stats start time","remote":"10.0.0.%d:4242","response type":"/etcdserverpb.KV/Range","request count":%d,"request size":%d,"response count":0}' % (TS % (("debug",) + t), random.randrange(255), random.randrange(999), random.randrange(999))
def saved(t):
    return '{%s,"caller":"etcdserver/server.go:1368","msg":"saved snapshot","snapshot-index":%d,"member":%d,"took":"%dms"}' % (TS % (("info",) + t), random.randrange(99999), random.randrange(99999), random.randrange(999))
def fsync(t):
    return '{%s,"caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.%03ds","expected-duration":"1s"}' % (TS % (("warn",) + t), random.randrange(999))
def apply(t):
    return '{%s,"caller":"etcdserver/util.go:166","msg":"apply request took too long","took":"1%02dms","expected-duration":"100ms","prefix":"read-only range ","request":"key:\\"/registry/%s\\" range_end:\\"/registry/%s0\\" ","response":"range_response_count:%d size:%d"}' % (TS % (("warn",) + t), random.randrange(99), pad(random.randrange(20, 1500)), pad(30), random.randrange(9999), random.randrange(99999))
def elected(t):
    return '{%s,"logger":"raft","caller":"etcdserver/zap_raft.go:77","msg":"raft.node: 8e9e05c52164694d elected leader 8e9e05c52164694d at term %d"}' % (TS % (("info",) + t), random.randrange(99))
def heartbeat(t):
    return '{%s,"caller":"etcdserver/raft.go:369","msg":"leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk","to":"91bc3c398fb3c146","heartbeat-interval":"100ms","expected-duration":"200ms","exceeded-duration":"%dms"}' % (TS % (("warn",) + t), random.randrange(999))
def trace(t):
    steps = ",".join('"trace[%d] \'%s\'  (duration: %dms)"' % (random.randrange(10**9), pad(random.randrange(20, 120)), random.randrange(99)) for _ in range(random.randrange(2, 14)))
    return '{%s,"caller":"traceutil/trace.go:171","msg":"trace[%d] range","detail":"{range_begin:/registry/%s; range_end:; }","duration":"1%02d.5ms","start":"2024-03-01T12:00:00.000Z","end":"2024-03-01T12:00:00.100Z","steps":[%s],"step_count":3}' % (TS % (("info",) + t), random.randrange(10**9), pad(40), random.randrange(99), steps)
def short(t):
    return random.choice([
        '{%s,"msg":"lease keepalive %d"}' % (TS % (("debug",) + t), random.randrange(99999)),
        '{%s,"caller":"v3rpc/watch.go:%d","msg":"watch stream %d closed"}' % (TS % (("info",) + t), random.randrange(999), random.randrange(99999)),
        '{%s,"caller":"mvcc/kvstore_compaction.go:57","msg":"compaction batch %d","rev":%d,"pods":"%s"}' % (TS % (("info",) + t), random.randrange(999), random.randrange(99999), pad(random.randrange(10, 110))),
    ])
def long_info(t):
    return '{%s,"caller":"v3rpc/interceptor.go:197","msg":"request served","detail":"%s","duration":"%dms"}' % (TS % (("info",) + t), pad(random.randrange(400, 3000)), random.randrange(99))
MIXES = {
    "bench": lambda i: random.choice([fsync, apply, elected]) if i % 200 == 0 else random.choice([served, compact, stats, saved]),
    "quiet": lambda i: random.choice([fsync, apply, elected]) if i % 2000 == 0 else short,
    "busy": lambda i: random.choices([apply, trace, fsync, heartbeat, elected, served, short, long_info, compact, saved],
                                     [18, 8, 3, 4, 0.2, 20, 25, 8, 8, 5])[0],
}
pick = MIXES[mix]
written = 0
with open(path, "w") as f:
    buf = []
    i = 0
    while written < size:
        i += 1
        t = ((i // 60000) % 60, (i // 1000) % 60, i % 1000)
        line = pick(i)(t)
        buf.append(line)
        written += len(line) + 1
        if len(buf) >= 10000:
            f.write("\n".join(buf) + "\n")
            buf = []
    if buf:
        f.write("\n".join(buf) + "\n")
PY
}

stats() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{printf "min %s median %s max %s", v[1], v[int((NR+1)/2)], v[NR]}'; }
cpu() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
# Runs a side; W = wall ms, C = CPU ms (user + sys) of that run.
timed() {
  /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$@" || true
  set -- $(tail -1 "$WORK/time")
  W=$(awk -v E="$1" 'BEGIN{printf "%.0f", E*1000}')
  C=$(awk -v U="$2" -v S="$3" 'BEGIN{printf "%.0f", (U+S)*1000}')
}
ours() { # CPUS THREADS LOG (exit 1: the log has warnings)
  timed taskset -c "$1" "$BIN" logs --threads "$2" -w json "$3" >/dev/null
}
# grep's output goes to a file: GNU grep stops at the first match when its
# output is /dev/null (as -q), which would time nothing.
theirs() { # LOG
  timed taskset -c 0 grep -c -e 'slow fdatasync' -e 'apply request took too long' -e ' elected leader ' "$1" >"$WORK/grep.out"
}

bench_mix() { # MIX
  LOG="$WORK/$1.log"
  make_log "$1" "$LOG"
  BYTES=$(stat -c %s "$LOG")
  LINES=$(wc -l <"$LOG")
  cat "$LOG" >/dev/null
  echo "== mix $1: $((BYTES / 1000000)) MB, $LINES lines, grep -c counts $(grep -c -e 'slow fdatasync' -e 'apply request took too long' -e ' elected leader ' "$LOG")"
  # One untimed run of each first (page cache, binary).
  ours 0 1 "$LOG"; theirs "$LOG"
  R1="" R2="" C1="" C2="" G=""
  set -- "$1" $(cpu); T0=$2 S0=$3
  L0=$(cut -d' ' -f1 /proc/loadavg)
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then
      theirs "$LOG"; g=$W gc=$C
      ours 0 1 "$LOG"; a=$W ac=$C
      ours 0,1 2 "$LOG"; b=$W bc=$C
    else
      ours 0,1 2 "$LOG"; b=$W bc=$C
      ours 0 1 "$LOG"; a=$W ac=$C
      theirs "$LOG"; g=$W gc=$C
    fi
    q1=$(awk -v A="$a" -v G="$g" 'BEGIN{printf "%.2f", A/G}')
    q2=$(awk -v A="$b" -v G="$g" 'BEGIN{printf "%.2f", A/G}')
    c1=$(awk -v A="$ac" -v G="$gc" 'BEGIN{printf "%.2f", (G > 0 ? A/G : 0)}')
    c2=$(awk -v A="$bc" -v G="$gc" 'BEGIN{printf "%.2f", (G > 0 ? A/G : 0)}')
    echo "round $r: grep -c $g ms (cpu $gc), ours 1 core $a ms (cpu $ac; $q1), ours 2 cores $b ms (cpu $bc; $q2)"
    R1="$R1 $q1" R2="$R2 $q2" C1="$C1 $c1" C2="$C2 $c2" G="$G $g"
  done
  set -- "$1" $(cpu)
  L1=$(cut -d' ' -f1 /proc/loadavg)
  STEAL=$(awk -v T="$(( $2 - T0 ))" -v S="$(( $3 - S0 ))" 'BEGIN{printf "%.1f", (T > 0 ? 100*S/T : 0)}')
  echo "mix $1: grep -c wall ms: $(stats "$G")"
  echo "mix $1: wall ours/grep 1 core:  $(stats "$R1")"
  echo "mix $1: wall ours/grep 2 cores: $(stats "$R2")"
  echo "mix $1: cpu  ours/grep 1 core:  $(stats "$C1")"
  echo "mix $1: cpu  ours/grep 2 cores: $(stats "$C2")"
  echo "mix $1: load average $L0 -> $L1, steal $STEAL % of CPU time"
  # The answer may not depend on the threads: same report with 1 and 2.
  "$BIN" logs --threads 1 -w json "$LOG" >"$WORK/one.json" || true
  "$BIN" logs --threads 2 -w json "$LOG" >"$WORK/two.json" || true
  if cmp -s "$WORK/one.json" "$WORK/two.json"; then echo "mix $1: reports with 1 and 2 threads identical"
  else echo "mix $1: REPORTS DIFFER between 1 and 2 threads" >&2; exit 1; fi
  rm -f "$LOG"
}

case "$MIX" in
  all) for m in bench quiet busy; do bench_mix "$m"; done ;;
  *) bench_mix "$MIX" ;;
esac
