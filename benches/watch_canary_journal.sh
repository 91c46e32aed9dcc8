#!/bin/sh
# What the canary costs the device and whether it still pays the journal.
#   A fresh 256 MiB ext4 on a loop device (so its counters hold the canary
#   alone): `watch --no-cluster` at its defaults (10 writes/s of 2300 B)
#   for DURATION per run, ROUNDS rounds; with OLD_BIN set, a second build
#   (e.g. one whose canary wrote fresh files) runs in the same round, the
#   order alternating. Per run: the ext4 journal's commits per canary write
#   (/proc/fs/jbd2/<dev>/info; etcd's WAL appends into a preallocated
#   segment pay one per fdatasync), the device's written MiB extrapolated
#   to a day (/sys/block/<dev>/stat, journal included), the process's own
#   write_bytes per day (/proc/PID/io) and the canary file's size at the end.
# Needs root (losetup, mount).
#
# Usage: benches/watch_canary_journal.sh [ROUNDS] [DURATION_S]
#   (ETCD_DOCTOR_BIN=path skips the release build; OLD_BIN=path compares;
#   RATE=N canary writes per second, e.g. 1000 to turn the 64 MiB segment
#   over within a minute)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
DURATION=${2:-60}
RATE=${RATE:-10}
[ "$(id -u)" = 0 ] || { echo "needs root (losetup, mount)" >&2; exit 2; }
if [ -z "${ETCD_DOCTOR_BIN:-}" ]; then
  cargo build --release --quiet
  ETCD_DOCTOR_BIN="${CARGO_TARGET_DIR:-target}/release/etcd-doctor"
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/canary-journal-XXXXXX")
loop=
cleanup() {
  umount "$work/mnt" 2>/dev/null || true
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
truncate -s 256M "$work/img"
mkfs.ext4 -q "$work/img"
loop=$(losetup -f --show "$work/img")
dev=$(basename "$loop")
mkdir "$work/mnt"
mount "$loop" "$work/mnt"
info=/proc/fs/jbd2/$dev-8/info
tx() { sed -n 's/^\([0-9]*\) transactions.*/\1/p' "$info"; }
sectors() { awk '{print $7}' "/sys/block/$dev/stat"; }

run() { # label bin
  sync; sleep 1
  t0=$(tx); s0=$(sectors)
  "$2" watch --no-cluster --dir "$work/mnt" --listen 127.0.0.1:0 --interval 5s --rate "$RATE" \
    2>"$work/err" & pid=$!
  sleep "$DURATION"
  wb=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
  size=$(du -sk "$work/mnt" | awk '{print $1}')
  ticks=$(curl -s "$(sed -n 's|.*serving \(http://[^/]*\)/metrics.*|\1|p' "$work/err")/metrics" |
    awk '/^etcd_doctor_canary_fsync_duration_seconds_count/ {print $2}')
  kill -TERM "$pid"; wait "$pid" || true
  sync
  t1=$(tx); s1=$(sectors)
  echo "$1 $DURATION $((t1 - t0)) $ticks $((s1 - s0)) $wb $size"
}

echo "# label secs jbd2_tx canary_writes_reported device_sectors proc_write_bytes dir_kib"
for r in $(seq "$ROUNDS"); do
  if [ -n "${OLD_BIN:-}" ] && [ $((r % 2)) = 0 ]; then run old "$OLD_BIN"; fi
  run new "$ETCD_DOCTOR_BIN"
  if [ -n "${OLD_BIN:-}" ] && [ $((r % 2)) = 1 ]; then run old "$OLD_BIN"; fi
done | tee "$work/rows"
awk '{
  printf "%s: %.2f journal commits per canary write ('"$RATE"'/s), device %.0f MiB/day, process %.0f MiB/day, dir %d KiB\n",
    $1, $3 / ($2 * '"$RATE"'), $5 * 512 / $2 * 86400 / 1048576, $6 / $2 * 86400 / 1048576, $7 }' "$work/rows"
