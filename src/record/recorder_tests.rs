//! Unit tests of the recorder: warm-up apart, errors counted, open-loop correction, intervals.
use super::*;

fn call(
    phase: Phase,
    intended: Option<u64>,
    sent: u64,
    done: u64,
    error: Option<ErrorKind>,
) -> RequestRecord {
    RequestRecord {
        phase,
        intended_us: intended,
        sent_us: sent,
        done_us: done,
        connect_us: None,
        status: if error.is_none() { Some(200) } else { None },
        error,
        server: error.is_none().then(|| WorkResponse {
            wall_us: 900,
            cpu_us: 800,
            wait_us: 100,
            queue_us: 5,
            digest: "7".into(),
            profile: "cpu".into(),
            ..WorkResponse::default()
        }),
        bytes: 10,
        done_unix_us: 0,
        reconnects: 0,
    }
}

#[test]
fn warmup_is_kept_apart_and_errors_are_counted() {
    let mut r = ClassRecorder::new(false, 30_000_000);
    r.record(&call(Phase::Warmup, None, 0, 5000, None));
    r.record(&call(Phase::Measured, None, 10_000, 11_000, None));
    r.record(&call(
        Phase::Measured,
        None,
        11_000,
        12_000,
        Some(ErrorKind::Connect),
    ));
    r.record(&call(
        Phase::Measured,
        None,
        12_000,
        30_012_000,
        Some(ErrorKind::Timeout),
    ));
    assert_eq!(r.latency.len(), 1, "closed loop: failures are counted, not timed");
    assert_eq!(r.warmup_facts().calls, 1);
    let c = r.call_counts();
    assert_eq!((c.attempted, c.ok), (3, 1));
    assert_eq!(c.errors["connect"], 1);
    assert_eq!(c.errors["timeout"], 1);
    assert!((c.error_rate - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(r.server_cpu.len(), 1);
}

#[test]
fn open_loop_measures_from_the_intended_time_and_times_out_at_the_limit() {
    let mut r = ClassRecorder::new(true, 1_000_000);
    // Intended at 0 but sent at 50 ms (stalled client queue), done at 60 ms.
    r.record(&call(Phase::Measured, Some(0), 50_000, 60_000, None));
    assert_eq!(r.latency.max(), r.latency.highest_equivalent(60_000));
    assert_eq!(
        r.latency_uncorrected.max(),
        r.latency_uncorrected.highest_equivalent(10_000)
    );
    assert_eq!(r.late_sends(), 1);
    r.record(&call(
        Phase::Measured,
        Some(100_000),
        100_000,
        1_100_000,
        Some(ErrorKind::Timeout),
    ));
    assert_eq!(r.latency.len(), 2, "the timeout is recorded at the timeout value");
    assert!(r.latency.max() >= 1_000_000);
}

#[test]
fn digests_must_agree() {
    let mut r = ClassRecorder::new(false, 1);
    let mut a = call(Phase::Measured, None, 0, 1, None);
    r.record(&a);
    a.server.as_mut().unwrap().digest = "8".into();
    r.record(&a);
    assert_eq!(r.call_counts().digest_mismatches, 1);
    assert_ne!(digest_hash("abc"), digest_hash("abd"));
    assert_eq!(digest_hash(""), 0);
}
