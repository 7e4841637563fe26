//! One `[[class]]` entry of a catalog: its raw TOML form and its validation into a
//! [`DynoClass`], each error naming the file, line, class and field and saying what would
//! be valid (the CPU model's and billing's figures are checked here too).

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::catalog::{CatalogError, line_of};
use super::{Billing, CpuModel, DynoClass};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClass {
    name: Spanned<String>,
    price_usd_month: Spanned<f64>,
    price_note: Option<String>,
    memory_mb: Spanned<i64>,
    memory_hard_mb: Option<Spanned<i64>>,
    workers: Spanned<i64>,
    compute: Option<String>,
    cpu: Spanned<CpuModel>,
    period_ms: Option<Spanned<f64>>,
    burst_ms: Option<Spanned<f64>>,
    quota_pooled: Option<bool>,
    billing: Option<Spanned<Billing>>,
    source: Option<String>,
    #[serde(default)]
    unverified: bool,
    #[serde(default = "super::yes")]
    in_default_run: bool,
}

/// Where one class's errors point: the file, its text (for line numbers) and the class.
struct ClassSite<'a> {
    file: &'a str,
    text: &'a str,
    class: &'a str,
}

impl ClassSite<'_> {
    /// The class's `field`, at `span`, is not valid: `message` says why.
    fn invalid(&self, span: Range<usize>, field: &str, message: String) -> CatalogError {
        CatalogError::Invalid {
            file: self.file.to_string(),
            line: line_of(self.text, span.start),
            class: self.class.to_string(),
            field: field.to_string(),
            message,
        }
    }

    /// The name uses only the allowed characters and no class `before` has it.
    fn check_name(&self, name: &Spanned<String>, before: &[DynoClass]) -> Result<(), CatalogError> {
        let n = name.get_ref();
        if n.is_empty()
            || !n
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            return Err(self.invalid(
                name.span(),
                "name",
                "must be non-empty and use only letters, digits, '-', '_' or '.'".into(),
            ));
        }
        if before.iter().any(|k| k.name == *n) {
            return Err(self.invalid(
                name.span(),
                "name",
                "is defined twice; class names must be unique".into(),
            ));
        }
        Ok(())
    }

    /// The monthly price: a positive number of USD.
    fn price(&self, price: &Spanned<f64>) -> Result<f64, CatalogError> {
        let p = *price.get_ref();
        if !(p.is_finite() && p > 0.0) {
            return Err(self.invalid(
                price.span(),
                "price_usd_month",
                format!("must be a positive number of USD per month, got {p}"),
            ));
        }
        Ok(p)
    }

    /// The memory and the hard memory limit (twice the memory when not given), MB.
    fn memory(&self, memory: &Spanned<i64>, hard: Option<&Spanned<i64>>) -> Result<(i64, i64), CatalogError> {
        let m = *memory.get_ref();
        if !(16..=16 * 1024 * 1024).contains(&m) {
            return Err(self.invalid(
                memory.span(),
                "memory_mb",
                format!("must be between 16 and 16777216 MB, got {m}"),
            ));
        }
        let hard = match hard {
            Some(h) if *h.get_ref() < m || *h.get_ref() > 64 * 1024 * 1024 => {
                return Err(self.invalid(
                    h.span(),
                    "memory_hard_mb",
                    format!(
                        "must be between memory_mb ({m}) and 67108864 MB, got {}",
                        h.get_ref()
                    ),
                ));
            }
            Some(h) => *h.get_ref(),
            None => m * 2,
        };
        Ok((m, hard))
    }

    /// The number of workers: 1 to 1024.
    fn workers(&self, workers: &Spanned<i64>) -> Result<i64, CatalogError> {
        let w = *workers.get_ref();
        if !(1..=1024).contains(&w) {
            return Err(self.invalid(
                workers.span(),
                "workers",
                format!("must be between 1 and 1024, got {w}"),
            ));
        }
        Ok(w)
    }
}

/// Validates one `[[class]]` entry of `file` (after the classes `before` it) into a class;
/// `default_billing` is the catalog's billing, for a class that names none.
pub(super) fn class_of(
    file: &str,
    text: &str,
    c: RawClass,
    default_billing: Option<&Billing>,
    before: &[DynoClass],
) -> Result<DynoClass, CatalogError> {
    let name = c.name.get_ref().clone();
    let site = ClassSite {
        file,
        text,
        class: &name,
    };
    site.check_name(&c.name, before)?;
    let price = site.price(&c.price_usd_month)?;
    let (memory, hard) = site.memory(&c.memory_mb, c.memory_hard_mb.as_ref())?;
    let workers = site.workers(&c.workers)?;
    let cpu = c.cpu.get_ref().clone();
    check_cpu(&cpu).map_err(|m| site.invalid(c.cpu.span(), "cpu", m))?;
    let (period_ms, burst_ms) = super::metering::check(&cpu, c.period_ms.as_ref(), c.burst_ms.as_ref())
        .map_err(|(span, field, m)| site.invalid(span, field, m))?;
    let (billing, billing_span) = match &c.billing {
        Some(b) => (b.get_ref().clone(), b.span()),
        None => (default_billing.cloned().unwrap_or_default(), c.cpu.span()),
    };
    check_billing(&billing, price, cpu.max_cores(), memory as f64)
        .map_err(|m| site.invalid(billing_span, "billing", m))?;
    Ok(DynoClass {
        name,
        price_usd_month: price,
        price_note: c.price_note,
        memory_mb: memory as u64,
        memory_hard_mb: hard as u64,
        workers: workers as u32,
        compute: c.compute,
        cpu,
        period_ms,
        burst_ms,
        quota_pooled: c.quota_pooled.unwrap_or(true),
        billing,
        source: c.source,
        unverified: c.unverified,
        in_default_run: c.in_default_run,
        catalog: None,
    })
}

