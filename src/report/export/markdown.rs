//! summary.md: the run for humans — host, configuration, the table, per-class detail with
//! every percentile's confidence interval, kernel observations, warnings and SLO verdicts.

use std::fmt::Write;

use crate::record::summary::Summary;
use crate::record::{ClassResult, ClassStatus, RunReport};
use crate::report::table::{HEADER, calls_text, class_text, pct_with_ci, row};
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

fn class_section(out: &mut String, c: &ClassResult) {
    let _ = writeln!(out, "\n### {}\n", c.name);
    let _ = writeln!(
        out,
        "- status: **{}**{}",
        format!("{:?}", c.status).to_lowercase(),
        c.failure.as_ref().map_or(String::new(), |f| format!(" — {f}"))
    );
    let _ = writeln!(out, "- class: {}", class_text(c));
    if let Some(l) = &c.limits {
        let _ = writeln!(
            out,
            "- applied ({}): CPUs {:?}, quota {}, floor {}, weight {} vs neighbours {} ({} × {}), memory soft {} / hard {} MB",
            l.backend.map_or("-".into(), |b| b.name().to_string()),
            l.cpus,
            l.quota_cores.map_or("none".into(), |q| format!(
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
            )),
            l.floor_cores.map_or("-".into(), |f| format!("{f:.3} cores")),
            l.weight.map_or("-".into(), |w| w.to_string()),
            l.neighbour_weight.map_or("-".into(), |w| w.to_string()),
            l.neighbours,
            l.neighbour_pattern.as_deref().unwrap_or("no neighbours"),
            l.memory_soft_bytes.map_or("-".into(), |b| (b >> 20).to_string()),
            l.memory_hard_bytes.map_or("-".into(), |b| (b >> 20).to_string()),
        );
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
    if let Some(b) = &c.breakdown {
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
    cost_lines(out, c);
    if c.rounds.len() > 1 {
        let fmt = |v: Option<u64>| v.map_or("n/e".into(), ms);
        let rows: Vec<String> = c
            .rounds
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
        let p50: Vec<f64> = c
            .rounds
            .iter()
            .filter_map(|r| r.p50_us)
            .map(|v| v as f64)
            .collect();
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
    if let Some(cap) = &c.capacity {
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

/// The Markdown text.
pub fn summary_md(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# dynobench run {}\n", r.run_id);
    let state = if r.complete {
        "complete"
    } else if r.interrupted {
        "**interrupted** (incomplete: finished classes kept)"
    } else {
        "**incomplete**"
    };
    let _ = writeln!(
        s,
        "{} — started {}, finished {}; {}.\n",
        r.tool,
        r.started_at,
        r.finished_at.as_deref().unwrap_or("-"),
        state
    );
    let h = &r.host;
    let _ = writeln!(
        s,
        "**Host** {}: {} × {}, {:.1} GiB, kernel {}; limiter **{}** — {}; {}; host steal {}.\n",
        h.hostname,
        h.cpus,
        h.cpu_model,
        h.memory_bytes as f64 / 1073741824.0,
        h.kernel,
        h.limiter,
        h.limiter_detail,
        h.placement_note,
        h.steal_pct.map_or("-".into(), |x| format!("{x:.2}%"))
    );
    let c = &r.config;
    let _ = writeln!(
        s,
        "**Load** {} loop, concurrency {}{}; {} warm-up + {} measured calls per class{}; timeout {} ms; path `{}`; neighbours {}; seed {}. **Workload** {} ({} bytes, profile {}). **Catalog** {} ({}; prices {} as of {}).\n",
        c.load_model,
        c.concurrency,
        c.rate.map_or(String::new(), |x| format!(
            ", {x} req/s {}",
            c.arrivals.as_deref().unwrap_or("")
        )),
        c.warmup,
        c.calls,
        if c.repeat > 1 {
            format!(" in each of {} interleaved rounds", c.repeat)
        } else {
            String::new()
        },
        c.timeout_ms,
        c.path,
        c.neighbours,
        c.seed,
        r.workload.payload,
        r.workload.payload_bytes,
        r.workload.profile,
        r.catalog.name,
        r.catalog_origin,
        r.catalog.price_source,
        r.catalog.price_date
    );
    if let Some(p) = &c.precision {
        let _ = writeln!(
            s,
            "**Stopping rule** precision: each class was called until p{}'s 95% interval was within ±{}% of the estimate (checked after {} calls, then every {}× as many), at most {} calls; an estimation target, not a test (the final interval's coverage is below 95%: see docs/statistics.md).\n",
            p.percentile, p.target_pct, p.first_check, p.growth, p.max_calls
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "**Warning:** {w}\n");
    }
    let _ = writeln!(s, "| {} |", HEADER.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(HEADER.len()));
    for class in &r.classes {
        let cells = row(class);
        if cells.len() == HEADER.len() {
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        } else {
            let mut padded = cells.clone();
            padded.resize(HEADER.len(), String::new());
            let _ = writeln!(s, "| {} |", padded.join(" | "));
        }
    }
    let _ = writeln!(
        s,
        "\nLatencies in ms. Each percentile is the nearest-rank estimate with a distribution-free 95% \
         confidence interval from order statistics; `—` marks a bound the sample cannot give (from 100 calls, \
         p99's upper bound), and n/e a percentile it cannot estimate (p99.9 needs 1000 calls). \
         `value p99` = (cheapest p99 / p99) ÷ (price / cheapest price). `*` after the cores = capped to this machine."
    );
    if let Some(m) = crate::report::table::metering_legend(r) {
        let _ = writeln!(s, "Cores: {m}.");
    }
    if let Some(m) = crate::report::table::invalid_legend(r) {
        let _ = writeln!(s, "\n{m}");
    }
    let _ = writeln!(
        s,
        "\n**Per dollar.** `$/M req` is what a million requests cost with one dyno of the class serving at \
         capacity, at the class's own CPU and billed as its platform bills; a shared class shows a range from its \
         burst (an idle host) to its floor (a busy host), and each figure is measured, extrapolated (`*`: scaled \
         to the class's cores from fewer cores here) or estimated (`~`: from service times). `value/$` compares \
         requests per dollar like with like — each class's floor against the cheapest class's floor, and burst \
         against burst — so a range means the answer depends on how busy the platform's host is."
    );
    for c in &r.classes {
        if let Some(of) = &c.same_as {
            let _ = writeln!(
                s,
                "\n{}: emulated here exactly as {of} (CPU model, memory, workers), so its figures are {of}'s \
                 measurement; only the price differs. `run --measure-identical` measures it on its own.",
                c.name
            );
        }
    }
    if !r.slo.is_empty() {
        let _ = writeln!(s, "\n## SLOs\n");
        for v in &r.slo {
            let mark = match v.outcome {
                crate::record::verdict::SloOutcome::Meets => "✅",
                crate::record::verdict::SloOutcome::Breaks => "❌",
                crate::record::verdict::SloOutcome::Inconclusive => "❔",
                crate::record::verdict::SloOutcome::Invalid => "⚠️ invalid",
            };
            let _ = writeln!(s, "- {mark} {}", v.line);
        }
    }
    let sweeps = crate::report::table::sweeps_text(r);
    if !sweeps.is_empty() {
        let _ = writeln!(
            s,
            "\n## Workers (WEB_CONCURRENCY)\n\n```{sweeps}```\n\nSee workers.svg."
        );
    }
    let cap = crate::report::table::capacity_text(r);
    if !cap.is_empty() {
        let _ = writeln!(s, "\n## Capacity per dollar\n\n```{cap}```");
    }
    if let Some(f) = &r.formation {
        let _ = writeln!(s, "\n{}", crate::report::formation::markdown(f));
    }
    let _ = writeln!(s, "\n## Classes");
    for class in &r.classes {
        class_section(&mut s, class);
    }
    if r.classes.iter().any(|c| c.status != ClassStatus::Ok) {
        let _ = writeln!(
            s,
            "\nFailed or interrupted classes keep what they measured; their figures cover only the calls made."
        );
    }
    s
}
