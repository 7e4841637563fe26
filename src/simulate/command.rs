//! The `simulate` and `plan` subcommands: validate flags, load measured service times, run the
//! simulations, print the table and findings, and write the CSV/SVG files asked for.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};

use super::event::{self, EventConfig};
use super::output::{self, Criterion, Points, SimReport};
use super::plan::{self, PlanClass, PlanConfig};
use super::service::{self, RunFile, ServiceError, fmt_secs};
use super::tick::{self, TickConfig};
use super::{Arrivals, Policy, SimError, UtilRange};
use crate::cli::{Engine, PlanArgs, SimulateArgs};
use crate::error::{CliError, Outcome, failed, usage};

fn sim_err(e: SimError) -> CliError {
    usage(anyhow!(e))
}

fn svc_err(e: ServiceError) -> CliError {
    usage(anyhow!(e))
}

/// Writes `text` to `path`, naming the flag when that fails.
fn write_file(path: &Path, flag: &str, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .with_context(|| format!("{flag} {}: cannot write the file", path.display()))
        .map_err(usage)
}

fn print(text: &str) -> Result<(), CliError> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")
        .map_err(failed)
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
pub fn simulate(a: SimulateArgs) -> Result<Outcome, CliError> {
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
    let f = output::findings(&report);
    let mut text = output::render_table(&report, a.every);
    text.push('\n');
    text.push_str(&output::render_findings(&report, &f));
    if let Some(path) = &a.csv {
        write_file(path, "--csv", &output::render_csv(&report))?;
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    if let Some(path) = &a.svg {
        let svg = output::render_svg(&report).map_err(|e| failed(anyhow!(e)))?;
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
    let range = a.util.clone().unwrap_or(UtilRange {
        start: 0.0,
        end: 110.0,
        step: 1.0,
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
    let range = a.util.clone().unwrap_or(UtilRange {
        start: 0.0,
        end: 110.0,
        step: 5.0,
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

/// `dynobench plan`.
pub fn plan(a: PlanArgs) -> Result<Outcome, CliError> {
    let run = RunFile::load(&a.results).map_err(svc_err)?;
    if a.max_dynos == 0 {
        return Err(usage(anyhow!("--max-dynos must be at least 1 (got 0)")));
    }
    let wanted: Vec<&service::RunClass> = if a.classes.is_empty() {
        run.classes.iter().collect()
    } else {
        a.classes
            .iter()
            .map(|c| run.class(c))
            .collect::<Result<_, _>>()
            .map_err(svc_err)?
    };
    let mut skipped = Vec::new();
    let mut classes = Vec::new();
    for c in wanted {
        if c.status != "ok" {
            skipped.push(format!("{}: skipped (status '{}' in the run)", c.name, c.status));
            continue;
        }
        let workers = c.workers.filter(|&w| w > 0).ok_or_else(|| {
            usage(anyhow!(
                "{}: class '{}' has no workers (WEB_CONCURRENCY) of at least 1",
                run.path.display(),
                c.name
            ))
        })?;
        let price = c
            .price_usd_month
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| {
                usage(anyhow!(
                    "{}: class '{}' has no price_usd_month (a non-negative number)",
                    run.path.display(),
                    c.name
                ))
            })?;
        let s = run.service(c).map_err(svc_err)?;
        let measured_at = c.load.as_ref().map_or(0, |l| l.concurrency);
        if workers > 1 && measured_at > 0 && measured_at < workers {
            // The simulation runs `workers` requests at once per dyno at the measured service
            // times; on a class whose workers share a CPU, concurrent requests are slower.
            skipped.push(format!(
                "{}: note: service times were measured with {measured_at} caller(s) but each dyno runs {workers} workers; \
                 if they share the class's CPU, service under load is slower than measured (measure with --concurrency {workers})",
                c.name
            ));
        }
        classes.push(PlanClass {
            name: c.name.clone(),
            workers,
            price_usd_month: price,
            source: match s.source {
                service::HistSource::ServerWall => "server_wall".into(),
                other => other.to_string(),
            },
            service: s.dist,
        });
    }
    if classes.is_empty() {
        return Err(usage(anyhow!(
            "{}: no class with status ok to plan for ({})",
            run.path.display(),
            if skipped.is_empty() {
                "the run has no classes".to_string()
            } else {
                skipped.join("; ")
            }
        )));
    }
    let cfg = PlanConfig {
        rate: a.rate,
        slo: a.slo.clone(),
        policy: a.routing,
        sim: EventConfig {
            requests: a.requests,
            samples: a.samples,
            routers: a.routers,
            backlog: a.backlog,
            timeout: a.timeout,
            arrivals: a.arrivals,
            seed: a.seed,
            ..EventConfig::default()
        },
        max_dynos: a.max_dynos,
    };
    let plans = plan::plan(&cfg, &classes).map_err(sim_err)?;
    let best = plan::cheapest(&plans);
    let routing = match a.routing {
        Policy::PerRouterLeastConnections => a.routing.label(a.routers),
        p => p.name().to_string(),
    };
    let mut text = format!(
        "dynobench plan: {} req/s, SLO {}, {routing} routing, service times from {}\n\
         Each size simulated with {} samples × {} requests ({} arrivals, backlog {}, router timeout {}), seed {}; \
         a month is {} h.\n\n",
        a.rate,
        a.slo,
        run.path.display(),
        a.samples,
        a.requests,
        a.arrivals,
        a.backlog,
        fmt_secs(a.timeout),
        a.seed,
        plan::HOURS_PER_MONTH
    );
    text.push_str(&output::render_plan(&plans, best, &a.slo, a.rate, &skipped));
    if let Some(path) = &a.csv {
        write_file(path, "--csv", &output::render_plan_csv(&plans, &a.slo, a.rate))?;
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    print(&text)?;
    Ok(if best.is_some() {
        Outcome::Ok
    } else {
        Outcome::ThresholdFailed
    })
}
