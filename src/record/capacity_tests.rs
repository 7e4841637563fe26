//! Tests of the capacity search state: doubling and bisection, confirmation, undecided
//! rates and their longer re-runs, the aimed bisection.

use super::*;

/// A class whose SLO holds up to `cap` req/s.
fn search(cap: f64, first: f64) -> (CapacitySearch, Vec<f64>) {
    let mut s = CapacitySearch::new(first, 12, 0.1, 0.01);
    let mut tried = Vec::new();
    while let Some(r) = s.next_rate() {
        tried.push(r);
        s.record(r, r <= cap);
    }
    (s, tried)
}

#[test]
fn doubles_then_bisects_to_the_capacity() {
    let (s, tried) = search(37.0, 5.0);
    assert_eq!(&tried[..4], &[5.0, 10.0, 20.0, 40.0]);
    assert!(s.converged());
    let (h, b) = s.bracket();
    assert!(h.unwrap() <= 37.0 && b.unwrap() > 37.0);
    assert!((b.unwrap() - h.unwrap()) / h.unwrap() <= 0.1);
}

#[test]
fn halves_when_the_first_guess_breaks_and_gives_up_when_nothing_holds() {
    let (s, tried) = search(3.0, 50.0);
    assert_eq!(&tried[..4], &[50.0, 25.0, 12.5, 6.25]);
    assert!(s.bracket().0.unwrap() <= 3.0);
    let (s, _) = search(0.0, 1.0);
    assert_eq!(s.bracket().0, None, "nothing holds");
    assert!(!s.converged());
}

#[test]
fn the_top_held_rate_is_confirmed_or_struck_out() {
    // 40 holds once, then breaks on its confirmation: the answer falls back.
    let mut s = CapacitySearch::new(5.0, 20, 0.1, 0.01);
    let mut seen40 = 0;
    while let Some(r) = s.next_rate() {
        let held = if r == 40.0 {
            seen40 += 1;
            seen40 == 1
        } else {
            r <= 42.0
        };
        s.record(r, held);
    }
    assert_eq!(seen40, 2, "40 was re-run");
    let (h, b) = s.bracket();
    assert!(h.unwrap() < 40.0 && b.unwrap() <= 40.0, "{h:?} {b:?}");
    assert!(s.converged() && s.is_confirmed());
}

#[test]
fn the_step_budget_bounds_the_search() {
    let mut s = CapacitySearch::new(1.0, 3, 0.01, 0.01);
    let mut tried = Vec::new();
    while let Some(r) = s.next_rate() {
        s.record(r, true);
        tried.push(r);
    }
    // Three new rates, then the top one confirmed (re-runs are not new rates).
    assert_eq!(tried, [1.0, 2.0, 4.0, 4.0]);
    assert!(s.is_confirmed() && !s.converged());
}

/// A judged step at `rate`: held, broken, or undecided, with the SLO's estimate.
fn step(rate: f64, held: bool, undecided: bool, value_us: u64) -> CapacityStep {
    CapacityStep {
        rate_rps: rate,
        achieved_rps: rate,
        value_us: Some(value_us),
        ci_low_us: None,
        ci_high_us: None,
        error_rate: 0.0,
        calls: 1000,
        duration_s: 10.0,
        verdict: if undecided { "inconclusive" } else { "meets" }.into(),
        rising: false,
        tau_s: None,
        warmup_s: 2.0,
        in_flight_end: 0.0,
        in_flight_bound: 10.0,
        confirmation: false,
        extended: false,
        undecided,
        calls_needed: None,
        drained_ms: None,
        held,
        why_not: None,
    }
}

