//! The open-loop generator. Request `i` is scheduled at `start + i / rate`
//! and leaves then, whether earlier requests have answered or not (a free
//! client permitting); its latency is measured from that scheduled time,
//! so a stalled cluster shows as latency instead of silently lowering the
//! rate (no coordinated omission). Samples go to one collector task that
//! fills mergeable HDR histograms per operation kind, per target member and
//! per second, and counts errors by kind. The generator also times itself:
//! how late it woke for each send, and how long sends waited for a client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp};
use tokio::sync::{mpsc, watch, Semaphore};

use super::plan::{LoadPlan, OpKind};
use crate::cluster::RequestError;
use crate::measure::LatencyHistogram;
use crate::probe::disk::TimelinePoint;

/// Distinct error texts kept; further ones count as `other`.
const MAX_ERROR_KINDS: usize = 20;
/// Longest error text kept, characters.
const MAX_ERROR_CHARS: usize = 160;
/// A wait for a free client this long means every client was busy.
const BLOCKED: Duration = Duration::from_millis(1);
/// Delay before the first scheduled send, so that the first requests do
/// not start late while the tasks spin up.
const START_DELAY: Duration = Duration::from_millis(50);

/// One connection and the member it goes to.
#[derive(Clone)]
pub struct Conn {
    /// Index of the target member.
    pub target: usize,
    /// The KV client over that connection.
    pub kv: KvClient,
}

/// One answered (or failed) request.
struct Sample {
    kind: OpKind,
    target: usize,
    /// Scheduled send, since the start.
    scheduled: Duration,
    /// From the scheduled send to the answer.
    latency: Duration,
    error: Option<String>,
}

/// Histograms and counters of one group of requests.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// Latency of the successful requests.
    pub latency: LatencyHistogram,
    /// Failed requests.
    pub errors: u64,
}

/// Everything one run recorded.
#[derive(Debug, Default)]
pub struct Recorded {
    /// All requests.
    pub all: Group,
    /// Per operation kind, in [`OpKind::ALL`] order.
    pub by_kind: [Group; 4],
    /// Per target member.
    pub by_target: Vec<Group>,
    /// One point per second of scheduled time.
    pub timeline: Vec<TimelinePoint>,
    /// Failed requests by error text.
    pub errors: BTreeMap<String, u64>,
    /// How late the generator woke for each scheduled send.
    pub wake_late: LatencyHistogram,
    /// How long each send waited for a free client.
    pub client_wait: LatencyHistogram,
    /// Total time the loop waited for a free client.
    pub client_wait_total: Duration,
    /// Requests scheduled within the run.
    pub scheduled: u64,
    /// Requests sent.
    pub sent: u64,
    /// From the start to the last answer.
    pub elapsed: Duration,
}

/// Per-second histograms still open for samples, finalized into points
/// once no request of that second can still be answering.
struct Seconds {
    open: BTreeMap<u64, LatencyHistogram>,
    horizon_s: u64,
}

impl Seconds {
    fn record(&mut self, s: &Sample, out: &mut Vec<TimelinePoint>) {
        let sec = s.scheduled.as_secs();
        if s.error.is_none() {
            self.open.entry(sec).or_default().record(s.latency);
        }
        while let Some((&first, _)) = self.open.first_key_value() {
            if first + self.horizon_s >= sec {
                break;
            }
            let (first, h) = self.open.pop_first().expect("a first entry exists");
            out.push(point(first, &h));
        }
    }

    fn finish(self, out: &mut Vec<TimelinePoint>) {
        out.extend(self.open.iter().map(|(&s, h)| point(s, h)));
        out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    }
}

fn point(sec: u64, h: &LatencyHistogram) -> TimelinePoint {
    let s = h.summary();
    TimelinePoint {
        t_s: (sec + 1) as f64,
        ops: h.len(),
        p50_us: s.p50,
        p90_us: Some(s.p90),
        p99_us: s.p99,
        p999_us: Some(s.p999),
        max_us: s.max,
    }
}

impl Recorded {
    fn new(targets: usize) -> Recorded {
        Recorded {
            by_target: vec![Group::default(); targets],
            ..Recorded::default()
        }
    }

    fn add(&mut self, s: &Sample) {
        let kind = OpKind::ALL.iter().position(|k| *k == s.kind).unwrap_or(0);
        let groups = [
            &mut self.all,
            &mut self.by_kind[kind],
            &mut self.by_target[s.target],
        ];
        for g in groups {
            match &s.error {
                None => g.latency.record(s.latency),
                Some(_) => g.errors += 1,
            }
        }
        if let Some(e) = &s.error {
            let known = self.errors.len() < MAX_ERROR_KINDS || self.errors.contains_key(e);
            let key = if known { e.clone() } else { "other".into() };
            *self.errors.entry(key).or_default() += 1;
        }
        self.elapsed = self.elapsed.max(s.scheduled + s.latency);
    }
}

/// Collects samples until every sender is gone.
async fn collect(
    mut rx: mpsc::UnboundedReceiver<Sample>,
    targets: usize,
    horizon_s: u64,
) -> Recorded {
    let mut rec = Recorded::new(targets);
    let mut seconds = Seconds {
        open: BTreeMap::new(),
        horizon_s,
    };
    let mut timeline = Vec::new();
    while let Some(s) = rx.recv().await {
        rec.add(&s);
        seconds.record(&s, &mut timeline);
    }
    seconds.finish(&mut timeline);
    rec.timeline = timeline;
    rec
}

