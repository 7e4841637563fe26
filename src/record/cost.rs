//! Cost figures (pure formulas): $/month and $/hour, cost per million requests and
//! requests per second per $100/month at a class's capacity (billed as the class's
//! platform bills), and value per dollar relative to the cheapest class.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::class::HOURS_PER_MONTH;

/// Where a class's capacity (the throughput that saturates it) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityBasis {
    /// The capacity search's highest rate that held the SLO at steady state.
    CapacitySearch,
    /// A closed loop with at least as many callers as workers: every worker always had a
    /// request, so the class ran at its capacity.
    SaturatedClosedLoop,
    /// Estimated from what was measured: min(workers / mean handler time, cores / mean CPU
    /// per request). Not measured at capacity.
    Estimate,
}

impl CapacityBasis {
    /// Whether the figure is an estimate rather than a measurement.
    pub fn is_estimate(self) -> bool {
        self == CapacityBasis::Estimate
    }

    /// A short label for tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            CapacityBasis::CapacitySearch => "measured (capacity search)",
            CapacityBasis::SaturatedClosedLoop => "measured (callers >= workers)",
            CapacityBasis::Estimate => "estimated",
        }
    }
}

/// What a class costs, what it can serve for it, and what its latency is worth per dollar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Cost {
    /// List price, USD per month.
    pub usd_month: f64,
    /// USD per hour of one instance provisioned all the time (the platform's month).
    pub usd_hour: f64,
    /// How the platform bills the class (`monthly`, `per-second`, `request`,
    /// `burst-surplus`), with its terms.
    #[serde(default)]
    pub billing: String,
    /// What one dyno serves at the class's own CPU in each situation it is sold in
    /// (conservative first: a shared class's floor, then its burst), with each figure's
    /// origin and cost. The single-valued fields below repeat the first (conservative) one.
    #[serde(default)]
    pub capacity: Vec<super::class_capacity::CapacityPoint>,
    /// Requests per second one dyno of the class serves at capacity, in its most
    /// conservative situation; absent when nothing was measured to base it on.
    pub capacity_rps: Option<f64>,
    /// What the capacity figures rest on: a capacity search, a saturated closed loop, or
    /// service times alone (an estimate).
    pub capacity_basis: Option<CapacityBasis>,
    /// How the conservative figure was obtained, in words.
    pub capacity_note: Option<String>,
    /// USD per million requests when one dyno serves at capacity all the time, billed as
    /// the platform bills (conservative situation).
    pub usd_per_million_requests: Option<f64>,
    /// Requests per second at capacity per $100 of monthly bill (conservative situation).
    pub rps_per_100_usd_month: Option<f64>,
    /// Requests per dollar relative to the cheapest class of the run, conservative end
    /// against conservative end (a shared class's floor against the cheapest class's
    /// floor; 1.0 for the cheapest; 2.0 = twice the requests per dollar).
    pub value_capacity: Option<f64>,
    /// The same at the optimistic ends (burst against burst); equal to `value_capacity`
    /// when neither class has a range.
    #[serde(default)]
    pub value_capacity_burst: Option<f64>,
    /// Latency per dollar at the run's load: (cheapest p95 / this p95) / (this price /
    /// cheapest price), 1.0 for the cheapest class.
    pub value_p95: Option<f64>,
    /// The same for p99.
    pub value_p99: Option<f64>,
}

/// USD per million requests at `rps` on a class costing `usd_month` over a month of
/// [`HOURS_PER_MONTH`] (a monthly price; other billing goes through the class's bill).
pub fn usd_per_million(usd_month: f64, rps: f64) -> Option<f64> {
    usd_per_million_at(usd_month / HOURS_PER_MONTH, rps)
}

/// USD per million requests at `rps` when an hour costs `usd_hour`.
pub fn usd_per_million_at(usd_hour: f64, rps: f64) -> Option<f64> {
    (rps > 0.0 && usd_hour.is_finite()).then(|| usd_hour / (rps * 3600.0) * 1e6)
}

/// Requests per second per $100/month.
pub fn rps_per_100_usd(rps: f64, usd_month: f64) -> Option<f64> {
    (usd_month > 0.0 && rps > 0.0).then(|| rps / (usd_month / 100.0))
}

/// Latency value relative to the cheapest class: (cheapest latency / latency) / (price /
/// cheapest price).
pub fn value(cheapest_latency: f64, cheapest_price: f64, latency: f64, price: f64) -> Option<f64> {
    (latency > 0.0 && cheapest_price > 0.0 && price > 0.0)
        .then(|| (cheapest_latency / latency) / (price / cheapest_price))
}

/// The capacity bound from a class's means: each of `workers` serves one request per
/// mean service time (CPU and non-CPU), and `cores` serve `cores / mean CPU` requests per
/// second; whichever is smaller limits it (the asymptotic bound of queueing networks). The
/// one formula behind every capacity figure — `run`'s per-dollar columns and `plan`'s
/// dynos. Seconds in, requests per second out.
pub fn estimate_capacity(workers: u32, mean_wall_s: f64, cores: f64, mean_cpu_s: f64) -> Option<f64> {
    let by_workers = (mean_wall_s > 0.0).then(|| f64::from(workers) / mean_wall_s);
    let by_cpu = (mean_cpu_s > 0.0 && cores > 0.0).then(|| cores / mean_cpu_s);
    match (by_workers, by_cpu) {
        (Some(w), Some(c)) => Some(w.min(c)),
        (w, c) => w.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_million_and_value() {
        // $25/month = $0.0347/h; at 10 req/s that is 36 000 requests per hour.
        let c = usd_per_million(25.0, 10.0).unwrap();
        assert!((c - 25.0 / 720.0 / 36_000.0 * 1e6).abs() < 1e-9);
        assert_eq!(usd_per_million(25.0, 0.0), None);
        // Twice the price for half the p99: value 1.0; for a quarter of the p99: 2.0.
        assert!((value(400.0, 25.0, 200.0, 50.0).unwrap() - 1.0).abs() < 1e-12);
        assert!((value(400.0, 25.0, 100.0, 50.0).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(value(400.0, 25.0, 400.0, 25.0), Some(1.0));
        assert_eq!(rps_per_100_usd(10.0, 50.0), Some(20.0));
    }

    #[test]
    fn capacity_is_the_tighter_of_workers_and_cores() {
        // 4 workers, 100 ms handlers, 56 ms of CPU each on 1 core: the CPU limits it.
        let c = estimate_capacity(4, 0.1, 1.0, 0.056).unwrap();
        assert!((c - 1.0 / 0.056).abs() < 1e-9);
        // 2 workers waiting on IO (200 ms, 5 ms of CPU) on 2 cores: the workers limit it.
        assert!((estimate_capacity(2, 0.2, 2.0, 0.005).unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(estimate_capacity(2, 0.0, 0.0, 0.0), None);
    }
}
