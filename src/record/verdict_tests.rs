//! Unit tests of `record/verdict.rs`.

use super::*;

#[test]
fn minimum_calls_to_bound_a_percentile() {
    assert_eq!(min_calls_for(0.99), 368);
    assert_eq!(min_calls_for(0.95), 72);
    assert!(min_calls_for(0.5) <= 8);
    let slos: Vec<Slo> = vec!["p99<=300ms".parse().unwrap(), "error-rate<=1%".parse().unwrap()];
    assert_eq!(calls_for_slos(&slos, 100), 368);
    assert_eq!(calls_for_slos(&[], 100), 100);
}

use crate::record::{ClassContext, ClassRecorder, ErrorKind, Phase, RequestRecord};

/// A class whose `ok` calls took `ms` each and `failed` calls answered 503.
fn class(ok_ms: &[u64], failed: u64) -> ClassResult {
    let mut rec = ClassRecorder::new(false, 30_000_000);
    let mut t = 0;
    let call = |t: u64, us: u64, error: Option<ErrorKind>| RequestRecord {
        phase: Phase::Measured,
        intended_us: None,
        sent_us: t,
        done_us: t + us,
        connect_us: None,
        status: Some(if error.is_some() { 503 } else { 200 }),
        error,
        server: None,
        bytes: 1,
        done_unix_us: 0,
        reconnects: 0,
    };
    for &ms in ok_ms {
        rec.record(&call(t, ms * 1000, None));
        t += ms * 1000;
    }
    for _ in 0..failed {
        rec.record(&call(t, 100, Some(ErrorKind::Status)));
    }
    ClassResult::from_recorder(
        rec,
        ClassContext {
            class: crate::class::Catalog::default_catalog()
                .class("eco")
                .unwrap()
                .clone(),
            workers: 1,
            ..ClassContext::default()
        },
    )
}

#[test]
fn failed_calls_count_against_latency_slos() {
    // 70 fast calls and 30 503s: the fast ones alone would meet p90<=100ms easily.
    let c = class(&[10; 70], 30);
    let v = slo_verdict(&c, &"p90<=100ms".parse().unwrap());
    assert_eq!(v.outcome, SloOutcome::Breaks, "{}", v.line);
    assert!(v.line.contains("30 failed calls"), "{}", v.line);
    assert!(!slo_verdict(&c, &"p99<=1s".parse().unwrap()).held);
    let e = slo_verdict(&c, &"error-rate<=1%".parse().unwrap());
    assert_eq!(e.outcome, SloOutcome::Breaks, "{}", e.line);
}

#[test]
fn three_values_and_the_calls_that_would_decide() {
    // 1000 calls between 1 and 100 ms in a shuffled order (a sorted or periodic order
    // would be correlated in time, and the design effect would rightly widen): p50 ~ 50 ms.
    let mut ms: Vec<u64> = (0..1000).map(|i| 1 + i % 100).collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in (1..ms.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ms.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let c = class(&ms, 0);
    let meets = slo_verdict(&c, &"p50<=60ms".parse().unwrap());
    assert_eq!(meets.outcome, SloOutcome::Meets, "{}", meets.line);
    assert!(meets.held);
    let breaks = slo_verdict(&c, &"p50<=40ms".parse().unwrap());
    assert_eq!(breaks.outcome, SloOutcome::Breaks, "{}", breaks.line);
    // Right at the limit: the interval straddles it.
    let close = slo_verdict(&c, &"p50<=51ms".parse().unwrap());
    assert_eq!(close.outcome, SloOutcome::Inconclusive, "{}", close.line);
    assert!(!close.held, "inconclusive is not a pass");
    let need = close.calls_needed.expect("says how many calls would decide it");
    assert!(need > 1000, "{need}: {}", close.line);
    assert!(close.line.contains("calls would decide it"), "{}", close.line);
    // p99 from 100 calls cannot be bounded: inconclusive, naming the minimum.
    let few = class(&ms[..100], 0);
    let v = slo_verdict(&few, &"p99<=1s".parse().unwrap());
    assert_eq!(v.outcome, SloOutcome::Inconclusive, "{}", v.line);
    assert!(v.line.contains("368"), "{}", v.line);
}

#[test]
fn a_class_whose_driver_was_the_bottleneck_gets_invalid_verdicts() {
    let mut c = class(&[10; 400], 0);
    assert_eq!(
        slo_verdict(&c, &"p99<=1s".parse().unwrap()).outcome,
        SloOutcome::Meets
    );
    c.invalid = Some("the driver was the bottleneck: its CPU was 97% busy".into());
    for slo in ["p99<=1s", "error-rate<=1%", "max<=2s"] {
        let v = slo_verdict(&c, &slo.parse().unwrap());
        assert_eq!(v.outcome, SloOutcome::Invalid, "{}", v.line);
        assert!(!v.held, "invalid is not a pass");
        assert!(
            v.line.contains("invalid: the driver was the bottleneck"),
            "{}",
            v.line
        );
    }
}

#[test]
fn separation() {
    assert_eq!(calls_to_separate(0.99, 0.99), None);
    let n = calls_to_separate(0.995, 0.99).unwrap();
    assert!((1500..1600).contains(&n), "{n}");
}
