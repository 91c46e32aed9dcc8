//! `etcd-doctor snapshot`: save, verify, and the restore/rejoin runbooks.
//! Runbook members come from `--members` when the cluster is down, or from
//! the live member list otherwise.

use std::path::Path;

use anyhow::{Context, Result};

use super::shared;
use crate::cli::output::OutputArgs;
use crate::cli::snapshot::{
    RejoinPlanArgs, RestorePlanArgs, RunbookMembers, RunbookPlan, SnapshotAction, SnapshotArgs,
};
use crate::cluster::conn::ConnPlan;
use crate::cluster::dial;
use crate::cluster::{inspect, InspectPlan};
use crate::facts::Report;
use crate::host::HostFacts;
use crate::interrupt;
use crate::member::MemberId;
use crate::report::format::runbook as render;
use crate::report::format::snapshot as snapshot_format;
use crate::report::{emit_with, OutputPlan};
use crate::snapshot::plan::source::{self, SourceChoice};
use crate::snapshot::plan::{
    self, Method, PlanMember, RejoinSpec, RestoreSpec, RestoreTool, Runbook,
};
use crate::snapshot::verify::TrailerCheck;
use crate::snapshot::{analyze, dbstate, save, verify, SnapshotStatus};
use crate::Outcome;

/// Runs `snapshot`.
pub fn run(args: SnapshotArgs) -> Result<Outcome> {
    match args.action {
        SnapshotAction::Verify { file, output } => {
            let status = verify(&file)?;
            emit_status(&status, "snapshot verify", output)?;
        }
        SnapshotAction::Save {
            file,
            conn,
            discovery,
            output,
        } => {
            let (plan, found) = crate::cli::cluster::reach(conn, &discovery)?;
            shared::say_found(found.as_ref());
            // A signal stops the stream and removes the partial file.
            let _cooperate = interrupt::Cooperate::enter();
            let status = shared::runtime()?.block_on(save_from(&plan, &file))?;
            emit_status(&status, "snapshot save", output)?;
        }
        SnapshotAction::Analyze {
            file,
            skip_hash_check,
            max_keys,
            grouping,
            judge,
            output,
        } => {
            let plan = analyze::AnalyzePlan {
                grouping: grouping.into_grouping()?,
                trailer: if skip_hash_check {
                    TrailerCheck::Skip
                } else {
                    TrailerCheck::IfPresent
                },
                // Clap's range keeps it within MAX_MAX_KEYS.
                max_keys: usize::try_from(max_keys).unwrap_or(analyze::MAX_MAX_KEYS),
            };
            let judge = judge.into_plan()?;
            let mut report = Report::new("snapshot analyze", HostFacts::collect());
            report.keyspace = Some(analyze::analyze(&file, &plan)?);
            return shared::conclude(report, &judge, &output.into());
        }
        SnapshotAction::InspectDb { file, output } => {
            let state = dbstate::inspect_db(&file)?;
            let plan = OutputPlan::from(output);
            emit_with(&plan, |w| {
                snapshot_format::render_db(&state, plan.format, w)
            })?;
        }
        SnapshotAction::RestorePlan(args) => restore_plan(args)?,
        SnapshotAction::RejoinPlan(args) => rejoin_plan(args)?,
    }
    Ok(Outcome::Healthy)
}

async fn save_from(plan: &ConnPlan, file: &Path) -> Result<SnapshotStatus> {
    let mut client = dial::connect_first(plan).await?;
    save::save(&mut client, file, save::DEFAULT_IDLE_TIMEOUT).await
}

fn emit_status(status: &SnapshotStatus, command: &str, output: OutputArgs) -> Result<()> {
    let plan = OutputPlan::from(output);
    emit_with(&plan, |w| {
        snapshot_format::render(status, command, plan.format, w)
    })
}

/// Members and their etcd versions: from `--members`, or the live cluster.
fn members(plan: &RunbookPlan) -> Result<(Vec<PlanMember>, Option<String>)> {
    match &plan.members {
        RunbookMembers::Given(members) => Ok((members.clone(), None)),
        RunbookMembers::Live(conn) => shared::runtime()?.block_on(live_members(conn)),
    }
}

