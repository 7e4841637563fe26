//! Heavy-tailed service times (`weibull:MEAN:SHAPE`, `pareto:MEAN:ALPHA`, a file of values)
//! through both simulation engines and `plan`: the FIFO event engine against
//! Pollaczek–Khinchine (M/G/1), the CPU engine against M/G/1-PS (mean response S/(1−ρ) for
//! any service distribution), each within 4 standard errors measured over independent
//! seeded replicates; the values file's errors; `simulate` and `plan` on the command line.

mod common;

use common::dynobench_text as dynobench;

use dynobench::report::service::{ServiceError, load_service};
use dynobench::simulate::Policy;
use dynobench::simulate::cpu::{self, Cpu, DemandDist, Load};
use dynobench::simulate::event::{self, EventConfig};
use dynobench::simulate::service::{ServiceDist, parse_parametric};

const REPLICATES: u64 = 16;

fn cfg(workers: u32, seed: u64) -> EventConfig {
    EventConfig {
        dynos: 1,
        workers,
        requests: 100_000,
        samples: 1,
        seed,
        ..EventConfig::default()
    }
}

/// Mean and standard error of the replicates' mean responses.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

fn spec(s: &str) -> ServiceDist {
    parse_parametric(s).unwrap().unwrap()
}

/// E[S²] by numerical quadrature of 2t·P(S > t) (independent of the sampler).
fn second_moment(d: &ServiceDist) -> f64 {
    let top = d.quantile(1.0 - 1e-12);
    let steps = 2_000_000;
    // On a square-root grid: fine near 0, where a Weibull of shape < 1 is steep.
    let mut sum = 0.0;
    for i in 0..steps {
        let (u0, u1) = (i as f64 / steps as f64, (i + 1) as f64 / steps as f64);
        let (t0, t1) = (top * u0 * u0, top * u1 * u1);
        let tm = 0.5 * (t0 + t1);
        sum += 2.0 * tm * d.share_above(tm) * (t1 - t0);
    }
    sum
}

#[test]
fn fifo_engine_matches_pollaczek_khinchine_with_heavy_tails() {
    for (s, rho) in [("weibull:10ms:0.5", 0.5), ("pareto:10ms:3.5", 0.6)] {
        let d = spec(s);
        // P–K: E[R] = E[S] + λ E[S²] / (2 (1 − ρ)).
        let lambda = rho / d.mean();
        let want = d.mean() + lambda * second_moment(&d) / (2.0 * (1.0 - rho));
        let v: Vec<f64> = (0..REPLICATES)
            .map(|seed| {
                event::run_point(&cfg(1, 100 + seed), Policy::Random, &d, rho * 100.0)
                    .unwrap()
                    .mean_response
            })
            .collect();
        let (m, se) = mean_se(&v);
        assert!(
            (m - want).abs() < 4.0 * se,
            "{s} at ρ {rho}: mean response {m:.5} ± {se:.5} vs P–K {want:.5}"
        );
    }
}

#[test]
fn cpu_engine_matches_processor_sharing_with_heavy_tails() {
    for (s, rho) in [("weibull:20ms:0.5", 0.5), ("pareto:20ms:2.5", 0.6)] {
        let d = spec(s);
        let demand = DemandDist::Independent {
            cpu: d.clone(),
            other: ServiceDist::Deterministic(0.0),
        };
        let want = d.mean() / (1.0 - rho);
        let v: Vec<f64> = (0..REPLICATES)
            .map(|seed| {
                cpu::run_point(
                    &cfg(512, 200 + seed),
                    Cpu::cores(1.0),
                    Policy::Random,
                    &demand,
                    Load::Rate(rho / d.mean()),
                )
                .unwrap()
                .mean_response
            })
            .collect();
        let (m, se) = mean_se(&v);
        assert!(
            (m - want).abs() < 4.0 * se,
            "{s} at ρ {rho}: mean response {m:.5} ± {se:.5} vs S/(1−ρ) {want:.5}"
        );
    }
}

#[test]
fn a_values_file_is_a_distribution_and_a_bad_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("times.txt");
    std::fs::write(&good, "# service times\n10\n20.5\n\n30ms # with a unit\n0.04s\n").unwrap();
    let l = load_service(good.to_str().unwrap()).unwrap();
    assert!((l.dist.mean() - (0.010 + 0.0205 + 0.030 + 0.040) / 4.0).abs() < 1e-12);
    assert_eq!(l.dist.quantile(0.99), 0.040);
    let same = load_service(&format!("empirical:{}", good.display())).unwrap();
    assert_eq!(same.dist.mean(), l.dist.mean());
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "10\n\n-3\n").unwrap();
    let e = load_service(bad.to_str().unwrap()).unwrap_err();
    assert!(matches!(e, ServiceError::BadValue { line: 3, .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("bad.txt line 3") && text.contains("'-3'"), "{text}");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# nothing\n").unwrap();
    let e = load_service(empty.to_str().unwrap()).unwrap_err();
    assert!(matches!(e, ServiceError::NoValues { .. }), "{e}");
    let e = load_service("empirical:/nonexistent/times.txt").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/times.txt"), "{e}");
}

#[test]
fn simulate_and_plan_take_heavy_tailed_service_times() {
    for s in ["weibull:300ms:0.5", "pareto:300ms:1.5"] {
        let (code, out, err) = dynobench(&[
            "simulate",
            "--service",
            s,
            "--dynos",
            "10",
            "--util",
            "50",
            "--samples",
            "2",
            "--requests",
            "20000",
            "--policy",
            "random",
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(s.split(':').next().unwrap()), "{out}");
        let (code, out, err) = dynobench(&[
            "plan",
            "--service",
            s,
            "--classes",
            "heroku",
            "--class",
            "performance-m",
            "--rate",
            "20",
            "--slo",
            "p99<=5s",
            "--samples",
            "2",
            "--requests",
            "20000",
        ]);
        assert_eq!(code, 0, "{err}\n{out}");
        assert!(
            out.contains("Cheapest: ") && out.contains("performance-m"),
            "{out}"
        );
    }
    let (code, _, err) = dynobench(&["simulate", "--service", "weibull:300ms"]);
    assert_eq!(code, 2);
    assert!(err.contains("weibull:MEAN:SHAPE"), "{err}");
}
