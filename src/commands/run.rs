//! `dynobench run`: flags → a validated [`RunPlan`], the run with progress bars, results
//! written class by class, the table or JSON, and the exit code (1 when an SLO breaks).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::common::own_exe;
use crate::class::Catalog;
use crate::cli::{Calls, RunArgs};
use crate::driver::{self, AppSpec, CallShape, CapacitySpec, LoadModel, Observer, RunError, RunPlan, Target};
use crate::error::{CliError, Outcome, failed, usage};
use crate::limit::{NeighbourLoad, Pattern};
use crate::record::verdict::calls_for_slos;
use crate::record::{RunReport, WorkloadFacts};
use crate::report::table;
use crate::report::writer::ResultsWriter;
use crate::units::ms;
use crate::workload::Payload;
use crate::workload::profile::Profile;

/// Validates the flags into a plan (the second stage of argument handling).
pub fn plan(a: &RunArgs, exe: PathBuf) -> Result<RunPlan, CliError> {
    let catalog = Catalog::load(&a.catalog).map_err(usage)?;
    let classes = classes(a, &catalog)?;
    let load = load_model(a)?;
    let neighbours = neighbours(a)?;
    if !a.path.starts_with('/') {
        return Err(usage(anyhow!("--path must start with '/', got '{}'", a.path)));
    }
    let profile = Profile::new(&a.profile, Some(a.io_ms), Some(a.io_share))
        .map_err(|e| usage(anyhow!("--profile: {e}")))?;
    let app = super::app::app_spec(a)?;
    let call = super::app::call_shape(a)?;
    let path = request_path(a, &profile, app.is_some());
    check_slo_percentiles(a)?;
    let capacity = capacity(a)?;
    let target = target(a, &call)?;
    let workload = workload(a, target.as_ref(), app.as_ref(), &call, &profile)?;
    let label = label(a, target.is_some())?;
    let mut plan = RunPlan {
        catalog,
        classes,
        workers: a.workers.clone().map(|w| w.0).unwrap_or_default(),
        load,
        warmup: a.warmup,
        calls: calls(a),
        repeat: a.repeat,
        open_warmup: 0,
        timeout: a.timeout,
        path,
        limiter: a.limiter,
        neighbours,
        seed: a.seed,
        target,
        payload: a.payload.clone(),
        workload,
        exe,
        label,
        slos: a.slo.clone(),
        startup_timeout: a.startup_timeout,
        ballast_mb: a.worker_ballast_mb,
        capacity,
        formation: super::formation::formation(a)?,
        start_balance_s: match a.start_balance {
            crate::cli::StartBalance::Platform => None,
            crate::cli::StartBalance::Full => Some(f64::MAX),
            crate::cli::StartBalance::Seconds(s) => Some(s),
        },
        shard: None,
        what_if: crate::class::WhatIf {
            period_us: a.cfs_period,
            burst: a.cfs_burst,
        },
        share_identical: !a.measure_identical,
        share_driver_cpu: a.share_driver_cpu,
        app,
        call,
        precision: a
            .precision
            .map(|p| crate::record::precision::PrecisionConfig::new(&a.slo, p, a.max_calls)),
    };
    super::shard::apply(a, &mut plan)?;
    Ok(plan)
}

/// The classes to run: those named, or the catalog's default run.
fn classes(a: &RunArgs, catalog: &Catalog) -> Result<Vec<crate::class::DynoClass>, CliError> {
    if !a.class.is_empty() {
        return super::common::named_classes(catalog, &a.class);
    }
    Ok(catalog
        .classes
        .iter()
        .filter(|c| c.in_default_run)
        .cloned()
        .collect())
}

/// Open loop at `--rate` (validated) over `--concurrency` connections, or closed loop.
fn load_model(a: &RunArgs) -> Result<LoadModel, CliError> {
    Ok(match a.rate {
        Some(r) if !(r > 0.0 && r <= 100_000.0) => {
            return Err(usage(anyhow!(
                "--rate must be between 0 and 100000 req/s, got {r}"
            )));
        }
        Some(rate) => LoadModel::Open {
            rate,
            arrivals: a.arrivals,
            connections: a.concurrency.unwrap_or(64),
        },
        None => LoadModel::Closed {
            concurrency: a.concurrency.unwrap_or(1),
        },
    })
}

/// The neighbours' load, parsed from `--neighbours` (`none`: no neighbours).
fn neighbours(a: &RunArgs) -> Result<Option<NeighbourLoad>, CliError> {
    Ok(match a.neighbours.as_str() {
        "none" => None,
        p => Some(NeighbourLoad {
            pattern: p
                .parse::<Pattern>()
                .map_err(|e| usage(anyhow!("--neighbours: {e}")))?,
            phase_ms: a.neighbour_phase_ms,
            seed: a.seed,
        }),
    })
}

