//! Unit tests of the CPU engine: M/M/1 with one worker on one core, a quota's full speed
//! then stall, and a closed loop saturating the CPU.

use super::*;
use crate::simulate::service::ServiceDist;

fn cfg(dynos: u32, workers: u32) -> EventConfig {
    EventConfig {
        dynos,
        workers,
        requests: 60_000,
        samples: 4,
        ..EventConfig::default()
    }
}

/// Every request needs `cpu_s` of CPU and nothing else.
fn det_cpu(cpu_s: f64) -> DemandDist {
    DemandDist::Independent {
        cpu: ServiceDist::Deterministic(cpu_s),
        other: ServiceDist::Deterministic(0.0),
    }
}

/// One dyno with `workers`, `requests` per sample, 2 samples.
fn short(workers: u32, requests: u64) -> EventConfig {
    EventConfig {
        requests,
        samples: 2,
        ..cfg(1, workers)
    }
}

fn exp_cpu(mean: f64) -> DemandDist {
    DemandDist::Independent {
        cpu: ServiceDist::Exponential(mean),
        other: ServiceDist::Deterministic(0.0),
    }
}

#[test]
fn one_worker_one_core_is_mm1() {
    // λ = 8/s, S = 100 ms: ρ = 0.8, mean response S / (1 − ρ) = 0.5 s.
    let p = run_point(
        &cfg(1, 1),
        Cpu::cores(1.0),
        Policy::Random,
        &exp_cpu(0.1),
        Load::Rate(8.0),
    )
    .unwrap();
    assert!((p.mean_response - 0.5).abs() / 0.5 < 0.05, "{}", p.mean_response);
}

#[test]
fn a_quota_runs_at_full_speed_then_stalls() {
    // One request of 30 ms CPU alone on a 0.5-core quota: it runs at full speed (the
    // period holds 50 ms), so it takes 30 ms, not the 60 ms a 0.5 share would.
    let d = DemandDist::Independent {
        cpu: ServiceDist::Deterministic(0.03),
        other: ServiceDist::Deterministic(0.0),
    };
    let p = run_point(&cfg(1, 1), Cpu::quota(0.5), Policy::Random, &d, Load::Rate(1.0)).unwrap();
    assert!(p.p50 < 0.032, "{}", p.p50);
    let shared = run_point(&cfg(1, 1), Cpu::cores(0.5), Policy::Random, &d, Load::Rate(1.0)).unwrap();
    assert!((shared.p50 - 0.06).abs() < 0.002, "{}", shared.p50);
    // Saturated by 4 callers, the quota still gives 0.5 s of CPU a second: 16.7 req/s.
    let sat = run_point(&cfg(1, 4), Cpu::quota(0.5), Policy::Random, &d, Load::Callers(4)).unwrap();
    assert!(
        (sat.rate - 0.5 / 0.03).abs() / (0.5 / 0.03) < 0.02,
        "{}",
        sat.rate
    );
}

#[test]
fn closed_loop_saturates_the_cpu() {
    // 4 callers, 4 workers, 1 core, 50 ms of CPU each: 20 req/s, each call 200 ms.
    let d = DemandDist::Independent {
        cpu: ServiceDist::Deterministic(0.05),
        other: ServiceDist::Deterministic(0.0),
    };
    let p = run_point(&cfg(1, 4), Cpu::cores(1.0), Policy::Random, &d, Load::Callers(4)).unwrap();
    assert!((p.rate - 20.0).abs() < 0.5, "{}", p.rate);
    assert!((p.mean_response - 0.2).abs() < 0.01, "{}", p.mean_response);
}

fn fly_1x(start_s: f64) -> Cpu {
    Cpu::balance(crate::limit::burst::BurstSpec {
        baseline_cores: 0.0625,
        burst_cores: 1.0,
        capacity_s: 50.0,
        refill: 1.0,
        start_s,
    })
}

/// A burst-balance dyno under a load its baseline sustains keeps bursting: 30-ms requests
/// at 1/s use 0.03 core < 0.0625, so a request takes about its CPU time at the burst
/// (not the 480 ms of the baseline's 1/16 core). Above the baseline the balance drains and
/// the same requests crawl at the baseline.
#[test]
fn a_burst_balance_bursts_while_sustainable_and_drains_above_its_baseline() {
    let c = EventConfig {
        requests: 4_000,
        samples: 2,
        ..cfg(1, 1)
    };
    let d = DemandDist::Independent {
        cpu: ServiceDist::Deterministic(0.03),
        other: ServiceDist::Deterministic(0.0),
    };
    let cpu = fly_1x(5.0);
    assert_eq!(cpu.limit(), 0.0625);
    let calm = run_point(&c, cpu, Policy::Random, &d, Load::Rate(1.0)).unwrap();
    assert!(
        calm.p50 < 0.035,
        "sustainable load should burst: p50 {}",
        calm.p50
    );
    // 3/s × 30 ms = 0.09 core > 0.0625: a 5-s balance lasts about 180 s of the ~1300 s.
    let heavy = run_point(&c, cpu, Policy::Random, &d, Load::Rate(3.0)).unwrap();
    assert!(
        heavy.p50 > 0.1,
        "drained, requests run at the baseline: p50 {}",
        heavy.p50
    );
    // The same load on a full balance never drains: the tail is queueing at the burst
    // (two arrivals within 30 ms), not the baseline's 480 ms.
    let full = run_point(&c, fly_1x(50.0), Policy::Random, &d, Load::Rate(1.0)).unwrap();
    assert!(
        full.p99 < 0.1 && full.p99 <= calm.p99 + 1e-3,
        "{} vs {}",
        full.p99,
        calm.p99
    );
}

