//! The typed load plan: `etcdctl check perf`'s presets, the custom rate,
//! clients, connections, sizes, operation mix and key space, every value
//! bounded, and the parsers of `--load` and `--mix`. Nothing here sees clap.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// `etcdctl check perf`'s run length for every load, seconds
/// (etcdctl/ctlv3/command/check.go, `checkPerfCfgMap`, `duration: 60`).
pub const CHECK_PERF_DURATION: Duration = Duration::from_secs(60);
/// Key size of `check perf`'s puts, bytes (check.go: `ksize, vsize := 256, 1024`).
pub const CHECK_PERF_KEY_BYTES: usize = 256;
/// Value size of `check perf`'s puts, bytes (check.go: `ksize, vsize := 256, 1024`).
pub const CHECK_PERF_VALUE_BYTES: usize = 1024;

/// Highest `--rate`, requests per second: six times `check perf`'s `xl`
/// (15000/s); more is a typo rather than a test.
pub const MAX_RATE: u32 = 100_000;
/// Most `--clients` (requests in flight).
pub const MAX_CLIENTS: u32 = 10_000;
/// Most `--conns` (gRPC connections).
pub const MAX_CONNS: u32 = 1_000;
/// Key bytes after the prefix: at least the 8-byte key index.
pub const MIN_KEY_BYTES: usize = 8;
/// Largest `--key-size`, bytes.
pub const MAX_KEY_BYTES: usize = 4096;
/// Largest `--value-size`, bytes: etcd's default --max-request-bytes (1.5 MiB)
/// less room for the key.
pub const MAX_VALUE_BYTES: usize = 1_500_000;
/// Largest `--key-space`.
pub const MAX_KEY_SPACE: u64 = 1_000_000_000;
/// Largest `--max-duration`.
pub const MAX_MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Longest `--mix` text.
pub const MAX_MIX_CHARS: usize = 256;

/// A `check perf` workload model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    S,
    M,
    L,
    Xl,
}

impl Preset {
    /// The target rate and clients of this load, exactly `check perf`'s
    /// (check.go `checkPerfCfgMap`: s 150/50, m 1000/200, l 8000/500,
    /// xl 15000/1000; rate is `limit` writes per second).
    pub fn rate_and_clients(self) -> (u32, u32) {
        match self {
            Preset::S => (150, 50),
            Preset::M => (1000, 200),
            Preset::L => (8000, 500),
            Preset::Xl => (15000, 1000),
        }
    }

    /// The name `--load` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::S => "s",
            Preset::M => "m",
            Preset::L => "l",
            Preset::Xl => "xl",
        }
    }

    /// Parses `--load` with check perf's aliases (s/small, m/medium, l/large, xl/xLarge).
    pub fn parse(s: &str) -> Result<Preset, String> {
        match s {
            "s" | "small" => Ok(Preset::S),
            "m" | "medium" => Ok(Preset::M),
            "l" | "large" => Ok(Preset::L),
            "xl" | "xLarge" => Ok(Preset::Xl),
            _ => Err(format!("{s:?} is not a load: s, m, l or xl")),
        }
    }
}

/// One kind of request the generator sends.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// A put of one key.
    Put,
    /// A linearizable range (get) of one key: goes through the leader's read index.
    Range,
    /// A serializable range of one key: answered from the member's own store.
    RangeSerializable,
    /// A transaction: if the key's mod revision is > -1 (always), put it;
    /// the shape of a Kubernetes update.
    Txn,
}

impl OpKind {
    /// Every kind, in report order.
    pub const ALL: [OpKind; 4] = [
        OpKind::Put,
        OpKind::Range,
        OpKind::RangeSerializable,
        OpKind::Txn,
    ];

    /// The name `--mix` and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Range => "range",
            OpKind::RangeSerializable => "range-serializable",
            OpKind::Txn => "txn",
        }
    }

    /// True for kinds that write.
    pub fn writes(self) -> bool {
        matches!(self, OpKind::Put | OpKind::Txn)
    }
}

/// Relative weights of the operation kinds (`--mix`), in [`OpKind::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mix {
    /// Weight of each kind, in [`OpKind::ALL`] order.
    pub weights: [u32; 4],
}

impl Default for Mix {
    /// Puts only, as `check perf`.
    fn default() -> Self {
        Mix {
            weights: [1, 0, 0, 0],
        }
    }
}

/// Largest weight of one kind in `--mix`.
pub const MAX_WEIGHT: u32 = 1_000_000;