/// `--path` with the profile's query appended (an app's path is used as given).
fn request_path(a: &RunArgs, profile: &Profile, is_app: bool) -> String {
    match profile.query() {
        _ if is_app => a.path.clone(),
        q if q.is_empty() => a.path.clone(),
        q if a.path.contains('?') => format!("{}&{q}", a.path),
        q => format!("{}?{q}", a.path),
    }
}

/// Every percentile SLO names one that run reports.
fn check_slo_percentiles(a: &RunArgs) -> Result<(), CliError> {
    if let Some(s) = a.slo.iter().find(|s| match s.metric {
        crate::slo::SloMetric::Percentile(p) => !crate::record::summary::PERCENTILES
            .iter()
            .any(|q| (q - p).abs() < 1e-9),
        _ => false,
    }) {
        return Err(usage(anyhow!(
            "--slo {s}: run reports p50, p90, p95, p99 and p99.9 (with confidence intervals); use one of those"
        )));
    }
    Ok(())
}

/// The capacity search (`--find-capacity`) and the SLO it holds.
fn capacity(a: &RunArgs) -> Result<Option<CapacitySpec>, CliError> {
    if !a.find_capacity {
        return Ok(None);
    }
    if a.rate.is_some() {
        return Err(usage(anyhow!(
            "--find-capacity searches the rate itself; drop --rate"
        )));
    }
    let slo = a
        .slo
        .iter()
        .find(|s| s.metric != crate::slo::SloMetric::ErrorRate)
        .or(a.slo.first())
        .cloned()
        .ok_or_else(|| {
            usage(anyhow!(
                "--find-capacity needs an SLO to hold, e.g. --slo p99<=300ms"
            ))
        })?;
    Ok(Some(CapacitySpec {
        slo,
        max_steps: a.capacity_steps as usize,
        step_s: a.capacity_step_s.as_secs_f64(),
    }))
}

/// A remote endpoint (`--url`), with its token and call shape.
fn target(a: &RunArgs, call: &CallShape) -> Result<Option<Target>, CliError> {
    let Some(u) = &a.url else {
        return Ok(None);
    };
    if a.payload.is_some() {
        return Err(usage(anyhow!(
            "--payload applies to local servers; a remote endpoint serves its own payload"
        )));
    }
    let t = Target::parse(u).map_err(|e| usage(anyhow!("--url: {e}")))?;
    Ok(Some(
        t.with_token(a.token.as_deref().and_then(crate::driver::Token::new))
            .with_call(call.clone()),
    ))
}

/// What the run calls: your app, a remote endpoint, or a bundled or given payload.
fn workload(
    a: &RunArgs,
    target: Option<&Target>,
    app: Option<&AppSpec>,
    call: &CallShape,
    profile: &Profile,
) -> Result<WorkloadFacts, CliError> {
    Ok(match target {
        None if let Some(app) = app => WorkloadFacts {
            payload: format!("your app ({}): {}", app.source, app.command),
            payload_bytes: call.body.len() as u64,
            profile: format!("{} {}", call.method, a.path),
        },
        Some(t) => WorkloadFacts {
            payload: format!("remote: {}", t.url()),
            payload_bytes: 0,
            profile: profile.to_string(),
        },
        None => {
            let p = Payload::load(a.payload.as_deref()).map_err(usage)?;
            WorkloadFacts {
                payload: p.name().to_string(),
                payload_bytes: p.bytes().len() as u64,
                profile: profile.to_string(),
            }
        }
    })
}

/// `--label`, or app, remote or local; checked.
fn label(a: &RunArgs, remote: bool) -> Result<String, CliError> {
    let label = a.label.clone().unwrap_or_else(|| {
        if a.server.is_some() || a.procfile.is_some() {
            "app".into()
        } else if remote {
            "remote".into()
        } else {
            "local".into()
        }
    });
    super::common::check_label(&label)?;
    Ok(label)
}

/// Measured calls per class: `--max-calls` under `--precision`, else `--calls` (auto: as
/// many as the SLOs need).
fn calls(a: &RunArgs) -> u32 {
    match (a.precision, a.calls) {
        (Some(_), _) => a.max_calls,
        (None, Calls::Fixed(n)) => n,
        (None, Calls::Auto) => calls_for_slos(&a.slo, 100),
    }
}

/// Progress bars and class-by-class saving.
struct Progress {
    multi: MultiProgress,
    bar: Option<ProgressBar>,
    errors: u64,
    /// Where results go (`None` with --no-save); the run's directory is created at the first
    /// save, named by the report's run id.
    out: Option<PathBuf>,
    writer: Option<ResultsWriter>,
    save_error: Option<String>,
    /// Classes in the last run.json written.
    saved_classes: usize,
}

impl Progress {
    fn save(&mut self, report: &RunReport) {
        let Some(out) = &self.out else { return };
        if self.writer.is_none() {
            match ResultsWriter::create(out, &report.run_id) {
                Ok(w) => self.writer = Some(w),
                Err(e) => {
                    self.save_error.get_or_insert(format!(
                        "creating a results directory under {}: {e}",
                        out.display()
                    ));
                    return;
                }
            }
        }
        if let Some(w) = &mut self.writer {
            match w.write(report) {
                Ok(()) => self.saved_classes = report.classes.len(),
                Err(e) => {
                    self.save_error.get_or_insert(e);
                }
            }
        }
    }
}

