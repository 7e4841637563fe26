//! Unit tests of the capacity model: each origin (measured, extrapolated, estimated), a
//! shared class's range, billing-aware $/M, and value compared like with like.

use super::*;
use crate::class::{Billing, Catalog, DynoClass};
use crate::record::summary::Summary;
use crate::record::{AppliedLimits, ClassResult, LimiterKind, apply_value};

fn heroku(name: &str) -> DynoClass {
    Catalog::default_catalog().class(name).unwrap().clone()
}

/// A class measured at concurrency 1 with `cpu_ms` of CPU and `wall_ms` of handler time
/// per request, on `local` (quota cores, CPUs).
fn measured(class: DynoClass, cpu_ms: f64, wall_ms: f64, quota: Option<f64>, cpus: usize) -> ClassResult {
    let floor = match class.cpu {
        CpuModel::Shared { floor_cores, .. } => Some(floor_cores),
        _ => None,
    };
    ClassResult {
        name: class.name.clone(),
        workers: class.workers,
        price_usd_month: class.price_usd_month,
        limits: Some(AppliedLimits {
            backend: Some(LimiterKind::Cgroup1),
            cpus: (0..cpus).collect(),
            quota_cores: quota,
            floor_cores: floor,
            neighbours: usize::from(floor.is_some()),
            neighbour_pattern: floor.map(|_| "bursty:0.5".to_string()),
            ..Default::default()
        }),
        load: crate::record::LoadFacts {
            model: "closed".into(),
            concurrency: 1,
            ..Default::default()
        },
        latency: Summary {
            count: 100,
            mean_us: wall_ms * 1000.0 + 500.0,
            ..Default::default()
        },
        server_wall: Some(Summary {
            count: 100,
            mean_us: wall_ms * 1000.0,
            ..Default::default()
        }),
        cpu_per_request_us: Some(cpu_ms * 1000.0),
        cpu_wait_per_request_us: Some(0.0),
        class,
        ..Default::default()
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn a_capped_dedicated_class_is_extrapolated_to_its_own_cores() {
    // performance-l (8 cores, 17 workers) measured on one core: 91 ms of CPU per request.
    let mut c = vec![measured(heroku("performance-l"), 91.0, 91.4, None, 1)];
    apply_value(&mut c);
    let p = &c[0].cost.capacity;
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].origin, CapacityOrigin::Extrapolated);
    assert_eq!(p[0].cores, 8.0);
    let want_rps = (17.0 / 0.0914f64).min(8.0 / 0.091);
    assert!(close(p[0].capacity_rps, want_rps, 1e-9), "{}", p[0].capacity_rps);
    // $500 a month of 720 h ÷ (87.9 req/s × 3600) × 10⁶ = $2.19 per million.
    let want = 1e6 * 500.0 / (want_rps * 3600.0 * 720.0);
    assert!(close(p[0].usd_per_million_requests.unwrap(), want, 1e-9));
    assert_eq!(p[0].local_cores, Some(1.0));
    assert!(p[0].note.contains("scaled to the class's 8.00"), "{}", p[0].note);
}

#[test]
fn an_uncapped_class_is_estimated_and_a_shared_class_is_a_range() {
    // eco: 0.17-0.67 cores, both ends hosted in full here: estimated at floor and burst.
    let mut c = vec![measured(heroku("eco"), 93.8, 200.0, Some(0.6667), 1)];
    apply_value(&mut c);
    let p = &c[0].cost.capacity;
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[0].situation, p[1].situation),
        (Situation::Floor, Situation::Burst)
    );
    assert!(p.iter().all(|p| p.origin == CapacityOrigin::Estimated));
    assert!(close(p[0].capacity_rps, 0.1667 / 0.0938, 1e-9));
    assert!(close(p[1].capacity_rps, 0.6667 / 0.0938, 1e-9));
    // The floor costs four times the burst per request.
    let (lo, hi) = (
        p[1].usd_per_million_requests.unwrap(),
        p[0].usd_per_million_requests.unwrap(),
    );
    assert!(close(hi / lo, 0.6667 / 0.1667, 1e-9));
    // The single-valued fields repeat the conservative end.
    assert_eq!(c[0].cost.usd_per_million_requests, Some(hi));
}

