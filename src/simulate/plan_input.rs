//! The classes `plan` plans, built from a measured run: the run's own classes with their
//! measured demand (or service times), another catalog's classes with the demand of one
//! measured class, or every class with `--service` times as CPU demand. Pure: the run and
//! the catalog come in read; the measured figures are converted by [`super::measured`].

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::cpu::{Cpu, DemandDist};
use super::measured::{HistSource, MeasuredError, model_input};
use super::plan::{CpuScenario, DynoModel, PlanClass, Workers, max_workers, scenarios_for};
use super::service::ServiceDist;
use crate::class::{Catalog, DynoClass};
use crate::record::{AppliedLimits, ClassResult, RunReport};

/// Why the classes to plan could not be built (all are input errors).
#[derive(Debug, Error)]
pub enum PlanInputError {
    /// A class name that the run does not hold.
    #[error("{} has no class '{class}'; it has: {}", path.display(), list(available))]
    MissingClass {
        /// The run.json.
        path: PathBuf,
        /// The class asked for.
        class: String,
        /// The classes that exist.
        available: Vec<String>,
    },
    /// A measured class whose figures do not convert.
    #[error("{}: {error}", path.display())]
    Measured {
        /// The run.json.
        path: PathBuf,
        /// What is wrong with the class (shown in this message, not as a cause).
        error: MeasuredError,
    },
    /// A class measured without workers.
    #[error("{}: class '{class}' has no workers (WEB_CONCURRENCY) of at least 1", path.display())]
    NoWorkers {
        /// The run.json.
        path: PathBuf,
        /// The class.
        class: String,
    },
    /// A class without a usable price.
    #[error("{}: class '{class}' has no usable price_usd_month (a non-negative number)", path.display())]
    NoPrice {
        /// The run.json.
        path: PathBuf,
        /// The class.
        class: String,
    },
    /// No class of the run can lend its demand to another catalog.
    #[error(
        "{}: no ok class with CPU figures to take the demand from (--classes needs a run of the dynobench endpoint, or of a server whose CPU per request was measured)",
        path.display()
    )]
    NoDemandClass {
        /// The run.json.
        path: PathBuf,
    },
    /// The class named to lend its demand has no CPU figures.
    #[error(
        "{}: class '{class}' has no CPU figures to plan other classes with; name another with --demand-from",
        path.display()
    )]
    NoCpuFigures {
        /// The run.json.
        path: PathBuf,
        /// The class.
        class: String,
    },
    /// A `--class` the catalog does not hold.
    #[error("--class: {0}")]
    UnknownClass(String),
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// The plan flags that shape each class's model.
#[derive(Debug, Clone, Copy)]
pub struct ModelOptions<'a> {
    /// `--workers`: every class at this many workers (else searched, or the measured ones).
    pub workers: Option<u32>,
    /// `--max-workers`: the top of the workers search.
    pub max_workers: Option<u32>,
    /// `--cpu-local`: plan at the CPU applied here rather than at the class's own.
    pub cpu_local: bool,
    /// `--class`: the classes to plan (every one when empty).
    pub classes: &'a [String],
}

/// The classes to plan, and notes for the report (classes skipped and why, where the
/// demand came from).
#[derive(Debug, Clone)]
pub struct PlanInputs {
    /// The classes.
    pub classes: Vec<PlanClass>,
    /// One line each.
    pub notes: Vec<String>,
}

/// The dyno model of a class with measured demand: its workers on its CPU situations.
pub fn cpu_model(
    o: &ModelOptions,
    class: &DynoClass,
    limits: Option<&AppliedLimits>,
    demand: DemandDist,
    measured_at: u32,
) -> DynoModel {
    let scenarios = match (limits, o.cpu_local) {
        (Some(l), true) => vec![CpuScenario {
            label: "as applied here".into(),
            cpu: Cpu::from_limits(l),
        }],
        _ => scenarios_for(class),
    };
    let top = scenarios.iter().map(|s| s.cpu.limit()).fold(0.0, f64::max);
    let workers = match o.workers {
        Some(w) => Workers::Fixed(w),
        None => Workers::Search {
            max: o.max_workers.unwrap_or_else(|| max_workers(top, &demand)),
            measured_at: o.max_workers.is_none().then_some(measured_at.max(1)),
        },
    };
    DynoModel::Cpu {
        workers,
        scenarios,
        demand,
    }
}

