//! `dynobench plan`: read the run through the one reader (the newest under results/ by
//! default), take each ok class's measured demand — or one class's demand for every class
//! of another catalog (`--classes cloudrun`) — plan dynos and the month's bill per class
//! at the class's own CPU and billing, print and write the CSV.

use std::path::PathBuf;

use anyhow::anyhow;

use super::common::{print, write_file};
use super::simulate::{sim_err, svc_err};
use crate::class::{Catalog, DynoClass};
use crate::cli::PlanArgs;
use crate::error::{CliError, Outcome, usage};
use crate::record::ClassResult;
use crate::report::reader::{RunFile, latest_run, read_run};
use crate::report::service::{HistSource, class_demand, class_of, class_service};
use crate::simulate::Policy;
use crate::simulate::cpu::DemandDist;
use crate::simulate::event::EventConfig;
use crate::simulate::plan::{self, CpuScenario, DynoModel, PlanClass, PlanConfig, Workers};
use crate::units::fmt_secs;

/// The dyno model of a class with measured demand: its workers on its CPU situations.
fn cpu_model(
    a: &PlanArgs,
    class: &DynoClass,
    limits: Option<&crate::record::AppliedLimits>,
    demand: DemandDist,
    measured_at: u32,
) -> DynoModel {
    let scenarios = match (limits, a.cpu_local) {
        (Some(l), true) => vec![CpuScenario {
            label: "as applied here".into(),
            cpu: crate::simulate::cpu::Cpu::from_limits(l),
        }],
        _ => plan::scenarios_for(class),
    };
    let top = scenarios.iter().map(|s| s.cpu.limit()).fold(0.0, f64::max);
    let workers = match a.workers {
        Some(w) => Workers::Fixed(w),
        None => Workers::Search {
            max: a.max_workers.unwrap_or_else(|| plan::max_workers(top, &demand)),
            measured_at: a.max_workers.is_none().then_some(measured_at.max(1)),
        },
    };
    DynoModel::Cpu {
        workers,
        scenarios,
        demand,
    }
}

/// The run's own classes, each with its measured demand (or, without CPU figures, its
/// measured service times); the classes skipped, with why.
fn run_classes(a: &PlanArgs, run: &RunFile) -> Result<(Vec<PlanClass>, Vec<String>), CliError> {
    let wanted: Vec<&ClassResult> = if a.classes.is_empty() {
        run.report.classes.iter().collect()
    } else {
        a.classes
            .iter()
            .map(|c| class_of(run, c))
            .collect::<Result<_, _>>()
            .map_err(svc_err)?
    };
    let mut skipped = Vec::new();
    let mut classes = Vec::new();
    for c in wanted {
        if !c.is_ok() {
            skipped.push(format!(
                "{}: skipped (status '{}' in the run)",
                c.name,
                c.status.name()
            ));
            continue;
        }
        let workers = Some(c.workers).filter(|&w| w > 0).ok_or_else(|| {
            usage(anyhow!(
                "{}: class '{}' has no workers (WEB_CONCURRENCY) of at least 1",
                run.path.display(),
                c.name
            ))
        })?;
        if !(c.price_usd_month.is_finite() && c.price_usd_month >= 0.0) {
            return Err(usage(anyhow!(
                "{}: class '{}' has no usable price_usd_month (a non-negative number)",
                run.path.display(),
                c.name
            )));
        }
        let mut class = c.class.clone();
        class.price_usd_month = c.price_usd_month;
        match class_demand(run, c).map_err(svc_err)? {
            Some((demand, source)) => classes.push(PlanClass {
                name: c.name.clone(),
                model: cpu_model(a, &class, c.limits.as_ref(), demand, c.load.concurrency),
                class,
                source,
            }),
            None => {
                let s = class_service(run, c).map_err(svc_err)?;
                let measured_at = c.load.concurrency;
                if workers > 1 && measured_at > 0 && measured_at < workers {
                    skipped.push(format!(
                        "{}: note: no CPU figures in the run, so each worker is modelled as an independent server at the service times measured with {measured_at} caller(s); \
                         if the workers share the class's CPU, service under load is slower",
                        c.name
                    ));
                }
                classes.push(PlanClass {
                    name: c.name.clone(),
                    class,
                    source: match s.source {
                        HistSource::ServerWall => "server_wall".into(),
                        other => other.to_string(),
                    },
                    model: DynoModel::Servers {
                        workers: a.workers.unwrap_or(workers),
                        service: s.dist,
                    },
                });
            }
        }
    }
    Ok((classes, skipped))
}

