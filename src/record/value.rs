//! Per-dollar figures of a run's classes, always at capacity: the throughput that saturates
//! a class (the capacity search's held rate, a closed loop that kept every worker busy, or
//! an estimate from the measured means, labelled as such), its cost per million requests,
//! requests per second per $100/month, and value relative to the cheapest class.

use super::cost::{CapacityBasis, estimate_capacity, rps_per_100_usd, usd_per_million, value};
use super::result::{ClassResult, ClassStatus};

/// The CPU a class has for the capacity estimate, in cores: what was applied locally (the
/// quota, or the CPUs of a dedicated class; a shared class at its burst cap, i.e. on an idle
/// host), or the catalog's figure for a remote dyno.
pub fn class_cores(c: &ClassResult) -> f64 {
    match &c.limits {
        Some(l) => l.quota_cores.unwrap_or(l.cpus.len() as f64),
        None => c.class.cpu.max_cores(),
    }
}

/// A class's capacity, where it comes from, and how it was obtained.
pub fn capacity(c: &ClassResult) -> Option<(f64, CapacityBasis, String)> {
    if let Some(cap) = &c.capacity
        && let Some(rate) = cap.max_rate_rps
    {
        return Some((
            rate,
            CapacityBasis::CapacitySearch,
            format!("highest open-loop rate holding {} at steady state", cap.slo),
        ));
    }
    if c.load.model == "closed" && c.load.concurrency >= c.workers && c.throughput_rps > 0.0 {
        return Some((
            c.throughput_rps,
            CapacityBasis::SaturatedClosedLoop,
            format!(
                "closed loop, {} callers for {} workers: every worker always busy",
                c.load.concurrency, c.workers
            ),
        ));
    }
    let wall_us = c
        .server_wall
        .as_ref()
        .map(|s| s.mean_us)
        .filter(|m| *m > 0.0)
        .unwrap_or(c.latency.mean_us);
    let cpu_us = c.cpu_per_request_us.unwrap_or(0.0);
    let cores = class_cores(c);
    let est = estimate_capacity(c.workers, wall_us / 1e6, cores, cpu_us / 1e6)?;
    Some((
        est,
        CapacityBasis::Estimate,
        format!(
            "estimate: min({} workers / {:.1} ms per request, {cores:.2} cores / {:.1} ms CPU per request); \
             measured at concurrency {}, not at capacity",
            c.workers,
            wall_us / 1000.0,
            cpu_us / 1000.0,
            c.load.concurrency
        ),
    ))
}

/// Fills every measured class's per-dollar figures: capacity, $/M requests and req/s per
/// $100/month at capacity, capacity value and latency value relative to the cheapest class.
pub fn apply_value(classes: &mut [ClassResult]) {
    for c in classes.iter_mut().filter(|c| c.status == ClassStatus::Ok) {
        let price = c.price_usd_month;
        match capacity(c) {
            Some((rps, basis, note)) => {
                c.cost.capacity_rps = Some(rps);
                c.cost.capacity_basis = Some(basis);
                c.cost.capacity_note = Some(note);
                c.cost.usd_per_million_requests = usd_per_million(price, rps);
                c.cost.rps_per_100_usd_month = rps_per_100_usd(rps, price);
            }
            None => {
                c.cost.capacity_rps = None;
                c.cost.capacity_basis = None;
                c.cost.usd_per_million_requests = None;
                c.cost.rps_per_100_usd_month = None;
            }
        }
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
                c.cost.capacity_rps,
            )
        });
    let Some((price0, p95_0, p99_0, cap0)) = cheapest else {
        return;
    };
    for c in classes.iter_mut().filter(|c| c.status == ClassStatus::Ok) {
        c.cost.value_p95 = p95_0
            .zip(c.latency.value(95.0))
            .and_then(|(a, b)| value(a as f64, price0, b as f64, c.price_usd_month));
        c.cost.value_p99 = p99_0
            .zip(c.latency.value(99.0))
            .and_then(|(a, b)| value(a as f64, price0, b as f64, c.price_usd_month));
        // Requests per dollar relative to the cheapest: (cap / price) / (cap0 / price0).
        c.cost.value_capacity = cap0.zip(c.cost.capacity_rps).and_then(|(k0, k)| {
            (k0 > 0.0 && c.price_usd_month > 0.0 && price0 > 0.0)
                .then(|| (k / c.price_usd_month) / (k0 / price0))
        });
    }
}
