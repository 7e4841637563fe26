//! Value parsers of the command line: percentages, worker counts, durations, sizes, rates,
//! arrival processes. Each error says what was wrong and what would be valid.

use clap::builder::{EnumValueParser, TypedValueParser};

use crate::record::Arrivals;

/// The arrival processes as `--arrivals` offers them (clap stays at this edge; the model's
/// [`Arrivals`] knows nothing of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ArrivalsArg {
    /// Evenly spaced at 1/rate (also spelled `deterministic`).
    #[value(alias = "deterministic")]
    Constant,
    /// Exponential gaps with mean 1/rate, seeded: many independent users.
    Poisson,
}

impl From<ArrivalsArg> for Arrivals {
    fn from(a: ArrivalsArg) -> Arrivals {
        match a {
            ArrivalsArg::Constant => Arrivals::Constant,
            ArrivalsArg::Poisson => Arrivals::Poisson,
        }
    }
}

/// `--arrivals`: `constant` (or `deterministic`) or `poisson`, listed in `--help`.
pub(crate) fn arrivals_parser() -> impl TypedValueParser<Value = Arrivals> {
    EnumValueParser::<ArrivalsArg>::new().map(Arrivals::from)
}

pub(crate) fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage such as 10%"))?;
    if !(0.0..=10_000.0).contains(&v) {
        return Err(format!("'{s}' must be between 0% and 10000%"));
    }
    Ok(v)
}

/// `run --calls`: a number, or enough for the SLOs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calls {
    /// This many measured calls per class and round.
    Fixed(u32),
    /// Enough to bound the strictest percentile SLO.
    Auto,
}

/// `100` or `auto`.
pub(crate) fn parse_calls(s: &str) -> Result<Calls, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Calls::Auto);
    }
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=10_000_000).contains(&n) => Ok(Calls::Fixed(n)),
        _ => Err(format!(
            "'{s}' is not a call count (1-10000000) or 'auto' (enough calls to bound the --slo percentiles)"
        )),
    }
}

/// `run --precision`: `5%` or `5` (percent of the estimate), more than 0% and below 100%.
pub(crate) fn parse_precision(s: &str) -> Result<f64, String> {
    let t = s.trim();
    match t.strip_suffix('%').unwrap_or(t).trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 100.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a precision: give the interval's half-width as a percentage of the estimate, more than 0% and below 100% (e.g. 5% for ±5%)"
        )),
    }
}

/// Worker counts given to `run --workers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCounts(pub Vec<u32>);

/// `4`, `1..8` (both ends included) or `1,2,4,8`.
pub(crate) fn parse_worker_counts(s: &str) -> Result<WorkerCounts, String> {
    let one = |x: &str| -> Result<u32, String> {
        match x.trim().parse::<u32>() {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err(format!(
                "'{x}' is not a worker count (1-1024); use 4, 1..8 or 1,2,4,8"
            )),
        }
    };
    let v: Vec<u32> = if let Some((a, b)) = s.split_once("..") {
        let (a, b) = (one(a)?, one(b)?);
        if a > b {
            return Err(format!("worker range '{s}' is reversed; write {b}..{a}"));
        }
        (a..=b).collect()
    } else {
        s.split(',').map(one).collect::<Result<_, _>>()?
    };
    let mut seen = std::collections::BTreeSet::new();
    if let Some(d) = v.iter().find(|n| !seen.insert(**n)) {
        return Err(format!("worker count {d} is listed twice in '{s}'"));
    }
    Ok(WorkerCounts(v))
}

pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let us = crate::units::parse_duration_us(s)?;
    if !(1000.0..=3_600_000_000.0).contains(&us) {
        return Err(format!("'{s}' must be between 1ms and 1h"));
    }
    Ok(std::time::Duration::from_micros(us as u64))
}

/// A duration of up to a day (`10m`, `1h`).
pub(crate) fn parse_long_duration(s: &str) -> Result<std::time::Duration, String> {
    let us = crate::units::parse_duration_us(s)?;
    if !(1e6..=86_400e6).contains(&us) {
        return Err(format!("'{s}' must be between 1s and 24h"));
    }
    Ok(std::time::Duration::from_micros(us as u64))
}

pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    crate::workload::generate::parse_size(s)
}

pub(crate) fn parse_seconds(s: &str) -> Result<f64, String> {
    let us = crate::units::parse_duration_us(s)?;
    if us > 0.0 && us.is_finite() {
        Ok(us / 1e6)
    } else {
        Err(format!("'{s}' must be a positive duration such as 30s or 500ms"))
    }
}

pub(crate) fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = if let Some(n) = t.strip_suffix("/min") {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix("/s") {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        format!("'{s}' is not a rate; write requests per second (500, 500/s) or per minute (30000/min)")
    })?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(format!("the rate must be positive (got '{s}')"));
    }
    Ok(v / per)
}

/// `I/N`: shard I of N, 0 ≤ I < N ≤ 1000.
pub(crate) fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{s}' is not a shard such as 0/4 (index/count, 0 ≤ index < count ≤ 1000)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || n > 1000 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// An absolute time: RFC 3339 (`2026-12-01T10:00:00Z`) or seconds since the Unix epoch.
pub(crate) fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs > 0.0 {
            return Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_rfc3339_weak(t).map_err(|e| {
        format!("'{s}' is not a time ({e}); write RFC 3339 in UTC (2026-12-01T10:00:00Z) or seconds since the Unix epoch")
    })
}

/// A Kubernetes namespace: an RFC 1123 (DNS-1123) label, as the API server requires.
pub(crate) fn parse_dns_label(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a namespace Kubernetes accepts: a DNS-1123 label of at most 63 characters, \
             lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. bench or dyno-bench-1)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_dns_label;

    #[test]
    fn namespaces_are_dns_labels() {
        for good in ["bench", "dyno-bench-1", "a", "0x", &"a".repeat(63)] {
            assert_eq!(parse_dns_label(good).as_deref(), Ok(good));
        }
        for bad in [
            "",
            "Bad_Name!",
            "-bench",
            "bench-",
            "Bench",
            "a.b",
            &"a".repeat(64),
        ] {
            assert!(parse_dns_label(bad).unwrap_err().contains("DNS-1123"), "{bad}");
        }
    }
}
