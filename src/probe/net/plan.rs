//! What a network run will do, as a typed plan: which peers, which probes,
//! how long each measuring phase lasts and how long any wait may be. The
//! CLI (and `qualify`/`diagnose`) build a [`NetPlan`]; probes only ever see
//! the plan. Validation errors name the command-line flag that sets the
//! field, since that is what an operator changes.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;

use super::proto::{MAX_TOKEN_BYTES, MIN_MESSAGE_BYTES};
use super::result::NetProbeKind;

/// etcd's heartbeat message is ~100 bytes: the default ping size.
pub const HEARTBEAT_MESSAGE_BYTES: u32 = 100;
/// Largest ping message: etcd's default `--max-request-bytes` (1.5 MiB)
/// rounded down to a power of two.
pub const MAX_MESSAGE_BYTES: u32 = 1 << 20;
/// Longest measuring phase accepted, seconds: loaded-rtt's load flow spans
/// the warm-up, the loaded phase and a drain, and must fit the agent's
/// default 60 s cap on one test.
pub const MAX_DURATION_SECS: f64 = 30.0;
/// Longest `--timeout` accepted, seconds.
pub const MAX_TIMEOUT_SECS: f64 = 300.0;
/// Highest ping rate accepted, per second.
pub const MAX_RATE_HZ: u32 = 10_000;

/// A shared secret between `net` and its agents. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token of 1..=256 bytes.
    pub fn new(secret: impl Into<String>) -> Result<Token, NetPlanError> {
        let secret = secret.into();
        if secret.is_empty() || secret.len() > MAX_TOKEN_BYTES {
            return Err(NetPlanError::Token(secret.len()));
        }
        Ok(Token(secret))
    }

    /// The secret's bytes, as sent on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// An agent to probe: `HOST:PORT`, where HOST is an IP address (IPv6 in
/// brackets) or a DNS name resolved when the probe connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    host: String,
    port: u16,
}

impl Peer {
    /// Parses `ADDR:PORT`. The error is the reason, without the flag name.
    pub fn parse(spec: &str) -> Result<Peer, String> {
        if let Ok(addr) = spec.parse::<SocketAddr>() {
            if addr.port() == 0 {
                return Err("port 0".into());
            }
            return Ok(Peer {
                host: addr.ip().to_string(),
                port: addr.port(),
            });
        }
        let (host, port) = spec.rsplit_once(':').ok_or("no :PORT")?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("bad port {port:?}"))?;
        let valid_name = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !host.starts_with(['-', '.']);
        if !valid_name {
            return Err(format!("{host:?} is neither an IP address nor a host name"));
        }
        Ok(Peer {
            host: host.to_string(),
            port,
        })
    }

    /// The host part (IP address or name).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A complete network run.
#[derive(Debug, Clone, PartialEq)]
pub struct NetPlan {
    /// Agents to probe.
    pub peers: Vec<Peer>,
    /// The agents' shared secret.
    pub token: Token,
    /// Probes to run, in order: `rtt` against every peer at once, then
    /// `throughput` and `loaded-rtt` peer by peer.
    pub probes: Vec<NetProbeKind>,
    /// Length of each measuring phase: one rtt message size, one transfer
    /// direction, the idle or the loaded half of loaded-rtt.
    pub duration: Duration,
    /// Longest any single wait may take: connecting, the agent's reply, an
    /// unanswered ping, a stalled transfer. A peer that exceeds it fails.
    pub timeout: Duration,
    /// Ping sizes the rtt probe measures, one after another; loaded-rtt
    /// uses the smallest (a heartbeat).
    pub message_sizes: Vec<u32>,
    /// Pings per second.
    pub rate_hz: u32,
    /// How long the loaded-rtt load flow runs before RTT is measured, so
    /// queues have filled.
    pub warmup: Duration,
    /// Most bytes one transfer may move (each direction of throughput, the
    /// load flow of loaded-rtt).
    pub max_transfer_bytes: u64,
    /// Interface whose counters are read, instead of the one the kernel
    /// routes each peer through.
    pub iface: Option<String>,
}

/// Most `--peers`: etcd clusters have 3 to 7 members.
pub const MAX_PEERS: usize = 64;
/// Most `--message-size` values (each is a measuring phase of its own).
pub const MAX_MESSAGE_SIZES: usize = 16;

