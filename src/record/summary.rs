//! Summaries of a histogram: count, min, mean, stdev, max, and percentiles, each with a
//! distribution-free 95% confidence interval from order statistics (the ranks j < k with
//! P(X(j) <= q_p <= X(k)) >= 95%, from the binomial distribution of how many samples fall
//! below the true percentile). A percentile the count cannot support is reported as not
//! estimable instead of as a number.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::histogram::{Hist, value_at_rank};

/// The percentiles every summary reports.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 95.0, 99.0, 99.9];

/// Confidence level of the intervals.
pub const CONFIDENCE: f64 = 0.95;

/// One percentile with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Percentile {
    /// The percentile (50, 90, 95, 99, 99.9).
    pub p: f64,
    /// Nearest-rank estimate, µs; absent when the sample count cannot support it
    /// (fewer than 1/(1-p) samples).
    pub value_us: Option<u64>,
    /// Lower end of the 95% confidence interval, µs; absent when no order statistic is low
    /// enough (too few samples).
    pub ci_low_us: Option<u64>,
    /// Upper end of the 95% confidence interval, µs; absent when even the maximum is not a
    /// 95% upper bound (too few samples: with 100 calls, p99's upper bound is unknown).
    pub ci_high_us: Option<u64>,
    /// Samples behind the estimate.
    pub n: u64,
}

impl Percentile {
    /// Whether the estimate exists.
    pub fn estimable(&self) -> bool {
        self.value_us.is_some()
    }
}

/// A histogram summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Smallest, µs.
    pub min_us: u64,
    /// Largest, µs.
    pub max_us: u64,
    /// Mean, µs.
    pub mean_us: f64,
    /// Standard deviation, µs.
    pub stdev_us: f64,
    /// p50, p90, p95, p99, p99.9 with confidence intervals.
    pub percentiles: Vec<Percentile>,
}

impl Summary {
    /// The entry for percentile `p`, if reported.
    pub fn percentile(&self, p: f64) -> Option<&Percentile> {
        self.percentiles.iter().find(|x| (x.p - p).abs() < 1e-9)
    }

    /// The estimate of percentile `p`, µs.
    pub fn value(&self, p: f64) -> Option<u64> {
        self.percentile(p).and_then(|x| x.value_us)
    }
}

/// P(B <= k) for k = 0..=n, B ~ Binomial(n, p) (tests check coverage with it).
#[cfg(test)]
fn binomial_cdf_table(n: u64, p: f64) -> Vec<f64> {
    let mut cdf = Vec::with_capacity(n as usize + 1);
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_pmf = n as f64 * lq;
    let mut acc = 0.0f64;
    for k in 0..=n {
        acc += log_pmf.exp();
        cdf.push(acc.min(1.0));
        if k < n {
            log_pmf += ((n - k) as f64 / (k + 1) as f64).ln() + lp - lq;
        }
    }
    cdf
}

/// 1-based ranks (j, k) of the order statistics bounding percentile `p` (0..1) with
/// confidence `conf`; `None` where no rank qualifies.
pub fn ci_ranks(n: u64, p: f64, conf: f64) -> (Option<u64>, Option<u64>) {
    if n == 0 {
        return (None, None);
    }
    let alpha = (1.0 - conf) / 2.0;
    // Walk the binomial CDF once, in log space (no underflow), keeping O(1) memory:
    // P(X(j) <= q) = P(B >= j), so the lower rank is the largest j with P(B <= j-1) <= alpha;
    // P(X(k) >= q) = P(B <= k-1), so the upper rank is the smallest k with P(B <= k-1) >= 1-alpha.
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_pmf = n as f64 * lq;
    let (mut cdf, mut low, mut high) = (0.0f64, None, None);
    for k in 0..n {
        cdf = (cdf + log_pmf.exp()).min(1.0);
        if cdf <= alpha {
            low = Some(k + 1);
        }
        if cdf >= 1.0 - alpha {
            high = Some(k + 1);
            break;
        }
        log_pmf += ((n - k) as f64 / (k + 1) as f64).ln() + lp - lq;
    }
    (low, high)
}

/// z of two-sided 95% intervals.
pub const Z95: f64 = 1.959_963_985;

