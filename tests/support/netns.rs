//! Test hosts as network namespaces, so network probes run between real
//! TCP stacks over real (virtual) links, with real queueing when shaped.
//!
//! [`Net::pair`] joins two hosts by one veth pair; [`Net::switched`] joins
//! any number of hosts to a Linux bridge inside a namespace of its own (the
//! switch). Hosts get `10.231.1.<i+1>/24` on interface `veth0`, loopback up,
//! and NO default route: nothing they run can reach beyond the test net.
//! Every [`Net`] is isolated from every other, so they all use the same
//! subnet; the namespaces carry the unique `etcd-doctor-<pid>-<n>` name
//! (plus `-h<i>` or `-sw`), and the veths are created directly inside them,
//! so nothing shows up in (or can collide in) the root namespace.
//!
//! - [`Net::command`] makes a command that runs inside a host (`ip netns
//!   exec`), [`Net::run`] runs one to completion; [`Daemon::start`] starts
//!   a long-running one whose standard error can be waited on, killed on
//!   drop.
//! - [`Net::shape`] puts an HTB rate limit on a host's egress
//!   (`tc qdisc add dev veth0 root handle 1: htb default 10; tc class add
//!   dev veth0 parent 1: classid 1:10 htb rate <N>mbit`).
//!
//! Drop kills every process left in the namespaces, then deletes them,
//! which destroys their veths and the bridge: whether the test passed,
//! panicked, or set-up failed half-way. Namespaces left by a run that was
//! SIGKILLed (its pid gone) are swept when the next [`Net`] is made.
//! Needs root; call `support::privileged` first.

