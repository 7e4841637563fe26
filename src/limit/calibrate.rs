//! Calibration of the limiters: how precisely each backend delivers a requested CPU quota
//! (requested vs achieved cores for a CPU-bound `dynobench burn` child), and the tail shape
//! of a quota (stalls at period boundaries) against a share (interleaving with a neighbour).
//! Returns plain data (`record::calibration`); `report::calibration` renders it.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::backend::{LimitError, SandboxSpec};
use super::detect::Detection;
use super::neighbours::{NeighbourLoad, Pattern};
use super::placement::allot_cpu;
use super::sandbox::{Sandbox, describe_exit};
use crate::class::{Bandwidth, CpuModel};
use crate::record::calibration::{CalibrationReport, QuotaRow, TailRow};
use crate::record::{AppliedLimits, Counters, LimiterKind, Placement};

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
    /// Periods at which to measure the quota's stall, µs (empty: none).
    pub stall_periods_us: Vec<u64>,
    /// Seconds per burst measurement (each backend runs two: without and with burst; 0:
    /// none).
    pub burst_seconds: f64,
}

/// What a `dynobench burn` child measured of itself, printed as JSON on stdout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BurnReport {
    /// Wall time of the busy phase, µs.
    pub wall_us: u64,
    /// CPU time used by all busy threads, µs.
    pub cpu_us: u64,
    /// Wall time of each work item, µs (when `--item-ms` was given).
    pub items_us: Vec<u64>,
    /// `available_parallelism` as the child saw it.
    pub available_parallelism: usize,
    /// Memory touched, MB (when `--alloc-mb` was given).
    pub allocated_mb: u64,
    /// The longest time a busy thread was held off its CPU in one stretch, µs (a quota's
    /// stall at the end of a period).
    #[serde(default)]
    pub longest_stall_us: u64,
}

/// What a burn child should do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnSpec {
    /// How long, seconds.
    pub seconds: f64,
    /// Busy threads.
    pub threads: usize,
    /// CPU milliseconds per work item; 0 = one continuous loop.
    pub item_ms: f64,
    /// MB to allocate and touch first (then hold while burning).
    pub alloc_mb: u64,
    /// Poisson arrivals of items per second (0: items back to back).
    pub rate: f64,
    /// Seed of the arrivals.
    pub seed: u64,
}

/// Runs a burn child inside a sandbox and returns its report, the sandbox counters and the
/// limits it applied.
pub(crate) fn burn_in(
    kind: LimiterKind,
    detection: &Detection,
    spec: SandboxSpec,
    args: &[String],
    seconds: f64,
) -> Result<(BurnReport, Counters, AppliedLimits), LimitError> {
    let exe = spec.helper_exe.clone();
    let mut sb = Sandbox::create(kind, detection, spec)?;
    let applied = sb.applied();
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
            describe_exit(st, counters.oom_kills, None, kind)
        ))),
        Some(_) => serde_json::from_str(out.trim())
            .map(|r| (r, counters, applied))
            .map_err(|e| LimitError::Setup(format!("unreadable calibration child output ({e}): {out:?}"))),
    }
}

pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

/// The two tail-shape modes at 0.5 core: a quota, and a share against a steady neighbour.
fn tail_modes() -> [(&'static str, CpuModel, Option<NeighbourLoad>); 2] {
    [
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
    ]
}

/// Whether an interrupt was asked for; if so the report says it was interrupted.
fn interrupted(report: &mut CalibrationReport) -> bool {
    if crate::interrupt::requested() {
        report.interrupted = true;
        return true;
    }
    false
}

/// What every measurement of a calibration shares.
struct Calibration<'a> {
    detection: &'a Detection,
    cfg: &'a CalibrateConfig,
    /// The server's CPUs to measure on.
    cpus: Vec<usize>,
}

