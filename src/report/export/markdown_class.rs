//! summary.md's per-class section: status, the class and its applied limits, the
//! percentile table with confidence intervals, where the time went, kernel and server
//! figures, cost, rounds, capacity-search steps and notes.

use std::fmt::Write;

use crate::record::summary::Summary;
use crate::record::{AppliedLimits, ClassResult, RoundResult};
use crate::report::table::{calls_text, class_text, pct_with_ci};
use crate::units::ms;

fn summary_line(name: &str, s: &Summary) -> String {
    let mut line = format!("| {name} | {} |", s.count);
    for p in [50.0, 90.0, 95.0, 99.0, 99.9] {
        line.push_str(&format!(" {} |", pct_with_ci(s.percentile(p))));
    }
    line.push_str(&format!(
        " {} | {:.1} ± {:.1} |",
        ms(s.max_us),
        s.mean_us / 1000.0,
        s.stdev_us / 1000.0
    ));
    line
}

/// The class's bill and what one dyno serves per situation at the class's own CPU, each
/// figure with its origin and terms.
fn cost_lines(out: &mut String, c: &ClassResult) {
    let f2 = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.2}"));
    let _ = writeln!(
        out,
        "- cost: ${:.2}/month = ${:.4}/hour provisioned; billed {}; value per dollar {} (requests per dollar relative to the cheapest class, floor against floor, burst against burst); latency value p95 {}, p99 {}",
        c.cost.usd_month,
        c.cost.usd_hour,
        if c.cost.billing.is_empty() {
            "monthly"
        } else {
            c.cost.billing.as_str()
        },
        crate::report::table::value_cell(c),
        f2(c.cost.value_p95),
        f2(c.cost.value_p99),
    );
    for p in &c.cost.capacity {
        let _ = writeln!(
            out,
            "  - at capacity, {} ({:.2} cores): {:.2} req/s, {} per million requests, {} req/s per $100/month — **{}**: {}",
            p.situation.label(),
            p.cores,
            p.capacity_rps,
            p.usd_per_million_requests
                .map_or("-".into(), |x| format!("${x:.2}")),
            f2(p.rps_per_100_usd_month),
            p.origin.name(),
            p.note
        );
    }
}

/// One class's section: `### name`, then its facts line by line.
pub(super) fn class_section(out: &mut String, c: &ClassResult) {
    let _ = writeln!(out, "\n### {}\n", c.name);
    setup_lines(out, c);
    latency_table(out, c);
    if let Some(b) = &c.breakdown {
        breakdown_line(out, b);
    }
    kernel_lines(out, c);
    cost_lines(out, c);
    if c.rounds.len() > 1 {
        rounds_line(out, &c.rounds);
    }
    check_lines(out, c);
    if let Some(cap) = &c.capacity {
        capacity_lines(out, cap);
    }
    note_lines(out, c);
}

/// Status, the class, the limits applied, its calls and, in open loop, the arrival rate.
fn setup_lines(out: &mut String, c: &ClassResult) {
    let _ = writeln!(
        out,
        "- status: **{}**{}",
        format!("{:?}", c.status).to_lowercase(),
        c.failure.as_ref().map_or(String::new(), |f| format!(" — {f}"))
    );
    let _ = writeln!(out, "- class: {}", class_text(c));
    if let Some(l) = &c.limits {
        applied_line(out, l);
    }
    let _ = writeln!(out, "- calls: {}", calls_text(c));
    if c.load.model == "open" {
        let _ = writeln!(
            out,
            "- open loop: target {:.1} req/s ({}), achieved {:.2} req/s, {} late sends (more than 1 ms after their intended time)",
            c.load.target_rps.unwrap_or(0.0),
            c.load.arrivals.as_deref().unwrap_or("-"),
            c.load.achieved_rps,
            c.load.late_sends
        );
    }
}

