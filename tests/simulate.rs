//! Routing simulation and capacity planning: the engines against queueing theory (discrete-time
//! M/D/1, M/M/1, M/D/1 by Pollaczek–Khinchine, Erlang B and C), the order of the routing
//! policies, the per-router policy's limits, the results loader, and the `simulate` / `plan`
//! command lines. Every simulation uses a fixed seed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use dynobench::report::service::{self, ServiceError};
use dynobench::simulate::event::{self, EventConfig, EventPoint};
use dynobench::simulate::plan::{self, DynoModel, PlanClass, PlanConfig, PlanOutcome};
use dynobench::simulate::service::ServiceDist;
use dynobench::simulate::tick::{self, TickConfig};
use dynobench::simulate::{Arrivals, Policy};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};

fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want
}

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

// ---------------------------------------------------------------- plan

/// More dynos do not make requests faster: a class whose service time alone breaks the SLO
/// is reported as such, at any rate, without searching.
#[test]
fn plan_says_when_no_size_can_meet_the_slo() {
    let cfg = PlanConfig {
        rate: 1.0,
        slo: "p99<=300ms".parse().unwrap(),
        policy: Policy::Random,
        sim: EventConfig {
            requests: 20_000,
            samples: 2,
            ..EventConfig::default()
        },
        max_dynos: 1000,
    };
    let slow = PlanClass {
        name: "slow".into(),
        class: dynobench::class::DynoClass::priced(7.0),
        model: DynoModel::Servers {
            workers: 1,
            service: ServiceDist::LogNormal {
                mean: 0.2,
                sigma: 0.8,
            },
        },
        source: "server_wall".into(),
    };
    let fast = PlanClass {
        name: "fast".into(),
        class: dynobench::class::DynoClass::priced(25.0),
        model: DynoModel::Servers {
            workers: 2,
            service: ServiceDist::LogNormal {
                mean: 0.05,
                sigma: 0.5,
            },
        },
        source: "server_wall".into(),
    };
    let plans = plan::plan(&cfg, &[slow, fast]).unwrap();
    match plans[0].outcome {
        PlanOutcome::ServiceTooSlow { service_value } => assert!(service_value > 300_000.0),
        ref o => panic!("{o:?}"),
    }
    let PlanOutcome::Meets { dynos, achieved, .. } = plans[1].outcome else {
        panic!("{:?}", plans[1])
    };
    assert!(achieved <= 300_000.0 && dynos >= 1);
    assert_eq!(plan::cheapest(&plans), Some(1));
}

// ---------------------------------------------------------------- results loader

fn hist_us(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for v in values {
        h.record(v).unwrap();
    }
    h
}

fn b64(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut buf).unwrap();
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// `n` lognormal service times in µs with this median and sigma (seeded).
fn lognormal_us(seed: u64, n: usize, median_ms: f64, sigma: f64) -> Histogram<u64> {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let d = LogNormal::new((median_ms * 1000.0).ln(), sigma).unwrap();
    hist_us((0..n).map(|_| d.sample(&mut rng).round().max(1.0) as u64))
}

fn class_json(
    name: &str,
    status: &str,
    workers: u32,
    price: f64,
    wall: Option<&Histogram<u64>>,
    client: Option<&Histogram<u64>>,
) -> serde_json::Value {
    let mut h = serde_json::Map::new();
    if let Some(w) = wall {
        h.insert("server_wall".into(), b64(w).into());
    }
    if let Some(c) = client {
        h.insert("client_latency".into(), b64(c).into());
    }
    serde_json::json!({
        "name": name, "status": status, "workers": workers, "price_usd_month": price,
        "histograms": h, "some_future_field": {"ignored": true}
    })
}

/// The reference-like run used by the plan fixture: several classes, one failed, one with
/// only client latency, one too slow for a 300 ms p99.
fn plan_fixture_json() -> String {
    let classes = vec![
        class_json("eco", "failed", 1, 5.0, None, None),
        class_json(
            "basic",
            "ok",
            1,
            7.0,
            Some(&lognormal_us(1, 3000, 180.0, 0.6)),
            None,
        ),
        class_json(
            "standard-1x",
            "ok",
            2,
            25.0,
            Some(&lognormal_us(2, 3000, 60.0, 0.5)),
            None,
        ),
        class_json(
            "standard-2x",
            "ok",
            4,
            50.0,
            Some(&lognormal_us(3, 3000, 45.0, 0.4)),
            None,
        ),
        class_json(
            "performance-m",
            "ok",
            8,
            250.0,
            Some(&lognormal_us(4, 3000, 30.0, 0.3)),
            None,
        ),
        class_json(
            "performance-l",
            "ok",
            16,
            500.0,
            None,
            Some(&lognormal_us(5, 3000, 28.0, 0.3)),
        ),
    ];
    let run = serde_json::json!({"schema_version": "1.0", "label": "fixture", "classes": classes});
    serde_json::to_string_pretty(&run).unwrap() + "\n"
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-run")
}

