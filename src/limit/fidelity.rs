//! Measurements of a limiter against the kernel's bandwidth rules and published figures:
//! the stall a quota puts at the end of each period (back-to-back CPU items), and what CPU
//! burst does to the tail of items offered at random below the quota. Plain data out
//! (`record::calibration`); `calibrate`, `fidelity` and the tests present or check it.

use std::path::Path;

use super::backend::{LimitError, SandboxSpec};
use super::calibrate::{burn_in, percentile};
use super::detect::Detection;
use super::placement::allot_cpu;
use crate::class::{Bandwidth, CpuModel};
use crate::record::LimiterKind;
use crate::record::calibration::{BurstRow, StallRow};

/// Where and how to run the measurements.
pub struct Bench<'a> {
    /// The backend.
    pub kind: LimiterKind,
    /// What this machine offers.
    pub detection: &'a Detection,
    /// The dynobench binary (runs the burn children).
    pub exe: &'a Path,
    /// The server's CPUs (one is enough).
    pub cpus: &'a [usize],
}

impl Bench<'_> {
    fn spec(&self, name: &str, quota: f64, period_us: u64, burst_us: u64) -> SandboxSpec {
        let bw = Bandwidth {
            period_us,
            burst_us,
            pooled: true,
        };
        SandboxSpec {
            name: format!("fidelity-{name}"),
            cpu: allot_cpu(name, &CpuModel::Quota { cores: quota }, bw, self.cpus, false),
            memory_soft_bytes: None,
            memory_hard_bytes: None,
            neighbours: None,
            helper_exe: self.exe.to_path_buf(),
        }
    }

    /// Back-to-back `item_ms` CPU items for `seconds` under `quota` cores per `period_us`:
    /// the longest stall against `(1 − quota) × period`.
    pub fn period_stall(
        &self,
        period_us: u64,
        quota: f64,
        item_ms: f64,
        seconds: f64,
    ) -> Result<StallRow, LimitError> {
        let args: Vec<String> = [
            "--seconds",
            &seconds.to_string(),
            "--item-ms",
            &item_ms.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (r, _, _) = burn_in(
            self.kind,
            self.detection,
            self.spec("stall", quota, period_us, 0),
            &args,
            seconds,
        )?;
        let mut items = r.items_us.clone();
        items.sort_unstable();
        let period_ms = period_us as f64 / 1000.0;
        Ok(StallRow {
            backend: self.kind,
            period_ms,
            quota_cores: quota,
            item_ms,
            items: items.len(),
            expected_stall_ms: (1.0 - quota.min(1.0)) * period_ms,
            longest_stall_ms: r.longest_stall_us as f64 / 1000.0,
            max_item_ms: items.last().map_or(0.0, |&m| m as f64 / 1000.0),
            p50_ms: percentile(&items, 0.5),
            achieved_cores: r.cpu_us as f64 / r.wall_us.max(1) as f64,
        })
    }

    /// `item_ms` CPU items offered Poisson at `utilization` of `quota` cores per
    /// `period_us`, for `seconds` without burst and then with a burst of one period's quota
    /// (100%, the most the kernel allows), the same seeded arrivals both times.
    pub fn burst_effect(
        &self,
        period_us: u64,
        quota: f64,
        item_ms: f64,
        utilization: f64,
        seconds: f64,
        seed: u64,
    ) -> Result<BurstRow, LimitError> {
        let rate = utilization * quota * 1000.0 / item_ms;
        let args: Vec<String> = [
            "--seconds",
            &seconds.to_string(),
            "--item-ms",
            &item_ms.to_string(),
            "--rate",
            &rate.to_string(),
            "--seed",
            &seed.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let burst_us = (quota * period_us as f64).round() as u64;
        let run = |burst: u64| -> Result<(Vec<u64>, u64), LimitError> {
            let (r, _, applied) = burn_in(
                self.kind,
                self.detection,
                self.spec("burst", quota, period_us, burst),
                &args,
                seconds,
            )?;
            let mut items = r.items_us;
            items.sort_unstable();
            Ok((items, applied.burst_us))
        };
        let (plain, _) = run(0)?;
        let (burst, applied_us) = run(burst_us)?;
        Ok(BurstRow {
            backend: self.kind,
            period_ms: period_us as f64 / 1000.0,
            quota_cores: quota,
            item_ms,
            utilization,
            burst_ms: burst_us as f64 / 1000.0,
            applied_burst_ms: applied_us as f64 / 1000.0,
            items_plain: plain.len(),
            items_burst: burst.len(),
            p50_plain_ms: percentile(&plain, 0.5),
            p99_plain_ms: percentile(&plain, 0.99),
            p50_burst_ms: percentile(&burst, 0.5),
            p99_burst_ms: percentile(&burst, 0.99),
        })
    }
}