/// Wilson's 95% interval of a proportion: `x` successes in `n` trials.
pub fn wilson(x: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let (z, p) = (Z95, x / n);
    let den = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / den;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / den;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Nearest-rank position of percentile `p` (0..1) among `n`, or `None` when `n` is too
/// small to tell that percentile from the maximum (n * (1 - p) < 1).
pub fn estimate_rank(n: u64, p: f64) -> Option<u64> {
    if n == 0 || (n as f64) * (1.0 - p) < 1.0 - 1e-9 {
        return None;
    }
    Some((((p * n as f64) - 1e-9).ceil() as u64).clamp(1, n))
}

/// Summarizes a histogram.
pub fn summarize(h: &Hist) -> Summary {
    let n = h.len();
    let percentiles = PERCENTILES
        .iter()
        .map(|&pct| {
            let p = pct / 100.0;
            let (lo, hi) = ci_ranks(n, p, CONFIDENCE);
            Percentile {
                p: pct,
                value_us: estimate_rank(n, p).and_then(|k| value_at_rank(h, k)),
                ci_low_us: lo.and_then(|k| value_at_rank(h, k)),
                ci_high_us: hi.and_then(|k| value_at_rank(h, k)),
                n,
            }
        })
        .collect();
    Summary {
        count: n,
        min_us: if n > 0 { h.min() } else { 0 },
        max_us: if n > 0 { h.max() } else { 0 },
        mean_us: if n > 0 { h.mean() } else { 0.0 },
        stdev_us: if n > 0 { h.stdev() } else { 0.0 },
        percentiles,
    }
}

#[cfg(test)]
mod tests {
    use super::super::histogram::{new_hist, record};
    use super::*;

    #[test]
    fn median_interval_of_100_samples_matches_the_textbook_ranks() {
        // For n = 100, the classic distribution-free 95% interval of the median is
        // [X(40), X(61)] (coverage 96.5%).
        assert_eq!(ci_ranks(100, 0.5, 0.95), (Some(40), Some(61)));
        // p99 of 100: the lower bound exists, the upper one does not (even the maximum is
        // below the true p99 with probability 0.99^100 = 37%).
        let (lo, hi) = ci_ranks(100, 0.99, 0.95);
        assert_eq!(hi, None);
        assert_eq!(lo, Some(97));
        assert_eq!(estimate_rank(100, 0.99), Some(99));
        assert_eq!(
            estimate_rank(100, 0.999),
            None,
            "p99.9 is not estimable from 100 calls"
        );
        assert_eq!(estimate_rank(1000, 0.999), Some(999));
        assert_eq!(estimate_rank(10, 0.5), Some(5));
    }

    #[test]
    fn intervals_cover_at_least_95_percent() {
        for &(n, p) in &[(20u64, 0.5), (100, 0.9), (1000, 0.99), (5000, 0.999)] {
            let (lo, hi) = ci_ranks(n, p, 0.95);
            let (lo, hi) = (lo.unwrap(), hi.unwrap());
            let cdf = binomial_cdf_table(n, p);
            let coverage = cdf[(hi - 1) as usize] - cdf[(lo - 1) as usize];
            assert!(coverage >= 0.95, "n={n} p={p}: [{lo},{hi}] covers {coverage}");
            assert!(lo as f64 <= p * n as f64 && hi as f64 >= p * n as f64);
        }
    }

    #[test]
    fn summary_of_a_synthetic_histogram() {
        // 1..=1000 ms: p50 = 500 ms, p99 = 990 ms, p99.9 = 999 ms (within 0.1% buckets).
        let mut h = new_hist();
        for ms in 1..=1000u64 {
            record(&mut h, ms * 1000);
        }
        let s = summarize(&h);
        assert_eq!(s.count, 1000);
        let near = |a: u64, b: u64| (a as f64 - b as f64).abs() / b as f64 <= 0.001;
        assert!(near(s.value(50.0).unwrap(), 500_000));
        assert!(near(s.value(99.0).unwrap(), 990_000));
        assert!(near(s.value(99.9).unwrap(), 999_000));
        let p50 = s.percentile(50.0).unwrap();
        assert!(p50.ci_low_us.unwrap() < 500_000 && p50.ci_high_us.unwrap() > 500_000);
        // The interval of the median of 1000 samples: ranks 469 and 532.
        assert!(near(p50.ci_low_us.unwrap(), 469_000), "{p50:?}");
        assert!(near(p50.ci_high_us.unwrap(), 532_000), "{p50:?}");
        assert!((s.mean_us - 500_500.0).abs() / 500_500.0 < 0.001);
        let empty = summarize(&new_hist());
        assert_eq!(empty.count, 0);
        assert!(empty.percentiles.iter().all(|p| p.value_us.is_none()));
    }
}