#[test]
fn the_longer_re_run_is_sized_by_the_calls_the_verdict_asked_for() {
    assert_eq!(extension_for(1000, None), MIN_EXTENSION);
    assert_eq!(extension_for(1000, Some(2000)), MIN_EXTENSION, "at least 4x");
    assert!(
        (extension_for(1000, Some(8000)) - 10.0).abs() < 1e-9,
        "8000 x 1.25 / 1000"
    );
    assert_eq!(extension_for(1000, Some(100_000)), MAX_EXTENSION);
    let mut s = CapacitySearch::new(10.0, 8, 0.05, 0.1);
    assert_eq!(s.extension(), 1.0);
    s.record_step(&CapacityStep {
        calls_needed: Some(8000),
        ..step(10.0, false, true, 90_000)
    });
    assert!(s.extending() && (s.extension() - 10.0).abs() < 1e-9);
    s.record_step(&step(10.0, true, false, 88_000));
    assert_eq!(s.extension(), 1.0, "the next new rate is a plain step");
}

#[test]
fn a_confirmation_stands_unless_the_longer_re_run_puts_the_estimate_past_the_limit() {
    // Held at 10/s; its confirmation is undecided, then undecided again measured longer
    // with the estimate under the 100-ms limit: confirmed.
    let run = |last_us: u64| {
        let mut s = CapacitySearch::new(10.0, 1, 0.05, 0.1).aimed_at(100_000.0);
        s.record_step(&step(10.0, true, false, 80_000));
        assert!(s.confirming());
        s.record_step(&step(10.0, false, true, 97_000));
        assert!(s.extending());
        s.record_step(&step(10.0, false, true, last_us));
        s
    };
    let s = run(95_000);
    assert!(s.is_confirmed() && s.bracket().0 == Some(10.0));
    // The longer re-run's estimate is past the limit: struck out.
    let s = run(104_000);
    assert!(!s.is_confirmed() && s.bracket() == (None, Some(10.0)));
}

#[test]
fn an_undecided_rate_is_re_run_once_then_counts_as_broken() {
    let mut s = CapacitySearch::new(10.0, 8, 0.05, 0.1);
    s.record_step(&step(10.0, true, false, 50_000));
    assert_eq!(s.next_rate(), Some(20.0));
    s.record_step(&step(20.0, false, true, 95_000));
    assert!(s.extending());
    assert_eq!(s.next_rate(), Some(20.0), "re-run, measured longer");
    s.record_step(&step(20.0, false, true, 97_000));
    assert!(!s.extending());
    assert_eq!(s.bracket(), (Some(10.0), Some(20.0)), "undecided twice: broken");
    // Undecided, then held on the longer run: held.
    let mut s = CapacitySearch::new(10.0, 8, 0.05, 0.1);
    s.record_step(&step(10.0, false, true, 90_000));
    s.record_step(&step(10.0, true, false, 88_000));
    assert_eq!(s.bracket(), (Some(10.0), None));
    assert_eq!(s.next_rate(), Some(20.0), "the re-run was not a new rate");
}

#[test]
fn bisection_aims_at_the_interpolated_limit_within_the_bracket() {
    // 1/value falls linearly: 1/50 ms at 10/s, 1/200 ms at 40/s; the limit 100 ms is
    // reached at 10 + 30 · (1/50 − 1/100)/(1/50 − 1/200) = 30/s.
    let mut s = CapacitySearch::new(10.0, 8, 0.05, 0.1).aimed_at(100_000.0);
    s.record_step(&step(10.0, true, false, 50_000));
    s.record_step(&step(40.0, false, true, 200_000));
    s.record_step(&step(40.0, false, true, 200_000));
    let next = s.next_rate().unwrap();
    assert!((next - AIM_BELOW * 30.0).abs() < 1e-9, "{next}");
    // Without estimates, the midpoint.
    let mut s = CapacitySearch::new(10.0, 8, 0.05, 0.1);
    s.record(10.0, true);
    s.record(40.0, false);
    assert_eq!(s.next_rate(), Some(25.0));
    // Aimed past the bracket: kept a quarter of it inside.
    let mut s = CapacitySearch::new(10.0, 8, 0.05, 0.1).aimed_at(1_000_000.0);
    s.record_step(&step(10.0, true, false, 50_000));
    s.record_step(&step(40.0, false, true, 200_000));
    s.record_step(&step(40.0, false, true, 200_000));
    assert_eq!(s.next_rate(), Some(32.5));
}
