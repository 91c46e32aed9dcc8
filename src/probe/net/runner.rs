//! Runs a [`NetPlan`]: which probe runs when, against which peer, with the
//! NIC sampled around each measurement, every step under a time bound, and
//! a failed peer turned into a result row instead of a failed run.
//!
//! `rtt` runs against all peers at once (a few hundred bytes per ping do
//! not disturb one another); `throughput` and `loaded-rtt` run peer by
//! peer, since two bulk flows would share, and so halve, the path being
//! measured. A peer that could not be reached (or refused the token) is not
//! retried by later probes: their rows say why they were skipped.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::bulk::{self, BulkParams};
use super::client::PeerError;
use super::nic::{self, Link, Sampler};
use super::plan::{NetPlan, NetPlanError, Peer};
use super::result::{BeforeProbe, NetProbeKind, NetResult, NicUsage, Schedule};
use super::rtt::{self, RttParams};
use crate::measure::LatencyHistogram;

/// Runs every probe of `plan` and returns one result per probe and peer
/// (and rtt message size), in plan order. Only an invalid plan is an
/// error; peers that fail are results with `error` set. Must run inside a
/// tokio runtime.
pub async fn run(plan: &NetPlan) -> Result<Vec<NetResult>, NetPlanError> {
    plan.validate()?;
    if let Some(iface) = &plan.iface {
        nic::link(iface).map_err(|_| NetPlanError::Iface(iface.clone()))?;
    }
    let before = before_probe(plan).await;
    let plan = Arc::new(plan.clone());
    let mut skip: Vec<Option<String>> = vec![None; plan.peers.len()];
    let mut results = Vec::new();
    for &probe in &plan.probes {
        let runs = match probe {
            NetProbeKind::Rtt => {
                let schedule = if plan.peers.len() > 1 {
                    Schedule::Concurrent
                } else {
                    Schedule::Sequential
                };
                let tasks: Vec<_> = (0..plan.peers.len())
                    .map(|i| {
                        let (plan, skip) = (plan.clone(), skip[i].clone());
                        tokio::spawn(
                            async move { probe_peer(&plan, i, probe, schedule, skip).await },
                        )
                    })
                    .collect();
                let mut runs = Vec::with_capacity(tasks.len());
                for (i, task) in tasks.into_iter().enumerate() {
                    runs.push(
                        task.await
                            .unwrap_or_else(|e| PeerRun::failed(&plan, i, probe, schedule, &e)),
                    );
                }
                runs
            }
            NetProbeKind::Throughput | NetProbeKind::LoadedRtt => {
                let mut runs = Vec::with_capacity(plan.peers.len());
                for i in 0..plan.peers.len() {
                    let skip = skip[i].clone();
                    runs.push(probe_peer(&plan, i, probe, Schedule::Sequential, skip).await);
                }
                runs
            }
        };
        for (i, run) in runs.into_iter().enumerate() {
            if skip[i].is_none() {
                skip[i] = run.unreachable;
            }
            results.extend(run.rows);
        }
    }
    nic::assign_measured_ceilings(&mut results);
    for nic in results.iter_mut().filter_map(|r| r.nic.as_mut()) {
        nic.before_probe = before
            .iter()
            .find(|(iface, _)| *iface == nic.interface)
            .map(|(_, b)| b.clone());
    }
    Ok(results)
}

/// How long the interfaces are watched before the first probe.
pub const BEFORE_PROBE_WINDOW: Duration = Duration::from_secs(1);

/// Each peer's interface over [`BEFORE_PROBE_WINDOW`] before any traffic
/// of ours, when the plan runs loaded-rtt (whose rule needs to know
/// whether the link was already busy): one window per interface.
async fn before_probe(plan: &NetPlan) -> Vec<(String, BeforeProbe)> {
    let mut out: Vec<(String, BeforeProbe)> = Vec::new();
    if !plan.probes.contains(&NetProbeKind::LoadedRtt) {
        return out;
    }
    for peer in &plan.peers {
        let Some(link) = link_for(plan, peer).await else {
            continue;
        };
        if out.iter().any(|(iface, _)| *iface == link.name) {
            continue;
        }
        let name = link.name.clone();
        if let Some(b) = nic::before_probe(link, BEFORE_PROBE_WINDOW).await {
            out.push((name, b));
        }
    }
    out
}

