//! `run --shard I/N --start-at TIME`: the flag checks, and the plan cut down to this shard's
//! share of the run (calls, callers or rate, seed, arrival phase), with the facts `merge`
//! needs to recombine the shares.

use anyhow::anyhow;

use crate::cli::RunArgs;
use crate::driver::{LoadModel, RunPlan};
use crate::error::{CliError, usage};
use crate::record::Arrivals;
use crate::record::model::rfc3339;
use crate::record::shard::{ShardFacts, arrival_offset_s, shard_seed, share};

/// Cuts `plan` down to the shard `--shard` names (no-op without it).
pub(crate) fn apply(a: &RunArgs, plan: &mut RunPlan) -> Result<(), CliError> {
    let Some((index, count)) = a.shard else {
        if a.start_at.is_some() {
            return Err(usage(anyhow!(
                "--start-at is the barrier of shards; give it with --shard I/N"
            )));
        }
        return Ok(());
    };
    let refuse = |why: &str| Err(usage(anyhow!("--shard {index}/{count}: {why}")));
    if plan.target.is_none() {
        return refuse(
            "shards are drivers sharing one endpoint; give its --url (start it with `dynobench serve`, or on a cluster from `dynobench k8s`)",
        );
    }
    if plan.capacity.is_some() || plan.formation.is_some() {
        return refuse("--find-capacity and --dynos run on one driver; drop them");
    }
    if plan.repeat > 1 {
        return refuse("rounds (--repeat) would need a barrier each; run the shards again instead");
    }
    if plan.classes.len() != 1 || plan.workers.len() > 1 {
        return refuse("a shard measures one class at one worker count (the endpoint's); give one --class");
    }
    if plan.calls < count {
        return refuse(&format!(
            "{} calls cannot be split {count} ways; give --calls {count} or more",
            plan.calls
        ));
    }
    let run_calls = plan.calls;
    let run_concurrency = plan.load.concurrency();
    let (run_rate, offset_s) = match &mut plan.load {
        LoadModel::Closed { concurrency } => {
            // Without --concurrency, one caller per shard (the run's default of one caller
            // cannot be split).
            if a.concurrency.is_none() {
                *concurrency = (*concurrency).max(count);
            }
            if *concurrency < count {
                return refuse(&format!(
                    "closed loop with {concurrency} callers cannot be split {count} ways (each shard needs a caller); give --concurrency {count} or more"
                ));
            }
            *concurrency = share(u64::from(*concurrency), count, index) as u32;
            (None, 0.0)
        }
        LoadModel::Open {
            rate,
            arrivals,
            connections,
        } => {
            let total = *rate;
            *rate = total / f64::from(count);
            *connections = (share(u64::from(*connections), count, index) as u32).max(1);
            let offset = match arrivals {
                Arrivals::Constant => arrival_offset_s(total, index),
                Arrivals::Poisson => 0.0,
            };
            (Some(total), offset)
        }
    };
    plan.calls = share(u64::from(run_calls), count, index) as u32;
    plan.seed = shard_seed(a.seed, index);
    if let Some(n) = &mut plan.neighbours {
        n.seed = plan.seed;
    }
    plan.shard = Some(ShardFacts {
        index,
        count,
        start_at: a.start_at.map(rfc3339),
        start_at_unix_s: a
            .start_at
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64()),
        run_seed: a.seed,
        run_calls,
        run_concurrency,
        run_rate,
        arrival_offset_ms: offset_s * 1000.0,
    });
    // Shards started in the same second must not share a results directory.
    plan.label = match plan.label.as_str() {
        "remote" => format!("shard{index}of{count}"),
        l => format!("{l}-shard{index}of{count}"),
    };
    Ok(())
}
