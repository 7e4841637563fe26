//! Per-dollar figures of a run's classes, always at capacity and at the class's own CPU:
//! each situation's capacity from [`super::class_capacity`], its bill as the platform bills
//! (one dyno serving at capacity all the time), cost per million requests, requests per
//! second per $100 of monthly bill, and value relative to the cheapest class — floor
//! against floor, burst against burst.

use super::class_capacity::class_capacity;
use super::cost::{rps_per_100_usd, usd_per_million_at, value};
use super::result::{ClassResult, ClassStatus};
use crate::class::Usage;

/// Fills one class's capacity points with their cost, and the class's single-valued cost
/// fields with the conservative point.
fn price_class(c: &mut ClassResult) {
    let (mut points, basis) = class_capacity(c);
    let memory_mb = c.peak_rss_bytes.map(|b| b as f64 / 1_048_576.0);
    for p in &mut points {
        // CPU used at capacity: the rate × CPU per request, at most the cores.
        let cores_used = c
            .cpu_per_request_us
            .map_or(p.cores, |u| (p.capacity_rps * u / 1e6).min(p.cores));
        let hour = c
            .class
            .bill(&Usage::one_hour(p.capacity_rps, cores_used, memory_mb))
            .usd;
        p.usd_per_million_requests = usd_per_million_at(hour, p.capacity_rps);
        p.rps_per_100_usd_month = rps_per_100_usd(p.capacity_rps, hour * c.class.billing.hours_per_month());
    }
    c.cost.billing = c.class.billing.describe();
    c.cost.usd_hour = c.class.price_usd_hour();
    let first = points.first();
    c.cost.capacity_rps = first.map(|p| p.capacity_rps);
    c.cost.capacity_note =
        first.map(|p| format!("{} ({}): {}", p.origin.name(), p.situation.label(), p.note));
    c.cost.usd_per_million_requests = first.and_then(|p| p.usd_per_million_requests);
    c.cost.rps_per_100_usd_month = first.and_then(|p| p.rps_per_100_usd_month);
    c.cost.capacity_basis = basis;
    c.cost.capacity = points;
}

/// Requests per dollar at the conservative and the optimistic end of a class's range.
fn per_dollar(c: &ClassResult) -> (Option<f64>, Option<f64>) {
    let rpd = |p: &super::class_capacity::CapacityPoint| p.usd_per_million_requests.map(|u| 1e6 / u);
    (
        c.cost.capacity.first().and_then(rpd),
        c.cost.capacity.last().and_then(rpd),
    )
}

/// Fills every measured class's per-dollar figures: capacity in each situation, its bill,
/// $/M requests and req/s per $100/month at capacity, capacity value (floor against
/// floor, burst against burst) and latency value relative to the cheapest class.
pub fn apply_value(classes: &mut [ClassResult]) {
    for c in classes.iter_mut().filter(|c| c.status == ClassStatus::Ok) {
        price_class(c);
    }
    let cheapest = classes
        .iter()
        .filter(|c| c.is_ok())
        .min_by(|a, b| a.price_usd_month.total_cmp(&b.price_usd_month))
        .map(|c| {
            (
                c.price_usd_month,
                c.latency.value(95.0),
                c.latency.value(99.0),
                per_dollar(c),
            )
        });
    let Some((price0, p95_0, p99_0, (low0, high0))) = cheapest else {
        return;
    };
    for c in classes.iter_mut().filter(|c| c.status == ClassStatus::Ok) {
        c.cost.value_p95 = p95_0
            .zip(c.latency.value(95.0))
            .and_then(|(a, b)| value(a as f64, price0, b as f64, c.price_usd_month));
        c.cost.value_p99 = p99_0
            .zip(c.latency.value(99.0))
            .and_then(|(a, b)| value(a as f64, price0, b as f64, c.price_usd_month));
        let (low, high) = per_dollar(c);
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).and_then(|(a, b)| (b > 0.0).then(|| a / b));
        c.cost.value_capacity = ratio(low, low0);
        c.cost.value_capacity_burst = ratio(high, high0);
    }
}