/// The rows one probe produced against one peer.
#[derive(Debug)]
struct PeerRun {
    rows: Vec<NetResult>,
    /// Set when the peer could not be reached: later probes skip it.
    unreachable: Option<String>,
}

impl PeerRun {
    fn failed(
        plan: &NetPlan,
        i: usize,
        probe: NetProbeKind,
        schedule: Schedule,
        why: &dyn std::fmt::Display,
    ) -> PeerRun {
        let mut row = NetResult::new(probe, &plan.peers[i].to_string(), schedule);
        row.error = Some(format!("probe task failed: {why}"));
        PeerRun {
            rows: vec![row],
            unreachable: None,
        }
    }
}

async fn probe_peer(
    plan: &NetPlan,
    i: usize,
    probe: NetProbeKind,
    schedule: Schedule,
    skip: Option<String>,
) -> PeerRun {
    let peer = &plan.peers[i];
    let sizes = match probe {
        NetProbeKind::Rtt => plan.message_sizes.clone(),
        NetProbeKind::Throughput => vec![0],
        NetProbeKind::LoadedRtt => vec![plan.heartbeat_size()],
    };
    let link = match skip {
        Some(_) => None,
        None => link_for(plan, peer).await,
    };
    let mut run = PeerRun {
        rows: Vec::with_capacity(sizes.len()),
        unreachable: skip,
    };
    for size in sizes {
        let mut row = NetResult::new(probe, &peer.to_string(), schedule);
        row.duration_s = Some(plan.duration.as_secs_f64());
        if probe != NetProbeKind::Throughput {
            row.message_size_bytes = Some(size.into());
            row.rate_hz = Some(plan.rate_hz);
        }
        if let Some(why) = &run.unreachable {
            row.error = Some(format!("skipped: {why}"));
            run.rows.push(row);
            continue;
        }
        let bound = plan.row_time_bound(probe);
        let measured = async {
            match probe {
                NetProbeKind::Rtt => rtt_row(plan, peer, size, link.clone(), &mut row).await,
                NetProbeKind::Throughput => {
                    throughput_row(plan, peer, link.clone(), &mut row).await
                }
                NetProbeKind::LoadedRtt => loaded_row(plan, peer, link.clone(), &mut row).await,
            }
        };
        let outcome = tokio::time::timeout(bound, measured)
            .await
            .unwrap_or(Err(PeerError::TimeBound(bound)));
        if let Err(e) = outcome {
            if e.is_unreachable() {
                run.unreachable = Some(e.to_string());
            }
            row.error = Some(e.to_string());
        }
        run.rows.push(row);
    }
    run
}

/// The interface whose counters describe the path to `peer`: `--iface`,
/// or the one the kernel routes the peer's address through. `None` when
/// it cannot be found (the probe itself will say why the peer fails).
async fn link_for(plan: &NetPlan, peer: &Peer) -> Option<Link> {
    if let Some(iface) = &plan.iface {
        return nic::link(iface).ok();
    }
    let ip = match peer.host().parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => {
            let lookup = tokio::net::lookup_host((peer.host(), peer.port()));
            tokio::time::timeout(plan.timeout, lookup)
                .await
                .ok()?
                .ok()?
                .next()?
                .ip()
        }
    };
    nic::link(&nic::route_interface(ip).ok()?).ok()
}

/// Runs `measure` with the NIC sampled around it.
async fn sampled<T>(
    link: Option<Link>,
    measure: impl std::future::Future<Output = T>,
) -> (T, Option<NicUsage>) {
    let sampler = link.and_then(|l| Sampler::start(l).ok());
    let out = measure.await;
    let nic = match sampler {
        Some(s) => s.finish().await,
        None => None,
    };
    (out, nic)
}

