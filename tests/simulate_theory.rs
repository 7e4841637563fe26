//! The simulation engines against queueing theory: discrete-time M/D/1 for the tick engine;
//! M/M/1, M/D/1 by Pollaczek–Khinchine, Erlang B and C for the event engine; and the dyno
//! model with CPU reducing to M/M/c and M/G/1-PS where it should. Every simulation uses a
//! fixed seed.

mod common;

use common::rel_err;

use dynobench::simulate::Policy;
use dynobench::simulate::event::{self, EventConfig};
use dynobench::simulate::plan::{self, PlanClass, PlanConfig, PlanOutcome};
use dynobench::simulate::service::ServiceDist;
use dynobench::simulate::tick::{self, TickConfig};

// ---------------------------------------------------------------- tick engine vs theory

/// The queue left after each tick's service under random routing is a discrete-time M/D/1
/// queue: E[Q] = E[A(A−1)] / (2(1−ρ)) with A ~ Binomial(util·N/100, 1/N). Both the classic
/// end-of-run mean (many samples) and the time average must match within 5%. Measuring the
/// queue before service instead would add ρ (0.5 or 0.7) and fail by far.
#[test]
fn tick_random_routing_matches_discrete_time_md1() {
    let cfg = TickConfig {
        samples: 200,
        seed: 11,
        ..TickConfig::default()
    };
    let pts = tick::sweep(&cfg, Policy::Random, &[50.0, 70.0]).unwrap();
    for p in &pts {
        let want = tick::random_routing_mean_queue(100, p.utilization);
        let e_end = rel_err(p.mean, want);
        let e_time = rel_err(p.time_mean, want);
        assert!(
            e_end < 0.05,
            "util {}: end-of-run mean {} vs M/D/1 {want} ({e_end:.3})",
            p.utilization,
            p.mean
        );
        assert!(
            e_time < 0.05,
            "util {}: time mean {} vs M/D/1 {want} ({e_time:.3})",
            p.utilization,
            p.time_mean
        );
        assert_eq!(p.observations, 200 * 100);
    }
    // The binomial form, not ρ²/(2(1−ρ)): at ρ = 0.7 the two differ by 1.4%; the formula
    // used must be the exact one for N = 100.
    assert!((tick::random_routing_mean_queue(100, 70.0) - 70.0 * 69.0 / 1e4 / 0.6).abs() < 1e-12);
}

// ---------------------------------------------------------------- event engine vs theory

fn single_server(seed: u64) -> EventConfig {
    EventConfig {
        dynos: 1,
        workers: 1,
        requests: 200_000,
        samples: 10,
        seed,
        ..EventConfig::default()
    }
}

/// One dyno, one worker, Poisson arrivals, exponential service: M/M/1, mean response
/// 1/(μ−λ) = E[S]/(1−ρ).
#[test]
fn event_single_dyno_matches_mm1() {
    let svc = ServiceDist::Exponential(0.010);
    for rho in [0.5, 0.8] {
        let p = event::run_point(&single_server(5), Policy::Random, &svc, rho * 100.0).unwrap();
        let want = 0.010 * event::mm1_mean_response(rho);
        let e = rel_err(p.mean_response, want);
        assert!(
            e < 0.05,
            "ρ={rho}: mean response {} vs M/M/1 {want} ({e:.3})",
            p.mean_response
        );
        assert_eq!(p.share_503, 0.0);
    }
}

/// Deterministic service: M/D/1, mean response S + ρS/(2(1−ρ)) (Pollaczek–Khinchine).
#[test]
fn event_deterministic_service_matches_pollaczek_khinchine() {
    let svc = ServiceDist::Deterministic(0.010);
    for rho in [0.5, 0.8] {
        let p = event::run_point(&single_server(6), Policy::Random, &svc, rho * 100.0).unwrap();
        let want = 0.010 * event::md1_mean_response(rho);
        let e = rel_err(p.mean_response, want);
        assert!(
            e < 0.05,
            "ρ={rho}: mean response {} vs M/D/1 {want} ({e:.3})",
            p.mean_response
        );
        // Nobody is faster than the service time.
        assert!(p.p50 >= 0.00999, "{}", p.p50);
    }
}