/// Every class of another catalog (or those named with --class), each planned at its own
/// CPU and billing with the demand of one measured class of the run.
fn catalog_classes(
    a: &PlanArgs,
    run: &RunFile,
    spec: &str,
) -> Result<(Vec<PlanClass>, Vec<String>), CliError> {
    let catalog = Catalog::load(spec).map_err(usage)?;
    let source_class: &ClassResult = match &a.demand_from {
        Some(name) => class_of(run, name).map_err(svc_err)?,
        None => run
            .report
            .classes
            .iter()
            .filter(|c| c.is_ok() && (!c.demand.cpu_us.is_empty() || c.histograms.server_cpu.is_some()))
            .min_by(|x, y| {
                let w = |c: &ClassResult| c.cpu_wait_per_request_us.unwrap_or(f64::INFINITY);
                w(x).total_cmp(&w(y))
            })
            .ok_or_else(|| {
                usage(anyhow!(
                    "{}: no ok class with CPU figures to take the demand from (--classes needs a run of the dynobench endpoint, or of a server whose CPU per request was measured)",
                    run.path.display()
                ))
            })?,
    };
    let Some((demand, source)) = class_demand(run, source_class).map_err(svc_err)? else {
        return Err(usage(anyhow!(
            "{}: class '{}' has no CPU figures to plan other classes with; name another with --demand-from",
            run.path.display(),
            source_class.name
        )));
    };
    let wanted: Vec<&DynoClass> = if a.classes.is_empty() {
        catalog.classes.iter().collect()
    } else {
        a.classes
            .iter()
            .map(|n| catalog.class(n).map_err(|e| usage(anyhow!("--class: {e}"))))
            .collect::<Result<_, _>>()?
    };
    let classes = wanted
        .into_iter()
        .map(|k| PlanClass {
            name: k.name.clone(),
            model: cpu_model(a, k, None, demand.clone(), source_class.load.concurrency),
            class: k.clone(),
            source: format!("{source} of {}", source_class.name),
        })
        .collect();
    let note = format!(
        "demand: {} per-request CPU and non-CPU times measured on '{}' in {} (CPU time at one core of this machine; a platform's cores may be faster or slower)",
        source,
        source_class.name,
        run.path.display()
    );
    Ok((classes, vec![note]))
}

/// With `--service`: every class (of the --classes catalog, else of the run) planned with
/// those service times as CPU demand at one core.
fn service_classes(
    a: &PlanArgs,
    run: Option<&RunFile>,
    spec: &str,
) -> Result<(Vec<PlanClass>, Vec<String>), CliError> {
    let loaded = crate::report::service::load_service(spec).map_err(svc_err)?;
    let demand = DemandDist::Independent {
        cpu: loaded.dist,
        other: crate::simulate::service::ServiceDist::Deterministic(0.0),
    };
    let source = format!("--service {spec}");
    let mut classes = Vec::new();
    match (&a.catalog, run) {
        (Some(cat), _) => {
            let catalog = Catalog::load(cat).map_err(usage)?;
            for k in &catalog.classes {
                if a.classes.is_empty() || a.classes.contains(&k.name) {
                    classes.push((k.clone(), None));
                }
            }
            for n in &a.classes {
                catalog.class(n).map_err(|e| usage(anyhow!("--class: {e}")))?;
            }
        }
        (None, Some(run)) => {
            for c in &run.report.classes {
                if a.classes.is_empty() || a.classes.contains(&c.name) {
                    let mut k = c.class.clone();
                    k.price_usd_month = c.price_usd_month;
                    classes.push((k, c.limits.clone()));
                }
            }
        }
        (None, None) => unreachable!("a run is read unless --classes is given"),
    }
    let classes = classes
        .into_iter()
        .map(|(k, limits)| PlanClass {
            name: k.name.clone(),
            model: cpu_model(a, &k, limits.as_ref(), demand.clone(), 1),
            class: k,
            source: source.clone(),
        })
        .collect();
    Ok((
        classes,
        vec![format!(
            "demand: {}, all CPU time at one core (no IO), from --service",
            loaded.label
        )],
    ))
}