fn rtt_params(plan: &NetPlan, size: u32) -> RttParams {
    RttParams {
        message_bytes: size,
        rate_hz: plan.rate_hz,
        duration: plan.duration,
        timeout: plan.timeout,
    }
}

fn bulk_params(plan: &NetPlan) -> BulkParams {
    BulkParams {
        duration: plan.duration,
        max_bytes: plan.max_transfer_bytes,
        timeout: plan.timeout,
    }
}

async fn rtt_row(
    plan: &NetPlan,
    peer: &Peer,
    size: u32,
    link: Option<Link>,
    row: &mut NetResult,
) -> Result<(), PeerError> {
    let (pings, nic) = sampled(
        link,
        rtt::measure(peer, &plan.token, &rtt_params(plan, size)),
    )
    .await;
    row.nic = nic;
    let pings = pings?;
    row.latency_us = Some(pings.latency.summary());
    row.latency_histogram = Some(pings.latency.encode());
    row.timeline = pings.timeline;
    row.path_loss = pings.loss;
    Ok(())
}

async fn throughput_row(
    plan: &NetPlan,
    peer: &Peer,
    link: Option<Link>,
    row: &mut NetResult,
) -> Result<(), PeerError> {
    let p = bulk_params(plan);
    let token = &plan.token;
    let both = async {
        let up = bulk::upload(peer, token, &p, Arc::new(AtomicBool::new(false))).await?;
        let down = bulk::download(peer, token, &p).await?;
        Ok::<_, PeerError>((up, down))
    };
    let (both, nic) = sampled(link, both).await;
    row.nic = nic;
    let (up, down) = both?;
    row.upload_mbit_s = Some(up.mbit_s());
    row.download_mbit_s = Some(down.mbit_s());
    row.throughput_mbit_s = Some(up.mbit_s().min(down.mbit_s()));
    Ok(())
}

/// Idle RTT, then RTT while an upload saturates the path after a warm-up.
async fn loaded_row(
    plan: &NetPlan,
    peer: &Peer,
    link: Option<Link>,
    row: &mut NetResult,
) -> Result<(), PeerError> {
    let token = &plan.token;
    let params = rtt_params(plan, plan.heartbeat_size());
    let idle = rtt::measure(peer, token, &params).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut flow_params = bulk_params(plan);
    // The flow must outlast warm-up and the loaded phase; it is stopped
    // as soon as the loaded phase ends.
    flow_params.duration = plan.warmup + plan.duration + plan.timeout;
    let flow = bulk::upload(peer, token, &flow_params, stop.clone());
    let loaded = async {
        tokio::time::sleep(plan.warmup).await;
        let out = sampled(link, rtt::measure(peer, token, &params)).await;
        stop.store(true, Ordering::Relaxed);
        out
    };
    let (flow, (loaded, nic)) = tokio::join!(flow, loaded);
    row.nic = nic;
    let (loaded, flow) = (loaded?, flow?);
    if !flow.stopped {
        return Err(PeerError::FlowEnded(flow.bytes));
    }
    fill_loaded(row, &idle.latency, &loaded.latency, flow.mbit_s());
    row.timeline = loaded.timeline;
    Ok(())
}

fn fill_loaded(
    row: &mut NetResult,
    idle: &LatencyHistogram,
    loaded: &LatencyHistogram,
    mbit_s: f64,
) {
    let (i, l) = (idle.summary(), loaded.summary());
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| (a / b * 100.0).round() / 100.0);
    row.inflation = ratio(l.p99, i.p99);
    row.inflation_p50 = ratio(l.p50, i.p50);
    row.idle_latency_us = Some(i);
    row.idle_latency_histogram = Some(idle.encode());
    row.latency_us = Some(l);
    row.latency_histogram = Some(loaded.encode());
    row.throughput_mbit_s = Some(mbit_s);
    row.upload_mbit_s = Some(mbit_s);
}
