//! `dynobench calibrate`: flag checks, the backends to measure, the calibration, and its
//! table or JSON; exit 1 when a backend misses its accuracy target.

use anyhow::anyhow;

use super::common::own_exe;
use crate::cli::CalibrateArgs;
use crate::error::{CliError, Outcome, failed, usage};
use crate::limit::calibrate::{self, CalibrateConfig};
use crate::limit::{Detection, LimiterChoice, LimiterKind};

pub(crate) fn calibrate(a: CalibrateArgs) -> Result<Outcome, CliError> {
    if !(a.seconds > 0.0 && a.seconds <= 600.0) {
        return Err(usage(anyhow!("--seconds must be in (0, 600], got {}", a.seconds)));
    }
    if !(a.item_ms > 0.0 && a.item_ms <= 1000.0) {
        return Err(usage(anyhow!(
            "--item-ms must be in (0, 1000], got {}",
            a.item_ms
        )));
    }
    if !(a.burst_seconds.is_finite() && (0.0..=600.0).contains(&a.burst_seconds)) {
        return Err(usage(anyhow!(
            "--burst-seconds must be in [0, 600] (0 skips the burst measurement), got {}",
            a.burst_seconds
        )));
    }
    if let Some(q) = a.quotas.iter().find(|q| !(**q > 0.0 && **q <= 1024.0)) {
        return Err(usage(anyhow!("--quotas must be positive core counts, got {q}")));
    }
    let detection = Detection::probe();
    detection.remove_stale_groups();
    let mut backends = Vec::new();
    for l in &a.limiter {
        match l.as_str() {
            "all" => backends.extend([LimiterKind::Cgroup2, LimiterKind::Cgroup1, LimiterKind::Dutycycle]),
            other => match other
                .parse::<LimiterChoice>()
                .map_err(|e| usage(anyhow!("--limiter: {e}, or all")))?
            {
                LimiterChoice::Auto => backends.push(detection.choose(LimiterChoice::Auto).map_err(usage)?),
                LimiterChoice::Exactly(k) => {
                    detection
                        .available(k)
                        .map_err(|why| usage(anyhow!("--limiter {k}: not available here: {why}")))?;
                    backends.push(k)
                }
            },
        }
    }
    let mut seen = Vec::new();
    backends.retain(|k| {
        let first = !seen.contains(k);
        seen.push(*k);
        first
    });
    crate::interrupt::install();
    let cfg = CalibrateConfig {
        backends,
        quotas: a.quotas.clone(),
        seconds: a.seconds,
        item_ms: a.item_ms,
        exe: own_exe()?,
        stall_periods_us: a.stall_periods.iter().copied().filter(|&p| p > 0).collect(),
        burst_seconds: a.burst_seconds,
    };
    let report =
        calibrate::calibrate(&detection, &cfg, |line| eprintln!("calibrate: {line}")).map_err(failed)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(failed)?);
    } else {
        print!("{}", crate::report::calibration::render(&report));
    }
    if report.interrupted {
        return Err(failed(anyhow!("interrupted")));
    }
    Ok(if report.all_within_target() {
        Outcome::Ok
    } else {
        Outcome::ThresholdFailed
    })
}