/// The model's measured p95 error band from a `validate --json` result, in words: the
/// explicit --validate file (an error when unreadable), else results/validate.json when it
/// exists, else "none".
fn validate_band(a: &PlanArgs) -> Result<String, CliError> {
    let default = std::path::Path::new("results/validate.json");
    let path = match &a.validate {
        Some(p) => p.as_path(),
        None if default.is_file() => default,
        None => {
            return Ok(
                "model error band: none (no validate result; run `dynobench validate --json > \
                       results/validate.json` or pass --validate FILE)"
                    .into(),
            );
        }
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(anyhow!("--validate {}: cannot read it: {e}", path.display())))?;
    let check: crate::record::model_check::ModelCheck = serde_json::from_str(&text).map_err(|e| {
        usage(anyhow!(
            "--validate {}: not the JSON of `dynobench validate --json` ({e})",
            path.display()
        ))
    })?;
    let mut errs: Vec<f64> = check
        .rows
        .iter()
        .map(|r| r.p95_error() * 100.0)
        .filter(|e| e.is_finite())
        .collect();
    if errs.is_empty() {
        return Ok(format!(
            "model error band: none ({} holds no measured loads)",
            path.display()
        ));
    }
    errs.sort_by(f64::total_cmp);
    let within = errs.iter().filter(|e| e.abs() <= 20.0).count();
    Ok(format!(
        "model error band (validate, {}): predicted p95 {:+.0}% to {:+.0}% of measured over {} loads, \
         median {:+.0}%, within 20% in {within} of {}; the plan's {} carries that error",
        path.display(),
        errs[0],
        errs[errs.len() - 1],
        errs.len(),
        errs[errs.len() / 2],
        errs.len(),
        a.slo.metric_name()
    ))
}

/// `dynobench plan`.
pub(crate) fn plan(a: PlanArgs) -> Result<Outcome, CliError> {
    if a.max_dynos == 0 {
        return Err(usage(anyhow!("--max-dynos must be at least 1 (got 0)")));
    }
    if a.demand_from.is_some() && a.catalog.is_none() {
        return Err(usage(anyhow!(
            "--demand-from only applies with --classes CATALOG (planning another catalog's classes)"
        )));
    }
    if a.service.is_some() && a.demand_from.is_some() {
        return Err(usage(anyhow!(
            "--service and --demand-from both name the demand; give one"
        )));
    }
    // --service with --classes needs no run.
    let run = if a.service.is_some() && a.catalog.is_some() && a.results.is_none() {
        None
    } else {
        let results: PathBuf = match &a.results {
            Some(p) => p.clone(),
            None => latest_run(std::path::Path::new("results")).map_err(|e| {
                usage(anyhow!(
                    "{e}; run `dynobench run` first, name a run with --results results/RUN, \
                     or plan --service SPEC --classes CATALOG"
                ))
            })?,
        };
        Some(read_run(&results).map_err(usage)?)
    };
    let (classes, skipped) = match (&a.service, &a.catalog, &run) {
        (Some(spec), _, run) => service_classes(&a, run.as_ref(), spec)?,
        (None, Some(spec), Some(run)) => catalog_classes(&a, run, spec)?,
        (None, None, Some(run)) => run_classes(&a, run)?,
        (None, _, None) => unreachable!("a run is read unless --service is given"),
    };
    let from = match (&a.service, &run) {
        (Some(spec), _) => format!("--service {spec}"),
        (None, Some(run)) => run.path.display().to_string(),
        (None, None) => String::new(),
    };
    if classes.is_empty() {
        return Err(usage(anyhow!(
            "{from}: no class with status ok to plan for ({})",
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
    let band = validate_band(&a)?;
    let plans = plan::plan(&cfg, &classes).map_err(sim_err)?;
    let best = plan::cheapest(&plans);
    let routing = match a.routing {
        Policy::PerRouterLeastConnections => a.routing.label(a.routers),
        p => p.name().to_string(),
    };
    let mut text = format!(
        "dynobench plan: {} req/s, SLO {}, {routing} routing, service times from {}\n\
         Each size simulated with {} samples × {} requests ({} arrivals, backlog {}, router timeout {}), seed {}; \
         each class billed as its platform bills, over its platform's month.\n\n",
        a.rate,
        a.slo,
        from,
        a.samples,
        a.requests,
        a.arrivals,
        a.backlog,
        fmt_secs(a.timeout),
        a.seed,
    );
    let intro = text.clone();
    let body = crate::report::plan::render_plan(&plans, best, &a.slo, a.rate, &skipped);
    text.push_str(&body);
    text.push_str(&band);
    text.push('\n');
    let csv = crate::report::plan::render_plan_csv(&plans, &a.slo, a.rate);
    if let Some(path) = &a.csv {
        write_file(path, "--csv", &csv)?;
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    if let Some(path) = &a.html {
        // The page shows the table from the CSV and the text's conclusions below its table.
        let conclusions = body.split_once("\n\n").map_or("", |(_, rest)| rest);
        let title = format!("dynobench plan: {} req/s, SLO {}", a.rate, a.slo);
        let page = crate::report::export::html::plan_page(&title, &intro, &csv, conclusions);
        write_file(path, "--html", &page)?;
        text.push_str(&format!("page: {}\n", path.display()));
    }
    print(&text)?;
    Ok(if best.is_some() {
        Outcome::Ok
    } else {
        Outcome::ThresholdFailed
    })
}
