//! Cost figures: $/month and $/hour (month = 720 h), cost per million requests at the
//! measured throughput, and latency value per dollar relative to the cheapest class.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::class::HOURS_PER_MONTH;

/// What a class costs and what its latency is worth per dollar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cost {
    /// List price, USD per month.
    pub usd_month: f64,
    /// USD per hour (month = 720 h).
    pub usd_hour: f64,
    /// USD per million requests if one dyno served requests at the measured throughput
    /// for the whole hour; absent without a throughput.
    pub usd_per_million_requests: Option<f64>,
    /// (cheapest p95 / this p95) / (this price / cheapest price): 1.0 for the cheapest class;
    /// above 1 means more latency improvement than price increase.
    pub value_p95: Option<f64>,
    /// The same for p99.
    pub value_p99: Option<f64>,
}

/// USD per million requests at `rps` on a class costing `usd_month`.
pub fn usd_per_million(usd_month: f64, rps: f64) -> Option<f64> {
    (rps > 0.0).then(|| usd_month / HOURS_PER_MONTH / (rps * 3600.0) * 1e6)
}

/// Latency value relative to the cheapest class: (cheapest latency / latency) / (price /
/// cheapest price).
pub fn value(cheapest_latency: f64, cheapest_price: f64, latency: f64, price: f64) -> Option<f64> {
    (latency > 0.0 && cheapest_price > 0.0 && price > 0.0)
        .then(|| (cheapest_latency / latency) / (price / cheapest_price))
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
    }
}