/// A plan that cannot run; each names the flag to change.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NetPlanError {
    /// No peer given.
    #[error("--peers: no peer given")]
    NoPeers,
    /// A peer that is not `ADDR:PORT`.
    #[error("--peers: {spec:?} is not ADDR:PORT ({reason})")]
    BadPeer {
        /// What was given.
        spec: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The same peer twice.
    #[error("--peers lists {0} more than once")]
    DuplicatePeer(String),
    /// More peers than [`MAX_PEERS`].
    #[error("--peers lists {0} peers, more than the {MAX_PEERS} accepted")]
    TooManyPeers(usize),
    /// An empty or over-long token.
    #[error("--token must be 1 to {MAX_TOKEN_BYTES} bytes, got {0}")]
    Token(usize),
    /// No probe selected.
    #[error("--probe: no probe selected")]
    NoProbes,
    /// The same probe twice.
    #[error("--probe lists {0} more than once")]
    DuplicateProbe(&'static str),
    /// Duration out of range.
    #[error("--duration must be more than 0 and at most {MAX_DURATION_SECS} seconds, got {0}")]
    Duration(f64),
    /// Timeout out of range.
    #[error("--timeout must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds, got {0}")]
    Timeout(f64),
    /// A message size out of range, or none.
    #[error("--message-size must list sizes from {MIN_MESSAGE_BYTES} to {MAX_MESSAGE_BYTES} bytes, got {0}")]
    MessageSize(String),
    /// Rate out of range.
    #[error("--rate must be 1 to {MAX_RATE_HZ} pings per second, got {0}")]
    Rate(u32),
    /// Zero transfer budget.
    #[error("the transfer byte budget must be positive")]
    TransferBytes,
    /// `--heartbeat-interval` not positive, or above etcd's largest
    /// election timeout.
    #[error(
        "--heartbeat-interval must be a number of milliseconds above 0 and at most 50000, got {0}"
    )]
    HeartbeatInterval(f64),
    /// `--iface` names no interface of this host.
    #[error("--iface {0}: no such network interface")]
    Iface(String),
}

impl NetPlan {
    /// The default plan against `peers`: all three probes, 5 s phases, a
    /// 10 s timeout, 100-byte pings at 200 per second, a 1 s warm-up and
    /// at most 32 GiB per transfer (the time bound ends transfers first on
    /// links slower than ~40 Gbit/s).
    pub fn new(peers: Vec<Peer>, token: Token) -> NetPlan {
        NetPlan {
            peers,
            token,
            probes: vec![
                NetProbeKind::Rtt,
                NetProbeKind::Throughput,
                NetProbeKind::LoadedRtt,
            ],
            duration: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            message_sizes: vec![HEARTBEAT_MESSAGE_BYTES],
            rate_hz: 200,
            warmup: Duration::from_secs(1),
            max_transfer_bytes: 32 << 30,
            iface: None,
        }
    }

