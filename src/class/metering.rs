//! Validation of a class's quota metering in a catalog: the CFS period (`period_ms`) and the
//! kernel burst (`burst_ms`), each error with its span and field for the catalog's message.

use std::ops::Range;

use toml::Spanned;

use super::CpuModel;

/// What is wrong: where, which field, and what would be valid.
pub(crate) type Invalid = (Range<usize>, &'static str, String);

/// The period and burst (ms) of a class with `cpu`, or why they are not valid: the period
/// within the kernel's 1-1000 ms, the burst at most one period's quota and only with a quota.
pub(crate) fn check(
    cpu: &CpuModel,
    period: Option<&Spanned<f64>>,
    burst: Option<&Spanned<f64>>,
) -> Result<(f64, f64), Invalid> {
    let period_ms = match period {
        Some(p) => {
            let v = *p.get_ref();
            if !(v.is_finite() && (1.0..=1000.0).contains(&v)) {
                return Err((
                    p.span(),
                    "period_ms",
                    format!(
                        "must be between 1 and 1000 ms (the kernel's cfs_period_us range; 100 is its default, Fly uses 80), got {v}"
                    ),
                ));
            }
            v
        }
        None => super::DEFAULT_PERIOD_MS,
    };
    let burst_ms = match burst {
        Some(b) => {
            let v = *b.get_ref();
            let quota_ms = cpu.max_cores() * period_ms;
            if matches!(cpu, CpuModel::Dedicated { .. }) && v != 0.0 {
                return Err((
                    b.span(),
                    "burst_ms",
                    "needs a CPU quota: a dedicated class has none (use kind = \"quota\" or \"shared\")"
                        .into(),
                ));
            }
            if !(v.is_finite() && v >= 0.0 && v <= quota_ms + 1e-9) {
                return Err((
                    b.span(),
                    "burst_ms",
                    format!(
                        "must be between 0 and the quota of one period ({quota_ms} ms: {} cores x {period_ms} ms), as the kernel allows, got {v}",
                        cpu.max_cores()
                    ),
                ));
            }
            v
        }
        None => 0.0,
    };
    Ok((period_ms, burst_ms))
}