/// Two workers sharing one FIFO queue: M/M/2, mean wait by Erlang C. At a = λE[S] = 1.6,
/// C = 0.7111 and Wq = C·E[S]/(2 − a) = 1.778 E[S].
#[test]
fn event_two_workers_match_erlang_c() {
    let cfg = EventConfig {
        workers: 2,
        ..single_server(7)
    };
    let p = event::run_point(&cfg, Policy::Random, &ServiceDist::Exponential(0.010), 80.0).unwrap();
    let a: f64 = 1.6;
    let rho = a / 2.0;
    let top = a * a / 2.0 / (1.0 - rho);
    let c = top / (1.0 + a + top);
    let want = c * 0.010 / (2.0 - a);
    let e = rel_err(p.mean_wait, want);
    assert!(e < 0.05, "mean wait {} vs Erlang C {want} ({e:.3})", p.mean_wait);
}

/// With no backlog at all, a dyno with c workers is an Erlang loss system: the share refused
/// (503) is Erlang B, whatever the service distribution.
#[test]
fn event_backlog_limit_matches_erlang_b() {
    for (workers, util, svc) in [
        (1u32, 100.0, ServiceDist::Exponential(0.010)),
        (2, 50.0, ServiceDist::Deterministic(0.010)),
    ] {
        let cfg = EventConfig {
            workers,
            backlog: 0,
            requests: 100_000,
            samples: 4,
            ..single_server(8)
        };
        let p = event::run_point(&cfg, Policy::Random, &svc, util).unwrap();
        let a = util / 100.0 * f64::from(workers);
        let b = if workers == 1 {
            a / (1.0 + a)
        } else {
            (a * a / 2.0) / (1.0 + a + a * a / 2.0)
        };
        let got = p.rejected as f64 / p.requests as f64;
        assert!(
            (got - b).abs() < 0.01,
            "{workers} workers: refused {got} vs Erlang B {b}"
        );
        assert_eq!(p.mean_wait, 0.0, "nobody waits without a backlog");
        assert_eq!(p.timeouts, 0);
        assert!((p.share_503 - got).abs() < 1e-12);
    }
}

/// The router timeout turns long waits into 503s (counted at the timeout), while the dyno
/// keeps working on them; a backlog limit refuses at once.
#[test]
fn event_router_timeout_counts_503s() {
    let cfg = EventConfig {
        dynos: 10,
        requests: 50_000,
        samples: 2,
        timeout: 1.0,
        backlog: 1_000_000,
        ..EventConfig::default()
    };
    let svc = ServiceDist::Deterministic(0.1);
    let ok = event::run_point(&cfg, Policy::Random, &svc, 50.0).unwrap();
    assert_eq!(ok.share_503, 0.0);
    let over = event::run_point(&cfg, Policy::Random, &svc, 150.0).unwrap();
    assert!(
        over.timeouts > over.requests / 2,
        "{} of {}",
        over.timeouts,
        over.requests
    );
    assert_eq!(over.rejected, 0);
    assert!(
        (over.max - 1.0).abs() < 0.01,
        "503s count at the timeout: max {}",
        over.max
    );
    // Little's law holds for the queue figures: waiting ≈ λ_dyno × mean wait.
    let lam = ok.rate / 10.0;
    assert!(rel_err(ok.mean_queue, lam * ok.mean_wait) < 0.02);
}

// ---------------------------------------------------------------- the dyno model with CPU

mod cpu_model {
    use super::*;
    use dynobench::simulate::cpu::{self, Cpu, DemandDist, Load, dyno_capacity};

    fn one_dyno(workers: u32, seed: u64) -> EventConfig {
        EventConfig {
            dynos: 1,
            workers,
            requests: 200_000,
            samples: 4,
            seed,
            ..EventConfig::default()
        }
    }

    fn cpu_only(s: ServiceDist) -> DemandDist {
        DemandDist::Independent {
            cpu: s,
            other: ServiceDist::Deterministic(0.0),
        }
    }

    /// Two workers on two cores never share a core: M/M/2, mean wait by Erlang C (as the
    /// FIFO engine), at a = λE[S] = 1.6.
    #[test]
    fn reduces_to_mm_c_when_workers_do_not_exceed_cores() {
        let p = cpu::run_point(
            &one_dyno(2, 3),
            Cpu::cores(2.0),
            Policy::Random,
            &cpu_only(ServiceDist::Exponential(0.010)),
            Load::Rate(160.0),
        )
        .unwrap();
        let a: f64 = 1.6;
        let top = a * a / 2.0 / (1.0 - a / 2.0);
        let c = top / (1.0 + a + top);
        let wait = c * 0.010 / (2.0 - a);
        let e = rel_err(p.mean_response, 0.010 + wait);
        assert!(
            e < 0.05,
            "mean response {} vs M/M/2 {} ({e:.3})",
            p.mean_response,
            0.010 + wait
        );
    }