/// The class called `name` of the run at `path`, or an error listing the ones it holds.
fn class_of<'a>(run: &'a RunReport, path: &Path, name: &str) -> Result<&'a ClassResult, PlanInputError> {
    run.class(name).ok_or_else(|| PlanInputError::MissingClass {
        path: path.to_path_buf(),
        class: name.to_string(),
        available: run.classes.iter().map(|c| c.name.clone()).collect(),
    })
}

/// The run's own classes, each with its measured demand (or, without CPU figures, its
/// measured service times); the classes skipped, with why.
pub fn run_classes(o: &ModelOptions, run: &RunReport, path: &Path) -> Result<PlanInputs, PlanInputError> {
    let wanted: Vec<&ClassResult> = if o.classes.is_empty() {
        run.classes.iter().collect()
    } else {
        o.classes
            .iter()
            .map(|c| class_of(run, path, c))
            .collect::<Result<_, _>>()?
    };
    let mut out = PlanInputs {
        classes: Vec::new(),
        notes: Vec::new(),
    };
    for c in wanted {
        if !c.is_ok() {
            out.notes.push(format!(
                "{}: skipped (status '{}' in the run)",
                c.name,
                c.status.name()
            ));
            continue;
        }
        run_class(o, c, path, &mut out)?;
    }
    Ok(out)
}

/// One ok class of the run, planned at its own CPU and billing.
fn run_class(
    o: &ModelOptions,
    c: &ClassResult,
    path: &Path,
    out: &mut PlanInputs,
) -> Result<(), PlanInputError> {
    let workers = Some(c.workers)
        .filter(|&w| w > 0)
        .ok_or_else(|| PlanInputError::NoWorkers {
            path: path.to_path_buf(),
            class: c.name.clone(),
        })?;
    if !(c.price_usd_month.is_finite() && c.price_usd_month >= 0.0) {
        return Err(PlanInputError::NoPrice {
            path: path.to_path_buf(),
            class: c.name.clone(),
        });
    }
    let measured_err = |error| PlanInputError::Measured {
        path: path.to_path_buf(),
        error,
    };
    let mut class = c.class.clone();
    class.price_usd_month = c.price_usd_month;
    let input = model_input(c);
    if let Some(d) = input.demand.map_err(measured_err)? {
        out.classes.push(PlanClass {
            name: c.name.clone(),
            model: cpu_model(o, &class, c.limits.as_ref(), d.dist, c.load.concurrency),
            class,
            source: d.source,
        });
        return Ok(());
    }
    let s = input.service.map_err(measured_err)?;
    let measured_at = c.load.concurrency;
    if workers > 1 && measured_at > 0 && measured_at < workers {
        out.notes.push(format!(
            "{}: note: no CPU figures in the run, so each worker is modelled as an independent server at the service times measured with {measured_at} caller(s); \
             if the workers share the class's CPU, service under load is slower",
            c.name
        ));
    }
    out.classes.push(PlanClass {
        name: c.name.clone(),
        class,
        source: match s.source {
            HistSource::ServerWall => "server_wall".into(),
            other => other.to_string(),
        },
        model: DynoModel::Servers {
            workers: o.workers.unwrap_or(workers),
            service: s.dist,
        },
    });
    Ok(())
}

/// The class whose demand plans another catalog: the one named, else the ok class with CPU
/// figures that waited least for the CPU.
fn demand_class<'a>(
    run: &'a RunReport,
    path: &Path,
    demand_from: Option<&str>,
) -> Result<&'a ClassResult, PlanInputError> {
    if let Some(name) = demand_from {
        return class_of(run, path, name);
    }
    run.classes
        .iter()
        .filter(|c| c.is_ok() && (!c.demand.cpu_us.is_empty() || c.histograms.server_cpu.is_some()))
        .min_by(|x, y| {
            let w = |c: &ClassResult| c.cpu_wait_per_request_us.unwrap_or(f64::INFINITY);
            w(x).total_cmp(&w(y))
        })
        .ok_or_else(|| PlanInputError::NoDemandClass {
            path: path.to_path_buf(),
        })
}

