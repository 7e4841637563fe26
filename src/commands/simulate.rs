//! `dynobench simulate`: validate flags, pick the engine, resolve `--service`, run the
//! sweeps, print the table and findings, and write the CSV/SVG files asked for.

use anyhow::anyhow;

use super::common::{print, write_file};
use crate::cli::{Engine, SimulateArgs};
use crate::error::{CliError, Outcome, failed, usage};
use crate::record::Arrivals;
use crate::report::service::{self, ServiceError};
use crate::report::simulate as out;
use crate::simulate::event::{self, EventConfig};
use crate::simulate::sweep::{Criterion, Points, SimReport, findings};
use crate::simulate::tick::{self, TickConfig};
use crate::simulate::{Policy, SimError, UtilRange};
use crate::units::fmt_secs;

pub(crate) fn sim_err(e: SimError) -> CliError {
    usage(anyhow!(e))
}

pub(crate) fn svc_err(e: ServiceError) -> CliError {
    usage(anyhow!(e))
}

/// Which engine the flags ask for, or why they contradict each other.
fn pick_engine(a: &SimulateArgs) -> Result<Engine, CliError> {
    let event_flags: Vec<&str> = [
        ("--service", a.service.is_some()),
        ("--arrivals", a.arrivals.is_some()),
        ("--requests", a.requests.is_some()),
        ("--backlog", a.backlog.is_some()),
        ("--timeout", a.timeout.is_some()),
        ("--slo", a.slo.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .collect();
    match a.engine {
        Some(Engine::Tick) if !event_flags.is_empty() => Err(usage(anyhow!(
            "{} only {} to the event engine (the tick engine has one job per tick and no time unit); \
             drop --engine tick or use --engine event",
            event_flags.join(", "),
            if event_flags.len() == 1 {
                "applies"
            } else {
                "apply"
            }
        ))),
        Some(Engine::Event) if a.ticks.is_some() => Err(usage(anyhow!(
            "--ticks only applies to the tick engine; the event engine's length is --requests per sample"
        ))),
        Some(e) => Ok(e),
        None if !event_flags.is_empty() => {
            if a.ticks.is_some() {
                return Err(usage(anyhow!(
                    "--ticks is for the tick engine but {} {} the event engine",
                    event_flags.join(", "),
                    if event_flags.len() == 1 {
                        "selects"
                    } else {
                        "select"
                    }
                )));
            }
            Ok(Engine::Event)
        }
        None => Ok(Engine::Tick),
    }
}

fn policies(a: &[Policy]) -> Vec<Policy> {
    if a.is_empty() {
        return Policy::ALL.to_vec();
    }
    let mut out: Vec<Policy> = Vec::new();
    for p in a {
        if !out.contains(p) {
            out.push(*p);
        }
    }
    out
}

/// `dynobench simulate`.
pub(crate) fn simulate(a: SimulateArgs) -> Result<Outcome, CliError> {
    let engine = pick_engine(&a)?;
    if !(a.wait_jobs > 0.0 && a.wait_jobs.is_finite()) {
        return Err(usage(anyhow!(
            "--wait-jobs must be a positive number (got {})",
            a.wait_jobs
        )));
    }
    if !(a.every > 0.0 && a.every.is_finite()) {
        return Err(usage(anyhow!(
            "--every must be a positive percentage (got {})",
            a.every
        )));
    }
    let policies = policies(&a.policy);
    let report = match engine {
        Engine::Tick => simulate_tick(&a, &policies)?,
        Engine::Event => simulate_event(&a, &policies)?,
    };
    let f = findings(&report);
    let mut text = out::render_table(&report, a.every);
    text.push('\n');
    text.push_str(&out::render_findings(&report, &f));
    if let Some(path) = &a.csv {
        write_file(path, "--csv", &out::render_csv(&report))?;
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    if let Some(path) = &a.svg {
        let svg = out::render_svg(&report).map_err(|e| failed(anyhow!(e)))?;
        write_file(path, "--svg", &svg)?;
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    print(&text)?;
    Ok(Outcome::Ok)
}

fn simulate_tick(a: &SimulateArgs, policies: &[Policy]) -> Result<SimReport, CliError> {
    let cfg = TickConfig {
        dynos: a.dynos,
        workers: a.workers.unwrap_or(1),
        ticks: a.ticks.unwrap_or(500),
        samples: a.samples,
        routers: a.routers,
        seed: a.seed,
    };
    cfg.validate().map_err(sim_err)?;
    let range = a.util.clone().unwrap_or_else(|| {
        UtilRange {
            start: 0.0,
            end: 110.0,
            step: 1.0,
        }
        .into()
    });
    let utils = range.points();
    let mut sweeps = Vec::new();
    for &p in policies {
        sweeps.push((p, Points::Tick(tick::sweep(&cfg, p, &utils).map_err(sim_err)?)));
    }
    let worker_text = if cfg.workers == 1 {
        "1 job".to_string()
    } else {
        format!("{} jobs", cfg.workers)
    };
    Ok(SimReport {
        header: vec![
            format!(
                "dynobench simulate: tick engine (the classic experiment), {} dynos, {} ticks × {} samples per point, \
                 utilization {range}, seed {}",
                cfg.dynos, cfg.ticks, cfg.samples, cfg.seed
            ),
            format!(
                "Each tick, util% of total capacity arrives as jobs routed one by one, then every dyno finishes \
                 {worker_text}; the queue is what is left waiting after that."
            ),
        ],
        routers: cfg.routers,
        sweeps,
        criterion: Criterion::MeanWaitJobs(a.wait_jobs),
        seed: cfg.seed,
        dynos: cfg.dynos,
        workers: cfg.workers,
    })
}

fn simulate_event(a: &SimulateArgs, policies: &[Policy]) -> Result<SimReport, CliError> {
    let spec = a.service.as_deref().unwrap_or("exponential:100ms");
    let loaded = service::load_service(spec).map_err(svc_err)?;
    let workers = a.workers.or(loaded.workers).unwrap_or(1);
    let cfg = EventConfig {
        dynos: a.dynos,
        workers,
        requests: a.requests.unwrap_or(100_000),
        samples: a.samples,
        routers: a.routers,
        backlog: a.backlog.unwrap_or(1024),
        timeout: a.timeout.unwrap_or(30.0),
        arrivals: a.arrivals.unwrap_or(Arrivals::Poisson),
        seed: a.seed,
    };
    cfg.validate().map_err(sim_err)?;
    let range = a.util.clone().unwrap_or_else(|| {
        UtilRange {
            start: 0.0,
            end: 110.0,
            step: 5.0,
        }
        .into()
    });
    let utils = range.points();
    let mut sweeps = Vec::new();
    for &p in policies {
        let pts = event::sweep(&cfg, p, &loaded.dist, &utils).map_err(sim_err)?;
        sweeps.push((p, Points::Event(pts)));
    }
    let worker_src = match (a.workers, loaded.workers) {
        (None, Some(_)) => " (the measured class's)",
        _ => "",
    };
    Ok(SimReport {
        header: vec![
            format!(
                "dynobench simulate: event engine, {} dynos × {} worker{}{worker_src}, {} arrivals, {} samples × {} requests \
                 per point (first tenth warm-up), backlog {} per dyno, router timeout {}, utilization {range}, seed {}",
                cfg.dynos,
                cfg.workers,
                if cfg.workers == 1 { "" } else { "s" },
                cfg.arrivals,
                cfg.samples,
                cfg.requests,
                cfg.backlog,
                fmt_secs(cfg.timeout),
                cfg.seed
            ),
            format!("service times: {}", loaded.label),
        ],
        routers: cfg.routers,
        sweeps,
        criterion: match &a.slo {
            Some(s) => Criterion::Slo(s.clone()),
            None => Criterion::MeanWaitJobs(a.wait_jobs),
        },
        seed: cfg.seed,
        dynos: cfg.dynos,
        workers: cfg.workers,
    })
}
