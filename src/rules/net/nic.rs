//! The guide's fix for a NIC etcd shares with bulk traffic, which the
//! saturation rules (on the probe's own counters and on the busy link)
//! both give.

// The kubeadm static pod manifest of etcd (the guide's deployment).
use crate::cluster::kubeadm::DEFAULT_MANIFEST as KUBEADM_MANIFEST;

/// The guide's fix for a NIC that etcd shares with bulk traffic.
pub(super) fn nic_fix(iface: &str) -> String {
    format!(
        "etcd's peer traffic shares a NIC that a bulk flow saturates, so heartbeats queue \
         behind it: leaders flap and requests time out whenever a large transfer runs. Give \
         etcd a NIC of its own (business traffic on NIC 1, etcd on NIC 2) and bind the peer \
         URLs to its address: update each member's peer URL with etcdctl first, then its \
         flags (the peer certificate must include the new address). Isolate bandwidth-heavy \
         sync services at the access switch (their own VLAN or QoS class). Until then, \
         prioritise etcd's peer port on {}.",
        iface
    )
}

/// The commands of that fix: a NIC of its own, or etcd's port first.
pub(super) fn nic_commands(iface: &str) -> Vec<String> {
    vec![
        "# ETCD_IP: this member's address on the dedicated etcd NIC; MEMBER_ID from 'etcdctl member list'".into(),
        "etcdctl member update \"$MEMBER_ID\" --peer-urls=https://$ETCD_IP:2380".into(),
        format!(
            "sed -i -e \"s#--listen-peer-urls=https://[^,]*:2380#--listen-peer-urls=https://$ETCD_IP:2380#\" \
             -e \"s#--initial-advertise-peer-urls=https://[^,]*:2380#--initial-advertise-peer-urls=https://$ETCD_IP:2380#\" \
             {KUBEADM_MANIFEST}"
        ),
        "# meanwhile, on the shared NIC: etcd peer traffic (port 2380) first".into(),
        format!("tc qdisc add dev {iface} root handle 1: prio"),
        format!(
            "tc filter add dev {iface} parent 1: protocol ip prio 1 u32 match ip dport 2380 0xffff flowid 1:1"
        ),
        format!(
            "tc filter add dev {iface} parent 1: protocol ip prio 1 u32 match ip sport 2380 0xffff flowid 1:1"
        ),
    ]
}
