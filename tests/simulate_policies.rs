//! The routing policies: their order at equal utilization, the per-router policy's limits
//! (one router is least-connections, many approach random), and figures that do not depend
//! on the thread count. Every simulation uses a fixed seed.

mod common;

use common::rel_err;

use dynobench::simulate::Policy;
use dynobench::simulate::event::{self, EventConfig, EventPoint};
use dynobench::simulate::service::ServiceDist;
use dynobench::simulate::tick::{self, TickConfig};

// ---------------------------------------------------------------- policies

fn event_cfg_20() -> EventConfig {
    EventConfig {
        dynos: 20,
        requests: 100_000,
        samples: 4,
        seed: 3,
        ..EventConfig::default()
    }
}

/// At equal utilization: least-connections ≤ power-of-two ≤ random in mean wait, in both
/// engines (strictly for the continuous-time engine, where the differences are large).
#[test]
fn policies_order_least_connections_then_power_of_two_then_random() {
    let cfg = TickConfig {
        samples: 4,
        seed: 9,
        ..TickConfig::default()
    };
    let t = |p| tick::sweep(&cfg, p, &[80.0]).unwrap()[0].time_mean;
    let (lc, p2, rnd) = (
        t(Policy::LeastConnections),
        t(Policy::PowerOfTwoChoices),
        t(Policy::Random),
    );
    assert!(lc <= p2 && p2 < rnd, "tick: lc {lc} p2c {p2} random {rnd}");

    let svc = ServiceDist::Exponential(0.010);
    let e = |p| {
        event::run_point(&event_cfg_20(), p, &svc, 80.0)
            .unwrap()
            .mean_wait
    };
    let (lc, p2, rnd) = (
        e(Policy::LeastConnections),
        e(Policy::PowerOfTwoChoices),
        e(Policy::Random),
    );
    assert!(lc < p2 && p2 < rnd, "event: lc {lc} p2c {p2} random {rnd}");
    // Random routing over 20 dynos is 20 independent M/M/1 queues: Wq = ρ/(1−ρ)·E[S] = 40 ms.
    assert!(rel_err(rnd, 0.040) < 0.05, "random wait {rnd}");
}

fn same_event_figures(a: &EventPoint, b: &EventPoint) -> bool {
    (a.requests, a.mean_response, a.mean_wait, a.p99, a.max_queue)
        == (b.requests, b.mean_response, b.mean_wait, b.p99, b.max_queue)
}

/// One router that sees all the traffic is least-connections: identical results with the
/// same seed (the two are implemented separately: per-dyno counts vs per-router views).
#[test]
fn per_router_with_one_router_is_least_connections() {
    let cfg = TickConfig {
        samples: 3,
        routers: 1,
        ..TickConfig::default()
    };
    let utils = [60.0, 90.0, 99.0];
    assert_eq!(
        tick::sweep(&cfg, Policy::PerRouterLeastConnections, &utils).unwrap(),
        tick::sweep(&cfg, Policy::LeastConnections, &utils).unwrap()
    );
    let cfg = EventConfig {
        routers: 1,
        ..event_cfg_20()
    };
    let svc = ServiceDist::LogNormal {
        mean: 0.01,
        sigma: 1.0,
    };
    let a = event::run_point(&cfg, Policy::PerRouterLeastConnections, &svc, 90.0).unwrap();
    let b = event::run_point(&cfg, Policy::LeastConnections, &svc, 90.0).unwrap();
    assert!(same_event_figures(&a, &b), "{a:?}\n{b:?}");
    // And it is not trivially so: with more routers the figures change.
    let c = event::run_point(
        &EventConfig { routers: 2, ..cfg },
        Policy::PerRouterLeastConnections,
        &svc,
        90.0,
    )
    .unwrap();
    assert!(
        c.mean_wait > b.mean_wait * 1.2,
        "{} vs {}",
        c.mean_wait,
        b.mean_wait
    );
}

/// As routers multiply, each sees less of the traffic and per-router least-connections
/// degrades towards random routing.
#[test]
fn per_router_approaches_random_as_routers_grow() {
    let base = EventConfig {
        dynos: 10,
        samples: 8,
        ..event_cfg_20()
    };
    let svc = ServiceDist::Exponential(0.010);
    let wait = |routers, policy| {
        let cfg = EventConfig {
            routers,
            ..base.clone()
        };
        event::run_point(&cfg, policy, &svc, 80.0).unwrap().mean_wait
    };
    let random = wait(1, Policy::Random);
    let by_r: Vec<f64> = [1, 4, 32, 1000, 10_000]
        .iter()
        .map(|&r| wait(r, Policy::PerRouterLeastConnections))
        .collect();
    // Strictly worse with every step up to 1000 routers; beyond that the differences are
    // within the noise and only closeness to random is checked.
    assert!(
        by_r[..4].windows(2).all(|w| w[0] < w[1]),
        "wait should grow with routers: {by_r:?}"
    );
    assert!(
        by_r[3] > random * 0.9,
        "1000 routers are close to random: {by_r:?} vs {random}"
    );
    assert!(
        by_r[0] < random / 4.0,
        "one router is far better than random: {by_r:?} vs {random}"
    );
    assert!(
        rel_err(by_r[4], random) < 0.05,
        "10 000 routers ≈ random: {} vs {random}",
        by_r[4]
    );
}

/// Each (utilization, sample) task has its own generator derived from the seed, so the
/// figures are the same on one thread as on many.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let tcfg = TickConfig {
        samples: 3,
        ticks: 200,
        ..TickConfig::default()
    };
    let utils = [30.0, 80.0, 95.0];
    for p in [Policy::Random, Policy::PerRouterLeastConnections] {
        let serial = one.install(|| tick::sweep(&tcfg, p, &utils).unwrap());
        assert_eq!(serial, tick::sweep(&tcfg, p, &utils).unwrap());
    }
    let ecfg = EventConfig {
        dynos: 8,
        requests: 5_000,
        samples: 3,
        ..EventConfig::default()
    };
    let svc = ServiceDist::Exponential(0.01);
    let serial = one.install(|| event::sweep(&ecfg, Policy::PowerOfTwoChoices, &svc, &utils).unwrap());
    let parallel = event::sweep(&ecfg, Policy::PowerOfTwoChoices, &svc, &utils).unwrap();
    for (a, b) in serial.iter().zip(&parallel) {
        assert!(same_event_figures(a, b), "{a:?}\n{b:?}");
    }
}
