//! `dynobench plan`: read the run through the one reader (the newest under results/ by
//! default), take each ok class's measured demand — or one class's demand for every class
//! of another catalog (`--classes cloudrun`) — plan dynos and the month's bill per class
//! at the class's own CPU and billing, print and write the CSV.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::common::{print, write_file};
use super::simulate::{sim_err, svc_err};
use crate::class::Catalog;
use crate::cli::PlanArgs;
use crate::error::{CliError, Outcome, usage};
use crate::report::reader::{RunFile, latest_run, read_run};
use crate::report::service::load_service;
use crate::simulate::Policy;
use crate::simulate::event::EventConfig;
use crate::simulate::plan::{self, ClassPlan, PlanConfig};
use crate::simulate::plan_input::{
    ModelOptions, PlanInputs, ServiceDemand, ServiceTargets, catalog_classes, run_classes, service_classes,
};
use crate::units::fmt_secs;

/// The model's measured p95 error band from a `validate --json` result, in words: the
/// explicit --validate file (an error when unreadable), else results/validate.json when it
/// exists, else "none".
fn validate_band(a: &PlanArgs) -> Result<String, CliError> {
    let default = Path::new("results/validate.json");
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

/// The flags that contradict each other.
fn check_flags(a: &PlanArgs) -> Result<(), CliError> {
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
    Ok(())
}

/// The run to plan from: --results, else the newest under results/; none for --service
/// with --classes (it needs no run).
fn read_plan_run(a: &PlanArgs) -> Result<Option<RunFile>, CliError> {
    if a.service.is_some() && a.catalog.is_some() && a.results.is_none() {
        return Ok(None);
    }
    let results: PathBuf = match &a.results {
        Some(p) => p.clone(),
        None => latest_run(Path::new("results")).map_err(|e| {
            usage(anyhow!(
                "{e}; run `dynobench run` first, name a run with --results results/RUN, \
                 or plan --service SPEC --classes CATALOG"
            ))
        })?,
    };
    Ok(Some(read_run(&results).map_err(usage)?))
}

/// The classes to plan: with --service, every class of the catalog or run; with
/// --classes, the catalog's classes with one measured class's demand; else the run's own.
fn plan_inputs(a: &PlanArgs, run: Option<&RunFile>) -> Result<PlanInputs, CliError> {
    let o = ModelOptions {
        workers: a.workers,
        max_workers: a.max_workers,
        cpu_local: a.cpu_local,
        classes: &a.classes,
    };
    let built = match (&a.service, &a.catalog, run) {
        (Some(spec), catalog, run) => {
            let loaded = load_service(spec).map_err(svc_err)?;
            let catalog = catalog.as_deref().map(Catalog::load).transpose().map_err(usage)?;
            let targets = match (&catalog, run) {
                (Some(cat), _) => ServiceTargets::Catalog(cat),
                (None, Some(run)) => ServiceTargets::Run(&run.report),
                (None, None) => unreachable!("a run is read unless --classes is given"),
            };
            let service = ServiceDemand {
                dist: loaded.dist,
                spec,
                label: &loaded.label,
            };
            service_classes(&o, targets, service)
        }
        (None, Some(catalog), Some(run)) => {
            let catalog = Catalog::load(catalog).map_err(usage)?;
            catalog_classes(&o, &run.report, &run.path, &catalog, a.demand_from.as_deref())
        }
        (None, None, Some(run)) => run_classes(&o, &run.report, &run.path),
        (None, _, None) => unreachable!("a run is read unless --service is given"),
    };
    built.map_err(|e| usage(anyhow!(e)))
}

/// The simulation settings of every size tried.
fn plan_config(a: &PlanArgs) -> PlanConfig {
    PlanConfig {
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
    }
}

/// The report's opening lines: the load, SLO, routing, where the times came from, and how
/// each size was simulated.
fn intro(a: &PlanArgs, from: &str) -> String {
    let routing = match a.routing {
        Policy::PerRouterLeastConnections => a.routing.label(a.routers),
        p => p.name().to_string(),
    };
    format!(
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
    )
}

/// The text to print, after writing the --csv and --html files asked for.
fn render(
    a: &PlanArgs,
    plans: &[ClassPlan],
    best: Option<usize>,
    notes: &[String],
    from: &str,
    band: &str,
) -> Result<String, CliError> {
    let intro = intro(a, from);
    let body = crate::report::plan::render_plan(plans, best, &a.slo, a.rate, notes);
    let mut text = format!("{intro}{body}{band}\n");
    let csv = crate::report::plan::render_plan_csv(plans, &a.slo, a.rate);
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
    Ok(text)
}

/// `dynobench plan`.
pub(crate) fn plan(a: PlanArgs) -> Result<Outcome, CliError> {
    check_flags(&a)?;
    let run = read_plan_run(&a)?;
    let inputs = plan_inputs(&a, run.as_ref())?;
    let from = match (&a.service, &run) {
        (Some(spec), _) => format!("--service {spec}"),
        (None, Some(run)) => run.path.display().to_string(),
        (None, None) => String::new(),
    };
    if inputs.classes.is_empty() {
        return Err(usage(anyhow!(
            "{from}: no class with status ok to plan for ({})",
            if inputs.notes.is_empty() {
                "the run has no classes".to_string()
            } else {
                inputs.notes.join("; ")
            }
        )));
    }
    let band = validate_band(&a)?;
    let plans = plan::plan(&plan_config(&a), &inputs.classes).map_err(sim_err)?;
    let best = plan::cheapest(&plans);
    print(&render(&a, &plans, best, &inputs.notes, &from, &band)?)?;
    Ok(if best.is_some() {
        Outcome::Ok
    } else {
        Outcome::ThresholdFailed
    })
}