    /// Checks that every field can run.
    pub fn validate(&self) -> Result<(), NetPlanError> {
        if self.peers.is_empty() {
            return Err(NetPlanError::NoPeers);
        }
        if self.peers.len() > MAX_PEERS {
            return Err(NetPlanError::TooManyPeers(self.peers.len()));
        }
        for (i, p) in self.peers.iter().enumerate() {
            if self.peers[..i].contains(p) {
                return Err(NetPlanError::DuplicatePeer(p.to_string()));
            }
        }
        if self.probes.is_empty() {
            return Err(NetPlanError::NoProbes);
        }
        for (i, p) in self.probes.iter().enumerate() {
            if self.probes[..i].contains(p) {
                return Err(NetPlanError::DuplicateProbe(p.as_str()));
            }
        }
        let secs = self.duration.as_secs_f64();
        if !(secs > 0.0 && secs <= MAX_DURATION_SECS) {
            return Err(NetPlanError::Duration(secs));
        }
        let secs = self.timeout.as_secs_f64();
        if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
            return Err(NetPlanError::Timeout(secs));
        }
        let size_ok = |s: &u32| (MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES).contains(s);
        let count_ok = (1..=MAX_MESSAGE_SIZES).contains(&self.message_sizes.len());
        if !count_ok || !self.message_sizes.iter().all(size_ok) {
            return Err(NetPlanError::MessageSize(format!(
                "{:?}",
                self.message_sizes
            )));
        }
        if !(1..=MAX_RATE_HZ).contains(&self.rate_hz) {
            return Err(NetPlanError::Rate(self.rate_hz));
        }
        if self.max_transfer_bytes == 0 {
            return Err(NetPlanError::TransferBytes);
        }
        Ok(())
    }

    /// The ping size loaded-rtt uses: the smallest one, a heartbeat.
    pub fn heartbeat_size(&self) -> u32 {
        self.message_sizes
            .iter()
            .copied()
            .min()
            .unwrap_or(HEARTBEAT_MESSAGE_BYTES)
    }

    /// Longest one result row of `kind` may take against one peer,
    /// whatever the peer does: every measuring phase plus, per connection,
    /// a connect and a drain wait of `timeout`. Probes are cut off there.
    pub fn row_time_bound(&self, kind: NetProbeKind) -> Duration {
        let phase = self.duration + 2 * self.timeout;
        match kind {
            // One message size.
            NetProbeKind::Rtt => phase,
            NetProbeKind::Throughput => phase * 2,
            // Idle rtt, then the load flow's connect, warm-up, loaded rtt
            // and drain.
            NetProbeKind::LoadedRtt => phase * 3 + self.warmup,
        }
    }

    /// Longest the whole run may take: rtt against all peers at once (one
    /// row per message size), the other probes peer by peer.
    pub fn time_bound(&self) -> Duration {
        self.probes
            .iter()
            .map(|&k| match k {
                NetProbeKind::Rtt => self.row_time_bound(k) * self.message_sizes.len() as u32,
                _ => self.row_time_bound(k) * self.peers.len() as u32,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NetPlan {
        NetPlan::new(
            vec![
                Peer::parse("10.0.0.1:7480").unwrap(),
                Peer::parse("etcd-2.example:7480").unwrap(),
            ],
            Token::new("s3cret").unwrap(),
        )
    }

    #[test]
    fn peers_parse_ip_v6_and_names() {
        let p = Peer::parse("10.0.0.1:7480").unwrap();
        assert_eq!((p.host(), p.port()), ("10.0.0.1", 7480));
        assert_eq!(Peer::parse("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert_eq!(
            Peer::parse("etcd-1.lan:2381").unwrap().to_string(),
            "etcd-1.lan:2381"
        );
        for bad in [
            "10.0.0.1",
            "10.0.0.1:",
            "10.0.0.1:0",
            "10.0.0.1:99999",
            ":80",
            "a b:80",
            "::1:80",
            "-x:80",
            "",
        ] {
            assert!(Peer::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn default_plan_is_valid_and_bounded() {
        let p = plan();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.heartbeat_size(), HEARTBEAT_MESSAGE_BYTES);
        // rtt 25 s + 2 peers x (throughput 50 s + loaded 76 s).
        assert_eq!(p.time_bound(), Duration::from_secs(25 + 2 * (50 + 76)));
    }

    #[test]
    fn bad_plans_name_the_flag() {
        let check = |f: fn(&mut NetPlan), flag: &str| {
            let mut p = plan();
            f(&mut p);
            let msg = p.validate().unwrap_err().to_string();
            assert!(msg.starts_with(flag), "{msg:?} does not start with {flag}");
        };
        check(|p| p.peers.clear(), "--peers");
        check(|p| p.peers.push(p.peers[0].clone()), "--peers");
        check(|p| p.probes.clear(), "--probe");
        check(|p| p.probes.push(NetProbeKind::Rtt), "--probe");
        check(|p| p.duration = Duration::ZERO, "--duration");
        check(|p| p.duration = Duration::from_secs(31), "--duration");
        check(|p| p.timeout = Duration::ZERO, "--timeout");
        check(|p| p.message_sizes = vec![4], "--message-size");
        check(|p| p.message_sizes.clear(), "--message-size");
        check(|p| p.message_sizes = vec![100, 2 << 20], "--message-size");
        check(|p| p.rate_hz = 0, "--rate");
        assert!(Token::new("")
            .unwrap_err()
            .to_string()
            .starts_with("--token"));
        assert!(Token::new("x".repeat(257)).is_err());
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let p = plan();
        assert!(!format!("{p:?}").contains("s3cret"));
    }
}