impl Mix {
    /// Parses `put=70,range=20,range-serializable=5,txn=5`; kinds left out
    /// weigh 0; at least one weight must be above 0.
    pub fn parse(s: &str) -> Result<Mix, String> {
        if s.len() > MAX_MIX_CHARS {
            return Err(format!("longer than {MAX_MIX_CHARS} characters"));
        }
        let mut weights = [0u32; 4];
        let mut seen = [false; 4];
        for part in s.split(',') {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not KIND=WEIGHT"))?;
            let i = OpKind::ALL
                .iter()
                .position(|k| k.as_str() == name.trim())
                .ok_or_else(|| {
                    format!("{name:?} is not a kind: put, range, range-serializable or txn")
                })?;
            if std::mem::replace(&mut seen[i], true) {
                return Err(format!("{name} is given twice"));
            }
            weights[i] = weight
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|w| *w <= MAX_WEIGHT)
                .ok_or_else(|| format!("{weight:?} is not a weight from 0 to {MAX_WEIGHT}"))?;
        }
        if weights.iter().all(|w| *w == 0) {
            return Err("every weight is 0".into());
        }
        Ok(Mix { weights })
    }

    /// The kind whose share of the total weight holds `draw`
    /// (`draw` in `0..total()`).
    pub fn pick(&self, draw: u64) -> OpKind {
        let mut left = draw;
        for (kind, w) in OpKind::ALL.iter().zip(self.weights) {
            if left < u64::from(w) {
                return *kind;
            }
            left -= u64::from(w);
        }
        OpKind::Put
    }

    /// Sum of the weights.
    pub fn total(&self) -> u64 {
        self.weights.iter().map(|w| u64::from(*w)).sum()
    }

    /// `put=1,range=0,...` with the kinds that weigh anything.
    pub fn describe(&self) -> String {
        OpKind::ALL
            .iter()
            .zip(self.weights)
            .filter(|(_, w)| *w > 0)
            .map(|(k, w)| format!("{}={w}", k.as_str()))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Parses `--key-size`/`--value-size`: bytes, with an optional `k`/`KiB`
/// (1024) or `KB` (1000) style suffix, e.g. `256`, `1KiB`, `4k`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 32 {
        return Err(format!("{s:?} is not a size like 256 or 1KiB"));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 256 or 1KiB"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "k" | "K" | "KiB" => 1024,
        "KB" | "kB" => 1000,
        "M" | "MiB" => 1024 * 1024,
        "MB" => 1_000_000,
        u => return Err(format!("{s:?}: unknown unit {u:?} (B, KiB, KB, MiB, MB)")),
    };
    n.checked_mul(scale)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// What the user asked for, before the bounds are checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRequest {
    /// The preset the others default from.
    pub preset: Preset,
    /// `--rate`.
    pub rate: Option<u32>,
    /// `--clients`.
    pub clients: Option<u32>,
    /// `--conns`.
    pub conns: Option<u32>,
    /// `--duration`.
    pub duration: Option<Duration>,
    /// `--key-size`.
    pub key_size: Option<usize>,
    /// `--value-size`.
    pub value_size: Option<usize>,
    /// `--mix`.
    pub mix: Option<Mix>,
    /// `--key-space`.
    pub key_space: Option<u64>,
    /// `--max-duration`.
    pub max_duration: Duration,
    /// `--prefix`.
    pub prefix: String,
    /// `--scrape-interval`.
    pub scrape_interval: Duration,
}

/// A load request that cannot make a plan; each names its flag.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LoadPlanError {
    /// A number outside its bounds.
    #[error("--{flag} must be from {min} to {max}, got {got}")]
    OutOfRange {
        /// The flag, without dashes.
        flag: &'static str,
        /// Lowest allowed.
        min: u64,
        /// Highest allowed.
        max: u64,
        /// What was given.
        got: u64,
    },
    /// `--duration` beyond `--max-duration`.
    #[error("--duration {duration:?} is longer than --max-duration {max:?}")]
    TooLong {
        /// The run asked for.
        duration: Duration,
        /// The cap.
        max: Duration,
    },
    /// A rate too low to send one request in the run.
    #[error("--rate {rate}/s over --duration {duration:?} sends no request at all")]
    NoRequests {
        /// Requests per second.
        rate: u32,
        /// Run length.
        duration: Duration,
    },
    /// More connections than clients.
    #[error("--conns {conns} is more than --clients {clients}: a connection without a client stays idle")]
    IdleConns {
        /// Connections.
        conns: u32,
        /// Clients.
        clients: u32,
    },
    /// An empty or overlong prefix.
    #[error("--prefix must be 2 to 256 bytes and not \"/\" alone, got {0:?}")]
    BadPrefix(String),
}

