#!/bin/sh
# Fidelity of the fsync probe against fio's etcd disk test, on the same
# directory, interleaved (the order alternates each round so drift hits
# both sides alike):
#   fio --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300
#   etcd-doctor disk --probe fsync --ops 10029   (22 MiB / 2300 B, as fio)
# Prints per-round and median ratios ours/fio for IOPS, p50 and p99 of
# fdatasync latency (fio's "sync" percentiles); then the same on tmpfs
# (/dev/shm, fdatasync nearly free: the harness's own overhead), and the
# peak RSS of a full default `disk` run (/usr/bin/time -v).
# Goals: IOPS and p50 ratios 0.9-1.1, p99 0.8-1.25; tmpfs ops/s ratio >= 1;
# peak RSS < 50 MB.
#
# Usage: benches/fio_fidelity.sh [DIR [ROUNDS [TMPFS_ROUNDS]]]
#   DIR defaults to /var/tmp (put it on the disk you care about).
set -eu
cd "$(dirname "$0")/.."
DIR=${1:-/var/tmp}
ROUNDS=${2:-5}
TMPFS_ROUNDS=${3:-7}
OPS=10029
TARGET=${CARGO_TARGET_DIR:-target}
for tool in fio python3 /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run scripts/install-test-deps" >&2; exit 2; }
done
cargo build --release --quiet
BIN="$TARGET/release/etcd-doctor"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

ours() { # dir round
  "$BIN" disk --dir "$1" --probe fsync --ops "$OPS" -w json > "$OUT/$2.ours.json"
}
fio_etcd() { # dir round
  work=$(mktemp -d "$1/fio-fidelity.XXXXXX")
  fio --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300 \
      --directory="$work" --name=etcd --output-format=json > "$OUT/$2.fio.json"
  rm -rf "$work"
}
rounds() { # dir count prefix
  i=1
  while [ "$i" -le "$2" ]; do
    if [ $((i % 2)) -eq 1 ]; then ours "$1" "$3$i"; fio_etcd "$1" "$3$i"
    else fio_etcd "$1" "$3$i"; ours "$1" "$3$i"; fi
    i=$((i + 1))
  done
}

report() { # prefix count label
  python3 - "$OUT" "$1" "$2" "$3" <<'PY'
import json, statistics, sys
out, prefix, n, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ratios = {"iops": [], "p50": [], "p99": []}
for i in range(1, n + 1):
    ours = json.load(open(f"{out}/{prefix}{i}.ours.json"))["disk"][0]
    job = json.load(open(f"{out}/{prefix}{i}.fio.json"))["jobs"][0]
    pct = job["sync"]["lat_ns"]["percentile"]
    fio = {"iops": job["write"]["iops"], "p50": pct["50.000000"] / 1e3, "p99": pct["99.000000"] / 1e3}
    mine = {"iops": ours["iops"], "p50": ours["latency_us"]["p50"], "p99": ours["latency_us"]["p99"]}
    r = {k: mine[k] / fio[k] for k in fio}
    for k in r:
        ratios[k].append(r[k])
    print(f"{label} round {i}: ours iops={mine['iops']:.0f} p50={mine['p50']:.1f}us p99={mine['p99']:.1f}us"
          f" | fio iops={fio['iops']:.0f} p50={fio['p50']:.1f}us p99={fio['p99']:.1f}us"
          f" | ours/fio iops={r['iops']:.3f} p50={r['p50']:.3f} p99={r['p99']:.3f}")
med = {k: statistics.median(v) for k, v in ratios.items()}
print(f"{label} MEDIAN ours/fio: iops={med['iops']:.3f} p50={med['p50']:.3f} p99={med['p99']:.3f}")
PY
}

echo "== fsync probe vs fio etcd test on $DIR ($ROUNDS rounds, $OPS ops each)"
rounds "$DIR" "$ROUNDS" disk
report disk "$ROUNDS" disk
echo "== tmpfs /dev/shm ($TMPFS_ROUNDS rounds): harness overhead, goal ops/s ratio >= 1"
rounds /dev/shm "$TMPFS_ROUNDS" shm
report shm "$TMPFS_ROUNDS" tmpfs
echo "== peak RSS of a full default disk run on $DIR (goal < 50 MB)"
/usr/bin/time -v "$BIN" disk --dir "$DIR" -w json 2> "$OUT/time.txt" > "$OUT/full.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
kb = next(int(l.split(":")[1]) for l in open(f"{out}/time.txt") if "Maximum resident set size" in l)
probes = json.load(open(f"{out}/full.json"))["disk"]
took = sum(p["duration_s"] for p in probes)
print(f"peak RSS {kb / 1024:.1f} MiB; probes took {took:.1f} s:",
      ", ".join(f"{p['probe']} {p['ops']} ops ({p['stop_reason']})" for p in probes))
PY