use std::io::{self, BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{run, unique_name, NAME_PREFIX};

/// First three octets of every host address.
pub const SUBNET: [u8; 3] = [10, 231, 1];
/// Each host's interface towards the net.
pub const HOST_IFACE: &str = "veth0";
/// The bridge inside the switch namespace.
pub const BRIDGE: &str = "br0";

/// One test host.
#[derive(Debug, Clone)]
pub struct Host {
    /// The namespace name (for `ip netns exec`).
    pub netns: String,
    /// Its address, `10.231.1.<i+1>`.
    pub ip: Ipv4Addr,
}

/// Hosts joined by veth pairs, removed on drop.
#[derive(Debug)]
pub struct Net {
    /// The unique name every namespace of this net starts with.
    id: String,
    hosts: Vec<Host>,
    /// Every namespace created so far, hosts and switch, for cleanup.
    namespaces: Vec<String>,
}

impl Net {
    /// Two hosts joined directly by one veth pair.
    pub fn pair() -> io::Result<Net> {
        let net = Net::with_hosts(2)?;
        let (a, b) = (net.hosts[0].netns.clone(), net.hosts[1].netns.clone());
        ip(&["link", "add", HOST_IFACE, "netns", &a, "type", "veth"])
            .args(["peer", "name", HOST_IFACE, "netns", &b])
            .status_ok()?;
        net.configure_hosts()?;
        Ok(net)
    }

    /// `n` hosts, each joined by a veth pair to a bridge in a switch
    /// namespace.
    pub fn switched(n: usize) -> io::Result<Net> {
        let mut net = Net::with_hosts(n)?;
        let switch = net.switch_ns();
        net.add_namespace(&switch)?;
        let on_switch = |args: &[&str]| ip(&["-n", &switch]).args(args).status_ok();
        on_switch(&["link", "add", BRIDGE, "type", "bridge"])?;
        on_switch(&["link", "set", BRIDGE, "up"])?;
        for i in 0..n {
            let port = format!("port{i}");
            let host = net.hosts[i].netns.clone();
            ip(&["link", "add", HOST_IFACE, "netns", &host, "type", "veth"])
                .args(["peer", "name", &port, "netns", &switch])
                .status_ok()?;
            on_switch(&["link", "set", &port, "master", BRIDGE, "up"])?;
        }
        net.configure_hosts()?;
        Ok(net)
    }

    /// Creates the host namespaces (no links yet).
    fn with_hosts(n: usize) -> io::Result<Net> {
        assert!(n <= 250, "at most 250 hosts fit the /24");
        sweep_stale();
        let id = unique_name();
        let mut net = Net {
            id: id.clone(),
            hosts: Vec::with_capacity(n),
            namespaces: Vec::new(),
        };
        for i in 0..n {
            let netns = format!("{id}-h{i}");
            net.add_namespace(&netns)?;
            net.hosts.push(Host {
                netns,
                ip: Ipv4Addr::new(SUBNET[0], SUBNET[1], SUBNET[2], i as u8 + 1),
            });
        }
        Ok(net)
    }

    fn add_namespace(&mut self, name: &str) -> io::Result<()> {
        ip(&["netns", "add", name]).status_ok()?;
        self.namespaces.push(name.to_string());
        ip(&["-n", name, "link", "set", "lo", "up"]).status_ok()
    }

    fn configure_hosts(&self) -> io::Result<()> {
        for h in &self.hosts {
            let cidr = format!("{}/24", h.ip);
            ip(&["-n", &h.netns, "addr", "add", &cidr, "dev", HOST_IFACE]).status_ok()?;
            ip(&["-n", &h.netns, "link", "set", HOST_IFACE, "up"]).status_ok()?;
        }
        Ok(())
    }

    /// Host `i`.
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    /// A command running `program` inside host `i`.
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.hosts[i].netns])
            .arg(program);
        cmd
    }

    /// Runs `program args` inside host `i` to completion; its stdout, or
    /// an error with its stderr when it fails.
    pub fn run(&self, i: usize, program: &str, args: &[&str]) -> io::Result<String> {
        run(self.command(i, program).args(args))
    }

    /// The switch's namespace and its port toward host `i` (a switched
    /// net): a qdisc on that port limits host `i`'s ingress.
    pub fn switch_port(&self, i: usize) -> (String, String) {
        (self.switch_ns(), format!("port{i}"))
    }

    /// The switch's namespace (a switched net).
    fn switch_ns(&self) -> String {
        format!("{}-sw", self.id)
    }

    /// Limits host `i`'s egress to `mbit` Mbit/s with HTB (its ingress,
    /// the other hosts' egress, stays unshaped).
    pub fn shape(&self, i: usize, mbit: u32) -> io::Result<()> {
        let tc = |args: &[&str]| {
            run(Command::new("tc")
                .args(["-n", &self.hosts[i].netns])
                .args(args))
        };
        tc(&[
            "qdisc", "add", "dev", HOST_IFACE, "root", "handle", "1:", "htb", "default", "10",
        ])?;
        tc(&[
            "class",
            "add",
            "dev",
            HOST_IFACE,
            "parent",
            "1:",
            "classid",
            "1:10",
            "htb",
            "rate",
            &format!("{mbit}mbit"),
        ])?;
        Ok(())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            remove_namespace(ns);
        }
    }
}

/// Kills everything running in `ns`, then deletes it.
fn remove_namespace(ns: &str) {
    if let Ok(pids) = run(Command::new("ip").args(["netns", "pids", ns])) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

/// Deletes namespaces of earlier test runs whose process is gone.
fn sweep_stale() {
    let Ok(list) = run(Command::new("ip").args(["netns", "list"])) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(NAME_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            remove_namespace(name);
        }
    }
}

fn ip(args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    cmd
}

trait StatusOk {
    fn status_ok(&mut self) -> io::Result<()>;
}

impl StatusOk for Command {
    fn status_ok(&mut self) -> io::Result<()> {
        run(self).map(drop)
    }
}

/// A long-running process (an agent, iperf3 -s) whose standard error is
/// collected line by line; killed and reaped on drop.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts `cmd` with its standard error captured.
    pub fn start(cmd: &mut Command) -> io::Result<Daemon> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        Ok(Daemon { child, lines, log })
    }

    /// Waits up to `timeout` for a standard-error line containing `needle`
    /// and returns it.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> io::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(_) => {}
                Err(_) => {
                    return Err(io::Error::other(format!(
                        "no {needle:?} on stderr within {timeout:?}; so far:\n{}",
                        self.log()
                    )))
                }
            }
        }
    }

    /// Everything written to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Sends `signal` (SIGSTOP to stall it, SIGKILL to make it die).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("daemon is alive");
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the process to exit; its exit code, or
    /// `None` if it still runs (or died of a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
