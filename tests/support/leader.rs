//! Which member of a test cluster leads, and every member's id, as
//! etcdctl reports them (ids in etcdctl's 16 hex digits).

use serde_json::Value;

use super::etcd::Cluster;

/// The leader's index in `c.members` and each member's id, in member order.
pub fn leader_and_ids(c: &Cluster) -> (usize, Vec<String>) {
    let mut leader = None;
    let mut ids = Vec::new();
    for (i, m) in c.members.iter().enumerate() {
        let out = c.etcdctl_at(&m.client_url(), &["endpoint", "status", "-w", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "endpoint status of m{i}: {e}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let s = &v[0]["Status"];
        let id = s["header"]["member_id"].as_u64().expect("a member id");
        if s["leader"].as_u64() == Some(id) {
            leader = Some(i);
        }
        ids.push(format!("{id:016x}"));
    }
    (leader.expect("a leader"), ids)
}
