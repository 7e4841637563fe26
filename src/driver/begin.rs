//! The start of every run, local, remote or a formation: the host probed, the limiter
//! chosen, stale groups removed, the driver pinned, and the report's header with the run's
//! configuration.

use std::time::SystemTime;

use super::client::Target;
use super::host;
use super::observer::Observer;
use super::plan::{RunError, RunPlan};
use crate::limit::{Detection, LimiterChoice};
use crate::record::model::{compact_stamp, rfc3339};
use crate::record::{LimiterKind, Placement, RunConfig, RunReport, SCHEMA_VERSION};

/// The start of every run: the host probed, the limiter chosen, stale groups removed, the
/// driver pinned, and the report's header.
pub(crate) fn begin(
    plan: &RunPlan,
    detection: &Detection,
    obs: &mut dyn Observer,
) -> Result<(RunReport, Option<LimiterKind>, Placement), RunError> {
    let started = SystemTime::now();
    let mut hostf = host::probe();
    let remote = plan.target.is_some();
    let kind = if remote {
        None
    } else {
        Some(detection.choose(plan.limiter)?)
    };
    let placement = if plan.share_driver_cpu {
        Placement::shared_with_driver()
    } else {
        Placement::detect()
    };
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
    let report = RunReport {
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
    Ok((report, kind, placement))
}

fn config_of(plan: &RunPlan) -> RunConfig {
    let (model, rate, arrivals) = plan.load.shape();
    RunConfig {
        classes: plan.classes.iter().map(|c| c.name.clone()).collect(),
        workers: plan.workers.clone(),
        warmup: plan.warmup,
        calls: plan.calls,
        repeat: plan.repeat,
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
        shard: plan.shard.clone(),
        what_if: plan.what_if.is_set().then(|| plan.what_if.describe()),
        precision: plan.precision.clone(),
    }
}