/// The class's own period reaches the engine: a 26-ms request alone under 0.6 core runs
/// at full speed within a 100-ms period (60 ms of quota) but stalls twice at a 20-ms
/// period (12 ms per period: 12 + stall 8 + 12 + stall 8 + 2 = 42 ms).
#[test]
fn the_period_is_the_classes_own() {
    let (d, c) = (det_cpu(0.026), short(1, 2_000));
    // At 1 request a second each starts in a fresh period whatever the phase.
    let long = run_point(&c, Cpu::quota(0.6), Policy::Random, &d, Load::Rate(1.0)).unwrap();
    let short = run_point(
        &c,
        Cpu::quota(0.6).metered(0.02, 0.0),
        Policy::Random,
        &d,
        Load::Rate(1.0),
    )
    .unwrap();
    assert!((long.p50 - 0.026).abs() < 1e-3, "{}", long.p50);
    // The phase of the 20-ms period against the arrival moves it between 26 + 8 and 42 ms.
    assert!(short.p50 > 0.033 && short.p50 < 0.043, "{}", short.p50);
    assert!((crate::simulate::plan::alone(0.026, Cpu::quota(0.6).metered(0.02, 0.0)) - 0.042).abs() < 1e-9);
}

/// The kernel's CPU burst: items offered at random at 60% of a 0.5-core quota bunch up
/// now and then and find the period's quota spent; a burst of one period's quota, accrued
/// in the calm periods before, absorbs most bunches. Under continuous load nothing
/// accrues and the burst changes nothing.
#[test]
fn a_kernel_burst_absorbs_bunched_arrivals_but_not_a_saturated_quota() {
    // Each item on its own thread, as calibrate's burn-in runs them (open loop).
    let (d, c) = (det_cpu(0.005), short(64, 40_000));
    // On two cores, as here: a bunch spends the quota in half the wall time.
    let plain = Cpu {
        cores: 2.0,
        ..Cpu::quota(0.5)
    };
    let burst = plain.metered(0.1, 0.05);
    let rate = Load::Rate(0.6 * 0.5 / 0.005);
    let p = run_point(&c, plain, Policy::Random, &d, rate).unwrap();
    let b = run_point(&c, burst, Policy::Random, &d, rate).unwrap();
    eprintln!(
        "simulated p99: {:.1} ms plain, {:.1} ms with a 100% burst",
        p.p99 * 1e3,
        b.p99 * 1e3
    );
    assert!(
        b.p99 <= p.p99 / 2.0,
        "p99 {} without burst, {} with",
        p.p99,
        b.p99
    );
    // Saturated by 4 callers: the quota's throughput, with or without the burst.
    let sat = |cpu| {
        run_point(&c, cpu, Policy::Random, &d, Load::Callers(4))
            .unwrap()
            .rate
    };
    let (sp, sb) = (sat(plain), sat(burst));
    assert!((sb - sp).abs() / sp < 0.02, "{sp} vs {sb} req/s saturated");
    // alone(): 130 ms of CPU at 0.6 core runs 120 ms at once with the burst (60 + 60 ms
    // accrued), then 10 ms after the refill: 130 ms, against 210 ms without.
    let alone = crate::simulate::plan::alone;
    assert!((alone(0.13, Cpu::quota(0.6)) - 0.21).abs() < 1e-9);
    assert!((alone(0.13, Cpu::quota(0.6).metered(0.1, 0.06)) - 0.13).abs() < 1e-9);
}

#[test]
fn demand_measured_apart_is_drawn_by_what_else_computes() {
    // 10 ms of CPU alone, 20 ms beside another computing worker; two workers on two cores.
    let d = DemandDist::ByConcurrency {
        alone: Box::new(det_cpu(0.010)),
        busy: Box::new(det_cpu(0.020)),
    };
    let one = run_point(
        &short(2, 4_000),
        Cpu::cores(2.0),
        Policy::Random,
        &d,
        Load::Callers(1),
    )
    .unwrap();
    assert!(
        (one.mean_response - 0.010).abs() < 1e-6,
        "alone: {}",
        one.mean_response
    );
    // Two callers: after the first two, every request starts while the other computes.
    let two = run_point(
        &short(2, 4_000),
        Cpu::cores(2.0),
        Policy::Random,
        &d,
        Load::Callers(2),
    )
    .unwrap();
    assert!(
        (two.rate - 100.0).abs() / 100.0 < 0.02,
        "beside another: {} req/s",
        two.rate
    );
    // The capacity bound is at full load: the busy demand.
    assert!((dyno_capacity(2, Cpu::cores(2.0), &d) - 100.0).abs() < 1e-6);
}

#[test]
fn a_short_run_from_idle_has_a_lighter_tail_than_the_steady_state() {
    // M/M/1 at ρ = 0.9 (S = 10 ms): τ = S / (1 − √ρ)² ≈ 3.8 s, so 150 calls (1.7 s) from an
    // idle dyno see a shorter queue than the long run.
    let long = run_point(
        &cfg(1, 1),
        Cpu::cores(1.0),
        Policy::Random,
        &exp_cpu(0.01),
        Load::Rate(90.0),
    )
    .unwrap();
    let c = EventConfig {
        requests: 160,
        samples: 300,
        ..cfg(1, 1)
    };
    let short = run_point_from(
        &c,
        Cpu::cores(1.0),
        Policy::Random,
        &exp_cpu(0.01),
        Load::Rate(90.0),
        10,
    )
    .unwrap();
    assert!(
        short.p95 < 0.8 * long.p95,
        "short {} vs long {}",
        short.p95,
        long.p95
    );
    assert_eq!(short.requests, 300 * 150, "all but the warm-up counted");
}