impl Calibration<'_> {
    fn spec(&self, name: &str, model: CpuModel, neighbours: Option<NeighbourLoad>) -> SandboxSpec {
        SandboxSpec {
            name: format!("calibrate-{name}"),
            cpu: allot_cpu(
                name,
                &model,
                Bandwidth::default(),
                &self.cpus,
                neighbours.is_some(),
            ),
            memory_soft_bytes: None,
            memory_hard_bytes: None,
            neighbours,
            helper_exe: self.cfg.exe.clone(),
        }
    }

    /// How precisely `kind` delivers a quota of `q` cores to a continuous burn.
    fn quota_row(&self, kind: LimiterKind, q: f64) -> Result<QuotaRow, LimitError> {
        let cfg = self.cfg;
        let args = vec!["--seconds".to_string(), cfg.seconds.to_string()];
        let (r, c, _) = burn_in(
            kind,
            self.detection,
            self.spec("quota", CpuModel::Quota { cores: q }, None),
            &args,
            cfg.seconds,
        )?;
        let achieved = r.cpu_us as f64 / r.wall_us.max(1) as f64;
        let error_pct = (achieved - q) / q * 100.0;
        // Short of the quota while the limiter held the child back in no period: the
        // host had no CPU to give.
        let never_held = match (c.throttled_ratio(), c.stopped_us) {
            (Some(t), _) => t == 0.0,
            (None, Some(s)) => s == 0,
            _ => false,
        };
        Ok(QuotaRow {
            backend: kind,
            requested_cores: q,
            achieved_cores: achieved,
            error_pct,
            target_pct: target_pct(kind),
            within_target: error_pct.abs() <= target_pct(kind),
            throttled_ratio: c.throttled_ratio(),
            stopped_us: c.stopped_us,
            host_shortfall: error_pct < -target_pct(kind) && never_held,
        })
    }

    /// The latency of work items under `kind`'s 0.5-core `mode`.
    fn tail_row(
        &self,
        kind: LimiterKind,
        mode: &str,
        model: CpuModel,
        neighbours: Option<NeighbourLoad>,
    ) -> Result<TailRow, LimitError> {
        let cfg = self.cfg;
        let args = vec![
            "--seconds".to_string(),
            cfg.seconds.to_string(),
            "--item-ms".to_string(),
            cfg.item_ms.to_string(),
        ];
        let (r, _, _) = burn_in(
            kind,
            self.detection,
            self.spec(mode, model, neighbours),
            &args,
            cfg.seconds,
        )?;
        let mut items = r.items_us.clone();
        items.sort_unstable();
        Ok(TailRow {
            backend: kind,
            mode: mode.into(),
            cores: 0.5,
            item_ms: cfg.item_ms,
            items: items.len(),
            p50_ms: percentile(&items, 0.5),
            p99_ms: percentile(&items, 0.99),
            max_ms: items.last().map_or(0.0, |&m| m as f64 / 1000.0),
        })
    }

    /// Every measurement of backend `kind`, into `report`; `Break` when interrupted.
    fn backend(
        &self,
        kind: LimiterKind,
        report: &mut CalibrationReport,
        progress: &mut impl FnMut(&str),
    ) -> Result<ControlFlow<()>, LimitError> {
        let cfg = self.cfg;
        for &q in &cfg.quotas {
            if interrupted(report) {
                return Ok(ControlFlow::Break(()));
            }
            progress(&format!("{kind}: quota {q} core(s) for {} s", cfg.seconds));
            report.quotas.push(self.quota_row(kind, q)?);
        }
        for (mode, model, nb) in tail_modes() {
            if interrupted(report) {
                return Ok(ControlFlow::Break(()));
            }
            progress(&format!(
                "{kind}: {}-ms work items under a 0.5-core {mode}",
                cfg.item_ms
            ));
            report.tails.push(self.tail_row(kind, mode, model, nb)?);
        }
        let bench = super::fidelity::Bench {
            kind,
            detection: self.detection,
            exe: &cfg.exe,
            cpus: &self.cpus,
        };
        for &period_us in &cfg.stall_periods_us {
            if interrupted(report) {
                return Ok(ControlFlow::Break(()));
            }
            progress(&format!(
                "{kind}: 26-ms work items under a 0.6-core quota at a {} ms period",
                period_us as f64 / 1000.0
            ));
            report
                .stalls
                .push(bench.period_stall(period_us, 0.6, 26.0, cfg.seconds.max(2.0))?);
        }
        if cfg.burst_seconds > 0.0 {
            if interrupted(report) {
                return Ok(ControlFlow::Break(()));
            }
            progress(&format!(
                "{kind}: 5-ms items, Poisson at 60% of a 0.5-core quota, without and with a 100% burst ({} s each)",
                cfg.burst_seconds
            ));
            report
                .bursts
                .push(bench.burst_effect(100_000, 0.5, 5.0, 0.6, cfg.burst_seconds, 1)?);
        }
        Ok(ControlFlow::Continue(()))
    }
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
    let calibration = Calibration {
        detection,
        cfg,
        // One CPU is enough to show quota precision and keeps the measurement independent
        // of how many CPUs the machine has.
        cpus: placement.server.iter().copied().take(1).collect(),
    };
    for &kind in &cfg.backends {
        if let Err(why) = detection.available(kind) {
            report.skipped.push((kind, why));
            continue;
        }
        if calibration.backend(kind, &mut report, &mut progress)?.is_break() {
            return Ok(report);
        }
    }
    Ok(report)
}