#[test]
fn a_saturated_measurement_is_measured_where_the_class_had_its_cpu_and_scaled_elsewhere() {
    // A 1-core quota class, 4 callers for 2 workers: its throughput is its capacity.
    let mut class = Catalog::embedded("containers")
        .unwrap()
        .class("cpu-1")
        .unwrap()
        .clone();
    class.workers = 2;
    let mut c = measured(class, 50.0, 60.0, Some(1.0), 1);
    c.load.concurrency = 4;
    c.throughput_rps = 18.0;
    c.duration_s = 10.0;
    c.kernel.cpu_usage_us = Some(9_000_000);
    let mut v = vec![c.clone()];
    apply_value(&mut v);
    let p = &v[0].cost.capacity[0];
    assert_eq!(p.origin, CapacityOrigin::Measured);
    assert_eq!(p.capacity_rps, 18.0);
    // The same measurement of a 2-core class capped to 1 here: 18 req/s on 0.9 cores used
    // = 20 req/s per core × 2 cores, bounded by 2 workers ÷ 60 ms = 33.3.
    c.class.cpu = CpuModel::Quota { cores: 2.0 };
    let mut v = vec![c];
    apply_value(&mut v);
    let p = &v[0].cost.capacity[0];
    assert_eq!(p.origin, CapacityOrigin::Extrapolated);
    assert!(close(p.per_core_rps.unwrap(), 20.0, 1e-9));
    assert!(close(p.capacity_rps, 33.333_333, 1e-6), "{}", p.capacity_rps);
}

#[test]
fn a_remote_measurement_is_the_platforms_own() {
    let mut c = measured(heroku("standard-1x"), 50.0, 60.0, None, 1);
    c.limits = None;
    c.load.concurrency = 2;
    c.throughput_rps = 9.0;
    let mut v = vec![c];
    apply_value(&mut v);
    assert!(
        v[0].cost
            .capacity
            .iter()
            .all(|p| p.origin == CapacityOrigin::Measured && p.capacity_rps == 9.0)
    );
}

#[test]
fn value_compares_floor_with_floor_and_burst_with_burst() {
    let mut v = vec![
        measured(heroku("eco"), 90.0, 100.0, Some(0.6667), 1),
        measured(heroku("performance-l"), 90.0, 90.0, None, 1),
    ];
    apply_value(&mut v);
    let rpd = |c: &ClassResult, i: usize| 1e6 / c.cost.capacity[i].usd_per_million_requests.unwrap();
    let (eco, perf) = (&v[0], &v[1]);
    assert_eq!(eco.cost.value_capacity, Some(1.0));
    assert_eq!(eco.cost.value_capacity_burst, Some(1.0));
    assert!(close(
        perf.cost.value_capacity.unwrap(),
        rpd(perf, 0) / rpd(eco, 0),
        1e-9
    ));
    assert!(close(
        perf.cost.value_capacity_burst.unwrap(),
        rpd(perf, 0) / rpd(eco, 1),
        1e-9
    ));
    // The floor comparison is the kinder one to a dedicated class.
    assert!(perf.cost.value_capacity > perf.cost.value_capacity_burst);
}

#[test]
fn request_billing_prices_a_busy_instance_plus_fees() {
    let cat = Catalog::embedded("cloudrun").unwrap();
    let k = cat.class("1vcpu-0.5gib").unwrap().clone();
    assert!(matches!(k.billing, Billing::Request { .. }));
    let mut v = vec![measured(k, 50.0, 50.0, Some(1.0), 1)];
    apply_value(&mut v);
    let p = &v[0].cost.capacity[0];
    // Busy all the time at capacity: 3600 × (1 × 0.000024 + 0.5 × 0.0000025) per hour over
    // capacity × 3600 requests, plus $0.40 per million.
    let want = 1e6 * (0.000024 + 0.5 * 0.0000025) / p.capacity_rps + 0.40;
    assert!(close(p.usd_per_million_requests.unwrap(), want, 1e-9));
}
