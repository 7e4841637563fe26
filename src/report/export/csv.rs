//! summary.csv: one row per class, every headline figure in its own column.

use crate::record::{ClassResult, RunReport};
use crate::units::ms_csv as ms;

fn f(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:.4}"))
}

/// The CSV text.
pub fn summary_csv(r: &RunReport) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> = [
        "class",
        "status",
        "workers",
        "cores",
        "price_usd_month",
        "usd_hour",
        "calls",
        "ok",
        "error_rate",
        "throughput_rps",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for p in ["p50", "p90", "p95", "p99", "p99.9"] {
        head.extend([
            format!("{p}_ms"),
            format!("{p}_ci_low_ms"),
            format!("{p}_ci_high_ms"),
        ]);
    }
    head.extend(
        [
            "max_ms",
            "mean_ms",
            "stdev_ms",
            "server_wall_p50_ms",
            "cpu_ms_per_request",
            "cpu_wait_ms_per_request",
            "io_ms_per_request",
            "steal_ms_per_request",
            "blocked_ms_per_request",
            "queue_p50_ms",
            "throttled_ratio",
            "throttled_ms_per_request",
            "peak_rss_mb",
            "steal_pct",
            "usd_per_million_requests",
            "value_p95",
            "value_p99",
            "capacity_rps",
            "capacity_basis",
            "rps_per_100_usd_month",
            "value_capacity",
            "capacity_situation",
            "capacity_origin",
            "capacity_rps_burst",
            "usd_per_million_requests_burst",
            "capacity_origin_burst",
            "value_capacity_burst",
            "billing",
            "failure",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let _ = w.write_record(&head);
    for c in &r.classes {
        let _ = w.write_record(row(c));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn row(c: &ClassResult) -> Vec<String> {
    let mut v = vec![
        c.name.clone(),
        format!("{:?}", c.status).to_lowercase(),
        c.workers.to_string(),
        crate::report::table::cores(c),
        format!("{}", c.price_usd_month),
        format!("{:.6}", c.cost.usd_hour),
        c.calls.attempted.to_string(),
        c.calls.ok.to_string(),
        format!("{:.4}", c.calls.error_rate),
        format!("{:.4}", c.throughput_rps),
    ];
    for p in [50.0, 90.0, 95.0, 99.0, 99.9] {
        let x = c.latency.percentile(p);
        v.push(ms(x.and_then(|x| x.value_us)));
        v.push(ms(x.and_then(|x| x.ci_low_us)));
        v.push(ms(x.and_then(|x| x.ci_high_us)));
    }
    let has = c.latency.count > 0;
    v.extend([
        ms(has.then_some(c.latency.max_us)),
        f(has.then_some(c.latency.mean_us / 1000.0)),
        f(has.then_some(c.latency.stdev_us / 1000.0)),
        ms(c.server_wall.as_ref().and_then(|s| s.value(50.0))),
        f(c.cpu_per_request_us.map(|x| x / 1000.0)),
        f(c.cpu_wait_per_request_us.map(|x| x / 1000.0)),
        f(c.breakdown.as_ref().map(|b| b.io_ms)),
        f(c.breakdown.as_ref().map(|b| b.steal_ms)),
        f(c.breakdown.as_ref().map(|b| b.server_blocked_ms)),
        ms(c.queue.as_ref().and_then(|s| s.value(50.0))),
        f(c.throttled_ratio),
        f(c.throttled_us_per_request.map(|x| x / 1000.0)),
        f(c.peak_rss_bytes.map(|b| b as f64 / 1048576.0)),
        f(c.steal_pct),
        f(c.cost.usd_per_million_requests),
        f(c.cost.value_p95),
        f(c.cost.value_p99),
        f(c.cost.capacity_rps),
        c.cost
            .capacity_basis
            .map_or(String::new(), |b| b.label().to_string()),
        f(c.cost.rps_per_100_usd_month),
        f(c.cost.value_capacity),
    ]);
    // The conservative end (floor, baseline, or the one situation) and the optimistic one.
    let (first, last) = (c.cost.capacity.first(), c.cost.capacity.last());
    v.extend([
        first.map_or(String::new(), |p| p.situation.label().to_string()),
        first.map_or(String::new(), |p| p.origin.name().to_string()),
        f(last.map(|p| p.capacity_rps)),
        f(last.and_then(|p| p.usd_per_million_requests)),
        last.map_or(String::new(), |p| p.origin.name().to_string()),
        f(c.cost.value_capacity_burst),
        c.cost.billing.clone(),
        c.failure.clone().unwrap_or_default(),
    ]);
    v
}
