//! A Kubernetes-like keyspace written into a real cluster through our own
//! etcd client, many requests in flight so the fill takes seconds: pods,
//! configmaps and events in several namespaces, nodes (cluster-scoped),
//! events attached to leases, one lease object rewritten thousands of
//! times, some deletions, a key outside `/registry/`.

use std::future::Future;

use etcd_client::{Client, PutOptions, Txn, TxnOp};

use super::etcd::Cluster;

/// Namespaces of the fill.
pub const NAMESPACES: [&str; 4] = ["default", "kube-system", "team-a", "team-b"];
/// Pods per namespace.
pub const PODS: usize = 40;
/// ConfigMaps per namespace.
pub const CONFIGMAPS: usize = 15;
/// Events per namespace in the balanced fill.
pub const EVENTS: usize = 30;
/// Nodes (cluster-scoped: `/registry/nodes/<name>`).
pub const NODES: usize = 5;
/// Pods deleted from `team-a`.
pub const DELETED_PODS: usize = 10;
/// The churned key and how often it is written.
pub const CHURN_KEY: &str = "/registry/leases/kube-system/kube-controller-manager";
pub const CHURN_WRITES: usize = 3000;
/// Leases granted (TTL 300 s, 600 s, ...), events of namespace i on lease i.
pub const LEASES: usize = 4;

/// Runs `f` on a fresh runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A client of the cluster's first member.
pub async fn client(cluster: &Cluster) -> Client {
    Client::connect([cluster.members[0].client_url()], None)
        .await
        .expect("connect")
}

/// A value of `n` bytes that looks like a serialized object.
pub fn value(kind: &str, n: usize) -> Vec<u8> {
    let mut v = format!("{{\"kind\":\"{kind}\",\"data\":\"").into_bytes();
    v.resize(n.saturating_sub(2), b'x');
    v.extend_from_slice(b"\"}");
    v
}

/// Puts `ops` in transactions of 100.
pub async fn put_all(c: &mut Client, ops: Vec<(String, Vec<u8>, Option<i64>)>) {
    for chunk in ops.chunks(100) {
        let txn = Txn::new().and_then(
            chunk
                .iter()
                .map(|(k, v, lease)| {
                    let opts = lease.map(|l| PutOptions::new().with_lease(l));
                    TxnOp::put(k.as_str(), v.clone(), opts)
                })
                .collect::<Vec<_>>(),
        );
        c.txn(txn).await.expect("txn");
    }
}

/// Writes `key` `n` times, 32 requests in flight.
pub async fn churn(c: &Client, key: &str, n: usize, size: usize) {
    let v = value("Lease", size);
    let mut left = n;
    while left > 0 {
        let batch = left.min(32);
        let puts: Vec<_> = (0..batch)
            .map(|_| {
                let (mut c, v, key) = (c.clone(), v.clone(), key.to_string());
                tokio::spawn(async move { c.put(key, v, None).await.expect("put") })
            })
            .collect();
        for p in puts {
            p.await.expect("put task");
        }
        left -= batch;
    }
}

/// What the balanced fill wrote.
pub struct Filled {
    /// Lease ids granted.
    pub leases: Vec<i64>,
    /// Keys attached to a lease.
    pub attached: usize,
}

/// The balanced Kubernetes-like fill (with the churned key and deletions).
pub async fn fill_balanced(c: &mut Client) -> Filled {
    let mut leases = Vec::new();
    for i in 0..LEASES {
        leases.push(
            c.lease_grant(300 * (i as i64 + 1), None)
                .await
                .expect("grant")
                .id(),
        );
    }
    let mut ops = Vec::new();
    for (i, ns) in NAMESPACES.iter().enumerate() {
        for p in 0..PODS {
            ops.push((
                format!("/registry/pods/{ns}/pod-{p}"),
                value("Pod", 1200),
                None,
            ));
        }
        for m in 0..CONFIGMAPS {
            ops.push((
                format!("/registry/configmaps/{ns}/cm-{m}"),
                value("ConfigMap", 2000),
                None,
            ));
        }
        for e in 0..EVENTS {
            ops.push((
                format!("/registry/events/{ns}/ev-{e}"),
                value("Event", 600),
                Some(leases[i]),
            ));
        }
    }
    for n in 0..NODES {
        ops.push((
            format!("/registry/nodes/node-{n}"),
            value("Node", 3000),
            None,
        ));
    }
    ops.push(("/other/outside".to_string(), value("x", 10), None));
    put_all(c, ops).await;
    for p in 0..DELETED_PODS {
        c.delete(format!("/registry/pods/team-a/pod-{p}"), None)
            .await
            .expect("delete");
    }
    Filled {
        leases,
        attached: NAMESPACES.len() * EVENTS,
    }
}
