//! SLO verdicts on correlated calls: with AR(1) correlation between consecutive calls, a
//! class whose true p99 sits exactly at the limit must not be called "meets" much more often
//! than the nominal 2.5% — the effective sample size (design effect of exceedances, by
//! batch means over the run's intervals) is what keeps it there. Independent calls keep
//! their old intervals.

use dynobench::class::Catalog;
use dynobench::record::verdict::{SloOutcome, slo_verdict};
use dynobench::record::{ClassContext, ClassRecorder, ClassResult, LoadFacts, RequestRecord};
use dynobench::slo::Slo;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const MEDIAN_US: f64 = 50_000.0;
const SIGMA: f64 = 0.4;
const Z99: f64 = 2.326_347_874;

/// A closed-loop run of `n` calls back to back, lognormal with AR(1) correlation `rho`.
fn run(rng: &mut ChaCha8Rng, n: usize, rho: f64) -> ClassResult {
    let mut rec = ClassRecorder::new(false, 30_000_000);
    rec.measuring_from(0);
    let mut x: f64 = StandardNormal.sample(rng);
    let mut t = 0u64;
    for _ in 0..n {
        let e: f64 = StandardNormal.sample(rng);
        x = rho * x + (1.0 - rho * rho).sqrt() * e;
        let v = (MEDIAN_US * (SIGMA * x).exp()).round() as u64;
        rec.record(&RequestRecord::measured_ok(t, t + v));
        t += v;
    }
    ClassResult::from_recorder(
        rec,
        ClassContext {
            class: Catalog::default_catalog().class("standard-1x").unwrap().clone(),
            workers: 1,
            load: LoadFacts {
                model: "closed".into(),
                concurrency: 1,
                ..LoadFacts::default()
            },
            ..ClassContext::default()
        },
    )
}

/// Share of trials called "meets" with the true p99 exactly at the limit: with the
/// effective sample size, and with calls taken as independent (intervals dropped).
fn meets_rate(rho: f64, trials: usize) -> (f64, f64) {
    let limit_ms = MEDIAN_US * (SIGMA * Z99).exp() / 1000.0;
    let slo: Slo = format!("p99<={limit_ms:.3}ms").parse().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut with, mut without) = (0, 0);
    for _ in 0..trials {
        let mut c = run(&mut rng, 2000, rho);
        with += usize::from(slo_verdict(&c, &slo).outcome == SloOutcome::Meets);
        c.intervals = Default::default();
        without += usize::from(slo_verdict(&c, &slo).outcome == SloOutcome::Meets);
    }
    (with as f64 / trials as f64, without as f64 / trials as f64)
}

#[test]
fn correlated_calls_do_not_make_a_p99_at_the_limit_meet_it() {
    let (with, without) = meets_rate(0.9, 200);
    println!(
        "AR(1) rho 0.9, 2000 calls, true p99 at the limit: meets {:.1}% with the effective sample size, {:.1}% as if independent",
        with * 100.0,
        without * 100.0
    );
    assert!(with <= 0.075, "meets {with}");
    assert!(without > with, "{without} vs {with}");
}

#[test]
fn independent_calls_keep_their_coverage() {
    let (with, without) = meets_rate(0.0, 100);
    println!(
        "independent, 2000 calls, true p99 at the limit: meets {:.1}% ({:.1}% without the correction)",
        with * 100.0,
        without * 100.0
    );
    assert!(with <= 0.05 && without <= 0.05, "{with} {without}");
}
