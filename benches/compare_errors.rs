//! `cargo bench --bench compare_errors`: the error rates of `compare`'s verdicts, measured
//! through the real pipeline (recorder → class results → merged rounds → `compare`) on
//! synthetic runs of six classes drawn from known distributions: lognormal service times
//! (median 50 ms, shape sigma), with and without AR(1) autocorrelation between consecutive
//! calls (rho), with host drift between runs and rounds that the host-speed reference sees
//! (a lognormal speed factor, read with 0.5% timing noise), and with **run-to-run drift that
//! it does not see** (a lognormal factor per run and class, drawn independently of the
//! reference: what makes two back-to-back runs of one class differ).
//!
//! Printed per row: the **family-wise** A/A rate (any of 4 percentiles × 6 classes called
//! slower or faster when A and B come from the same distributions), the rate per
//! percentile (over classes), and the power: class 0's p95 called slower when every call of
//! it in B is 20% slower (the other five unchanged). Target: family-wise A/A ≤ 5%.
//! `TRIALS=N` sets the trials per row (default 200).

use std::collections::BTreeMap;

use dynobench::class::Catalog;
use dynobench::compare::stats::Blocks;
use dynobench::compare::verdict::Verdict;
use dynobench::compare::{CompareOptions, RunData, compare};
use dynobench::record::merge::{merge, round_of};
use dynobench::record::{
    ClassContext, ClassRecorder, ClassResult, HostSpeed, HostSpeedIndex, LoadFacts, RequestRecord, RunReport,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

struct Case {
    sigma: f64,
    rho: f64,
    /// Host drift the reference work sees (log SD per run and round).
    drift: f64,
    /// Run-to-run drift it does not see (log SD per run, per class).
    rr: f64,
}

const CLASSES: usize = 6;

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
        rec.record(&RequestRecord::measured_ok(t, t + v));
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

/// One class of a run: `rounds × calls`, its host `run_speed` (× round drift) slower as the
/// reference sees it, and each round (a fresh server) slower or faster on top by a factor
/// the reference does not see.
fn class_run(
    rng: &mut ChaCha8Rng,
    c: &Case,
    name: &str,
    rounds: usize,
    calls: usize,
    scale: f64,
    run_speed: f64,
) -> (ClassResult, Blocks) {
    let parts: Vec<ClassResult> = (0..rounds)
        .map(|i| {
            // Each round starts a fresh server: its own run-to-run factor.
            let z: f64 = StandardNormal.sample(rng);
            let hidden = (c.rr * z).exp();
            let z: f64 = StandardNormal.sample(rng);
            let speed = run_speed * (c.drift * z).exp();
            let mut r = round(rng, c, calls, scale * hidden, speed);
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
    m.name = name.into();
    // A local run: its host-speed reference ran where the server did.
    m.limits = Some(dynobench::record::AppliedLimits::default());
    let readings: Vec<HostSpeed> = m.rounds.iter().flat_map(|r| r.host_speed.clone()).collect();
    m.host_speed = Some(HostSpeedIndex {
        cpu_ref_us: readings.iter().map(|h| h.cpu_ref_us).sum::<f64>() / readings.len() as f64,
        readings,
        ..HostSpeedIndex::default()
    });
    let blocks = Blocks::from_series(&m.intervals);
    (m, blocks)
}

/// A run of six classes; class 0 is `slower` times slower.
fn run(
    rng: &mut ChaCha8Rng,
    c: &Case,
    rounds: usize,
    calls: usize,
    slower: f64,
) -> (RunReport, BTreeMap<String, Blocks>) {
    let z: f64 = StandardNormal.sample(rng);
    let run_speed = (c.drift * z).exp();
    let mut blocks = BTreeMap::new();
    let mut classes = Vec::new();
    for k in 0..CLASSES {
        let name = format!("c{k}");
        let scale = if k == 0 { slower } else { 1.0 };
        let (m, b) = class_run(rng, c, &name, rounds, calls, scale, run_speed);
        blocks.insert(name, b);
        classes.push(m);
    }
    let report = RunReport {
        run_id: "synthetic".into(),
        classes,
        ..RunReport::default()
    };
    (report, blocks)
}

/// Per class, per percentile: whether the verdict is slower or faster (and which).
fn verdicts(
    a: &(RunReport, BTreeMap<String, Blocks>),
    b: &(RunReport, BTreeMap<String, Blocks>),
    seed: u64,
) -> Vec<Vec<Verdict>> {
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
    c.classes
        .iter()
        .map(|d| d.metrics.iter().map(|m| m.verdict).collect())
        .collect()
}

struct Rates {
    family: f64,
    per_percentile: [f64; 4],
    power: f64,
}

fn rates(c: &Case, rounds: usize, calls: usize, trials: usize) -> Rates {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let called = |v: Verdict| matches!(v, Verdict::Slower | Verdict::Faster);
    let (mut family, mut per, mut found) = (0, [0usize; 4], 0);
    for t in 0..trials {
        let a = run(&mut rng, c, rounds, calls, 1.0);
        let a2 = run(&mut rng, c, rounds, calls, 1.0);
        let b = run(&mut rng, c, rounds, calls, 1.2);
        let aa = verdicts(&a, &a2, t as u64);
        if aa.iter().flatten().any(|&v| called(v)) {
            family += 1;
        }
        for class in &aa {
            for (j, &v) in class.iter().enumerate() {
                per[j] += usize::from(called(v));
            }
        }
        if verdicts(&a, &b, t as u64)[0].get(2) == Some(&Verdict::Slower) {
            found += 1;
        }
    }
    let n = trials as f64;
    Rates {
        family: family as f64 / n,
        per_percentile: per.map(|x| x as f64 / (n * CLASSES as f64)),
        power: found as f64 / n,
    }
}

fn main() {
    let trials: usize = std::env::var("TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(200);
    println!(
        "compare verdicts, {trials} trials per row, {CLASSES} classes per run; lognormal service times, median 50 ms; noise threshold 2%"
    );
    println!(
        "A/A: any of 4 percentiles x {CLASSES} classes called slower/faster (family-wise), and per percentile; power: a 20% slower class's p95 called slower"
    );
    println!("target: family-wise A/A <= 5%\n");
    println!(
        "{:<16} {:>5} {:>4} {:>5} {:>5} {:>8} {:>6} {:>6} {:>6} {:>6} {:>9}  result",
        "design", "sigma", "rho", "drift", "rr", "A/A FW", "p50", "p90", "p95", "p99", "power 20%"
    );
    for (rounds, calls) in [(1usize, 1000usize), (5, 100)] {
        for c in [
            Case {
                sigma: 0.3,
                rho: 0.0,
                drift: 0.0,
                rr: 0.0,
            },
            Case {
                sigma: 0.3,
                rho: 0.5,
                drift: 0.0,
                rr: 0.04,
            },
            Case {
                sigma: 0.5,
                rho: 0.5,
                drift: 0.0,
                rr: 0.04,
            },
            Case {
                sigma: 0.3,
                rho: 0.5,
                drift: 0.03,
                rr: 0.04,
            },
        ] {
            let r = rates(&c, rounds, calls, trials);
            println!(
                "{:<16} {:>5} {:>4} {:>4.0}% {:>4.0}% {:>7.1}% {:>5.1}% {:>5.1}% {:>5.1}% {:>5.1}% {:>8.1}%  {}",
                format!("{calls} calls x {rounds}"),
                c.sigma,
                c.rho,
                c.drift * 100.0,
                c.rr * 100.0,
                r.family * 100.0,
                r.per_percentile[0] * 100.0,
                r.per_percentile[1] * 100.0,
                r.per_percentile[2] * 100.0,
                r.per_percentile[3] * 100.0,
                r.power * 100.0,
                if r.family <= 0.05 {
                    "meets the A/A target"
                } else {
                    "MISSES the A/A target"
                }
            );
        }
    }
}