/// Everything the generator does, bounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadPlan {
    /// The `check perf` load this plan starts from.
    pub preset: Preset,
    /// Target requests per second.
    pub rate_per_s: u32,
    /// Most requests in flight at once.
    pub clients: u32,
    /// gRPC connections, spread over the members round-robin.
    pub conns: u32,
    /// How long requests are sent.
    pub duration_s: f64,
    /// Key bytes after the prefix.
    pub key_bytes: usize,
    /// Value bytes of writes.
    pub value_bytes: usize,
    /// Operation mix.
    pub mix: Mix,
    /// Distinct keys; `None`: random 63-bit keys, as `check perf`.
    pub key_space: Option<u64>,
    /// The prefix every key lives under, deleted afterwards.
    pub prefix: String,
    /// Seconds between /metrics scrapes during the run.
    pub scrape_interval_s: f64,
}

fn bounded(flag: &'static str, got: u64, min: u64, max: u64) -> Result<u64, LoadPlanError> {
    if (min..=max).contains(&got) {
        Ok(got)
    } else {
        Err(LoadPlanError::OutOfRange {
            flag,
            min,
            max,
            got,
        })
    }
}

impl LoadPlan {
    /// Checks `req` and builds the plan: the preset's values where a flag
    /// is not given. A preset uses one connection per client, as `check
    /// perf` does (one client object each).
    pub fn new(req: LoadRequest) -> Result<LoadPlan, LoadPlanError> {
        let (preset_rate, preset_clients) = req.preset.rate_and_clients();
        let rate = bounded(
            "rate",
            req.rate.unwrap_or(preset_rate).into(),
            1,
            MAX_RATE.into(),
        )?;
        let clients = bounded(
            "clients",
            req.clients.unwrap_or(preset_clients).into(),
            1,
            MAX_CLIENTS.into(),
        )?;
        let conns = bounded(
            "conns",
            req.conns.map_or(clients.min(MAX_CONNS.into()), u64::from),
            1,
            MAX_CONNS.into(),
        )?;
        if conns > clients {
            return Err(LoadPlanError::IdleConns {
                conns: conns as u32,
                clients: clients as u32,
            });
        }
        let max = req.max_duration;
        bounded("max-duration", max.as_secs(), 1, MAX_MAX_DURATION.as_secs())?;
        let duration = req.duration.unwrap_or(CHECK_PERF_DURATION);
        if duration > max {
            return Err(LoadPlanError::TooLong { duration, max });
        }
        if duration.as_secs_f64() * (rate as f64) < 1.0 {
            return Err(LoadPlanError::NoRequests {
                rate: rate as u32,
                duration,
            });
        }
        let key_bytes = bounded(
            "key-size",
            req.key_size.unwrap_or(CHECK_PERF_KEY_BYTES) as u64,
            MIN_KEY_BYTES as u64,
            MAX_KEY_BYTES as u64,
        )?;
        let value_bytes = bounded(
            "value-size",
            req.value_size.unwrap_or(CHECK_PERF_VALUE_BYTES) as u64,
            1,
            MAX_VALUE_BYTES as u64,
        )?;
        let key_space = req
            .key_space
            .map(|n| bounded("key-space", n, 1, MAX_KEY_SPACE))
            .transpose()?;
        let scrape = req.scrape_interval;
        bounded("scrape-interval", scrape.as_millis() as u64, 500, 60_000)?;
        if req.prefix.len() < 2 || req.prefix.len() > 256 {
            return Err(LoadPlanError::BadPrefix(req.prefix));
        }
        Ok(LoadPlan {
            preset: req.preset,
            rate_per_s: rate as u32,
            clients: clients as u32,
            conns: conns as u32,
            duration_s: duration.as_secs_f64(),
            key_bytes: key_bytes as usize,
            value_bytes: value_bytes as usize,
            mix: req.mix.unwrap_or_default(),
            key_space,
            prefix: req.prefix,
            scrape_interval_s: scrape.as_secs_f64(),
        })
    }

