#!/bin/sh
# The cost of `etcd-doctor watch` beside a live etcd, measured.
#   One etcd 3.5 member (data dir under $TMPDIR, i.e. the real disk) under a
#   put load (`etcd-doctor load --load s`: 150 puts/s, 50 clients) for
#   DURATION per run; ROUNDS rounds of two runs, without and with `watch`
#   (canary at its default 10 writes/s in the data dir's parent, /metrics
#   scraped every 15 s, the member's log followed), the order alternating
#   per round so drift hits both alike. Per run: etcd's WAL fsync p99 over
#   the run (histogram_quantile over the bucket deltas of
#   etcd_disk_wal_fsync_duration_seconds), the load's p99 request latency;
#   with watch: its CPU % of one core and RSS (/proc/PID), and its block-IO
#   writes extrapolated to a day (/proc/PID/io write_bytes).
# Prints one line per run, then min/median/max of the with/without ratios
# and of watch's own cost.
#
# Usage: benches/watch_cost.sh [ROUNDS] [DURATION_S]
#   (ETCD_DOCTOR_BIN=path skips the release build)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
DURATION=${2:-30}
. benches/prelude.sh
export ETCD_DOCTOR_BIN ETCDBIN ROUNDS DURATION
exec python3 - <<'PY'
import os, re, signal, socket, statistics, subprocess, sys, tempfile, time, json, urllib.request

BIN, ETCDBIN = os.environ["ETCD_DOCTOR_BIN"], os.environ["ETCDBIN"]
ROUNDS, DURATION = int(os.environ["ROUNDS"]), int(os.environ["DURATION"])
work = tempfile.mkdtemp(prefix="watch-cost-", dir=os.environ.get("TMPDIR", "/var/tmp"))
procs = []

def ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks: s.bind(("127.0.0.1", 0))
    out = [s.getsockname()[1] for s in socks]
    for s in socks: s.close()
    return out

def cleanup(*_):
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try: p.wait(10)
            except subprocess.TimeoutExpired: p.kill()
    subprocess.run(["rm", "-rf", work])
signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(2)))

cport, pport = ports(2)
ep = f"http://127.0.0.1:{cport}"
data = os.path.join(work, "etcd", "data")
os.makedirs(os.path.dirname(data))
log = open(os.path.join(work, "etcd.log"), "w")
etcd = subprocess.Popen([f"{ETCDBIN}/etcd", "--name", "m0", "--data-dir", data,
    "--listen-client-urls", ep, "--advertise-client-urls", ep,
    "--listen-peer-urls", f"http://127.0.0.1:{pport}",
    "--initial-advertise-peer-urls", f"http://127.0.0.1:{pport}",
    "--initial-cluster", f"m0=http://127.0.0.1:{pport}", "--log-outputs", "stderr"],
    stdout=log, stderr=log)
procs.append(etcd)

def page():
    return urllib.request.urlopen(ep + "/metrics", timeout=5).read().decode()

for _ in range(100):
    try: page(); break
    except Exception: time.sleep(0.2)

def wal_buckets(text):
    b = {}
    for m in re.finditer(r'^etcd_disk_wal_fsync_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M):
        b[float(m.group(1))] = float(m.group(2))
    return b

def p99(before, after):
    les = sorted(after)
    d = [(le, after[le] - before.get(le, 0.0)) for le in les]
    total = d[-1][1]
    if total <= 0: return float("nan")
    rank, prev_le, prev_c = 0.99 * total, 0.0, 0.0
    for le, c in d:
        if c >= rank:
            if le == float("inf"): return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_c) / max(c - prev_c, 1e-9))
        prev_le, prev_c = le, c
    return float("nan")

def proc_cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def proc_rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) * 1024
    return 0

def proc_writes(pid):
    for l in open(f"/proc/{pid}/io"):
        if l.startswith("write_bytes:"): return int(l.split()[1])
    return 0

def run(with_watch):
    w = None
    if with_watch:
        (lport,) = ports(1)
        w = subprocess.Popen([BIN, "watch", "--dir", os.path.dirname(data), "--endpoints", ep,
            "--listen", f"127.0.0.1:{lport}", "--logs", log.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(w)
        time.sleep(3)
        c0, w0, t0 = proc_cpu(w.pid), proc_writes(w.pid), time.monotonic()
    before = wal_buckets(page())
    out = subprocess.run([BIN, "load", "--load", "s", "--duration", f"{DURATION}s", "--endpoints", ep,
        "--force", "-w", "json"], capture_output=True)
    after = wal_buckets(page())
    rep = json.loads(out.stdout)
    load_p99 = rep["load"]["all"]["latency_us"]["p99"] / 1000.0
    res = {"wal_p99_ms": p99(before, after) * 1000.0, "load_p99_ms": load_p99}
    if w:
        el = time.monotonic() - t0
        res["cpu_pct"] = 100.0 * (proc_cpu(w.pid) - c0) / el
        res["rss_mib"] = proc_rss(w.pid) / 2**20
        res["writes_mib_day"] = (proc_writes(w.pid) - w0) / el * 86400 / 2**20
        w.send_signal(signal.SIGTERM); w.wait(20)
    return res

rows = []
try:
    for r in range(ROUNDS):
        order = [False, True] if r % 2 == 0 else [True, False]
        got = {}
        for ww in order:
            got[ww] = run(ww)
            print(f"round {r+1} {'with   ' if ww else 'without'} watch: " +
                  " ".join(f"{k}={v:.3f}" for k, v in got[ww].items()), flush=True)
        rows.append(got)
finally:
    cleanup()

def mmm(name, xs):
    xs = [x for x in xs if x == x]
    if not xs: print(f"{name}: no data"); return
    print(f"{name}: min {min(xs):.3f} median {statistics.median(xs):.3f} max {max(xs):.3f}")

print(f"--- {ROUNDS} rounds of {DURATION} s")
mmm("WAL fsync p99 ratio with/without watch", [g[True]["wal_p99_ms"] / g[False]["wal_p99_ms"] for g in rows])
mmm("load p99 ratio with/without watch", [g[True]["load_p99_ms"] / g[False]["load_p99_ms"] for g in rows])
mmm("WAL fsync p99 without watch, ms", [g[False]["wal_p99_ms"] for g in rows])
mmm("WAL fsync p99 with watch, ms", [g[True]["wal_p99_ms"] for g in rows])
mmm("watch CPU % of one core", [g[True]["cpu_pct"] for g in rows])
mmm("watch RSS MiB", [g[True]["rss_mib"] for g in rows])
mmm("watch block writes MiB/day", [g[True]["writes_mib_day"] for g in rows])
PY
