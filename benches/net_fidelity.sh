#!/bin/sh
# Fidelity of the network probes against the reference tools, on the same
# path in one run: two network namespaces joined by a veth pair (no route
# off the machine), servers in one, clients in the other, rounds
# interleaved (the order alternates each round so drift hits both alike):
#   RTT:        sockperf ping-pong --tcp -m 100 --mps 200 --full-rtt
#               etcd-doctor net --probe rtt (100-byte pings at 200/s)
#   throughput: iperf3 -c (single stream), and -R for the other direction
#               etcd-doctor net --probe throughput (upload and download)
# Prints per-round figures and the median ratios ours/reference.
# Goals: RTT p50 within 1.2x of sockperf's; throughput >= 0.9x of iperf3's.
# Then the same on an HTB-shaped link (20 Mbit/s out of the client), where
# the ceiling is the shaper's, not the CPU's.
#
# Usage: benches/net_fidelity.sh [SECS [ROUNDS]]   (as root)
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-5}
ROUNDS=${2:-3}
TARGET=${CARGO_TARGET_DIR:-target}
[ "$(id -u)" -eq 0 ] || { echo "net_fidelity: needs root (network namespaces)" >&2; exit 2; }
for tool in sockperf iperf3 ip tc python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run scripts/install-test-deps" >&2; exit 2; }
done
cargo build --release --quiet
BIN="$PWD/$TARGET/release/etcd-doctor"
OUT=$(mktemp -d)
ID="etcd-doctor-bench-$$"
C="$ID-client"; S="$ID-server"; IP=10.231.9.2
cleanup() {
  for ns in "$C" "$S"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$C"; ip netns add "$S"
ip link add veth0 netns "$C" type veth peer name veth0 netns "$S"
ip -n "$C" addr add 10.231.9.1/24 dev veth0
ip -n "$S" addr add "$IP/24" dev veth0
for ns in "$C" "$S"; do ip -n "$ns" link set lo up; ip -n "$ns" link set veth0 up; done
ip netns exec "$S" sockperf server --tcp -i "$IP" -p 11111 >/dev/null 2>&1 &
ip netns exec "$S" iperf3 -s -B "$IP" -p 5201 >/dev/null 2>&1 &
ip netns exec "$S" "$BIN" agent --listen "$IP:7480" --token bench 2>/dev/null &
sleep 1
in_client() { ip netns exec "$C" "$@"; }

sockperf_rtt() { # round
  in_client sockperf ping-pong --tcp -i "$IP" -p 11111 -m 100 --mps 200 -t "$SECS" --full-rtt \
    2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$OUT/$1.sockperf"
}
ours_rtt() { # round
  in_client "$BIN" net --peers "$IP:7480" --token bench --probe rtt --duration "$SECS" -w json \
    > "$OUT/$1.rtt.json"
}
iperf() { # round
  in_client iperf3 -c "$IP" -p 5201 -t "$SECS" -J > "$OUT/$1.iperf-up.json"
  in_client iperf3 -c "$IP" -p 5201 -t "$SECS" -R -J > "$OUT/$1.iperf-down.json"
}
ours_thr() { # round
  in_client "$BIN" net --peers "$IP:7480" --token bench --probe throughput --duration "$SECS" -w json \
    > "$OUT/$1.thr.json"
}
rounds() { # prefix
  i=1
  while [ "$i" -le "$ROUNDS" ]; do
    if [ $((i % 2)) -eq 1 ]; then
      ours_rtt "$1$i"; sockperf_rtt "$1$i"; ours_thr "$1$i"; iperf "$1$i"
    else
      sockperf_rtt "$1$i"; ours_rtt "$1$i"; iperf "$1$i"; ours_thr "$1$i"
    fi
    i=$((i + 1))
  done
}
report() { # prefix label
  python3 - "$OUT" "$1" "$ROUNDS" "$2" <<'PY'
import json, re, statistics, sys
out, prefix, n, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ratios = {"rtt p50": [], "rtt p99": [], "upload": [], "download": []}
print(f"== {label}")
print(f"{'round':>5} {'rtt p50 us (ours/sockperf)':>28} {'rtt p99 us':>22} {'upload Mbit/s (ours/iperf3)':>30} {'download Mbit/s':>26}")
for i in range(1, n + 1):
    r = f"{out}/{prefix}{i}"
    text = open(f"{r}.sockperf").read()
    pct = {p: float(v) for p, v in re.findall(r"percentile (\d+\.\d+) =\s+([\d.]+)", text)}
    ref_rtt = {"p50": pct["50.000"], "p99": pct["99.000"]}
    lat = json.load(open(f"{r}.rtt.json"))["net"][0]["latency_us"]
    thr = json.load(open(f"{r}.thr.json"))["net"][0]
    up = json.load(open(f"{r}.iperf-up.json"))["end"]["sum_received"]["bits_per_second"] / 1e6
    down = json.load(open(f"{r}.iperf-down.json"))["end"]["sum_received"]["bits_per_second"] / 1e6
    pairs = {"rtt p50": (lat["p50"], ref_rtt["p50"]), "rtt p99": (lat["p99"], ref_rtt["p99"]),
             "upload": (thr["upload_mbit_s"], up), "download": (thr["download_mbit_s"], down)}
    for k, (a, b) in pairs.items():
        ratios[k].append(a / b)
    cell = lambda k: f"{pairs[k][0]:.1f}/{pairs[k][1]:.1f}"
    print(f"{i:>5} {cell('rtt p50'):>28} {cell('rtt p99'):>22} {cell('upload'):>30} {cell('download'):>26}")
med = {k: statistics.median(v) for k, v in ratios.items()}
print("median ratios ours/reference: " + ", ".join(f"{k} {v:.3f}" for k, v in med.items()))
ok_rtt = med["rtt p50"] <= 1.2 and med["rtt p50"] >= 1 / 1.2
ok_thr = med["upload"] >= 0.9 and med["download"] >= 0.9
print(f"goals: rtt p50 within 1.2x: {'met' if ok_rtt else 'MISSED'}; "
      f"throughput >= 0.9x: {'met' if ok_thr else 'MISSED'}")
PY
}

echo "net_fidelity: ${SECS}s per measurement, $ROUNDS rounds, veth pair between two namespaces"
rounds unshaped
report unshaped "unshaped veth (CPU-bound)"
tc -n "$C" qdisc add dev veth0 root handle 1: htb default 10 2>/dev/null
tc -n "$C" class add dev veth0 parent 1: classid 1:10 htb rate 20mbit
rounds shaped
report shaped "veth shaped to 20 Mbit/s out of the client (HTB)"
