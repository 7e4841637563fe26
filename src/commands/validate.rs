//! `dynobench validate`: checks the CPU capacity model against the real thing. For each
//! class and profile it measures the class's per-request demand with one caller, asks the
//! model (one dyno, the class's workers on the cores applied here) for a closed loop at
//! concurrency = workers and for open loops at 50% and 80% of the capacity it predicts,
//! runs the same three loads live in the local sandbox, and prints measured vs predicted
//! throughput, p50 and p95.

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
        "10",
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
    // 1. Demand, from one caller.
    plan.load = LoadModel::Closed { concurrency: 1 };
    let calib = measure(&plan)?;
    let demand = measured_pairs(class, &calib)?;
    let case = Case {
        class,
        profile,
        cpu: calib.limits.as_ref().map_or(Cpu::cores(1.0), Cpu::from_limits),
        workers,
        demand: &demand,
    };
    // 2. Predictions, and the same loads live.
    for (label, load, predicted) in predicted_loads(&case)? {
        if crate::interrupt::requested() {
            return Err(CliError::Interrupted(anyhow!("interrupted")));
        }
        plan.load = load;
        let m = measure(&plan)?;
        let rps = predicted_rps(&plan, &load, &predicted);
        out.rows.push(check_row(&case, label, rps, &predicted, &m));
        keep_warnings(out, class, &m);
    }
    Ok(())
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
/// then open loops at 50% and 80% of the capacity that closed loop predicts.
fn predicted_loads(case: &Case) -> Result<Vec<(String, LoadModel, EventPoint)>, CliError> {
    let Case {
        cpu, workers, demand, ..
    } = *case;
    let sim = EventConfig {
        dynos: 1,
        workers,
        requests: 40_000,
        samples: 4,
        arrivals: Arrivals::Poisson,
        seed: 7,
        ..EventConfig::default()
    };
    let sim_err = |e| failed(anyhow!("{e}"));
    let closed =
        cpu::run_point(&sim, cpu, Policy::Random, demand, Load::Callers(workers)).map_err(sim_err)?;
    let capacity = closed.rate;
    let mut loads: Vec<(String, LoadModel, EventPoint)> = vec![(
        format!("closed, {workers} callers"),
        LoadModel::Closed { concurrency: workers },
        closed,
    )];
    for share in [0.5, 0.8] {
        let rate = capacity * share;
        let p = cpu::run_point(&sim, cpu, Policy::Random, demand, Load::Rate(rate)).map_err(sim_err)?;
        loads.push((
            format!("open {:.0}%: {rate:.2} req/s", share * 100.0),
            LoadModel::Open {
                rate,
                arrivals: Arrivals::Poisson,
                connections: 64,
            },
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
         its neighbours are always busy), demand drawn from (CPU, non-CPU) pairs measured with one caller; \
         open loops are Poisson"
            .into(),
    );
    if a.json {
        println!("{}", serde_json::to_string_pretty(&check).map_err(failed)?);
    } else {
        print!("{}", crate::report::model_check::render(&check));
    }
    Ok(Outcome::Ok)
}