    /// Many workers on one core: processor sharing, M/G/1-PS, whose mean response S/(1−ρ)
    /// holds for any service distribution (here lognormal).
    #[test]
    fn reduces_to_mg1_ps_with_many_workers_on_one_core() {
        let s = ServiceDist::LogNormal {
            mean: 0.020,
            sigma: 1.0,
        };
        for rho in [0.5, 0.8] {
            let p = cpu::run_point(
                &one_dyno(512, 11),
                Cpu::cores(1.0),
                Policy::Random,
                &cpu_only(s.clone()),
                Load::Rate(rho / 0.020),
            )
            .unwrap();
            let want = 0.020 / (1.0 - rho);
            let e = rel_err(p.mean_response, want);
            assert!(
                e < 0.05,
                "rho {rho}: mean response {} vs S/(1-rho) {want} ({e:.3})",
                p.mean_response
            );
        }
    }

    /// IO-bound work (5 ms of CPU, 95 ms waiting) scales with workers until the CPU part
    /// saturates the core at 1 / 5 ms = 200 req/s.
    #[test]
    fn io_bound_work_scales_with_workers_until_the_cpu_saturates() {
        // A closed network of W callers, a delay station (the IO) and one
        // processor-shared core: BCMP product form, so exact mean-value
        // analysis gives the throughput for any service distributions.
        // The IO time is random so callers do not phase-lock.
        let (s, z) = (0.005, 0.095);
        let d = DemandDist::Independent {
            cpu: ServiceDist::Deterministic(s),
            other: ServiceDist::Exponential(z),
        };
        let mva = |w: u32| {
            let (mut q, mut x) = (0.0, 0.0);
            for n in 1..=w {
                let r = s * (1.0 + q);
                x = n as f64 / (z + r);
                q = x * r;
            }
            x
        };
        for w in [2, 8, 60] {
            let cfg = EventConfig {
                requests: 40_000,
                ..one_dyno(w, 5)
            };
            let got = cpu::run_point(&cfg, Cpu::cores(1.0), Policy::Random, &d, Load::Callers(w))
                .unwrap()
                .rate;
            let want = mva(w);
            assert!(rel_err(got, want) < 0.03, "{w} workers: {got} vs MVA {want}");
        }
        assert!(mva(2) > 19.0 && mva(8) > 75.0 && mva(60) > 199.0);
        assert!(rel_err(dyno_capacity(60, Cpu::cores(1.0), &d), 200.0) < 1e-9);
    }

    /// The planner never asks a dyno for more CPU than it has: rate / dynos ≤ cores / mean CPU.
    #[test]
    fn plans_never_need_more_cpu_than_they_buy() {
        use dynobench::simulate::plan::{CpuScenario, DynoModel, Workers};
        let demand = cpu_only(ServiceDist::LogNormal {
            mean: 0.056,
            sigma: 0.3,
        });
        for cores in [0.5, 1.0, 2.0] {
            let cfg = PlanConfig {
                rate: 50.0,
                slo: "p99<=2s".parse().unwrap(),
                policy: Policy::Random,
                sim: EventConfig {
                    requests: 20_000,
                    samples: 2,
                    ..EventConfig::default()
                },
                max_dynos: 500,
            };
            let class = PlanClass {
                name: "cpu-bound".into(),
                class: dynobench::class::DynoClass::priced(50.0),
                source: "test".into(),
                model: DynoModel::Cpu {
                    workers: Workers::Search {
                        max: 8,
                        measured_at: None,
                    },
                    scenarios: vec![CpuScenario {
                        label: "dedicated".into(),
                        cpu: Cpu::cores(cores),
                    }],
                    demand: demand.clone(),
                },
            };
            let p = plan::plan(&cfg, &[class]).unwrap().remove(0);
            let PlanOutcome::Meets { dynos, .. } = p.outcome else {
                panic!("{p:?}")
            };
            let per_dyno = 50.0 / f64::from(dynos);
            assert!(
                per_dyno <= cores / 0.056 * 1.001,
                "{cores} cores: {dynos} dynos carry {per_dyno:.1} req/s each, more than the CPU's {:.1}",
                cores / 0.056
            );
        }
    }
}
