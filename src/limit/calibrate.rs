//! `dynobench calibrate`: how precisely each limiter delivers a requested CPU quota
//! (requested vs achieved cores for a CPU-bound child), and the tail shape of a quota
//! (stalls at period boundaries) against a share (interleaving with a neighbour).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::helpers::{BurnReport, NeighbourLoad, Pattern};
use super::{Detection, LimitError, LimiterKind, Placement, Sandbox, SandboxSpec, plan_cpu};
use crate::class::CpuModel;

/// Accuracy target per backend, percent of the requested quota.
pub fn target_pct(kind: LimiterKind) -> f64 {
    match kind {
        LimiterKind::Dutycycle => 10.0,
        _ => 5.0,
    }
}

/// What to calibrate.
#[derive(Debug, Clone)]
pub struct CalibrateConfig {
    /// Backends to measure.
    pub backends: Vec<LimiterKind>,
    /// Quotas to request, in cores.
    pub quotas: Vec<f64>,
    /// Seconds per measurement.
    pub seconds: f64,
    /// CPU milliseconds per work item in the tail-shape comparison.
    pub item_ms: f64,
    /// The dynobench binary (runs the burn and neighbour children).
    pub exe: PathBuf,
}

/// Requested vs achieved cores for one backend and quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaRow {
    /// Backend.
    pub backend: LimiterKind,
    /// Cores requested.
    pub requested_cores: f64,
    /// Cores the CPU-bound child achieved (its CPU time / wall time).
    pub achieved_cores: f64,
    /// (achieved - requested) / requested, percent.
    pub error_pct: f64,
    /// The accuracy target, percent.
    pub target_pct: f64,
    /// Whether |error| is within the target.
    pub within_target: bool,
    /// Share of CFS periods throttled (cgroup backends).
    pub throttled_ratio: Option<f64>,
    /// Time held stopped (dutycycle), µs.
    pub stopped_us: Option<u64>,
}

/// Work-item latency under a quota or a share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailRow {
    /// Backend.
    pub backend: LimiterKind,
    /// `quota` or `share`.
    pub mode: String,
    /// Cores (the quota, or the share under contention).
    pub cores: f64,
    /// CPU ms per item.
    pub item_ms: f64,
    /// Items measured.
    pub items: usize,
    /// Median item wall time, ms.
    pub p50_ms: f64,
    /// 99th percentile item wall time, ms.
    pub p99_ms: f64,
    /// Slowest item, ms.
    pub max_ms: f64,
}

/// The whole calibration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// Where the children ran.
    pub placement: Option<Placement>,
    /// Quota accuracy rows.
    pub quotas: Vec<QuotaRow>,
    /// Tail-shape rows.
    pub tails: Vec<TailRow>,
    /// Backends not measured, and why.
    pub skipped: Vec<(LimiterKind, String)>,
    /// Whether an interrupt cut the calibration short.
    pub interrupted: bool,
}

impl CalibrationReport {
    /// Whether every quota row met its target.
    pub fn all_within_target(&self) -> bool {
        self.quotas.iter().all(|r| r.within_target)
    }
}