/// Regenerates tests/fixtures/plan-run/run.json (run with --ignored after changing it).
#[test]
#[ignore]
fn regenerate_plan_fixture() {
    std::fs::create_dir_all(fixture_dir()).unwrap();
    std::fs::write(fixture_dir().join("run.json"), plan_fixture_json()).unwrap();
}

#[test]
fn committed_plan_fixture_is_current() {
    let committed = std::fs::read_to_string(fixture_dir().join("run.json")).unwrap();
    assert!(
        committed == plan_fixture_json(),
        "run `cargo test --test simulate -- --ignored regenerate`"
    );
}

#[test]
fn service_loads_from_a_class_path_a_hash_path_and_an_hlog() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("RUN");
    std::fs::create_dir(&run).unwrap();
    let wall = hist_us([10_000, 20_000, 30_000]);
    let client = hist_us([50_000; 4]);
    let empty = hist_us([]);
    let classes = vec![
        class_json("a", "ok", 3, 25.0, Some(&wall), Some(&client)),
        class_json("client-only", "ok", 1, 25.0, Some(&empty), Some(&client)),
        class_json("nothing", "ok", 1, 25.0, Some(&empty), None),
    ];
    std::fs::write(
        run.join("run.json"),
        serde_json::json!({"schema_version": "1.0", "classes": classes}).to_string(),
    )
    .unwrap();

    let s = service::load_service(run.join("a").to_str().unwrap()).unwrap();
    assert!(rel_err(s.dist.mean(), 0.020) < 0.002, "{}", s.dist.mean());
    assert_eq!(s.workers, Some(3));
    assert!(s.label.contains("server_wall"), "{}", s.label);
    let s = service::load_service(&format!("{}#client-only", run.join("run.json").display())).unwrap();
    assert!(rel_err(s.dist.mean(), 0.050) < 0.002);
    assert!(
        s.label.contains("client_latency"),
        "says which histogram: {}",
        s.label
    );

    let e = service::load_service(run.join("zzz").to_str().unwrap()).unwrap_err();
    assert!(matches!(e, ServiceError::MissingClass { .. }));
    assert!(e.to_string().contains("a, client-only, nothing"), "{e}");
    let e = service::load_service(run.join("nothing").to_str().unwrap()).unwrap_err();
    assert!(matches!(e, ServiceError::EmptyClass { .. }), "{e}");
    let e = service::load_service(run.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("CLASS"), "{e}");

    // An interval log: all intervals merged.
    let mut log = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut log, &mut ser)
            .unwrap();
        let d = std::time::Duration::from_secs(1);
        w.write_histogram(&hist_us([1000; 3]), std::time::Duration::ZERO, d, None)
            .unwrap();
        w.write_histogram(&hist_us([4000]), d, d, None).unwrap();
    }
    let hlog = dir.path().join("x.hlog");
    std::fs::write(&hlog, &log).unwrap();
    let s = service::load_service(hlog.to_str().unwrap()).unwrap();
    assert!(rel_err(s.dist.mean(), 0.00175) < 0.002, "{}", s.dist.mean());

    let emptylog = dir.path().join("empty.hlog");
    std::fs::write(&emptylog, "#[Comment only]\n").unwrap();
    assert!(matches!(
        service::load_service(emptylog.to_str().unwrap()).unwrap_err(),
        ServiceError::EmptyHlog { .. }
    ));
    let corrupt = dir.path().join("bad.json");
    std::fs::write(
        &corrupt,
        r#"{"schema_version":"1.3","classes":[{"name":"a","histograms":{"server_wall":"!!notbase64"}}]}"#,
    )
    .unwrap();
    let e = service::load_service(&format!("{}#a", corrupt.display())).unwrap_err();
    assert!(
        matches!(e, ServiceError::BadHistogram { .. }) && e.to_string().contains("server_wall"),
        "{e}"
    );
}

// ---------------------------------------------------------------- command line

