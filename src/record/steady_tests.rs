//! Tests of the steady-state helpers.

use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

#[test]
fn relaxation_time_grows_towards_saturation() {
    let s = 0.01;
    assert!((relaxation_s(s, 0.0) - s).abs() < 1e-12);
    assert!(relaxation_s(s, 0.95) > 100.0 * relaxation_s(s, 0.25));
    assert!(relaxation_s(s, 1.0).is_infinite());
    let p = step_plan(95.0, s, 1, 10.0, 600.0);
    assert!(p.steady && p.warmup_s >= 3.0 * p.tau_s && p.measure_s >= 5.0 * p.tau_s);
    let p = step_plan(99.9, s, 1, 10.0, 60.0);
    assert!(!p.steady && p.warmup_s <= 60.0, "{p:?}");
    // Past saturation: not steady, and run at the plain length rather than the budget.
    let over = step_plan(120.0, s, 1, 10.0, 60.0);
    assert!(
        !over.steady && over.measure_s == 10.0 && over.warmup_s == 2.0,
        "{over:?}"
    );
}

/// An AR(1) series: strongly autocorrelated but stationary (a stable queue's per-second
/// latencies).
fn ar1(rng: &mut ChaCha8Rng, n: usize, rho: f64) -> Vec<f64> {
    let mut x: f64 = StandardNormal.sample(rng);
    (0..n)
        .map(|_| {
            let e: f64 = StandardNormal.sample(rng);
            x = rho * x + (1.0 - rho * rho).sqrt() * e;
            100.0 * (0.3 * x).exp()
        })
        .collect()
}

/// Plain Mann-Kendall at one-sided 1% (what the search used before): for comparison.
fn mann_kendall(series: &[f64]) -> bool {
    let n = series.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += (series[j] - series[i]).partial_cmp(&0.0).map_or(0, |o| o as i64);
        }
    }
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    s > 0 && (s as f64 - 1.0) / var.sqrt() > 2.326
}

#[test]
fn autocorrelated_stable_series_are_rarely_called_rising() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut ours, mut mk) = (0, 0);
    let trials = 400;
    for _ in 0..trials {
        let s = ar1(&mut rng, 60, 0.85);
        ours += usize::from(rising(&s, 6));
        mk += usize::from(mann_kendall(&s));
    }
    println!("AR(1) 0.85, 60 points: batch means {ours}/{trials}, Mann-Kendall {mk}/{trials}");
    assert!(ours * 100 <= trials * 3, "{ours}");
    assert!(mk > ours, "{mk} vs {ours}");
}

#[test]
fn a_growing_queue_is_rising() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let noise = ar1(&mut rng, 40, 0.5);
    let growing: Vec<f64> = noise
        .iter()
        .enumerate()
        .map(|(i, x)| x + 10.0 * i as f64)
        .collect();
    assert!(rising(&growing, 5));
    assert!(!rising(&growing[..8], 5), "too short to tell");
    let flat = vec![100.0; 40];
    assert!(!rising(&flat, 5));
}

#[test]
fn batch_means_interval_covers_the_mean_of_a_correlated_series() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let trials = 300;
    let mut covered = 0;
    // exp(0.3 x), x ~ N(0,1): mean 100·e^{0.045}.
    let truth = 100.0 * (0.045f64).exp();
    for _ in 0..trials {
        let s = ar1(&mut rng, 2000, 0.9);
        let (m, h) = batch_means_interval(&s, 20).unwrap();
        covered += usize::from((m - truth).abs() <= h);
    }
    let share = covered as f64 / trials as f64;
    println!(
        "batch-means 95% interval, AR(1) 0.9: coverage {:.1}%",
        share * 100.0
    );
    assert!(share >= 0.9, "{share}");
    assert_eq!(batch_means_interval(&[1.0], 20), None);
}
