#!/bin/sh
# `watch` for a quarter of an hour at its defaults (15 s ticks, windows of
# 1 min, 10 min, 1 h) on two throttleable disks at once: on one a hang of
# STALL_MS (blkio write limit 1 IOPS) every PERIOD_S, the other left quiet.
# The two runs share the same minutes (interleaved in time, not one after
# the other), so machine load hits both alike.
# Each disk: a fresh zram device (no loop worker a busy CPU could hold up),
# ext4, its own blkio cgroup (v1); `watch --no-cluster` runs inside it at
# nice -15, /metrics polled every second.
# Prints: the hangs injected, the rise time of etcd_doctor_finding
# {id="disk.fsync-stall"} after the first hang (and whether it is within
# one 1-min window), etcd_doctor_canary_stalls_total against the hangs,
# every finding at warn or fail the quiet run ever showed, and load.
#
# Usage: benches/watch_stall_long.sh [DURATION_S] [PERIOD_S] [STALL_MS]
#   defaults 900 180 700; ETCD_DOCTOR_BIN=path skips the release build.
# Needs root, zram and cgroup v1 blkio (as tests/watch_stall.rs).
set -eu
cd "$(dirname "$0")/.."
DURATION=${1:-900}
PERIOD=${2:-180}
STALL_MS=${3:-700}
[ "$(id -u)" = 0 ] || { echo "needs root (zram, mount, blkio cgroups)" >&2; exit 2; }
[ -d /sys/fs/cgroup/blkio ] || { echo "needs cgroup v1 blkio at /sys/fs/cgroup/blkio" >&2; exit 2; }
if [ -z "${ETCD_DOCTOR_BIN:-}" ]; then
  cargo build --release --quiet
  ETCD_DOCTOR_BIN="${CARGO_TARGET_DIR:-target}/release/etcd-doctor"
fi
export ETCD_DOCTOR_BIN DURATION PERIOD STALL_MS
exec python3 - <<'PY'
import os, re, signal, subprocess, sys, tempfile, time, urllib.request

BIN = os.environ["ETCD_DOCTOR_BIN"]
DURATION, PERIOD = int(os.environ["DURATION"]), int(os.environ["PERIOD"])
STALL = int(os.environ["STALL_MS"]) / 1000.0
undo, procs = [], []

def cleanup(*_):
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try: p.wait(15)
            except subprocess.TimeoutExpired: p.kill()
    for f in reversed(undo):
        try: f()
        except Exception as e: print("cleanup:", e, file=sys.stderr)
signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(2)))
signal.signal(signal.SIGINT, lambda *a: (cleanup(), sys.exit(2)))

def disk(name):
    """A zram ext4 mounted in a temp dir, its blkio cgroup; (mnt, cg, maj:min)."""
    zid = open("/sys/class/zram-control/hot_add").read().strip()
    undo.append(lambda: open("/sys/class/zram-control/hot_remove", "w").write(zid))
    open(f"/sys/block/zram{zid}/disksize", "w").write(str(512 << 20))
    dev = f"/dev/zram{zid}"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev], check=True)
    mnt = tempfile.mkdtemp(prefix=f"watch-long-{name}-")
    undo.append(lambda: os.rmdir(mnt))
    subprocess.run(["mount", dev, mnt], check=True)
    undo.append(lambda: subprocess.run(["umount", mnt], check=True))
    st = os.stat(dev)
    mm = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    cg = f"/sys/fs/cgroup/blkio/etcd-doctor-long-{os.getpid()}-{name}"
    os.mkdir(cg)
    undo.append(lambda: os.rmdir(cg))
    return mnt, cg, mm

def watch(mnt, cg):
    def enter():
        open(f"{cg}/cgroup.procs", "w").write(str(os.getpid()))
        os.nice(-15)
    err = tempfile.TemporaryFile()
    p = subprocess.Popen([BIN, "watch", "--no-cluster", "--listen", "127.0.0.1:0", "--dir", mnt],
                         stderr=err, preexec_fn=enter)
    procs.append(p)
    for _ in range(200):
        err.seek(0)
        m = re.search(rb"serving (http://\S+)/metrics", err.read())
        if m: return p, m.group(1).decode()
        time.sleep(0.1)
    sys.exit("watch did not start")

def scrape(url):
    try: text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    except Exception: return None
    findings = set(re.findall(r'^etcd_doctor_finding\{id="([^"]+)",severity="([^"]+)"', text, re.M))
    stalls = re.search(r"^etcd_doctor_canary_stalls_total (\S+)$", text, re.M)
    return findings, float(stalls.group(1)) if stalls else float("nan")

try:
    (smnt, scg, smm), (qmnt, qcg, qmm) = disk("stall"), disk("quiet")
    (sp, surl), (qp, qurl) = watch(smnt, scg), watch(qmnt, qcg)
    limit = f"{scg}/blkio.throttle.write_iops_device"
    undo.append(lambda: open(limit, "w").write(f"{smm} 0"))
    time.sleep(20)  # the first tick is served
    start = time.monotonic()
    hangs, next_hang = [], start + PERIOD
    first_gauge, quiet_seen, transitions, last = None, set(), [], False
    loads = []
    while time.monotonic() - start < DURATION:
        now = time.monotonic()
        if now >= next_hang and now + STALL < start + DURATION:
            open(limit, "w").write(f"{smm} 1")
            time.sleep(STALL)
            open(limit, "w").write(f"{smm} 0")
            hangs.append(now - start)
            next_hang += PERIOD
        s, q = scrape(surl), scrape(qurl)
        t = time.monotonic() - start
        if s:
            on = any(i == "disk.fsync-stall" for i, _ in s[0])
            if on != last:
                transitions.append((round(t), on)); last = on
            if on and hangs and first_gauge is None: first_gauge = t
        if q:
            quiet_seen |= {f for f in q[0] if f[1] != "info"}
        if int(t) % 60 == 0:
            loads.append(os.getloadavg()[0])
        time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
    s, q = scrape(surl), scrape(qurl)
    print(f"duration {DURATION} s, a {STALL*1000:.0f} ms hang every {PERIOD} s, "
          f"watch defaults (15 s ticks, 1m/10m/1h windows)")
    print(f"hangs injected at (s): {[round(h) for h in hangs]}")
    rise = None if first_gauge is None else first_gauge - hangs[0]
    print(f"stall gauge rise after the first hang: "
          f"{'never' if rise is None else f'{rise:.1f} s'} "
          f"({'within' if rise is not None and rise <= 60 else 'NOT within'} one 1-min window)")
    print(f"stall gauge transitions (s, on): {transitions}")
    print(f"stall run: etcd_doctor_canary_stalls_total {s[1] if s else 'unread'} for {len(hangs)} hangs")
    print(f"quiet run: etcd_doctor_canary_stalls_total {q[1] if q else 'unread'}; "
          f"findings at warn/fail ever seen: {sorted(quiet_seen) or 'none'}")
    print(f"load average (1 min) over the run: min {min(loads):.1f} median "
          f"{sorted(loads)[len(loads)//2]:.1f} max {max(loads):.1f}")
finally:
    cleanup()
PY
