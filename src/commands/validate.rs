//! `dynobench validate`: checks the CPU capacity model against the real thing. For each
//! class and profile it measures the class's per-request demand with one caller (and with
//! as many callers as workers), asks the model (one dyno, the class's workers on the cores
//! applied here) for a closed loop at concurrency = workers and for open loops at 50% and
//! 80% of the capacity it predicts, runs the same three loads live in the local sandbox,
//! and prints measured vs predicted throughput, p50 and p95 (and the p95 predicted at the
//! CPU per request each load measured).

use anyhow::anyhow;
use clap::Parser;

use super::common::own_exe;
use super::run::plan as run_plan;
use crate::cli::{Cli, Command, ValidateArgs};
use crate::driver::load::schedule;
use crate::driver::{self, LoadModel, RunPlan, Silent};
use crate::error::{CliError, Outcome, failed, usage};
use crate::record::model_check::{ModelCheck, ModelCheckRow};
use crate::record::{Arrivals, ClassResult};
use crate::simulate::Policy;
use crate::simulate::cpu::{self, Cpu, DemandDist, Load};
use crate::simulate::event::EventConfig;
use crate::simulate::measured::{MeasuredDemand, model_input};
use crate::simulate::sweep::EventPoint;

/// The cases checked by default: a shared class (against always-busy neighbours, so its
/// CPU is its floor), a quota-only container and a dedicated class.
const CASES: [(&str, &str); 3] = [
    ("heroku", "standard-2x"),
    ("containers", "cpu-0.5"),
    ("heroku", "performance-m"),
];

/// Warm-up calls of every live load (not counted; the model leaves as many out).
const WARMUP: u32 = 10;

