//! `cargo bench --bench compare_errors`: the error rates of `compare`'s verdicts, measured
//! through the real pipeline (recorder → class results → merged rounds → `compare`) on
//! synthetic runs drawn from known distributions: lognormal service times (median 50 ms,
//! shape sigma), with and without AR(1) autocorrelation between consecutive calls (rho),
//! with and without host drift between runs and rounds (a lognormal speed factor whose
//! size the host-speed reference measures, with 0.5% timing noise). Targets: A/A false
//! positives ≤ 5% and a 20% p95 regression found ≥ 80% of the time, at 1000 calls (one
//! round) and at 100 calls × 5 rounds.
//!
//! "False positive": p95 verdict slower or faster when A and B come from the same
//! distribution. "Found": p95 verdict slower when every call of B is 20% slower.
//! `TRIALS=N` sets the trials per row (default 200).

use std::collections::BTreeMap;

use dynobench::class::Catalog;
use dynobench::compare::stats::Blocks;
use dynobench::compare::verdict::Verdict;
use dynobench::compare::{CompareOptions, RunData, compare};
use dynobench::record::merge::{merge, round_of};
use dynobench::record::{
    ClassContext, ClassRecorder, ClassResult, HostSpeed, HostSpeedIndex, LoadFacts, Phase, RequestRecord,
    RunReport,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

struct Case {
    sigma: f64,
    rho: f64,
    drift: f64,
}

/// One round: closed-loop calls back to back, latencies in µs.
fn round(rng: &mut ChaCha8Rng, c: &Case, calls: usize, scale: f64, speed: f64) -> ClassResult {
    let mut rec = ClassRecorder::new(false, 30_000_000);
    rec.measuring_from(0);
    let mut x: f64 = StandardNormal.sample(rng);
    let mut t = 0u64;
    for _ in 0..calls {
        let e: f64 = StandardNormal.sample(rng);
        x = c.rho * x + (1.0 - c.rho * c.rho).sqrt() * e;
        let v = (50_000.0 * (c.sigma * x).exp() * speed * scale).round().max(1.0) as u64;
        rec.record(&RequestRecord {
            phase: Phase::Measured,
            intended_us: None,
            sent_us: t,
            done_us: t + v,
            connect_us: None,
            status: Some(200),
            error: None,
            server: None,
            bytes: 1,
            done_unix_us: 0,
            reconnects: 0,
        });
        t += v;
    }
    let class = Catalog::default_catalog().class("standard-1x").unwrap().clone();
    ClassResult::from_recorder(
        rec,
        ClassContext {
            class,
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

/// A run of `rounds × calls`, its host a factor `speed` (× round drift) slower.
fn run(
    rng: &mut ChaCha8Rng,
    c: &Case,
    rounds: usize,
    calls: usize,
    scale: f64,
) -> (RunReport, BTreeMap<String, Blocks>) {
    let z: f64 = StandardNormal.sample(rng);
    let run_speed = (c.drift * z).exp();
    let parts: Vec<ClassResult> = (0..rounds)
        .map(|i| {
            let z: f64 = StandardNormal.sample(rng);
            let speed = run_speed * (c.drift * z).exp();
            let mut r = round(rng, c, calls, scale, speed);
            // The reference work takes 10 ms on a host of speed 1, timed with 0.5% noise.
            let reading = |rng: &mut ChaCha8Rng| {
                let n: f64 = StandardNormal.sample(rng);
                HostSpeed {
                    cpu_ref_us: 10_000.0 * speed * (1.0 + 0.005 * n),
                    mem_ref_us: 0.0,
                }
            };
            let readings = vec![reading(rng), reading(rng)];
            r.rounds = vec![round_of(&r, i as u32 + 1, readings)];
            r
        })
        .collect();
    let mut m = merge(&parts).unwrap();
    let readings: Vec<HostSpeed> = m.rounds.iter().flat_map(|r| r.host_speed.clone()).collect();
    m.host_speed = Some(HostSpeedIndex {
        cpu_ref_us: readings.iter().map(|h| h.cpu_ref_us).sum::<f64>() / readings.len() as f64,
        ..HostSpeedIndex::default()
    });
    let intervals: Vec<Vec<u64>> = m
        .intervals
        .iter()
        .map(|h| {
            let mut v = Vec::new();
            for x in h.iter_recorded() {
                v.extend(std::iter::repeat_n(
                    h.highest_equivalent(x.value_iterated_to()),
                    x.count_at_value() as usize,
                ));
            }
            v
        })
        .collect();
    let mut blocks = BTreeMap::new();
    blocks.insert(m.name.clone(), Blocks::from_intervals(intervals));
    let report = RunReport {
        run_id: "synthetic".into(),
        classes: vec![m],
        ..RunReport::default()
    };
    (report, blocks)
}

fn p95_verdict(
    a: &(RunReport, BTreeMap<String, Blocks>),
    b: &(RunReport, BTreeMap<String, Blocks>),
    seed: u64,
) -> Verdict {
    let o = CompareOptions {
        seed,
        ..CompareOptions::default()
    };
    let c = compare(
        RunData {
            report: &a.0,
            blocks: &a.1,
        },
        RunData {
            report: &b.0,
            blocks: &b.1,
        },
        &o,
    );
    c.classes[0]
        .metrics
        .iter()
        .find(|m| m.metric == "p95")
        .map(|m| m.verdict)
        .unwrap_or(Verdict::InsufficientData)
}

fn rates(c: &Case, rounds: usize, calls: usize, trials: usize) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut fp, mut found) = (0, 0);
    for t in 0..trials {
        let a = run(&mut rng, c, rounds, calls, 1.0);
        let a2 = run(&mut rng, c, rounds, calls, 1.0);
        let b = run(&mut rng, c, rounds, calls, 1.2);
        if matches!(p95_verdict(&a, &a2, t as u64), Verdict::Slower | Verdict::Faster) {
            fp += 1;
        }
        if p95_verdict(&a, &b, t as u64) == Verdict::Slower {
            found += 1;
        }
    }
    (fp as f64 / trials as f64, found as f64 / trials as f64)
}

fn main() {
    let trials: usize = std::env::var("TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(200);
    println!(
        "compare p95 verdicts, {trials} trials per row; lognormal service times, median 50 ms; noise threshold 2%"
    );
    println!("targets: A/A false positives <= 5%, 20% p95 regression found >= 80%\n");
    println!(
        "{:<16} {:>6} {:>5} {:>6} {:>8} {:>10}  result",
        "design", "sigma", "rho", "drift", "A/A FP", "found 20%"
    );
    for (rounds, calls) in [(1usize, 1000usize), (5, 100)] {
        for c in [
            Case {
                sigma: 0.3,
                rho: 0.0,
                drift: 0.0,
            },
            Case {
                sigma: 0.3,
                rho: 0.5,
                drift: 0.0,
            },
            Case {
                sigma: 0.5,
                rho: 0.0,
                drift: 0.0,
            },
            Case {
                sigma: 0.5,
                rho: 0.5,
                drift: 0.0,
            },
            Case {
                sigma: 0.3,
                rho: 0.5,
                drift: 0.03,
            },
        ] {
            let (fp, found) = rates(&c, rounds, calls, trials);
            println!(
                "{:<16} {:>6} {:>5} {:>5.0}% {:>7.1}% {:>9.1}%  {}",
                format!("{calls} calls x {rounds}"),
                c.sigma,
                c.rho,
                c.drift * 100.0,
                fp * 100.0,
                found * 100.0,
                match (fp <= 0.05, found >= 0.80) {
                    (true, true) => "meets both targets",
                    (false, true) => "MISSES the false-positive target",
                    (true, false) => "MISSES the power target",
                    (false, false) => "MISSES both targets",
                }
            );
        }
    }
}