/// The limits as applied: backend, CPUs, quota, floor, weights, neighbours, memory.
fn applied_line(out: &mut String, l: &AppliedLimits) {
    let _ = writeln!(
        out,
        "- applied ({}): CPUs {:?}, quota {}, floor {}, weight {} vs neighbours {} ({} × {}), memory soft {} / hard {} MB",
        l.backend.map_or("-".into(), |b| b.name().to_string()),
        l.cpus,
        quota_text(l),
        l.floor_cores.map_or("-".into(), |f| format!("{f:.3} cores")),
        l.weight.map_or("-".into(), |w| w.to_string()),
        l.neighbour_weight.map_or("-".into(), |w| w.to_string()),
        l.neighbours,
        l.neighbour_pattern.as_deref().unwrap_or("no neighbours"),
        l.memory_soft_bytes.map_or("-".into(), |b| (b >> 20).to_string()),
        l.memory_hard_bytes.map_or("-".into(), |b| (b >> 20).to_string()),
    );
}

/// The quota with its period, burst and metering notes, or `none`.
fn quota_text(l: &AppliedLimits) -> String {
    l.quota_cores.map_or("none".into(), |q| {
        format!(
            "{q:.3} cores per {} ms period{}{}{}",
            l.period_us as f64 / 1000.0,
            if l.burst_us > 0 {
                format!(", burst {} ms", l.burst_us as f64 / 1000.0)
            } else {
                String::new()
            },
            if l.quota_per_vcpu {
                ", per vCPU on the platform"
            } else {
                ""
            },
            l.what_if
                .as_ref()
                .map_or(String::new(), |w| format!(" (what-if: {w})"))
        )
    })
}

/// The percentile table: client latency (and uncorrected), then the server-side series.
fn latency_table(out: &mut String, c: &ClassResult) {
    let _ = writeln!(
        out,
        "\n| ms | n | p50 | p90 | p95 | p99 | p99.9 | max | mean ± sd |\n|---|---|---|---|---|---|---|---|---|"
    );
    let _ = writeln!(out, "{}", summary_line("client latency", &c.latency));
    if let Some(u) = &c.latency_uncorrected {
        let _ = writeln!(
            out,
            "{}",
            summary_line("latency from actual send (uncorrected)", u)
        );
    }
    for (name, s) in [
        ("server wall", &c.server_wall),
        ("server CPU", &c.server_cpu),
        ("CPU wait", &c.cpu_wait),
        ("worker queue", &c.queue),
        ("simulated IO", &c.io),
    ] {
        if let Some(s) = s {
            let _ = writeln!(out, "{}", summary_line(name, s));
        }
    }
}

/// Where the mean latency went.
fn breakdown_line(out: &mut String, b: &crate::record::LatencyBreakdown) {
    let _ = writeln!(
        out,
        "\n- where the mean latency of {:.1} ms went: CPU {:.1} ms, waiting for a CPU {:.1} ms, IO {:.1} ms, queued for a worker {:.1} ms, hypervisor steal {:.1} ms, blocked in the handler {:.1} ms ({:.2} major faults, {:.1} voluntary switches per request), other (network, HTTP) {:.1} ms",
        b.latency_ms,
        b.cpu_ms,
        b.cpu_wait_ms,
        b.io_ms,
        b.queue_ms,
        b.steal_ms,
        b.server_blocked_ms,
        b.major_faults_per_request,
        b.voluntary_switches_per_request,
        b.other_ms
    );
}

