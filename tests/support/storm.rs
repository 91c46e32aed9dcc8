//! Expensive requests against a real cluster, as an apiserver LIST storm
//! makes them: a large prefix of 1 KiB objects, then clients that range
//! over all of it again and again through our own etcd client (no
//! process per request), in one of the shapes etcd's logs tell apart.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions};

use super::etcd::Cluster;
use super::keyspace::{block_on, put_all, value};

/// The prefix the storms read.
pub const PODS: &str = "/registry/pods/";

/// Writes `n` objects of `bytes` under [`PODS`] (`/registry/pods/default/p000000`…).
pub fn fill_pods(c: &Cluster, n: usize, bytes: usize) {
    fill(c, &format!("{PODS}default/p"), "Pod", n, bytes);
}

/// Writes `n` events of `bytes` under `prefix` (`<prefix>e000000`…).
pub fn fill_events(c: &Cluster, prefix: &str, n: usize, bytes: usize) {
    fill(c, &format!("{prefix}e"), "Event", n, bytes);
}

/// Writes `n` objects of `kind`, `bytes` each, at `stem` and a number.
fn fill(c: &Cluster, stem: &str, kind: &str, n: usize, bytes: usize) {
    let url = c.members[0].client_url();
    let v = value(kind, bytes);
    let ops = (0..n)
        .map(|i| (format!("{stem}{i:06}"), v.clone(), None))
        .collect();
    block_on(async move {
        let mut client = Client::connect([url], None).await.expect("connect");
        put_all(&mut client, ops).await;
    });
}

/// How a storm reads the prefix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Every key and value, no limit: an unpaginated LIST.
    Unpaginated,
    /// Keys only, no limit.
    KeysOnly,
    /// A count of the keys (`count_only`): no keys sent, every key walked.
    CountOnly,
}

/// Clients ranging over [`PODS`] until dropped (at most two minutes).
pub struct Storm {
    stop: Arc<AtomicBool>,
    ranges: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Storm {
    /// Starts `clients` concurrent readers of [`PODS`] in `shape` against
    /// every member of `c`.
    pub fn start(c: &Cluster, shape: Shape, clients: usize) -> Storm {
        Storm::start_over(c, shape, clients, PODS)
    }

    /// Starts `clients` concurrent readers of `prefix` in `shape` against
    /// every member of `c`.
    pub fn start_over(c: &Cluster, shape: Shape, clients: usize, prefix: &'static str) -> Storm {
        let stop = Arc::new(AtomicBool::new(false));
        let ranges = Arc::new(AtomicU64::new(0));
        let urls: Vec<String> = c.members.iter().map(|m| m.client_url()).collect();
        let (s, r) = (stop.clone(), ranges.clone());
        let thread = std::thread::spawn(move || {
            block_on(async move {
                let deadline = Instant::now() + Duration::from_secs(120);
                let tasks: Vec<_> = (0..clients)
                    .map(|i| {
                        let (s, r, url) = (s.clone(), r.clone(), urls[i % urls.len()].clone());
                        tokio::spawn(async move {
                            let client = Client::connect([url], None).await.expect("connect");
                            // 20k objects of 1 KiB are 20 MiB: above tonic's 4 MiB default.
                            let mut kv = client.kv_client().max_decoding_message_size(256 << 20);
                            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                                let opts = match shape {
                                    Shape::Unpaginated => GetOptions::new().with_prefix(),
                                    Shape::KeysOnly => {
                                        GetOptions::new().with_prefix().with_keys_only()
                                    }
                                    Shape::CountOnly => {
                                        GetOptions::new().with_prefix().with_count_only()
                                    }
                                };
                                if kv.get(prefix, Some(opts)).await.is_ok() {
                                    r.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    let _ = t.await;
                }
            })
        });
        Storm {
            stop,
            ranges,
            thread: Some(thread),
        }
    }

    /// Ranges answered so far.
    pub fn ranges(&self) -> u64 {
        self.ranges.load(Ordering::Relaxed)
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Puts values of `bytes` from eight clients until `stop` (at most two
/// minutes); the thread returns the puts acknowledged.
pub fn steady_puts(c: &Cluster, bytes: usize, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    let url = c.members[0].client_url();
    std::thread::spawn(move || {
        block_on(async move {
            let client = etcd_client::Client::connect([url], None)
                .await
                .expect("connect");
            let deadline = Instant::now() + Duration::from_secs(120);
            let tasks: Vec<_> = (0..8)
                .map(|w| {
                    let (mut c, stop) = (client.clone(), stop.clone());
                    tokio::spawn(async move {
                        let v = value("Lease", bytes);
                        let mut n = 0u64;
                        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                            let key = format!("/registry/leases/busy/w{w}-{}", n % 500);
                            if c.put(key, v.clone(), None).await.is_ok() {
                                n += 1;
                            }
                        }
                        n
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap_or(0);
            }
            total
        })
    })
}
