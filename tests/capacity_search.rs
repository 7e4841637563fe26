//! The capacity search against the simulated dyno (one M/M/1 worker whose true capacity
//! for the SLO is known in closed form): the answer must not be above the true capacity,
//! every answer is confirmed by a second step, and longer steps bring it closer.
//! `cargo bench --bench capacity_search` runs 200 trials per case and prints the figures
//! in README.

use dynobench::simulate::capacity_check::{SearchCheck, check, search_once};

fn case(slo: &str, step_s: f64) -> SearchCheck {
    SearchCheck {
        service_s: 0.010,
        slo: slo.parse().unwrap(),
        max_steps: 8,
        step_s,
        max_step_s: 300.0,
    }
}

#[test]
fn the_search_does_not_answer_above_the_true_capacity() {
    let short = check(&case("p95<=100ms", 15.0), 40, 1000);
    let long = check(&case("p95<=100ms", 60.0), 40, 1000);
    for (name, s) in [("15 s", &short), ("60 s", &long)] {
        println!(
            "p95<=100ms, {name} steps: truth {:.1} req/s, within [85%, 100%] {:.1}%, above {:.1}%, median {:.3}",
            s.truth,
            s.within * 100.0,
            s.above * 100.0,
            s.median_ratio
        );
        // The 200-trial bench measures 0.5-3.5% above the truth (15-s steps: 1.5%); over
        // 40 trials a true 3.5% gives more than 4 above about 1% of the time, so more than
        // 4 of 40 (10%) is a real fault, not bad luck.
        assert!(s.above <= 0.10, "{name}: {s:?}");
    }
    assert!(long.median_ratio > short.median_ratio, "{short:?} {long:?}");
}

#[test]
fn the_answer_is_confirmed_by_a_second_step() {
    let o = search_once(&case("p95<=100ms", 15.0), 3);
    let answer = o.answer.expect("a rate held");
    assert!(o.confirmed);
    let at: Vec<_> = o
        .steps
        .iter()
        .filter(|s| s.rate_rps == answer && s.held)
        .collect();
    assert!(at.len() >= 2, "{:?}", o.steps);
    assert!(at.iter().any(|s| s.confirmation));
    assert!(
        o.steps
            .iter()
            .all(|s| s.warmup_s >= 3.0 * s.tau_s.unwrap_or(0.0).min(100.0))
    );
}
