//! Tests of the group figures: windows, per-request figures, and what the downstream
//! fields get from them.

use super::*;
use crate::record::{ClassContext, ClassRecorder, Phase, RequestRecord};

fn reading(t_s: f64, ok: u64, cpu_us: u64, throttled: u64) -> GroupReading {
    GroupReading {
        t_s,
        ok,
        counters: Counters {
            cpu_usage_us: Some(cpu_us),
            nr_periods: Some((t_s * 10.0) as u64),
            nr_throttled: Some(throttled),
            throttled_us: Some(throttled * 20_000),
            memory_peak_bytes: Some(50 << 20),
            ..Counters::default()
        },
        run_delay_us: Some(ok * 500),
        pressure_some_us: Some((t_s * 100_000.0) as u64),
        pressure_full_us: None,
        processes: 3,
    }
}

#[test]
fn windows_and_per_request_figures() {
    // 4 s: 10 calls a second; the first two seconds 2 ms of CPU a call, then 4 ms.
    let rs: Vec<GroupReading> = (0..=8u32)
        .map(|i| {
            let t = i as f64 * 0.5;
            let ok = (t * 10.0) as u64;
            let cpu = if t <= 2.0 {
                ok * 2000
            } else {
                40_000 + (ok - 20) * 4000
            };
            reading(t, ok, cpu, i as u64)
        })
        .collect();
    let g = group_figures(&rs, 1.0, "test".into());
    assert_eq!(g.windows.len(), 4);
    assert_eq!(g.windows[0].cpu_per_request_us, Some(2000.0));
    assert_eq!(g.windows[3].cpu_per_request_us, Some(4000.0));
    assert_eq!(g.windows[1].nr_throttled, Some(2));
    assert_eq!(g.cpu_per_request_us, Some(120_000.0 / 40.0));
    assert_eq!(g.run_delay_per_request_us, Some(500.0));
    assert!((g.cpu_pressure_some_pct.unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(g.cpu_pressure_full_pct, None);
    assert_eq!(g.processes, 3);
    assert!(group_figures(&[], 1.0, "x".into()).windows.is_empty());
}

#[test]
fn fills_downstream_fields_of_a_silent_server() {
    let mut rec = ClassRecorder::new(false, 30_000_000);
    rec.measuring_from(0);
    for i in 0..40u64 {
        rec.record(&RequestRecord {
            phase: Phase::Measured,
            intended_us: None,
            sent_us: i * 100_000,
            done_us: i * 100_000 + 10_000,
            connect_us: None,
            status: Some(200),
            error: None,
            server: None,
            bytes: 10,
            done_unix_us: 0,
            reconnects: 0,
        });
    }
    let class = crate::class::Catalog::load("heroku").unwrap().classes[0].clone();
    let ctx = ClassContext {
        workers: 2,
        class,
        ..ClassContext::default()
    };
    let mut c = ClassResult::from_recorder(rec, ctx);
    c.load.model = "closed".into();
    c.load.concurrency = 1;
    assert!(c.cpu_per_request_us.is_none() && c.server_cpu.is_none());
    let rs: Vec<GroupReading> = (0..=4u32)
        .map(|i| reading(f64::from(i), u64::from(i) * 10, u64::from(i) * 30_000, 0))
        .collect();
    apply_group(&mut c, group_figures(&rs, 1.0, "test".into()));
    assert_eq!(c.cpu_per_request_us, Some(3000.0));
    assert_eq!(c.cpu_wait_per_request_us, Some(500.0));
    let cpu = c.server_cpu.as_ref().unwrap();
    assert!((cpu.mean_us - 3000.0).abs() < 10.0, "{cpu:?}");
    assert!(c.histograms.server_cpu.is_some());
    assert_eq!(c.demand.cpu_us.len(), 40);
    // Not queued (1 caller, 2 workers): the rest of the 10 ms is non-CPU time.
    // (The latency's mean is its histogram's, within 0.1%.)
    assert!(
        (i64::from(c.demand.other_us[0]) - (10_000 - 3000 - 500)).abs() <= 20,
        "{:?}",
        c.demand.other_us[0]
    );
    let b = c.breakdown.as_ref().unwrap();
    assert!(
        (b.cpu_ms - 3.0).abs() < 1e-9 && (b.other_ms - 6.5).abs() < 0.02,
        "{b:?}"
    );
    assert!(c.group.is_some());
}
