//! A class's section of the run page: what it is and what was applied, its percentiles with
//! their 95% intervals (table and chart), where the latency went, throttling and CPU,
//! memory, cost with the origin of its capacity, capacity search and rounds, its notes and
//! its raw files.

use super::{Tone, anchor, badge, esc, facts, file_link, list, table};
use crate::record::class_capacity::CapacityOrigin;
use crate::record::summary::Summary;
use crate::record::{ClassResult, ClassStatus, RunReport};
use crate::report::table::{calls_text, class_text, cores, pct_with_ci};
use crate::report::writer::file_stem;
use crate::units::{mib, ms};

/// The section; `has(file)` says whether a raw file is there to link to.
pub(super) fn section(r: &RunReport, c: &ClassResult, has: &dyn Fn(&str) -> bool) -> String {
    let status = match c.status {
        ClassStatus::Ok => badge(Tone::Ok, "ok"),
        other => badge(Tone::Bad, other.name()),
    };
    let mut s = format!(
        "<article class=\"class\" id=\"{}\">\n<h3>{} {status}</h3>\n",
        anchor(&c.name),
        esc(&c.name)
    );
    if let Some(f) = &c.failure {
        s.push_str(&format!("<p>{}</p>\n", esc(f)));
    }
    if let Some(of) = &c.same_as {
        s.push_str(&format!(
            "<p class=\"note\">Emulated here exactly as <a href=\"#{}\">{}</a>: these are its figures, at this class's price.</p>\n",
            anchor(of),
            esc(of)
        ));
    }
    s.push_str(&facts(&[
        ("class", esc(&class_text(c))),
        ("applied", esc(&applied_line(c))),
        ("calls", esc(&calls_line(c))),
    ]));
    s.push_str("<h4>Latency percentiles (ms, with 95% intervals)</h4>\n");
    s.push_str(&percentile_table(c));
    if c.latency.count > 0 {
        s.push_str(&super::percentiles::figure(c));
    }
    if let Some(b) = &c.breakdown {
        s.push_str(&went(b));
    }
    s.push_str("<div class=\"grid2\">\n<div>\n<h4>Throttling and CPU</h4>\n");
    s.push_str(&cpu_facts(c));
    s.push_str("</div>\n<div>\n<h4>Memory</h4>\n");
    s.push_str(&memory_facts(c));
    s.push_str("</div>\n</div>\n<h4>Cost</h4>\n");
    s.push_str(&cost_facts(c));
    s.push_str(&search_and_rounds(c));
    if !c.warnings.is_empty() {
        s.push_str("<h4>Notes</h4>\n");
        s.push_str(&list("notes", &c.warnings));
    }
    let stem = file_stem(&c.name);
    let raw: Vec<String> = [format!("{stem}.hgrm"), format!("{stem}.hlog")]
        .into_iter()
        .filter(|f| has(f))
        .map(|f| file_link(&f, &f))
        .collect();
    if !raw.is_empty() {
        s.push_str(&format!(
            "<p class=\"note\">Raw: {} (and this class in <a href=\"run.json\">run.json</a>, run {}).</p>\n",
            raw.join(", "),
            esc(&r.run_id)
        ));
    }
    s.push_str("</article>\n");
    s
}

fn applied_line(c: &ClassResult) -> String {
    let Some(l) = &c.limits else {
        return "remote endpoint: no local limits".into();
    };
    format!(
        "{} ({}): CPUs {:?}, quota {}, floor {}, neighbours {} ({})",
        cores(c),
        l.backend.map_or("-".into(), |b| b.name().to_string()),
        l.cpus,
        l.quota_cores
            .map_or("none".into(), |q| format!("{q:.3} cores per {} µs", l.period_us)),
        l.floor_cores.map_or("-".into(), |f| format!("{f:.3} cores")),
        l.neighbours,
        l.neighbour_pattern.as_deref().unwrap_or("none")
    )
}

fn calls_line(c: &ClassResult) -> String {
    let mut s = format!(
        "{}; {} loop at {}",
        calls_text(c),
        c.load.model,
        c.load.concurrency
    );
    if let Some(t) = c.load.target_rps {
        s.push_str(&format!(
            "; target {t:.1} req/s, achieved {:.2}, {} late sends",
            c.load.achieved_rps, c.load.late_sends
        ));
    }
    s
}