/// One error in a line: etcd's gRPC code and message, or our timeout.
fn error_text(e: &etcd_client::Error) -> String {
    let text = match e {
        etcd_client::Error::GRpcStatus(st) => format!("{:?}: {}", st.code(), st.message()),
        other => other.to_string(),
    };
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// Sends one request of `kind` for `key`.
async fn send(
    kv: &mut KvClient,
    kind: OpKind,
    key: Vec<u8>,
    value: Vec<u8>,
) -> Result<(), etcd_client::Error> {
    match kind {
        OpKind::Put => kv.put(key, value, None).await.map(drop),
        OpKind::Range => kv.get(key, None).await.map(drop),
        OpKind::RangeSerializable => kv
            .get(key, Some(GetOptions::new().with_serializable()))
            .await
            .map(drop),
        OpKind::Txn => {
            let txn = Txn::new()
                .when([Compare::mod_revision(key.clone(), CompareOp::Greater, -1)])
                .and_then([TxnOp::put(key, value, None)]);
            kv.txn(txn).await.map(drop)
        }
    }
}

/// Runs `plan` over `conns` (at least one) until its duration passes or
/// `stop` turns true; returns what it recorded once every request sent has
/// answered or timed out after `command_timeout`.
pub async fn generate(
    plan: &LoadPlan,
    conns: &[Conn],
    targets: usize,
    command_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> Recorded {
    let (tx, rx) = mpsc::unbounded_channel();
    let horizon_s = command_timeout.as_secs() + 2;
    let collector = tokio::spawn(collect(rx, targets, horizon_s));
    let clients = Arc::new(Semaphore::new(plan.clients as usize));
    let mut rng = fastrand::Rng::new();
    let value = vec![0u8; plan.value_bytes];
    let interval_ns = 1e9 / f64::from(plan.rate_per_s);
    let total = (plan.duration_s * f64::from(plan.rate_per_s)).floor() as u64;
    let start = Instant::now() + START_DELAY;
    let end = start + plan.duration();
    let mut wake_late = LatencyHistogram::new();
    let mut client_wait = LatencyHistogram::new();
    let mut sent = 0u64;
    let mut unblocked = start;
    let mut client_wait_total = Duration::ZERO;
    for i in 0..total {
        let scheduled = Duration::from_nanos((i as f64 * interval_ns) as u64);
        let due = start + scheduled;
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let woke = Instant::now();
        if woke >= end {
            // Open loop: what was not sent within the run stays unsent
            // (scheduled > sent says the generator fell behind).
            break;
        }
        // Late only by the timer's or CPU's fault: requests queued behind a
        // wait for a free client count from the end of that wait.
        wake_late.record(woke.saturating_duration_since(due.max(unblocked)));
        let permit = tokio::select! {
            p = clients.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let waited = woke.elapsed();
        client_wait.record(waited);
        client_wait_total += waited;
        if waited >= BLOCKED {
            unblocked = Instant::now();
        }
        let conn = &conns[(i % conns.len() as u64) as usize];
        let (mut kv, target) = (conn.kv.clone(), conn.target);
        let kind = plan.mix.pick(rng.u64(0..plan.mix.total()));
        let key = plan.key(plan.draw_key(&mut rng));
        let value = if kind.writes() {
            value.clone()
        } else {
            Vec::new()
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let result =
                tokio::time::timeout(command_timeout, send(&mut kv, kind, key, value)).await;
            let error = match result {
                Err(_) => Some(RequestError::NoAnswer(command_timeout).to_string()),
                Ok(Err(e)) => Some(error_text(&e)),
                Ok(Ok(())) => None,
            };
            let _ = tx.send(Sample {
                kind,
                target,
                scheduled,
                latency: due.elapsed(),
                error,
            });
            drop(permit);
        });
        sent += 1;
    }
    drop(tx);
    // Every request answers or times out within the command timeout.
    let _ = tokio::time::timeout(
        command_timeout + Duration::from_secs(1),
        clients.acquire_many(plan.clients),
    )
    .await;
    let mut rec = collector.await.expect("the collector task panicked");
    rec.wake_late = wake_late;
    rec.client_wait = client_wait;
    rec.client_wait_total = client_wait_total;
    rec.scheduled = total;
    rec.sent = sent;
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sec: u64, ms: u64, error: Option<&str>) -> Sample {
        Sample {
            kind: OpKind::Put,
            target: 0,
            scheduled: Duration::from_secs(sec),
            latency: Duration::from_millis(ms),
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn samples_land_in_every_group_and_second() {
        let mut rec = Recorded::new(1);
        let mut seconds = Seconds {
            open: BTreeMap::new(),
            horizon_s: 2,
        };
        let mut timeline = Vec::new();
        for s in [
            sample(0, 5, None),
            sample(0, 7, None),
            sample(1, 3, Some("Unavailable: x")),
            sample(5, 2, None),
        ] {
            rec.add(&s);
            seconds.record(&s, &mut timeline);
        }
        // Second 0 is closed once a sample of second 5 arrives (horizon 2 s).
        assert_eq!(timeline.len(), 1);
        assert_eq!(timeline[0].ops, 2);
        seconds.finish(&mut timeline);
        assert_eq!(
            timeline.iter().map(|p| p.t_s).collect::<Vec<_>>(),
            [1.0, 6.0]
        );
        assert_eq!(rec.all.latency.len(), 3);
        assert_eq!(rec.all.errors, 1);
        assert_eq!(rec.by_target[0].errors, 1);
        assert_eq!(rec.errors["Unavailable: x"], 1);
        assert_eq!(rec.elapsed, Duration::from_millis(5002));
    }

    #[test]
    fn error_kinds_are_bounded() {
        let mut rec = Recorded::new(1);
        for i in 0..(MAX_ERROR_KINDS + 5) {
            rec.add(&sample(0, 1, Some(&format!("e{i}"))));
        }
        assert_eq!(rec.errors.len(), MAX_ERROR_KINDS + 1);
        assert_eq!(rec.errors["other"], 5);
    }
}
