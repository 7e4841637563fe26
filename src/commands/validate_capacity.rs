//! `dynobench validate --capacity`: checks the one capacity model live. (1) A class this
//! machine hosts in full (a 1-core quota): the model's capacity from one caller's service
//! times against the rate `--find-capacity` holds and a saturated closed loop's throughput.
//! (2) A 2-core class measured at 1 core (capped) and at 2 (the server given the driver's
//! CPU too): the model's extrapolation from the 1-core measurement against the 2-core one —
//! the evidence that pricing a capped class from its per-core rate is fair.

use anyhow::anyhow;
use clap::Parser;

use super::common::own_exe;
use super::run::plan as run_plan;
use crate::cli::{Cli, Command, ValidateArgs};
use crate::driver::{self, RunPlan, Silent};
use crate::error::{CliError, Outcome, failed, usage};
use crate::record::class_capacity::{CapacityOrigin, class_capacity};
use crate::record::model_check::{CapacityCheck, CapacityCheckRow};
use crate::record::{ClassResult, apply_value};

/// Goal: the model's capacity within this of the capacity search's, percent.
const CAPACITY_GOAL: f64 = 10.0;
/// Goal: the model's 1 → 2-core scaling within this of the measured, percent.
const SCALING_GOAL: f64 = 15.0;

fn plan_of(a: &ValidateArgs, extra: &[String]) -> Result<RunPlan, CliError> {
    let mut argv: Vec<String> = [
        "dynobench",
        "run",
        "--classes",
        "containers",
        "--warmup",
        "10",
        "--no-save",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(extra.iter().cloned());
    if let Some(p) = &a.payload {
        argv.push("--payload".into());
        argv.push(p.display().to_string());
    }
    let cli = Cli::try_parse_from(argv).map_err(|e| usage(anyhow!("{e}")))?;
    let Command::Run(args) = cli.command else {
        unreachable!("a run command line")
    };
    run_plan(&args, own_exe()?)
}

fn measure(a: &ValidateArgs, extra: &[&str]) -> Result<ClassResult, CliError> {
    if crate::interrupt::requested() {
        return Err(CliError::Interrupted(anyhow!("interrupted")));
    }
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let plan = plan_of(a, &extra)?;
    let r = driver::run(&plan, &driver::detect(), &mut Silent).map_err(|e| failed(anyhow!("{e}")))?;
    let mut classes = r.classes;
    apply_value(&mut classes);
    let c = classes
        .into_iter()
        .next()
        .ok_or_else(|| failed(anyhow!("the run measured nothing")))?;
    if !c.is_ok() {
        return Err(failed(anyhow!(
            "{}: {}",
            c.name,
            c.failure.as_deref().unwrap_or("failed")
        )));
    }
    Ok(c)
}

fn first_capacity(c: &ClassResult) -> Result<(f64, CapacityOrigin, String), CliError> {
    let (points, _) = class_capacity(c);
    let p = points
        .into_iter()
        .next()
        .ok_or_else(|| failed(anyhow!("{}: no capacity figure", c.name)))?;
    Ok((p.capacity_rps, p.origin, p.note))
}

/// `dynobench validate --capacity`.
pub(crate) fn validate_capacity(a: &ValidateArgs) -> Result<Outcome, CliError> {
    crate::interrupt::install();
    let calls = a.calls.to_string();
    let mut out = CapacityCheck::default();
    // 1. A 1-core quota class (2 workers), hosted in full.
    eprintln!("validate --capacity: cpu-1 with one caller (service times)");
    let one = measure(a, &["--class", "cpu-1", "--calls", &calls])?;
    let (model, origin, note) = first_capacity(&one)?;
    let svc_ms = one.latency.mean_us / 1000.0;
    eprintln!("validate --capacity: cpu-1, saturated closed loop (4 callers)");
    let sat = measure(a, &["--class", "cpu-1", "--calls", &calls, "--concurrency", "4"])?;
    // A loose SLO (20 service times) so that the search stops near saturation, not at a
    // latency target.
    let slo = format!("p95<={:.0}ms", (svc_ms * 20.0).max(500.0));
    eprintln!("validate --capacity: cpu-1, --find-capacity --slo {slo}");
    let searched = measure(
        a,
        &[
            "--class",
            "cpu-1",
            "--calls",
            &calls,
            "--find-capacity",
            "--slo",
            &slo,
            "--capacity-steps",
            "10",
        ],
    )?;
    let held = searched
        .capacity
        .as_ref()
        .and_then(|c| c.max_rate_rps)
        .ok_or_else(|| failed(anyhow!("cpu-1: the capacity search held no rate against {slo}")))?;
    let broke = searched.capacity.as_ref().and_then(|c| c.broke_at_rps);
    out.rows.push(CapacityCheckRow {
        check: "capacity".into(),
        case: "cpu-1 (1-core quota, 2 workers), search".into(),
        model,
        measured: held,
        goal_pct: CAPACITY_GOAL,
        detail: format!(
            "model {} from one caller: {note}; measured: the highest rate holding {slo} (broke at {})",
            origin.name(),
            broke.map_or("-".into(), |b| format!("{b:.2} req/s"))
        ),
    });
    out.rows.push(CapacityCheckRow {
        check: "capacity".into(),
        case: "cpu-1 (1-core quota, 2 workers), saturated".into(),
        model,
        measured: sat.throughput_rps,
        goal_pct: CAPACITY_GOAL,
        detail: "measured: a closed loop of 4 callers for 2 workers (every worker always busy)".into(),
    });
    // 2. A 2-core dedicated class (4 workers) at 1 core (capped) and at 2.
    eprintln!("validate --capacity: cpu-2 capped to 1 core, saturated closed loop (8 callers)");
    let at1 = measure(a, &["--class", "cpu-2", "--calls", &calls, "--concurrency", "8"])?;
    let here1 = at1.limits.as_ref().map_or(0, |l| l.cpus.len());
    eprintln!("validate --capacity: cpu-2 on 2 cores (--share-driver-cpu), saturated closed loop");
    let at2 = measure(
        a,
        &[
            "--class",
            "cpu-2",
            "--calls",
            &calls,
            "--concurrency",
            "8",
            "--share-driver-cpu",
        ],
    )?;
    let here2 = at2.limits.as_ref().map_or(0, |l| l.cpus.len());
    if here1 != 1 || here2 < 2 {
        out.notes.push(format!(
            "this machine gave cpu-2 {here1} CPU(s) capped and {here2} shared: the scaling check needs exactly 1 and 2 (a 2-CPU machine)"
        ));
    }
    let (model2, origin2, note2) = first_capacity(&at1)?;
    out.rows.push(CapacityCheckRow {
        check: "1 → 2 cores".into(),
        case: "cpu-2 (2 cores, 4 workers), throughput ratio".into(),
        model: model2 / at1.throughput_rps,
        measured: at2.throughput_rps / at1.throughput_rps,
        goal_pct: SCALING_GOAL,
        detail: format!(
            "1 core: {:.2} req/s measured; 2 cores: model {:.2} req/s ({}: {note2}), measured {:.2} req/s",
            at1.throughput_rps,
            model2,
            origin2.name(),
            at2.throughput_rps
        ),
    });
    out.notes.push(format!(
        "{} measured calls per load; limiter {}; at 2 cores the driver shares a CPU with the server",
        a.calls,
        one.limits
            .as_ref()
            .and_then(|l| l.backend)
            .map_or("-".into(), |b| b.name().to_string())
    ));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out).map_err(failed)?);
    } else {
        print!("{}", crate::report::model_check::render_capacity(&out));
    }
    Ok(Outcome::Ok)
}
