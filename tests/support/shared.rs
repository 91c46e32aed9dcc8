//! One 3-member etcd 3.6 cluster shared by the tests of one binary that
//! can share it (they only read it, or write `key-NNNNN` keys that a later
//! test may overwrite), so the binary starts it once. The tests take turns
//! on it through a mutex, so none sees another's writes mid-comparison. A
//! static is never dropped: the cluster is stopped and its directory
//! removed at process exit (`atexit`, which the test harness's exit runs).

use std::ops::Deref;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use super::etcd::{Cluster, Version};
use super::releases::available;

static V36: Mutex<Option<Cluster>> = Mutex::new(None);
static STOP_AT_EXIT: Once = Once::new();

extern "C" fn stop_shared() {
    let taken = V36.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(taken);
}

/// The shared cluster, held for one test.
pub struct Shared(MutexGuard<'static, Option<Cluster>>);

impl Deref for Shared {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        self.0.as_ref().expect("started before it is handed out")
    }
}

/// The shared 3.6 cluster (started on first use, healthy when handed
/// out); None after a SKIP line when 3.6 is not built here.
pub fn etcd36(test: &str) -> Option<Shared> {
    if !available(Version::V36, test) {
        return None;
    }
    // A test that panicked holding it leaves it as it was: still usable.
    let mut slot = V36.lock().unwrap_or_else(|e| e.into_inner());
    match slot.as_mut() {
        Some(c) => c.wait_healthy(Duration::from_secs(15)),
        None => {
            STOP_AT_EXIT.call_once(|| {
                // SAFETY: registers a plain extern "C" function with no
                // arguments, as atexit expects.
                unsafe { libc::atexit(stop_shared) };
            });
            let started = std::time::Instant::now();
            *slot = Some(Cluster::start(Version::V36, 3));
            eprintln!(
                "shared etcd 3.6 cluster started for {test} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Some(Shared(slot))
}
