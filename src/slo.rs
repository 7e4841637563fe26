//! Service-level objectives on the command line: `p99<=300ms`, `p99.9<=1s`, `max<=2s`,
//! `error-rate<=1%`. Shared by `run --slo`, `simulate --slo` and `plan --slo`.

use std::fmt;
use std::str::FromStr;

pub use crate::units::parse_duration_us;

/// What an SLO constrains.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum SloMetric {
    /// A latency percentile, as a percentage (50, 90, 95, 99, 99.9).
    Percentile(f64),
    /// The largest latency seen.
    Max,
    /// The share of calls that failed (any error kind).
    ErrorRate,
}

/// One objective: `metric <= limit`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Slo {
    /// What is constrained.
    pub metric: SloMetric,
    /// The limit: microseconds for latency metrics, a fraction (0..1) for the error rate.
    pub limit: f64,
    /// The objective as the user wrote it.
    pub text: String,
}

impl Slo {
    /// The limit in microseconds (latency SLOs), or `None` for the error rate.
    pub fn limit_us(&self) -> Option<f64> {
        (self.metric != SloMetric::ErrorRate).then_some(self.limit)
    }

    /// Whether `value` (µs, or a fraction for the error rate) meets the objective.
    pub fn holds(&self, value: f64) -> bool {
        value <= self.limit
    }

    /// The metric's short name: `p99`, `max`, `error-rate`.
    pub fn metric_name(&self) -> String {
        match self.metric {
            SloMetric::Percentile(p) => format!("p{p}"),
            SloMetric::Max => "max".into(),
            SloMetric::ErrorRate => "error-rate".into(),
        }
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const HELP: &str = "write an SLO as METRIC<=LIMIT: p50|p90|p95|p99|p99.9|max with a duration \
                    (300ms, 1.5s, 800us), or error-rate with a percentage (1%) or fraction (0.01)";

impl FromStr for Slo {
    type Err = String;

    fn from_str(s: &str) -> Result<Slo, String> {
        let text = s.trim().to_string();
        let (lhs, rhs) = text
            .split_once("<=")
            .or_else(|| text.split_once('<'))
            .ok_or_else(|| format!("'{s}' has no '<='; {HELP}"))?;
        let lhs = lhs.trim().to_ascii_lowercase();
        let rhs = rhs.trim();
        let metric = match lhs.as_str() {
            "max" => SloMetric::Max,
            "error-rate" | "error_rate" | "errors" => SloMetric::ErrorRate,
            p if p.starts_with('p') => {
                let v: f64 = p[1..]
                    .parse()
                    .map_err(|_| format!("'{lhs}' is not a percentile; {HELP}"))?;
                if !(v > 0.0 && v < 100.0) {
                    return Err(format!("percentile {v} must be between 0 and 100 (exclusive)"));
                }
                SloMetric::Percentile(v)
            }
            _ => return Err(format!("unknown SLO metric '{lhs}'; {HELP}")),
        };
        let limit = if metric == SloMetric::ErrorRate {
            let v = match rhs.strip_suffix('%') {
                Some(pct) => pct.trim().parse::<f64>().map(|x| x / 100.0),
                None => rhs.parse::<f64>(),
            }
            .map_err(|_| format!("'{rhs}' is not an error rate; {HELP}"))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("error rate '{rhs}' must be between 0% and 100%"));
            }
            v
        } else {
            let us = parse_duration_us(rhs).map_err(|e| format!("{e}; {HELP}"))?;
            if us <= 0.0 {
                return Err(format!("the limit of '{s}' must be positive"));
            }
            us
        };
        Ok(Slo { metric, limit, text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_latency_and_error_slos() {
        let s: Slo = "p99<=300ms".parse().unwrap();
        assert_eq!(s.metric, SloMetric::Percentile(99.0));
        assert_eq!(s.limit, 300_000.0);
        assert_eq!(s.metric_name(), "p99");
        let s: Slo = "p99.9 <= 1.5s".parse().unwrap();
        assert_eq!(s.metric, SloMetric::Percentile(99.9));
        assert_eq!(s.limit, 1_500_000.0);
        assert_eq!("max<800us".parse::<Slo>().unwrap().limit, 800.0);
        let e: Slo = "error-rate<=1%".parse().unwrap();
        assert_eq!(e.metric, SloMetric::ErrorRate);
        assert!((e.limit - 0.01).abs() < 1e-12);
        assert!(e.holds(0.005) && !e.holds(0.02));
    }

    #[test]
    fn rejects_nonsense_with_help() {
        for bad in [
            "p99",
            "p100<=1s",
            "q99<=1s",
            "p99<=300",
            "p99<=300 parsecs",
            "error-rate<=150%",
            "p99<=0ms",
        ] {
            let e = bad.parse::<Slo>().unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!("p99<=300".parse::<Slo>().unwrap_err().contains("unit"));
    }
}
