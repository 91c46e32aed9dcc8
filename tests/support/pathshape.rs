//! One path of a switched test net shaped, the others left alone: HTB on
//! host `from`'s egress with a slow class for packets to one destination
//! (a u32 filter on the destination address) and a fast default class
//! for everything else. [`super::netns::Net::shape`] shapes all of a
//! host's egress; a fleet test needs exactly one slow link.

use std::io;
use std::net::Ipv4Addr;
use std::process::Command;

use super::netns::{Net, HOST_IFACE};
use super::run;

/// Rate of the default (unshaped) class, Mbit/s: far above what a veth
/// carries in these tests.
const FAST_MBIT: u32 = 100_000;

/// Limits host `from`'s traffic to `to` to `mbit` Mbit/s.
pub fn shape_path(net: &Net, from: usize, to: Ipv4Addr, mbit: u32) -> io::Result<()> {
    let ns = net.host(from).netns.clone();
    let tc = |args: &str| {
        run(Command::new("tc")
            .args(["-n", &ns])
            .args(args.split_whitespace()))
    };
    tc(&format!(
        "qdisc add dev {HOST_IFACE} root handle 1: htb default 20"
    ))?;
    tc(&format!(
        "class add dev {HOST_IFACE} parent 1: classid 1:10 htb rate {mbit}mbit"
    ))?;
    tc(&format!(
        "class add dev {HOST_IFACE} parent 1: classid 1:20 htb rate {FAST_MBIT}mbit"
    ))?;
    tc(&format!(
        "filter add dev {HOST_IFACE} parent 1: protocol ip prio 1 u32 match ip dst {to}/32 flowid 1:10"
    ))?;
    Ok(())
}