fn percentile_table(c: &ClassResult) -> String {
    let ps = crate::record::summary::PERCENTILES;
    let mut head: Vec<String> = vec!["".into(), "n".into()];
    head.extend(ps.iter().map(|p| format!("p{p}")));
    head.extend(["max".into(), "mean ± sd".into()]);
    let line = |name: &str, s: &Summary| -> Vec<String> {
        let mut row = vec![esc(name), s.count.to_string()];
        for p in ps {
            let t = pct_with_ci(s.percentile(p));
            row.push(match t.split_once(' ') {
                Some((v, ci)) => format!("{}<br><span class=\"ci\">{}</span>", esc(v), esc(ci)),
                None => esc(&t),
            });
        }
        row.push(ms(s.max_us));
        row.push(format!("{:.1} ± {:.1}", s.mean_us / 1000.0, s.stdev_us / 1000.0));
        row
    };
    let mut rows = vec![line("client latency", &c.latency)];
    let named: [(&str, &Option<Summary>); 7] = [
        ("from actual send (uncorrected)", &c.latency_uncorrected),
        ("server wall", &c.server_wall),
        ("server CPU", &c.server_cpu),
        ("CPU wait", &c.cpu_wait),
        ("worker queue", &c.queue),
        ("simulated IO", &c.io),
        ("hypervisor steal", &c.steal),
    ];
    rows.extend(named.iter().filter_map(|(n, s)| s.as_ref().map(|s| line(n, s))));
    table(&head, &rows, &[])
}

/// The mean latency as one bar split by cause, with its key.
fn went(b: &crate::record::LatencyBreakdown) -> String {
    let parts = [
        ("cpu", "CPU", b.cpu_ms),
        ("wait", "waiting for a CPU", b.cpu_wait_ms),
        ("io", "IO", b.io_ms),
        ("queue", "queued for a worker", b.queue_ms),
        ("steal", "hypervisor steal", b.steal_ms),
        ("blocked", "blocked in the handler", b.server_blocked_ms),
        ("other", "other (network, HTTP)", b.other_ms),
    ];
    let total: f64 = parts.iter().map(|p| p.2.max(0.0)).sum();
    let mut bar = String::new();
    let mut keys = String::new();
    for (class, name, v) in parts {
        // Parts under 0.05 ms would read 0.0: left out of the key and the bar.
        if v < 0.05 || total <= 0.0 {
            continue;
        }
        let pct = v / total * 100.0;
        bar.push_str(&format!(
            "<span class=\"{class}\" style=\"width:{pct:.2}%\" title=\"{name}: {v:.1} ms\"></span>"
        ));
        keys.push_str(&format!(
            "<span><i class=\"{class}\"></i>{name} {v:.1} ms ({pct:.0}%)</span>"
        ));
    }
    format!(
        "<h4>Where the mean latency of {:.1} ms went</h4>\n<div class=\"went\">{bar}</div>\n<div class=\"keys\">{keys}</div>\n\
         <p class=\"note\">{:.2} major faults and {:.1} voluntary switches per request in the handler.</p>\n",
        b.latency_ms, b.major_faults_per_request, b.voluntary_switches_per_request
    )
}

fn per_request(us: Option<f64>) -> String {
    us.map_or("-".into(), |u| format!("{:.1} ms", u / 1000.0))
}

fn cpu_facts(c: &ClassResult) -> String {
    let k = &c.kernel;
    facts(&[
        (
            "throttled",
            esc(&format!(
                "{} of {} periods ({}), {} per request",
                k.nr_throttled.map_or("-".into(), |v| v.to_string()),
                k.nr_periods.map_or("-".into(), |v| v.to_string()),
                c.throttled_ratio
                    .map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
                per_request(c.throttled_us_per_request)
            )),
        ),
        ("CPU per request", esc(&per_request(c.cpu_per_request_us))),
        (
            "CPU wait per request",
            esc(&per_request(c.cpu_wait_per_request_us)),
        ),
        (
            "server CPU",
            esc(&k
                .cpu_usage_us
                .map_or("-".into(), |u| format!("{:.2} s", u as f64 / 1e6))),
        ),
        (
            "neighbours' CPU",
            esc(&k
                .neighbour_cpu_us
                .map_or("-".into(), |u| format!("{:.2} s", u as f64 / 1e6))),
        ),
        (
            "host steal",
            esc(&c.steal_pct.map_or("-".into(), |s| format!("{s:.2}%"))),
        ),
    ])
}

fn memory_facts(c: &ClassResult) -> String {
    let k = &c.kernel;
    facts(&[
        (
            "peak RSS",
            esc(&c
                .peak_rss_bytes
                .map_or("-".into(), |b| format!("{:.1} MB", mib(b)))),
        ),
        (
            "peak (group)",
            esc(&k
                .memory_peak_bytes
                .map_or("-".into(), |b| format!("{:.0} MB", mib(b)))),
        ),
        (
            "quota",
            esc(&format!(
                "{} MB (killed at {} MB)",
                c.class.memory_mb, c.class.memory_hard_mb
            )),
        ),
        (
            "over quota",
            esc(&c.memory_quota.as_ref().map_or(String::new(), |q| {
                format!(
                    "{} samples (R14); largest {:.0} MB = {:.0}% of the quota",
                    q.samples_over,
                    mib(q.max_bytes),
                    q.max_pct
                )
            })),
        ),
        (
            "OOM kills",
            esc(&k.oom_kills.map_or("-".into(), |v| v.to_string())),
        ),
    ])
}