/// Checks a CPU model's figures: positive core counts (at most 1024), a floor or baseline
/// no higher than the burst, and the burst-balance figures in range.
fn check_cpu(cpu: &CpuModel) -> Result<(), String> {
    let positive = |x: f64| x.is_finite() && x > 0.0 && x <= 1024.0;
    match *cpu {
        CpuModel::Shared {
            floor_cores,
            burst_cores,
            burst_us,
        } => {
            if !positive(floor_cores) || !positive(burst_cores) {
                return Err(format!(
                    "floor_cores and burst_cores must be positive core counts, got {floor_cores} and {burst_cores}"
                ));
            }
            if floor_cores > burst_cores {
                return Err(format!(
                    "floor_cores ({floor_cores}) cannot exceed burst_cores ({burst_cores})"
                ));
            }
            if burst_us > 10_000_000 {
                return Err(format!(
                    "burst_us must be at most 10000000 (10 s), got {burst_us}"
                ));
            }
        }
        CpuModel::Burst {
            baseline_cores,
            burst_cores,
            balance_s,
            initial_balance_s,
            refill,
        } => {
            if !positive(baseline_cores) || !positive(burst_cores) || baseline_cores > burst_cores {
                return Err(format!(
                    "baseline_cores and burst_cores must be positive with baseline_cores <= burst_cores, got {baseline_cores} and {burst_cores}"
                ));
            }
            if !(balance_s.is_finite() && balance_s > 0.0 && balance_s <= 86_400.0) {
                return Err(format!(
                    "balance_s must be between 0 and 86400 core-seconds, got {balance_s}"
                ));
            }
            if let Some(i) = initial_balance_s
                && !(i.is_finite() && (0.0..=balance_s).contains(&i))
            {
                return Err(format!(
                    "initial_balance_s must be between 0 and balance_s ({balance_s}), got {i}"
                ));
            }
            if !(refill.is_finite() && refill > 0.0 && refill <= 100.0) {
                return Err(format!("refill must be between 0 and 100, got {refill}"));
            }
        }
        CpuModel::Dedicated { cores } | CpuModel::Quota { cores } => {
            if !positive(cores) {
                return Err(format!("cores must be a positive core count, got {cores}"));
            }
        }
    }
    Ok(())
}

/// Checks a billing model's figures, and that a class's monthly price agrees with the
/// model's rates (within 2%) where the model has rates.
fn check_billing(b: &Billing, price: f64, vcpus: f64, memory_mb: f64) -> Result<(), String> {
    let rate = |name: &str, v: f64| -> Result<(), String> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(format!("{name} must be a non-negative number of USD, got {v}"))
        }
    };
    let hours = b.hours_per_month();
    if !(hours.is_finite() && (1.0..=744.0).contains(&hours)) {
        return Err(format!(
            "hours_per_month must be between 1 and 744 (720 for a 30-day month, 730 for an average one), got {hours}"
        ));
    }
    match *b {
        Billing::Monthly { .. } => {}
        Billing::PerSecond {
            usd_per_vcpu_hour,
            usd_per_gb_hour,
            minimum_s,
            ..
        } => {
            rate("usd_per_vcpu_hour", usd_per_vcpu_hour.unwrap_or(0.0))?;
            rate("usd_per_gb_hour", usd_per_gb_hour.unwrap_or(0.0))?;
            if !(minimum_s.is_finite() && (0.0..=86_400.0).contains(&minimum_s)) {
                return Err(format!(
                    "minimum_s must be between 0 and 86400 seconds, got {minimum_s}"
                ));
            }
        }
        Billing::Request {
            usd_per_vcpu_s,
            usd_per_gib_s,
            usd_per_million_requests,
            max_concurrency,
            rounding_ms,
            ..
        } => {
            rate("usd_per_vcpu_s", usd_per_vcpu_s)?;
            rate("usd_per_gib_s", usd_per_gib_s)?;
            rate("usd_per_million_requests", usd_per_million_requests)?;
            if !(1..=1000).contains(&max_concurrency) {
                return Err(format!(
                    "max_concurrency must be between 1 and 1000, got {max_concurrency}"
                ));
            }
            if !(rounding_ms.is_finite() && (0.0..=60_000.0).contains(&rounding_ms)) {
                return Err(format!(
                    "rounding_ms must be between 0 and 60000, got {rounding_ms}"
                ));
            }
        }
        Billing::BurstSurplus {
            baseline_cores,
            usd_per_vcpu_hour,
            ..
        } => {
            rate("usd_per_vcpu_hour", usd_per_vcpu_hour)?;
            if !(baseline_cores.is_finite() && baseline_cores >= 0.0 && baseline_cores <= vcpus) {
                return Err(format!(
                    "baseline_cores must be between 0 and the class's {vcpus} cores, got {baseline_cores}"
                ));
            }
        }
    }
    if let Some(per_hour) = b.rate_per_hour(vcpus, memory_mb) {
        let want = per_hour * hours;
        if (price - want).abs() > 0.02 * want {
            return Err(format!(
                "price_usd_month {price} disagrees with the {} rates: {vcpus} vCPU and {memory_mb} MB for {hours} h cost {want:.2}; \
                 set price_usd_month = {want:.2} or correct the rates",
                b.name()
            ));
        }
    }
    Ok(())
}
