//! `cargo bench --bench precision_coverage`: what `run --precision` does to the coverage
//! of the interval it stops on. Seeded synthetic classes of lognormal calls (median 50 ms,
//! shape sigma, optionally AR(1)-correlated with rho) go call by call into the real
//! recorder, and the real stopping rule ([`PrecisionRule`]: checks at 368 calls for p99,
//! then every 1.25× as many, stop when the report's interval is within ±P) decides when to
//! stop. Printed per row: how often the true p99 lies in the final interval (nominal 95%),
//! the same for a fixed number of calls (the rounded mean the rule used: what the interval
//! gives without a data-dependent stop), the mean and range of calls used, and how often
//! the target was reached before `--max-calls`. `TRIALS=N` sets the trials per row
//! (default 500).

use dynobench::record::precision::{PrecisionConfig, PrecisionRule};
use dynobench::record::{ClassRecorder, RequestRecord};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

struct Case {
    sigma: f64,
    rho: f64,
    target_pct: f64,
    max_calls: u32,
}

const MEDIAN_US: f64 = 50_000.0;
/// z of the 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874;

struct Calls {
    rng: ChaCha8Rng,
    x: f64,
    t: u64,
    sigma: f64,
    rho: f64,
}

impl Calls {
    fn new(seed: u64, sigma: f64, rho: f64) -> Calls {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = StandardNormal.sample(&mut rng);
        Calls {
            rng,
            x,
            t: 0,
            sigma,
            rho,
        }
    }

    /// The next call, closed loop at concurrency 1 (sent when the previous one finished).
    fn next(&mut self) -> RequestRecord {
        let e: f64 = StandardNormal.sample(&mut self.rng);
        self.x = self.rho * self.x + (1.0 - self.rho * self.rho).sqrt() * e;
        let v = (MEDIAN_US * (self.sigma * self.x).exp()).round().max(1.0) as u64;
        let r = RequestRecord::measured_ok(self.t, self.t + v);
        self.t += v;
        r
    }
}

fn recorder() -> ClassRecorder {
    let mut rec = ClassRecorder::new(false, 30_000_000);
    rec.measuring_from(0);
    rec
}

/// One trial under the rule: (covered, calls used, reached).
fn trial(c: &Case, cfg: &PrecisionConfig, seed: u64, truth: f64) -> (bool, u64, bool) {
    let mut calls = Calls::new(seed, c.sigma, c.rho);
    let mut rec = recorder();
    let mut rule = PrecisionRule::new(cfg);
    while rec.attempted() < u64::from(cfg.max_calls) {
        rec.record(&calls.next());
        if rule.due(rec.attempted()) && rule.check(&rec) {
            break;
        }
    }
    let iv = rule.interval(&rec);
    let covered = iv.ci_low.is_some_and(|lo| lo <= truth) && iv.ci_high.is_some_and(|hi| truth <= hi);
    (covered, rec.attempted(), rule.reached())
}

/// One trial at a fixed number of calls: covered.
fn fixed(c: &Case, cfg: &PrecisionConfig, seed: u64, truth: f64, n: u64) -> bool {
    let mut calls = Calls::new(seed ^ 0x5eed_f1ed, c.sigma, c.rho);
    let mut rec = recorder();
    for _ in 0..n {
        rec.record(&calls.next());
    }
    let iv = PrecisionRule::new(cfg).interval(&rec);
    iv.ci_low.is_some_and(|lo| lo <= truth) && iv.ci_high.is_some_and(|hi| truth <= hi)
}

fn main() {
    let trials: u64 = std::env::var("TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let cases = [
        Case {
            sigma: 0.5,
            rho: 0.0,
            target_pct: 10.0,
            max_calls: 10_000,
        },
        Case {
            sigma: 0.5,
            rho: 0.0,
            target_pct: 5.0,
            max_calls: 10_000,
        },
        Case {
            sigma: 1.0,
            rho: 0.0,
            target_pct: 10.0,
            max_calls: 10_000,
        },
        Case {
            sigma: 0.5,
            rho: 0.5,
            target_pct: 10.0,
            max_calls: 10_000,
        },
    ];
    println!(
        "precision_coverage: {trials} seeded trials per row; lognormal calls, median 50 ms; p99's 95% interval"
    );
    println!(
        "{:>5} {:>4} {:>7} | {:>16} {:>11} {:>13} {:>8} | {:>20}",
        "sigma",
        "rho",
        "target",
        "coverage (rule)",
        "mean calls",
        "calls min-max",
        "reached",
        "coverage (fixed n)"
    );
    for c in &cases {
        let t0 = std::time::Instant::now();
        let cfg = PrecisionConfig::new(&[], c.target_pct, c.max_calls);
        let truth = MEDIAN_US * (c.sigma * Z99).exp();
        let runs: Vec<(bool, u64, bool)> = (0..trials)
            .into_par_iter()
            .map(|i| trial(c, &cfg, 1000 + i, truth))
            .collect();
        let covered = runs.iter().filter(|r| r.0).count() as f64 / trials as f64;
        let mean = runs.iter().map(|r| r.1 as f64).sum::<f64>() / trials as f64;
        let (lo, hi) = (
            runs.iter().map(|r| r.1).min().unwrap_or(0),
            runs.iter().map(|r| r.1).max().unwrap_or(0),
        );
        let reached = runs.iter().filter(|r| r.2).count() as f64 / trials as f64;
        let n = mean.round() as u64;
        let fixed_cov = (0..trials)
            .into_par_iter()
            .filter(|i| fixed(c, &cfg, 1000 + i, truth, n))
            .count() as f64
            / trials as f64;
        println!(
            "{:>5} {:>4} {:>6}% | {:>15.1}% {:>11.0} {:>6}-{:<6} {:>7.1}% | {:>12.1}% at {n:>5} ({:.0?})",
            c.sigma,
            c.rho,
            c.target_pct,
            covered * 100.0,
            mean,
            lo,
            hi,
            reached * 100.0,
            fixed_cov * 100.0,
            t0.elapsed()
        );
    }
}
