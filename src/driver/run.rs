//! The class loop of `dynobench run`: probe the host, choose the limiter, pin the driver,
//! then measure every class (and every worker count of a sweep) locally or at a remote URL,
//! updating verdicts, sweeps and value figures after each class. Per-class failures are
//! recorded in the report, not returned as errors.

use std::sync::Arc;
use std::time::SystemTime;

use super::capacity::measure;
use super::client::{Target, tls_config};
use super::host::{self, cpu_jiffies, steal_pct};
use super::load::LoadModel;
use super::local::local_class;
use super::observer::Observer;
use super::phase::{Endpoint, effective_warmup};
use super::plan::{RunError, RunPlan};
use crate::limit::{Detection, LimiterChoice};
use crate::record::model::{compact_stamp, rfc3339};
use crate::record::sweep::worker_sweeps;
use crate::record::verdict::slo_verdicts;
use crate::record::{Placement, RunConfig, RunReport, SCHEMA_VERSION, apply_value};

/// Runs every class of the plan (and every worker count of a sweep). Per-class failures are
/// recorded in the report, not returned as errors; an interrupt ends the run with the
/// finished classes kept.
pub fn run(plan: &RunPlan, detection: &Detection, obs: &mut dyn Observer) -> Result<RunReport, RunError> {
    let started = SystemTime::now();
    let mut hostf = host::probe();
    let remote = plan.target.is_some();
    let kind = if remote {
        None
    } else {
        Some(detection.choose(plan.limiter)?)
    };
    let placement = Placement::detect();
    if !remote {
        for dir in detection.remove_stale_groups() {
            obs.note(&format!("removed a stale group left by an earlier run: {dir}"));
        }
        hostf.placement_note = placement.describe();
        if let Err(e) = placement.pin_driver() {
            obs.note(&format!("could not pin the driver: {e}"));
            hostf.placement_note = format!("driver NOT pinned ({e}); the server may share its CPU");
        }
        hostf.placement = Some(placement.clone());
    }
    hostf.limiter = kind.map_or("remote".into(), |k| k.name().to_string());
    hostf.limiter_detail = kind.map_or("remote target: the platform's own limits".into(), |k| {
        k.describe().to_string()
    });
    hostf.cgroup2 = detection.cgroup2.as_ref().map_or_else(
        |e| format!("unavailable: {e}"),
        |s| format!("usable at {}", s.base.display()),
    );
    hostf.cgroup1 = detection.cgroup1.as_ref().map_or_else(
        |e| format!("unavailable: {e}"),
        |s| format!("usable at {}", s.cpu.display()),
    );
    let label = plan.label.clone();
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION.into(),
        tool: concat!("dynobench ", env!("CARGO_PKG_VERSION")).into(),
        run_id: format!("{}-{label}", compact_stamp(started)),
        label,
        started_at: rfc3339(started),
        host: hostf,
        config: config_of(plan),
        catalog: plan.catalog.info.clone(),
        catalog_origin: plan.catalog.origin.clone(),
        workload: plan.workload.clone(),
        ..RunReport::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("starting the async runtime: {e}")))?;
    let tls = plan.target.as_ref().filter(|t| t.tls).map(|_| tls_config());
    let run_steal0 = cpu_jiffies();
    let mut attempted = 0;
    let mut expected = 0;
    for class in &plan.classes {
        let counts = if plan.workers.is_empty() {
            vec![class.workers]
        } else {
            plan.workers.clone()
        };
        expected += counts.len();
        let sweep = counts.len() > 1;
        for workers in counts {
            if crate::interrupt::requested() {
                break;
            }
            let name = if sweep {
                format!("{}@{workers}", class.name)
            } else {
                class.name.clone()
            };
            // A sweep drives at least as many callers as there are workers.
            let mut p = plan.clone();
            if sweep && let LoadModel::Closed { concurrency } = p.load {
                p.load = LoadModel::Closed {
                    concurrency: concurrency.max(workers),
                };
            }
            obs.class_started(&name, effective_warmup(p.warmup, workers), p.calls);
            let mut result = match (&p.target, kind) {
                (Some(t), _) => {
                    let mut ep = Endpoint {
                        rt: &rt,
                        target: Arc::new(t.clone()),
                        tls: tls.clone(),
                        sandbox: None,
                    };
                    measure(&mut ep, &p, class, workers, obs)
                }
                (None, Some(k)) => local_class(&rt, &p, class, workers, k, detection, &placement, obs),
                (None, None) => unreachable!("local runs always have a limiter"),
            };
            result.name = name;
            attempted += 1;
            report.classes.push(result);
            apply_value(&mut report.classes);
            report.slo = slo_verdicts(&report.classes, &plan.slos);
            report.worker_sweeps = worker_sweeps(&report.classes, &plan.slos);
            report.host.steal_pct = steal_pct(run_steal0, cpu_jiffies());
            obs.class_done(&report);
        }
    }
    report.interrupted = crate::interrupt::requested();
    report.complete = !report.interrupted && attempted == expected;
    report.finished_at = Some(rfc3339(SystemTime::now()));
    Ok(report)
}

fn config_of(plan: &RunPlan) -> RunConfig {
    let (model, rate, arrivals) = plan.load.shape();
    RunConfig {
        classes: plan.classes.iter().map(|c| c.name.clone()).collect(),
        workers: plan.workers.clone(),
        warmup: plan.warmup,
        calls: plan.calls,
        load_model: model.into(),
        concurrency: plan.load.concurrency(),
        rate,
        arrivals,
        timeout_ms: plan.timeout.as_millis() as u64,
        limiter: match plan.limiter {
            LimiterChoice::Auto => "auto".into(),
            LimiterChoice::Exactly(k) => k.name().into(),
        },
        neighbours: plan.neighbours.map_or("none".into(), |n| {
            format!("{} (phase {} ms)", n.pattern, n.phase_ms)
        }),
        seed: plan.seed,
        url: plan.target.as_ref().map(Target::url),
        path: plan.path.clone(),
        slos: plan.slos.clone(),
        find_capacity: plan.capacity.as_ref().map(|c| c.slo.text.clone()),
        worker_ballast_mb: plan.ballast_mb,
    }
}