/// Runs a burn child inside a sandbox and returns its report and the sandbox counters.
fn burn_in(
    kind: LimiterKind,
    detection: &Detection,
    spec: SandboxSpec,
    args: &[String],
    seconds: f64,
) -> Result<(BurnReport, super::Counters), LimitError> {
    let exe = spec.helper_exe.clone();
    let mut sb = Sandbox::create(kind, detection, spec)?;
    let mut cmd = Command::new(&exe);
    cmd.arg("burn")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    sb.spawn(cmd)?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds * 4.0 + 10.0);
    let status = loop {
        if let Some(st) = sb.server_exited() {
            break Some(st);
        }
        if crate::interrupt::requested() || Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let counters = sb.counters();
    let mut out = String::new();
    if let Some(child) = sb.server_mut()
        && let Some(mut so) = child.stdout.take()
        && status.is_some()
    {
        let _ = so.read_to_string(&mut out);
    }
    let (_, problems) = sb.teardown();
    if let Some(p) = problems.first() {
        return Err(LimitError::Setup(p.clone()));
    }
    match status {
        None if crate::interrupt::requested() => Err(LimitError::Setup("interrupted".into())),
        None => Err(LimitError::Setup(
            "the calibration child did not finish in time".into(),
        )),
        Some(st) if !st.success() => Err(LimitError::Setup(format!(
            "the calibration child {}",
            super::describe_exit(st, counters.oom_kills, None, kind)
        ))),
        Some(_) => serde_json::from_str(out.trim())
            .map(|r| (r, counters))
            .map_err(|e| LimitError::Setup(format!("unreadable calibration child output ({e}): {out:?}"))),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

/// Measures every configured backend. `progress` gets a line per step.
pub fn calibrate(
    detection: &Detection,
    cfg: &CalibrateConfig,
    mut progress: impl FnMut(&str),
) -> Result<CalibrationReport, LimitError> {
    let placement = Placement::detect();
    let _ = placement.pin_driver();
    let mut report = CalibrationReport {
        placement: Some(placement.clone()),
        ..CalibrationReport::default()
    };
    // One CPU is enough to show quota precision and keeps the measurement independent of
    // how many CPUs the machine has.
    let cpus: Vec<usize> = placement.server.iter().copied().take(1).collect();
    let spec = |name: &str, model: CpuModel, neighbours: Option<NeighbourLoad>| SandboxSpec {
        name: format!("calibrate-{name}"),
        plan: plan_cpu(name, &model, &cpus, neighbours.is_some()),
        memory_soft_bytes: None,
        memory_hard_bytes: None,
        neighbours,
        helper_exe: cfg.exe.clone(),
    };
    for &kind in &cfg.backends {
        if let Err(why) = detection.available(kind) {
            report.skipped.push((kind, why));
            continue;
        }
        for &q in &cfg.quotas {
            if crate::interrupt::requested() {
                report.interrupted = true;
                return Ok(report);
            }
            progress(&format!("{kind}: quota {q} core(s) for {} s", cfg.seconds));
            let args = vec!["--seconds".to_string(), cfg.seconds.to_string()];
            let (r, c) = burn_in(
                kind,
                detection,
                spec("quota", CpuModel::Quota { cores: q }, None),
                &args,
                cfg.seconds,
            )?;
            let achieved = r.cpu_us as f64 / r.wall_us.max(1) as f64;
            let error_pct = (achieved - q) / q * 100.0;
            report.quotas.push(QuotaRow {
                backend: kind,
                requested_cores: q,
                achieved_cores: achieved,
                error_pct,
                target_pct: target_pct(kind),
                within_target: error_pct.abs() <= target_pct(kind),
                throttled_ratio: c.throttled_ratio(),
                stopped_us: c.stopped_us,
            });
        }
        for (mode, model, nb) in [
            ("quota", CpuModel::Quota { cores: 0.5 }, None),
            (
                "share",
                CpuModel::Shared {
                    floor_cores: 0.5,
                    burst_cores: 1.0,
                    burst_us: 0,
                },
                Some(NeighbourLoad {
                    pattern: Pattern::Steady,
                    phase_ms: 100,
                    seed: 1,
                }),
            ),
        ] {
            if crate::interrupt::requested() {
                report.interrupted = true;
                return Ok(report);
            }
            progress(&format!(
                "{kind}: {}-ms work items under a 0.5-core {mode}",
                cfg.item_ms
            ));
            let args = vec![
                "--seconds".to_string(),
                cfg.seconds.to_string(),
                "--item-ms".to_string(),
                cfg.item_ms.to_string(),
            ];
            let (r, _) = burn_in(kind, detection, spec(mode, model, nb), &args, cfg.seconds)?;
            let mut items = r.items_us.clone();
            items.sort_unstable();
            report.tails.push(TailRow {
                backend: kind,
                mode: mode.into(),
                cores: 0.5,
                item_ms: cfg.item_ms,
                items: items.len(),
                p50_ms: percentile(&items, 0.5),
                p99_ms: percentile(&items, 0.99),
                max_ms: items.last().map_or(0.0, |&m| m as f64 / 1000.0),
            });
        }
    }
    Ok(report)
}

/// Renders the report as the terminal table.
pub fn render(r: &CalibrationReport) -> String {
    let mut s = String::new();
    if let Some(p) = &r.placement {
        s.push_str(&format!("placement: {}\n\n", p.describe()));
    }
    s.push_str("quota precision (a CPU-bound child; achieved = its CPU time / wall time)\n");
    s.push_str(&format!(
        "{:<10} {:>9} {:>9} {:>8} {:>7} {:>10}  {}\n",
        "backend", "requested", "achieved", "error", "target", "throttled", "verdict"
    ));
    for q in &r.quotas {
        let thr = q
            .throttled_ratio
            .map(|t| format!("{:.0}%", t * 100.0))
            .or(q.stopped_us.map(|u| format!("{:.1}s stop", u as f64 / 1e6)))
            .unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "{:<10} {:>9.3} {:>9.3} {:>+7.1}% {:>6.0}% {:>10}  {}\n",
            q.backend.name(),
            q.requested_cores,
            q.achieved_cores,
            q.error_pct,
            q.target_pct,
            thr,
            if q.within_target { "ok" } else { "OUTSIDE TARGET" }
        ));
    }
    if !r.tails.is_empty() {
        let ms = r.tails[0].item_ms;
        s.push_str(&format!(
            "\ntail shape: {ms}-ms CPU work items at 0.5 core, as a hard quota (stalls at 100-ms period ends)\n\
             vs as a share against an always-busy neighbour (interleaving at scheduler granularity)\n"
        ));
        s.push_str(&format!(
            "{:<10} {:<6} {:>6} {:>9} {:>9} {:>9}\n",
            "backend", "mode", "items", "p50 ms", "p99 ms", "max ms"
        ));
        for t in &r.tails {
            s.push_str(&format!(
                "{:<10} {:<6} {:>6} {:>9.1} {:>9.1} {:>9.1}\n",
                t.backend.name(),
                t.mode,
                t.items,
                t.p50_ms,
                t.p99_ms,
                t.max_ms
            ));
        }
    }
    for (k, why) in &r.skipped {
        s.push_str(&format!("\nskipped {k}: {why}\n"));
    }
    if r.interrupted {
        s.push_str("\ninterrupted: the table above is partial\n");
    }
    s
}