fn print_runbook(mut runbook: Runbook, plan: &RunbookPlan) -> Result<()> {
    runbook.sources = plan.sources.clone();
    crate::report::to_stdout(true, |w| render::render(&runbook, plan.format, w))
}

/// Which member to rebuild from: none when a snapshot is given for a
/// restore (the snapshot is the source), else `--from`, else the live
/// facts (the live cluster), else offline (`--members`: the cluster is down).
fn source_choice(
    snapshot: bool,
    from: Option<&str>,
    plan: &RunbookPlan,
    method: Method,
) -> Result<Option<SourceChoice>> {
    if method == Method::Restore && snapshot {
        return Ok(None);
    }
    let conn = match &plan.members {
        RunbookMembers::Live(conn) if from.is_none() => conn,
        _ => return Ok(Some(source::choose(&[], from))),
    };
    let views = InspectPlan {
        status: true,
        members: true,
        alarms: true,
        cluster: true,
        consistency: true,
        ..InspectPlan::default()
    };
    let report = shared::runtime()?.block_on(inspect(conn, &views));
    Ok(Some(source::choose(&source::candidates(&report), None)))
}

fn restore_plan(args: RestorePlanArgs) -> Result<()> {
    let plan = args.runbook.into_plan()?;
    shared::say_found(plan.discovery.as_ref());
    let (mut members, version) = members(&plan)?;
    let method = Method::from(args.method);
    let choice = source_choice(args.snapshot.is_some(), args.from.as_deref(), &plan, method)?;
    let chosen = match &choice {
        Some(SourceChoice::Live { name, .. } | SourceChoice::Given(name)) => Some(name.clone()),
        _ => None,
    };
    if let Some(name) = &chosen {
        members = source::source_first(members, name)?;
    }
    let save_first = method == Method::Restore && args.snapshot.is_none() && chosen.is_some();
    let tool = args
        .restore_tool
        .map(RestoreTool::from)
        .unwrap_or_else(|| RestoreTool::for_version(version.as_deref()));
    tool.check(version.as_deref())?;
    let spec = RestoreSpec {
        method,
        snapshot: match save_first {
            true => Some(source::SAVED_SNAPSHOT.into()),
            false => args.snapshot,
        },
        members,
        data_dir: plan.data_dir.clone(),
        token: args.initial_cluster_token,
        kubeadm: plan.kubeadm,
        tool,
        bump_revision: plan::bump_revision_for(version.as_deref()),
        tls: plan.tls.clone(),
    };
    let mut runbook = plan::restore_runbook(&spec)?;
    if let Some(choice) = &choice {
        let save_from = save_first.then(|| &spec.members[0]);
        source::explain(&mut runbook, choice, save_from);
    }
    print_runbook(runbook, &plan)
}

fn rejoin_plan(args: RejoinPlanArgs) -> Result<()> {
    let plan = args.runbook.into_plan()?;
    shared::say_found(plan.discovery.as_ref());
    let (members, _) = members(&plan)?;
    let member = members[plan::position_of(&members, "--member", &args.member)?].clone();
    let spec = RejoinSpec {
        member,
        members,
        data_dir: plan.data_dir.clone(),
        kubeadm: plan.kubeadm,
        tls: plan.tls.clone(),
    };
    print_runbook(plan::rejoin_runbook(&spec)?, &plan)
}

async fn live_members(plan: &ConnPlan) -> Result<(Vec<PlanMember>, Option<String>)> {
    let mut client = dial::connect_first(plan).await?;
    let version = client.status().await.ok().map(|s| s.version().to_string());
    let list = client
        .member_list()
        .await
        .context("reading the member list")?;
    // In name order, as operators number their control-plane nodes; the
    // member list itself comes in id order.
    let mut members: Vec<PlanMember> = list
        .members()
        .iter()
        .map(|m| PlanMember {
            name: m.name().to_string(),
            peer_url: m.peer_urls().first().cloned().unwrap_or_default(),
            client_url: m.client_urls().first().cloned().unwrap_or_default(),
            id: Some(MemberId::from(m.id())),
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((members, version))
}
