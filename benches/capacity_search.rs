//! The capacity search against the simulated dyno (M/M/1, 10 ms mean service), 200 seeded
//! trials per case (`CAPACITY_TRIALS` overrides; `CAPACITY_SEED` picks another set of
//! seeds, default 20000): the share of answers within [85%, 100%] of the true capacity
//! (goal ≥ 95%), above it, and the median answer.

use dynobench::simulate::capacity_check::{SearchCheck, check};

fn main() {
    let trials: usize = std::env::var("CAPACITY_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("CAPACITY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    println!(
        "capacity search vs the simulated dyno (M/M/1, S = 10 ms), {trials} trials per case, seeds from {seed}"
    );
    println!(
        "| SLO | step | true capacity | within [85%, 100%] | above | median answer/true | steps | simulated time per search |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (slo, step) in [
        ("p95<=100ms", 30.0),
        ("p95<=100ms", 120.0),
        ("p99<=100ms", 240.0),
        ("p95<=500ms", 120.0),
    ] {
        let c = SearchCheck {
            service_s: 0.010,
            slo: slo.parse().expect("an SLO"),
            max_steps: 8,
            step_s: step,
            max_step_s: 300.0,
        };
        let s = check(&c, trials, seed);
        println!(
            "| {slo} | {step:.0} s | {:.1} req/s | {:.1}% | {:.1}% | {:.3} | {:.1} | {:.0} s |",
            s.truth,
            s.within * 100.0,
            s.above * 100.0,
            s.median_ratio,
            s.mean_steps,
            s.mean_sim_s
        );
    }
}