fn dynobench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .args(args)
        .output()
        .expect("running dynobench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `dynobench simulate` with no arguments is the classic experiment and prints the capacity
/// random routing loses (about a quarter) against the best policy.
#[test]
fn cli_simulate_defaults_reproduce_the_classic_experiment() {
    let (code, out, err) = dynobench(&["simulate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("100 dynos, 500 ticks × 10 samples") && out.contains("seed 42"),
        "{out}"
    );
    let random = out
        .lines()
        .find(|l| l.trim_start().starts_with("random "))
        .expect(&out);
    let pct: f64 = random
        .split("up to ")
        .nth(1)
        .and_then(|r| r.split('%').next())
        .and_then(|v| v.parse().ok())
        .expect(random);
    assert!((71.0..=76.0).contains(&pct), "{random}");
    assert!(random.contains("capacity lost vs round-robin (100%)"), "{random}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() < 40, "compact: {} lines", lines.len());
    assert!(out.contains("power-of-two-choices") && out.contains("per-router-least-connections (R=10)"));
}

#[test]
fn cli_simulate_writes_csv_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let svg = dir.path().join("s.svg");
    let (code, out, err) = dynobench(&[
        "simulate",
        "--service",
        "lognormal:50ms:0.8",
        "--dynos",
        "10",
        "--workers",
        "2",
        "--util",
        "0..100:20",
        "--requests",
        "5000",
        "--samples",
        "2",
        "--policy",
        "random,p2c",
        "--slo",
        "p99<=400ms",
        "--csv",
        csv.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("event engine") && out.contains("p99<=400ms"),
        "{out}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 6, "{text}");
    assert!(lines[0].starts_with("engine,policy,") && lines[0].contains("share_503"));
    assert!(lines[1].starts_with("event,random,10,10,2,0,"), "{}", lines[1]);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("power-of-two-choices") && svg.contains("p99 response time")
    );
}

#[test]
fn cli_bad_arguments_exit_2_with_a_precise_message() {
    let dir = tempfile::tempdir().unwrap();
    let empty_hlog = dir.path().join("empty.hlog");
    std::fs::write(&empty_hlog, "").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["simulate".into(), "--util".into(), "110..0".into()],
            "reversed",
        ),
        (
            vec!["simulate".into(), "--dynos".into(), "0".into()],
            "--dynos must be at least 1",
        ),
        (
            vec![
                "simulate".into(),
                "--service".into(),
                "results/nope/standard-1x".into(),
            ],
            "no run.json at results/nope",
        ),
        (
            vec![
                "simulate".into(),
                "--service".into(),
                empty_hlog.display().to_string(),
            ],
            "holds no recorded values",
        ),
        (
            vec![
                "simulate".into(),
                "--engine".into(),
                "tick".into(),
                "--slo".into(),
                "p99<=1s".into(),
            ],
            "only applies to the event engine",
        ),
        (
            vec!["simulate".into(), "--service".into(), "exponential:0ms".into()],
            "must be positive",
        ),
        (
            vec![
                "plan".into(),
                "--rate".into(),
                "100".into(),
                "--slo".into(),
                "p99<=300ms".into(),
                "--results".into(),
                dir.path().display().to_string(),
            ],
            "no run.json",
        ),
        (
            vec![
                "plan".into(),
                "--rate".into(),
                "100".into(),
                "--slo".into(),
                "p99<=300ms".into(),
                "--results".into(),
                fixture_dir().display().to_string(),
                "--class".into(),
                "standard-9x".into(),
            ],
            "has no class 'standard-9x'; it has: eco, basic",
        ),
    ];
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = dynobench(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
    }
}

/// `plan` on the committed fixture run: the cheapest class, the failed class skipped, the
/// client-latency fallback named, and the class whose own service time breaks the SLO.
#[test]
fn cli_plan_on_the_fixture_run() {
    let csv = tempfile::NamedTempFile::new().unwrap();
    let (code, out, err) = dynobench(&[
        "plan",
        "--rate",
        "200",
        "--slo",
        "p99<=300ms",
        "--results",
        fixture_dir().to_str().unwrap(),
        "--csv",
        csv.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(out.contains("eco: skipped (status 'failed'"), "{out}");
    assert!(
        out.contains("basic: cannot meet p99<=300ms at any number of dynos"),
        "{out}"
    );
    assert!(
        out.contains("performance-l: service times from client_latency"),
        "{out}"
    );
    assert!(out.contains("Cheapest: "), "{out}");
    let csv = std::fs::read_to_string(csv.path()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5, "{csv}");
    assert!(csv.contains("basic,1,7,server_wall,") && csv.contains("service-too-slow"));
    // An SLO nothing can meet: exit 1.
    let (code, out, _) = dynobench(&[
        "plan",
        "--rate",
        "200",
        "--slo",
        "p99<=5ms",
        "--results",
        fixture_dir().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("No class meets p99<=5ms"), "{out}");
}

#[test]
fn arrivals_parse() {
    assert_eq!("poisson".parse::<Arrivals>().unwrap(), Arrivals::Poisson);
    assert!("bursty".parse::<Arrivals>().is_err());
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
