#!/bin/sh
# Reading speed of `etcd-doctor logs` on etcd 3.5 zap JSON against
# `grep -c` over the same file (the operator's tool today), one core each.
# The file is generated: SIZE_MB of realistic zap lines (served requests,
# compactions, raft and rafthttp info lines) with a catalogued warning
# ("slow fdatasync", "apply request took too long", an election) every
# ~200 lines. Each round runs both on the warm page cache, pinned to CPU 0
# with taskset when present; wall time from `date +%s%N`. Prints MB/s per
# round and min/median/max of ours, grep's and the ratio ours/grep.
#
# Usage: benches/logs_speed.sh [SIZE_MB] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
SIZE_MB=${1:-500}
ROUNDS=${2:-5}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
BIN="$TARGET/release/etcd-doctor"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/etcd.log"
python3 - "$LOG" "$SIZE_MB" <<'PY'
import sys, random
path, size = sys.argv[1], int(sys.argv[2]) * 1_000_000
random.seed(7)
info = [
    '{"level":"info","ts":"2024-03-01T12:%02d:%02d.%03dZ","caller":"v3rpc/interceptor.go:197","msg":"request served %d","detail":"{range_begin:/registry/pods/default/web-%d; range_end:; response_count:1; response_revision:%d; }","duration":"%dms","start":"2024-03-01T12:00:00.000Z","end":"2024-03-01T12:00:00.100Z","steps":["agreement among raft nodes before linearized reading (duration: 99ms)"],"step_count":1}',
    '{"level":"info","ts":"2024-03-01T12:%02d:%02d.%03dZ","caller":"mvcc/index.go:214","msg":"compact tree index","revision":%d,"pods":%d,"ms":%d}',
    '{"level":"debug","ts":"2024-03-01T12:%02d:%02d.%03dZ","caller":"v3rpc/interceptor.go:182","msg":"request stats start time","remote":"10.0.0.%d:4242","response type":"/etcdserverpb.KV/Range","request count":%d,"request size":%d,"response count":0}',
    '{"level":"info","ts":"2024-03-01T12:%02d:%02d.%03dZ","caller":"etcdserver/server.go:1368","msg":"saved snapshot","snapshot-index":%d,"member":%d,"took":"%dms"}',
]
warn = [
    '{"level":"warn","ts":"2024-03-01T12:%02d:%02d.%03dZ","caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.%03ds","expected-duration":"1s"}',
    '{"level":"warn","ts":"2024-03-01T12:%02d:%02d.%03dZ","caller":"etcdserver/util.go:166","msg":"apply request took too long","took":"1%02dms","expected-duration":"100ms","prefix":"","request":"header:<ID:1 > put:<key:\\"/registry/x\\" >","response":"size:5"}',
    '{"level":"info","ts":"2024-03-01T12:%02d:%02d.%03dZ","logger":"raft","caller":"etcdserver/zap_raft.go:77","msg":"raft.node: 8e9e05c52164694d elected leader 8e9e05c52164694d at term %d"}',
]
written = 0
with open(path, "w") as f:
    buf = []
    i = 0
    while written < size:
        i += 1
        m, s, ms = (i // 6000) % 60, (i // 100) % 60, i % 1000
        if i % 200 == 0:
            line = random.choice(warn) % (m, s, ms, i % 1000)
        else:
            t = random.choice(info)
            line = t % ((m, s, ms) + tuple(random.randrange(1, 99999) for _ in range(t.count("%d"))))
        buf.append(line)
        written += len(line) + 1
        if len(buf) >= 10000:
            f.write("\n".join(buf) + "\n")
            buf = []
    if buf:
        f.write("\n".join(buf) + "\n")
PY
BYTES=$(stat -c %s "$LOG")
PIN=""
command -v taskset >/dev/null 2>&1 && PIN="taskset -c 0"
cat "$LOG" >/dev/null
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
OURS="" GREP="" RATIO=""
for r in $(seq "$ROUNDS"); do
  t=$(date +%s%N); $PIN "$BIN" logs -w json "$LOG" >/dev/null || true; a=$(ms "$t")
  t=$(date +%s%N); $PIN grep -c -e 'slow fdatasync' -e 'apply request took too long' -e ' elected leader ' "$LOG" >/dev/null; b=$(ms "$t")
  o=$(awk -v B="$BYTES" -v T="$a" 'BEGIN{printf "%.0f", B/1e6/(T/1000)}')
  g=$(awk -v B="$BYTES" -v T="$b" 'BEGIN{printf "%.0f", B/1e6/(T/1000)}')
  q=$(awk -v A="$a" -v G="$b" 'BEGIN{printf "%.2f", A/G}')
  echo "round $r: ours $a ms ($o MB/s), grep -c $b ms ($g MB/s), time ours/grep $q"
  OURS="$OURS $o" GREP="$GREP $g" RATIO="$RATIO $q"
done
stats() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{printf "min %s median %s max %s", v[1], v[int((NR+1)/2)], v[NR]}'; }
echo "file: $((BYTES / 1000000)) MB of zap JSON, $ROUNDS rounds, one core"
echo "ours MB/s:   $(stats "$OURS")"
echo "grep -c MB/s: $(stats "$GREP")"
echo "time ours/grep: $(stats "$RATIO")"
