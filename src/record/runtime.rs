//! What the server looked like while it ran (plain data): one sample a second, as the
//! platform's log-runtime-metrics reports a dyno, and the R14 check against the class's
//! memory quota.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One sample of the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RuntimeSample {
    /// Seconds since the Unix epoch.
    pub unix_s: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// Swapped-out memory, bytes.
    pub swap_bytes: u64,
    /// CPU used since the previous sample, percent of one core.
    pub cpu_pct: f64,
    /// Runnable threads (running or waiting for a CPU), 1-minute exponential average.
    pub load_avg_1m: f64,
    /// ... 5-minute average.
    pub load_avg_5m: f64,
    /// ... 15-minute average.
    pub load_avg_15m: f64,
}

/// R14: the samples over the memory quota, with the worst one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MemoryQuotaReport {
    /// The class's memory quota, bytes.
    pub quota_bytes: u64,
    /// Samples above the quota (each one an "R14 - Memory quota exceeded").
    pub samples_over: u64,
    /// Largest RSS + swap seen, bytes.
    pub max_bytes: u64,
    /// That as a percentage of the quota.
    pub max_pct: f64,
}

/// Checks samples against a quota.
pub fn memory_quota(samples: &[RuntimeSample], quota_bytes: u64) -> MemoryQuotaReport {
    let used = |s: &RuntimeSample| s.rss_bytes + s.swap_bytes;
    let max_bytes = samples.iter().map(used).max().unwrap_or(0);
    MemoryQuotaReport {
        quota_bytes,
        samples_over: samples.iter().filter(|s| used(s) > quota_bytes).count() as u64,
        max_bytes,
        max_pct: if quota_bytes > 0 {
            max_bytes as f64 / quota_bytes as f64 * 100.0
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_check() {
        let s = |rss| RuntimeSample {
            rss_bytes: rss,
            ..RuntimeSample::default()
        };
        let r = memory_quota(&[s(100), s(300), s(250)], 200);
        assert_eq!((r.samples_over, r.max_bytes), (2, 300));
        assert!((r.max_pct - 150.0).abs() < 1e-9);
    }
}
