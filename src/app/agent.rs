//! `etcd-doctor agent`: bind exactly where told, serve tests until SIGINT
//! or SIGTERM, and log one line per connection on standard error.

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::net::AgentArgs;
use crate::probe::net::agent::{Agent, Event, Outcome as Served};
use crate::Outcome;

/// Runs `agent`.
pub fn run(args: AgentArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    // Single-threaded: an echo is answered by the thread its arrival
    // wakes (bulk tests run on threads of their own).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Before the agent says it listens, so a signal right after that
        // line still stops it cleanly: while serving, SIGINT, SIGTERM and
        // SIGHUP only set the flag of crate::interrupt, which ends serve.
        let _serving = crate::interrupt::Cooperate::enter();
        let agent = Agent::bind(&plan)
            .await
            .with_context(|| format!("--listen {}: cannot bind", plan.listen))?;
        let addr = agent.local_addr()?;
        let l = &plan.limits;
        eprintln!(
            "etcd-doctor agent: listening on {addr} (at most {} clients, {} s and {} bytes per test)",
            l.max_clients,
            l.max_test_duration.as_secs(),
            l.max_test_bytes
        );
        agent.serve(crate::interrupt::wait(), Arc::new(log)).await;
        eprintln!("etcd-doctor agent: stopped");
        Ok(Outcome::Healthy)
    })
}

fn log(e: Event) {
    let what = match &e.outcome {
        Served::Dropped(why) => format!("dropped: {why}"),
        Served::Overloaded => "dropped: too many connections".to_string(),
        Served::Refused(status) => format!("refused: {status}"),
        Served::Served {
            test,
            bytes,
            elapsed,
            end,
        } => format!(
            "{} test: {bytes} bytes in {:.2} s ({end})",
            test.as_str(),
            elapsed.as_secs_f64()
        ),
    };
    eprintln!("etcd-doctor agent: {}: {what}", e.peer);
}