impl Observer for Progress {
    fn class_started(&mut self, class: &str, warmup: u32, calls: u32) {
        let bar = self
            .multi
            .add(ProgressBar::new(u64::from(warmup) + u64::from(calls)));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>15} [{bar:30}] {pos:>5}/{len:<5} {elapsed:>4} {msg}")
                .expect("constant template")
                .progress_chars("=> "),
        );
        bar.set_prefix(class.to_string());
        bar.set_message("starting");
        self.errors = 0;
        self.bar = Some(bar);
    }

    fn call_done(&mut self, measured: bool, ok: bool) {
        if let Some(b) = &self.bar {
            b.inc(1);
            if !ok {
                self.errors += 1;
            }
            let phase = if measured { "measuring" } else { "warming up" };
            if self.errors > 0 {
                b.set_message(format!("{phase}, {} errors", self.errors));
            } else if b.position() <= 1 || !measured {
                b.set_message(phase);
            }
        }
    }

    fn class_done(&mut self, report: &RunReport) {
        if let (Some(b), Some(c)) = (self.bar.take(), report.classes.last()) {
            let msg = match c.latency.value(99.0) {
                Some(p99) if c.is_ok() => format!(
                    "p50 {} ms, p99 {} ms",
                    ms(c.latency.value(50.0).unwrap_or(0)),
                    ms(p99)
                ),
                _ => format!("{:?}", c.status).to_lowercase(),
            };
            b.finish_with_message(msg);
        }
        self.save(report);
    }

    fn note(&mut self, line: &str) {
        // Hidden bars (--quiet, --json, stderr not a terminal) print nothing: notes still
        // reach stderr.
        if self.multi.is_hidden() {
            eprintln!("note: {line}");
        } else {
            let _ = self.multi.println(format!("note: {line}"));
        }
    }
}

pub(crate) fn run(a: RunArgs) -> Result<Outcome, CliError> {
    let plan = plan(&a, own_exe()?)?;
    crate::interrupt::install();
    let detection = if plan.target.is_some() {
        crate::limit::Detection::unprobed()
    } else {
        driver::detect()
    };
    let multi = MultiProgress::with_draw_target(if a.quiet || a.json {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let out = if a.no_save {
        None
    } else {
        // Fail before a long run, not after it, if results cannot be written.
        std::fs::create_dir_all(&a.out)
            .map_err(|e| failed(anyhow!("creating the results directory {}: {e}", a.out.display())))?;
        Some(a.out.clone())
    };
    let mut progress = Progress {
        multi,
        bar: None,
        errors: 0,
        out,
        writer: None,
        save_error: None,
        saved_classes: 0,
    };
    let started = std::time::Instant::now();
    let report = match driver::run(&plan, &detection, &mut progress) {
        Ok(r) => r,
        Err(RunError::Limiter(e)) => return Err(usage(e)),
        Err(e) => return Err(failed(e)),
    };
    // The final write marks the run complete (or interrupted).
    progress.save(&report);
    let dir = progress.writer.as_ref().map(|w| w.dir().display().to_string());
    if a.json {
        println!("{}", crate::report::export::json::run_json(&report));
    } else if !a.quiet {
        match &report.formation {
            Some(f) => println!("{}", crate::report::formation::render(f)),
            None => println!("{}", table::render(&report)),
        }
        if let Some(d) = &dir {
            println!(
                "results: {d}/ (summary.md, run.json, latency.svg, …) in {:.0?}",
                round(started.elapsed())
            );
            println!("page:    {d}/{}", crate::report::export::html::INDEX);
        }
    }
    if let Some(e) = progress.save_error {
        if a.quiet && !a.json {
            // Nothing measured is lost: what could not be saved is printed.
            println!("{}", table::render(&report));
        }
        let kept = match &dir {
            Some(d) if progress.saved_classes > 0 => format!(
                "; {d}/run.json holds the {} class(es) saved before that",
                progress.saved_classes
            ),
            _ => String::new(),
        };
        return Err(failed(anyhow!(
            "the results could not be saved ({e}){kept}; every class measured is in the table above{}",
            if a.json { " (the JSON on stdout)" } else { "" }
        )));
    }
    if report.interrupted {
        return Err(CliError::Interrupted(anyhow!(
            "interrupted: {} finished class(es) kept{}",
            report.classes.iter().filter(|c| c.is_ok()).count(),
            dir.map_or(String::new(), |d| format!(" in {d}"))
        )));
    }
    if !report.classes.is_empty() && report.classes.iter().all(|c| !c.is_ok()) {
        return Err(failed(anyhow!(
            "every class failed; first cause: {}",
            report.classes[0].failure.as_deref().unwrap_or("unknown")
        )));
    }
    Ok(super::common::slo_outcome(&report))
}

fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