/// The catalog's classes named with `--class` (every one when none is), in catalog order
/// when none is, else in the order named.
fn catalog_wanted<'a>(o: &ModelOptions, catalog: &'a Catalog) -> Result<Vec<&'a DynoClass>, PlanInputError> {
    if o.classes.is_empty() {
        return Ok(catalog.classes.iter().collect());
    }
    o.classes
        .iter()
        .map(|n| catalog.class(n).map_err(PlanInputError::UnknownClass))
        .collect()
}

/// Every class of another catalog (or those named with --class), each planned at its own
/// CPU and billing with the demand of one measured class of the run.
pub fn catalog_classes(
    o: &ModelOptions,
    run: &RunReport,
    path: &Path,
    catalog: &Catalog,
    demand_from: Option<&str>,
) -> Result<PlanInputs, PlanInputError> {
    let source_class = demand_class(run, path, demand_from)?;
    let demand = model_input(source_class)
        .demand
        .map_err(|error| PlanInputError::Measured {
            path: path.to_path_buf(),
            error,
        })?
        .ok_or_else(|| PlanInputError::NoCpuFigures {
            path: path.to_path_buf(),
            class: source_class.name.clone(),
        })?;
    let classes = catalog_wanted(o, catalog)?
        .into_iter()
        .map(|k| PlanClass {
            name: k.name.clone(),
            model: cpu_model(o, k, None, demand.dist.clone(), source_class.load.concurrency),
            class: k.clone(),
            source: format!("{} of {}", demand.source, source_class.name),
        })
        .collect();
    let note = format!(
        "demand: {} per-request CPU and non-CPU times measured on '{}' in {} (CPU time at one core of this machine; a platform's cores may be faster or slower)",
        demand.source,
        source_class.name,
        path.display()
    );
    Ok(PlanInputs {
        classes,
        notes: vec![note],
    })
}

/// Whose classes `plan --service` plans.
#[derive(Debug, Clone, Copy)]
pub enum ServiceTargets<'a> {
    /// The classes of a catalog (`--classes`).
    Catalog(&'a Catalog),
    /// The classes of a run, at their measured price and applied limits.
    Run(&'a RunReport),
}

/// `--service` times, resolved.
#[derive(Debug, Clone)]
pub struct ServiceDemand<'a> {
    /// The distribution (seconds).
    pub dist: ServiceDist,
    /// The `--service` value as written.
    pub spec: &'a str,
    /// Where the numbers came from, for the report.
    pub label: &'a str,
}

/// With `--service`: every class (of the catalog, else of the run) planned with those
/// service times as CPU demand at one core.
pub fn service_classes(
    o: &ModelOptions,
    targets: ServiceTargets,
    service: ServiceDemand,
) -> Result<PlanInputs, PlanInputError> {
    let demand = DemandDist::Independent {
        cpu: service.dist,
        other: ServiceDist::Deterministic(0.0),
    };
    let wanted = |name: &String| o.classes.is_empty() || o.classes.contains(name);
    let mut classes: Vec<(DynoClass, Option<AppliedLimits>)> = Vec::new();
    match targets {
        ServiceTargets::Catalog(catalog) => {
            for k in catalog.classes.iter().filter(|k| wanted(&k.name)) {
                classes.push((k.clone(), None));
            }
            for n in o.classes {
                catalog.class(n).map_err(PlanInputError::UnknownClass)?;
            }
        }
        ServiceTargets::Run(run) => {
            for c in run.classes.iter().filter(|c| wanted(&c.name)) {
                let mut k = c.class.clone();
                k.price_usd_month = c.price_usd_month;
                classes.push((k, c.limits.clone()));
            }
        }
    }
    let source = format!("--service {}", service.spec);
    let classes = classes
        .into_iter()
        .map(|(k, limits)| PlanClass {
            name: k.name.clone(),
            model: cpu_model(o, &k, limits.as_ref(), demand.clone(), 1),
            class: k,
            source: source.clone(),
        })
        .collect();
    Ok(PlanInputs {
        classes,
        notes: vec![format!(
            "demand: {}, all CPU time at one core (no IO), from --service",
            service.label
        )],
    })
}