fn base_plan(a: &ValidateArgs, catalog: &str, class: &str, profile: &str) -> Result<RunPlan, CliError> {
    let mut argv: Vec<String> = [
        "dynobench",
        "run",
        "--classes",
        catalog,
        "--class",
        class,
        "--profile",
        profile,
        "--neighbours",
        "steady",
        "--warmup",
        &WARMUP.to_string(),
        "--no-save",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(["--calls".into(), a.calls.to_string()]);
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

fn measure(plan: &RunPlan) -> Result<ClassResult, CliError> {
    let r = driver::run(plan, &driver::detect(), &mut Silent).map_err(|e| failed(anyhow!("{e}")))?;
    let c = r
        .classes
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

fn ms(us: Option<u64>) -> f64 {
    us.map_or(f64::NAN, |v| v as f64 / 1000.0)
}

fn check_case(
    a: &ValidateArgs,
    catalog: &str,
    class: &str,
    profile: &str,
    out: &mut ModelCheck,
) -> Result<(), CliError> {
    crate::interrupt::install();
    let mut plan = base_plan(a, catalog, class, profile)?;
    let workers = plan.classes[0].workers;
    // 1. Demand, from one caller, and (several workers) from as many callers as workers.
    plan.load = LoadModel::Closed { concurrency: 1 };
    let calib = measure(&plan)?;
    let alone = measured_pairs(class, &calib)?;
    let demand = if workers > 1 {
        plan.load = LoadModel::Closed { concurrency: workers };
        let busy = measured_pairs(class, &measure(&plan)?)?;
        DemandDist::ByConcurrency {
            alone: Box::new(alone),
            busy: Box::new(busy),
        }
    } else {
        alone
    };
    let case = Case {
        class,
        profile,
        cpu: calib.limits.as_ref().map_or(Cpu::cores(1.0), Cpu::from_limits),
        workers,
        demand: &demand,
    };
    // 2. Predictions, and the same loads live.
    for (label, load, sim_load, predicted) in predicted_loads(&case, a.calls)? {
        if crate::interrupt::requested() {
            return Err(CliError::Interrupted(anyhow!("interrupted")));
        }
        plan.load = load;
        let m = measure(&plan)?;
        let rps = predicted_rps(&plan, &load, &predicted);
        let mut row = check_row(&case, label, rps, &predicted, &m);
        row.predicted_p95_at_measured_cpu_ms = at_measured_cpu(&case, a.calls, sim_load, &m)?;
        out.rows.push(row);
        keep_warnings(out, class, &m);
    }
    Ok(())
}

/// The model's p95 for `load` with the demand's CPU rescaled to what the live load measured.
fn at_measured_cpu(case: &Case, calls: u32, load: Load, m: &ClassResult) -> Result<Option<f64>, CliError> {
    let model_cpu = case.demand.mean_cpu();
    let Some(measured) = m.cpu_per_request_us.map(|us| us / 1e6).filter(|c| *c > 0.0) else {
        return Ok(None);
    };
    let Some(demand) = case.demand.scale_cpu(measured / model_cpu) else {
        return Ok(None);
    };
    let p = predict(case, &demand, calls, load)?;
    Ok(Some(p.p95 * 1e3))
}

/// One load predicted as it is measured: `calls` counted after the warm-up, from an idle
/// dyno, pooled over many such runs.
fn predict(case: &Case, demand: &DemandDist, calls: u32, load: Load) -> Result<EventPoint, CliError> {
    let requests = u64::from(WARMUP + calls.max(1));
    let sim = EventConfig {
        dynos: 1,
        workers: case.workers,
        requests,
        samples: (40_000 / requests).max(50) as u32,
        arrivals: Arrivals::Poisson,
        seed: 7,
        ..EventConfig::default()
    };
    cpu::run_point_from(&sim, case.cpu, Policy::Random, demand, load, u64::from(WARMUP))
        .map_err(|e| failed(anyhow!("{e}")))
}

/// The demand measured with one caller: its (CPU, non-CPU) pairs.
fn measured_pairs(class: &str, calib: &ClassResult) -> Result<DemandDist, CliError> {
    match model_input(calib).demand {
        Ok(Some(MeasuredDemand {
            dist: dist @ DemandDist::Pairs(_),
            ..
        })) => Ok(dist),
        _ => Err(failed(anyhow!("{class}: the server reported no timings"))),
    }
}

/// One case checked: a class on a profile, with the CPU applied here and its demand.
struct Case<'a> {
    class: &'a str,
    profile: &'a str,
    cpu: Cpu,
    workers: u32,
    demand: &'a DemandDist,
}

/// The model's predictions for the three loads: a closed loop at concurrency = workers,
/// then open loops at 50% and 80% of the capacity that closed loop predicts, each with the
/// simulated load it stands for.
fn predicted_loads(case: &Case, calls: u32) -> Result<Vec<(String, LoadModel, Load, EventPoint)>, CliError> {
    let workers = case.workers;
    let closed = predict(case, case.demand, calls, Load::Callers(workers))?;
    let capacity = closed.rate;
    let mut loads = vec![(
        format!("closed, {workers} callers"),
        LoadModel::Closed { concurrency: workers },
        Load::Callers(workers),
        closed,
    )];
    for share in [0.5, 0.8] {
        let rate = capacity * share;
        let p = predict(case, case.demand, calls, Load::Rate(rate))?;
        loads.push((
            format!("open {:.0}%: {rate:.2} req/s", share * 100.0),
            LoadModel::Open {
                rate,
                arrivals: Arrivals::Poisson,
                connections: 64,
            },
            Load::Rate(rate),
            p,
        ));
    }
    Ok(loads)
}

/// The throughput the model predicts for a load as the plan runs it.
fn predicted_rps(plan: &RunPlan, load: &LoadModel, predicted: &EventPoint) -> f64 {
    match *load {
        LoadModel::Closed { .. } => predicted.rate,
        // Below capacity the model serves what is offered: the calls of this very
        // schedule (seeded Poisson; a few hundred calls stray from the nominal rate),
        // the last one answered after a mean response.
        LoadModel::Open { rate, .. } => {
            let sched = schedule(plan.calls, rate, Arrivals::Poisson, plan.seed);
            let span = sched.last().map_or(0.0, |d| d.as_secs_f64()) + predicted.mean_response;
            if span > 0.0 {
                f64::from(plan.calls) / span
            } else {
                rate
            }
        }
    }
}

/// Measured against predicted, for one load.
fn check_row(
    case: &Case,
    label: String,
    predicted_rps: f64,
    predicted: &EventPoint,
    m: &ClassResult,
) -> ModelCheckRow {
    ModelCheckRow {
        class: case.class.into(),
        profile: case.profile.into(),
        load: label,
        cores: case.cpu.limit(),
        quota: case.cpu.quota.is_some(),
        workers: case.workers,
        cpu_ms: case.demand.mean_cpu() * 1e3,
        other_ms: case.demand.mean_other() * 1e3,
        measured_rps: m.throughput_rps,
        predicted_rps,
        measured_p50_ms: ms(m.latency.value(50.0)),
        predicted_p50_ms: predicted.p50 * 1e3,
        measured_p95_ms: ms(m.latency.value(95.0)),
        predicted_p95_ms: predicted.p95 * 1e3,
        measured_p95_ci_ms: m.latency.percentile(95.0).map_or((None, None), |p| {
            (
                p.ci_low_us.map(|v| v as f64 / 1000.0),
                p.ci_high_us.map(|v| v as f64 / 1000.0),
            )
        }),
        measured_cpu_ms: m.cpu_per_request_us.map(|v| v / 1000.0),
        measured_cpu_wait_ms: m.cpu_wait_per_request_us.map(|v| v / 1000.0),
        predicted_p95_at_measured_cpu_ms: None,
    }
}

/// The limiter's warnings of a measurement, each once.
fn keep_warnings(out: &mut ModelCheck, class: &str, m: &ClassResult) {
    for w in m.limits.iter().flat_map(|l| l.warnings.iter()) {
        let n = format!("{class}: {w}");
        if !out.notes.contains(&n) {
            out.notes.push(n);
        }
    }
}

/// `dynobench validate`.
pub(crate) fn validate(a: ValidateArgs) -> Result<Outcome, CliError> {
    if a.capacity {
        return super::validate_capacity::validate_capacity(&a);
    }
    if a.aa {
        return super::validate_aa::validate_aa(&a);
    }
    let mut check = ModelCheck::default();
    let profiles: Vec<&str> = a.profiles.iter().map(String::as_str).collect();
    for (catalog, class) in CASES {
        for profile in &profiles {
            eprintln!("validate: {class}, {profile} profile");
            check_case(&a, catalog, class, profile, &mut check)?;
        }
    }
    check.notes.push(
        "the model: one dyno, the class's default workers on the cores applied here (a shared class at its floor: \
         its neighbours are always busy), demand drawn from (CPU, non-CPU) pairs measured with one caller for a request \
         that starts computing alone and with as many callers as workers for one that starts beside others; each load \
         predicted as measured (the same calls after the same warm-up, from an idle dyno); open loops are Poisson"
            .into(),
    );
    if a.json {
        println!("{}", serde_json::to_string_pretty(&check).map_err(failed)?);
    } else {
        print!("{}", crate::report::model_check::render(&check));
    }
    Ok(Outcome::Ok)
}