    /// How long requests are sent.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s)
    }

    /// The key of index `i`: the prefix, `i` in 8 big-endian bytes, zeros
    /// up to the key size (`check perf` writes a varint into 256 zero bytes).
    pub fn key(&self, i: u64) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + self.key_bytes);
        key.extend_from_slice(self.prefix.as_bytes());
        key.extend_from_slice(&i.to_be_bytes());
        key.resize(self.prefix.len() + self.key_bytes, 0);
        key
    }

    /// A key index drawn from the key space (random 63-bit without one).
    pub fn draw_key(&self, rng: &mut fastrand::Rng) -> u64 {
        match self.key_space {
            Some(n) => rng.u64(0..n),
            None => rng.u64(..) >> 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn request() -> LoadRequest {
        LoadRequest {
            preset: Preset::S,
            rate: None,
            clients: None,
            conns: None,
            duration: None,
            key_size: None,
            value_size: None,
            mix: None,
            key_space: None,
            max_duration: Duration::from_secs(600),
            prefix: "/etcd-doctor-load/".into(),
            scrape_interval: Duration::from_secs(5),
        }
    }

    #[test]
    fn presets_are_check_perfs() {
        let p = LoadPlan::new(request()).unwrap();
        assert_eq!((p.rate_per_s, p.clients, p.conns), (150, 50, 50));
        assert_eq!(
            (p.key_bytes, p.value_bytes, p.duration_s),
            (256, 1024, 60.0)
        );
        assert_eq!(p.mix.describe(), "put=1");
        let xl = LoadPlan::new(LoadRequest {
            preset: Preset::parse("xLarge").unwrap(),
            ..request()
        })
        .unwrap();
        assert_eq!((xl.rate_per_s, xl.clients, xl.conns), (15000, 1000, 1000));
        assert!(Preset::parse("huge").is_err());
    }

    #[test]
    fn bad_values_name_their_flag() {
        let cases: [(LoadRequest, &str); 7] = [
            (
                LoadRequest {
                    rate: Some(0),
                    ..request()
                },
                "--rate",
            ),
            (
                LoadRequest {
                    rate: Some(MAX_RATE + 1),
                    ..request()
                },
                "--rate",
            ),
            (
                LoadRequest {
                    clients: Some(0),
                    ..request()
                },
                "--clients",
            ),
            (
                LoadRequest {
                    conns: Some(60),
                    ..request()
                },
                "--conns 60 is more than --clients",
            ),
            (
                LoadRequest {
                    duration: Some(Duration::from_secs(601)),
                    ..request()
                },
                "--duration",
            ),
            (
                LoadRequest {
                    key_size: Some(4),
                    ..request()
                },
                "--key-size",
            ),
            (
                LoadRequest {
                    prefix: "/".into(),
                    ..request()
                },
                "--prefix",
            ),
        ];
        for (req, needle) in cases {
            let e = LoadPlan::new(req).unwrap_err().to_string();
            assert!(e.starts_with(needle), "{e}");
        }
        let e = LoadPlan::new(LoadRequest {
            rate: Some(1),
            duration: Some(Duration::from_millis(500)),
            ..request()
        })
        .unwrap_err();
        assert!(matches!(e, LoadPlanError::NoRequests { .. }), "{e}");
    }

    #[test]
    fn mix_parses_and_picks_by_weight() {
        let m = Mix::parse("put=2,range=1,range-serializable=1,txn=0").unwrap();
        assert_eq!(m.weights, [2, 1, 1, 0]);
        assert_eq!(m.total(), 4);
        let picks: Vec<OpKind> = (0..4).map(|d| m.pick(d)).collect();
        assert_eq!(
            picks,
            [
                OpKind::Put,
                OpKind::Put,
                OpKind::Range,
                OpKind::RangeSerializable
            ]
        );
        for bad in [
            "",
            "put",
            "put=x",
            "get=1",
            "put=1,put=2",
            "put=0",
            "put=1000001",
        ] {
            assert!(Mix::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("256"), Ok(256));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("2KB"), Ok(2000));
        assert!(parse_size("1 GiB").is_err());
        assert!(parse_size("99999999999999999999M").is_err());
    }

    #[test]
    fn keys_have_the_prefix_and_the_size() {
        let p = LoadPlan::new(LoadRequest {
            key_size: Some(16),
            ..request()
        })
        .unwrap();
        let k = p.key(1);
        assert_eq!(k.len(), "/etcd-doctor-load/".len() + 16);
        assert!(k.starts_with(b"/etcd-doctor-load/\0\0\0\0\0\0\0\x01"));
    }

    proptest! {
        #[test]
        fn mix_parser_never_panics(s in ".{0,300}") {
            let _ = Mix::parse(&s);
        }

        #[test]
        fn mix_round_trips(w in proptest::array::uniform4(0u32..=MAX_WEIGHT)) {
            prop_assume!(w.iter().any(|x| *x > 0));
            let m = Mix { weights: w };
            prop_assert_eq!(Mix::parse(&m.describe()).unwrap(), m);
            let last = OpKind::ALL[w.iter().rposition(|x| *x > 0).unwrap()];
            prop_assert_eq!(m.pick(m.total() - 1), last);
            prop_assert_eq!(m.pick(0), OpKind::ALL[w.iter().position(|x| *x > 0).unwrap()]);
        }

        #[test]
        fn size_parser_never_panics(s in "[0-9]{0,25}[a-zA-Z ]{0,4}") {
            if let Ok(n) = parse_size(&s) {
                prop_assert!(n as u128 <= u64::MAX as u128);
            }
        }
    }
}