/// The kernel's counters over the measured calls, and the server's own figures.
fn kernel_lines(out: &mut String, c: &ClassResult) {
    let k = &c.kernel;
    let _ = writeln!(
        out,
        "\n- kernel, over the measured calls: throttled {} of {} periods ({}), {} throttled per request; server CPU {}; neighbour CPU {}; peak memory (group) {}; OOM kills {}{}",
        k.nr_throttled.map_or("-".into(), |v| v.to_string()),
        k.nr_periods.map_or("-".into(), |v| v.to_string()),
        c.throttled_ratio
            .map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
        c.throttled_us_per_request
            .map_or("-".into(), |u| format!("{:.1} ms", u / 1000.0)),
        k.cpu_usage_us
            .map_or("-".into(), |u| format!("{:.2} s", u as f64 / 1e6)),
        k.neighbour_cpu_us
            .map_or("-".into(), |u| format!("{:.2} s", u as f64 / 1e6)),
        k.memory_peak_bytes
            .map_or("-".into(), |b| format!("{} MB", b >> 20)),
        k.oom_kills.map_or("-".into(), |v| v.to_string()),
        k.stopped_us.map_or(String::new(), |u| format!(
            "; held stopped {:.2} s (dutycycle)",
            u as f64 / 1e6
        )),
    );
    let _ = writeln!(
        out,
        "- server: peak RSS {}, CPU {} per request, CPU wait {} per request; host steal {}",
        c.peak_rss_bytes
            .map_or("-".into(), |b| format!("{:.1} MB", b as f64 / 1048576.0)),
        c.cpu_per_request_us
            .map_or("-".into(), |u| format!("{:.1} ms", u / 1000.0)),
        c.cpu_wait_per_request_us
            .map_or("-".into(), |u| format!("{:.1} ms", u / 1000.0)),
        c.steal_pct.map_or("-".into(), |s| format!("{s:.2}%")),
    );
}

/// Each round's p50 and p95, with the spread of p50 between rounds.
fn rounds_line(out: &mut String, rounds: &[RoundResult]) {
    let fmt = |v: Option<u64>| v.map_or("n/e".into(), ms);
    let rows: Vec<String> = rounds
        .iter()
        .map(|r| {
            format!(
                "round {}: p50 {} / p95 {} ms",
                r.round,
                fmt(r.p50_us),
                fmt(r.p95_us)
            )
        })
        .collect();
    let p50: Vec<f64> = rounds.iter().filter_map(|r| r.p50_us).map(|v| v as f64).collect();
    let spread = match (
        p50.iter().copied().reduce(f64::min),
        p50.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) if lo > 0.0 => format!("{:.1}%", (hi / lo - 1.0) * 100.0),
        _ => "-".into(),
    };
    let _ = writeln!(
        out,
        "- rounds (spread of p50 between rounds {spread}): {}",
        rows.join("; ")
    );
}

/// The host-speed index and the response digest, when measured.
fn check_lines(out: &mut String, c: &ClassResult) {
    if let Some(h) = &c.host_speed {
        let _ = writeln!(
            out,
            "- host speed: reference work {:.0} µs CPU, {:.0} µs memory; index {:.3} (1 = as fast as at the start of the run), moved {:.1}% while the class was measured",
            h.cpu_ref_us, h.mem_ref_us, h.index, h.spread_pct
        );
    }
    if let Some(d) = &c.digest {
        let _ = writeln!(
            out,
            "- digest {}… ({} mismatches)",
            &d[..d.len().min(16)],
            c.calls.digest_mismatches
        );
    }
}

/// The capacity search: its SLO and every step.
fn capacity_lines(out: &mut String, cap: &crate::record::capacity::CapacityReport) {
    let _ = writeln!(
        out,
        "- capacity search against {} ({} steps):",
        cap.slo,
        cap.steps.len()
    );
    for st in &cap.steps {
        let _ = writeln!(
            out,
            "  - {:.2} req/s (achieved {:.2}): {} [{}, {}] ms, errors {:.2}% — {}",
            st.rate_rps,
            st.achieved_rps,
            st.value_us.map_or("n/e".into(), ms),
            st.ci_low_us.map_or("—".into(), ms),
            st.ci_high_us.map_or("—".into(), ms),
            st.error_rate * 100.0,
            if st.held { "holds" } else { "breaks" }
        );
    }
}

/// Precision, invalidity, the driver's load and the class's notes.
fn note_lines(out: &mut String, c: &ClassResult) {
    if let Some(p) = &c.precision {
        let _ = writeln!(out, "- precision (`--precision`): {}", p.line());
    }
    if let Some(why) = &c.invalid {
        let _ = writeln!(out, "- **invalid**: {why}");
    }
    if let Some(d) = &c.driver {
        let _ = writeln!(out, "- driver: {}", crate::report::table::driver_text(d));
    }
    for w in &c.warnings {
        let _ = writeln!(out, "- note: {w}");
    }
}