/// The tone of a capacity's origin: measured reads as solid, the others as hedged.
pub(super) fn origin_tone(o: CapacityOrigin) -> Tone {
    match o {
        CapacityOrigin::Measured => Tone::Ok,
        CapacityOrigin::Extrapolated | CapacityOrigin::Estimated => Tone::Unsure,
    }
}

/// The bill, value per dollar, and what one dyno serves in each situation the class is
/// sold in, each figure with its origin and terms.
fn cost_facts(c: &ClassResult) -> String {
    let cost = &c.cost;
    let f2 = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.2}"));
    let mut s = facts(&[
        (
            "price",
            esc(&format!(
                "${:.2}/month = ${:.4}/hour provisioned; billed {}",
                cost.usd_month,
                cost.usd_hour,
                if cost.billing.is_empty() {
                    "monthly"
                } else {
                    cost.billing.as_str()
                }
            )),
        ),
        (
            "value per dollar",
            esc(&format!(
                "capacity {} (requests per dollar relative to the cheapest class, floor against floor, burst against burst); latency p95 {}, p99 {}",
                crate::report::table::value_cell(c),
                f2(cost.value_p95),
                f2(cost.value_p99)
            )),
        ),
    ]);
    if cost.capacity.is_empty() {
        s.push_str("<p class=\"note\">No capacity figure: nothing was measured to base one on.</p>\n");
        return s;
    }
    let head = [
        "at capacity",
        "cores",
        "req/s",
        "$ per M req",
        "req/s per $100/mo",
        "origin",
        "terms",
    ]
    .map(String::from);
    let rows: Vec<Vec<String>> = cost
        .capacity
        .iter()
        .map(|p| {
            vec![
                esc(p.situation.label()),
                format!("{:.2}", p.cores),
                format!("{:.2}", p.capacity_rps),
                p.usd_per_million_requests
                    .map_or("-".into(), |x| format!("${x:.2}")),
                f2(p.rps_per_100_usd_month),
                badge(origin_tone(p.origin), p.origin.name()),
                esc(&p.note),
            ]
        })
        .collect();
    s.push_str(&table(&head, &rows, &[5, 6]));
    s
}

fn search_and_rounds(c: &ClassResult) -> String {
    let mut s = String::new();
    if let Some(cap) = &c.capacity {
        s.push_str(&format!("<h4>Capacity search against {}</h4>\n", esc(&cap.slo)));
        let head = ["rate req/s", "achieved", "value ms [95% CI]", "errors", "verdict"].map(String::from);
        let rows: Vec<Vec<String>> = cap
            .steps
            .iter()
            .map(|st| {
                vec![
                    format!("{:.2}", st.rate_rps),
                    format!("{:.2}", st.achieved_rps),
                    esc(&format!(
                        "{} [{}, {}]",
                        st.value_us.map_or("n/e".into(), ms),
                        st.ci_low_us.map_or("—".into(), ms),
                        st.ci_high_us.map_or("—".into(), ms)
                    )),
                    format!("{:.2}%", st.error_rate * 100.0),
                    if st.held {
                        badge(Tone::Ok, "holds")
                    } else {
                        badge(Tone::Bad, "breaks")
                    },
                ]
            })
            .collect();
        s.push_str(&table(&head, &rows, &[]));
    }
    if c.rounds.len() > 1 {
        s.push_str("<h4>Rounds</h4>\n");
        let head = ["round", "calls", "req/s", "p50 ms", "p95 ms", "p99 ms"].map(String::from);
        let f = |v: Option<u64>| v.map_or("n/e".into(), ms);
        let rows: Vec<Vec<String>> = c
            .rounds
            .iter()
            .map(|r| {
                vec![
                    r.round.to_string(),
                    r.attempted.to_string(),
                    format!("{:.2}", r.throughput_rps),
                    f(r.p50_us),
                    f(r.p95_us),
                    f(r.p99_us),
                ]
            })
            .collect();
        s.push_str(&table(&head, &rows, &[]));
    }
    if let Some(h) = &c.host_speed {
        s.push_str(&format!(
            "<p class=\"note\">Host speed index {:.3} (1 = as fast as at the start of the run); it moved {:.1}% while the class was measured.</p>\n",
            h.index, h.spread_pct
        ));
    }
    s
}
