//! The text under the terminal table: how the calls were made, the legends of the marks
//! in use, per-class notes (failures, precision, invalid figures, coordinated omission),
//! warnings, the worker-sweep and capacity-search blocks (shared with summary.md and the
//! page), SLO lines.

use super::table::{COST_LEGEND, invalid_legend, metering_legend, per_100_cell};
use crate::record::verdict::SloOutcome;
use crate::record::{ClassResult, ClassStatus, RunReport};
use crate::units::{mib, ms};

/// Everything after the table's rows, in order.
pub(super) fn push_notes(s: &mut String, r: &RunReport) {
    s.push_str(&calls_line(r));
    legends(s, r);
    class_notes(s, r);
    for w in &r.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s.push_str(&sweeps_text(r));
    s.push_str(&capacity_text(r));
    slo_lines(s, r);
    if r.interrupted {
        s.push_str("interrupted: the classes above are kept; the run is marked incomplete\n");
    }
}

/// How many calls were measured, and how.
fn calls_line(r: &RunReport) -> String {
    let n = match &r.config.precision {
        Some(p) => format!(
            "Measured calls until p{}'s 95% interval was within ±{}% (at most {} per class)",
            p.percentile, p.target_pct, p.max_calls
        ),
        None => format!("{} measured calls per class", r.config.calls),
    };
    format!(
        "\n{} after {} warm-up (at least 1 per worker); {} load, concurrency {}{}; limiter {}; {}\n",
        n,
        r.config.warmup,
        r.config.load_model,
        r.config.concurrency,
        if r.worker_sweeps.is_empty() {
            ""
        } else {
            " (at least the workers in a sweep)"
        },
        r.host.limiter,
        r.host.placement_note
    )
}

/// The legends of the percentile, time and cost columns, and of the marks in use.
fn legends(s: &mut String, r: &RunReport) {
    s.push_str("p99 [95% CI]: '—' means the sample cannot bound it (with 100 calls p99 has no upper bound); n/e = not estimable\n");
    s.push_str("cpu/wait/io ms: mean per request of server CPU, time waiting for a CPU (quota, neighbours) and simulated downstream IO\n");
    s.push_str(&format!("{}\n", COST_LEGEND));
    if r.classes.iter().any(|c| {
        c.limits
            .as_ref()
            .is_some_and(|l| l.warnings.iter().any(|w| w.contains("capped")))
    }) {
        s.push_str(
            "* capped: the class asks for more CPU than this machine can give the server (see summary.md)\n",
        );
    }
    if let Some(m) = metering_legend(r) {
        s.push_str(&format!("{m}\n"));
    }
    if let Some(m) = invalid_legend(r) {
        s.push_str(&format!("{m}\n"));
    }
    let shared: Vec<String> = r
        .classes
        .iter()
        .filter_map(|c| c.same_as.as_ref().map(|of| format!("{} = {of}", c.name)))
        .collect();
    if !shared.is_empty() {
        s.push_str(&format!(
            "{}: emulated exactly alike here (CPU model, memory, workers), so measured once; prices differ (--measure-identical measures each)\n",
            shared.join(", ")
        ));
    }
}

/// Per class: its failure, its precision outcome, why it is invalid, and a corrected
/// coordinated omission.
fn class_notes(s: &mut String, r: &RunReport) {
    for c in &r.classes {
        if c.status != ClassStatus::Ok {
            s.push_str(&format!(
                "{} {}: {}\n",
                c.name,
                format!("{:?}", c.status).to_lowercase(),
                c.failure.as_deref().unwrap_or("")
            ));
        }
        if let Some(p) = &c.precision {
            s.push_str(&format!("{}: {}\n", c.name, p.line()));
        }
        if let Some(why) = &c.invalid {
            s.push_str(&format!("{}: INVALID: {why}\n", c.name));
        }
        if let Some(u) = &c.latency_uncorrected
            && let (Some(a), Some(b)) = (c.latency.value(99.0), u.value(99.0))
            && a > b + b / 10
        {
            s.push_str(&format!(
                "{}: p99 from the intended send time {} ms vs {} ms from the actual send: the server stalled and calls queued (coordinated omission corrected)\n",
                c.name,
                ms(a),
                ms(b)
            ));
        }
    }
}

/// One line per SLO verdict.
fn slo_lines(s: &mut String, r: &RunReport) {
    for v in &r.slo {
        s.push_str(&format!(
            "SLO {}: {}\n",
            match v.outcome {
                SloOutcome::Meets => "ok",
                SloOutcome::Breaks => "BROKEN",
                SloOutcome::Inconclusive => "INCONCLUSIVE",
                SloOutcome::Invalid => "INVALID",
            },
            v.line
        ));
    }
}

fn mb(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| format!("{:.0}", mib(b)))
}

/// The worker-sweep tables (empty without a sweep).
pub fn sweeps_text(r: &RunReport) -> String {
    let mut s = String::new();
    for sw in &r.worker_sweeps {
        s.push_str(&format!(
            "\nworkers sweep: {} ({} MB quota, platform default {} workers); * recommended, ! over the memory quota\n",
            sw.class, sw.memory_mb, sw.default_workers
        ));
        s.push_str(&format!(
            "{:>8} {:>6} {:>9} {:>9} {:>9} {:>12}\n",
            "workers", "callers", "req/s", "p95 ms", "p99 ms", "peak RSS MB"
        ));
        for p in &sw.points {
            let mark = if sw.recommended == Some(p.workers) {
                "*"
            } else if p.over_memory {
                "!"
            } else {
                " "
            };
            s.push_str(&format!(
                "{:>7}{mark} {:>6} {:>9} {:>9} {:>9} {:>12}\n",
                p.workers,
                p.concurrency,
                if p.ok {
                    format!("{:.2}", p.throughput_rps)
                } else {
                    "failed".into()
                },
                p.p95_us.map_or("n/e".into(), ms),
                p.p99_us.map_or("n/e".into(), ms),
                mb(p.peak_rss_bytes)
            ));
        }
        s.push_str(&format!("recommendation: {}\n", sw.reason));
    }
    s
}

/// The capacity-search results (empty without one).
pub fn capacity_text(r: &RunReport) -> String {
    let found: Vec<&ClassResult> = r.classes.iter().filter(|c| c.capacity.is_some()).collect();
    if found.is_empty() {
        return String::new();
    }
    let slo = found[0].capacity.as_ref().map_or("", |c| c.slo.as_str());
    let mut s = format!(
        "\ncapacity: the highest open-loop rate at which {slo} held here; per $100 at the class's own CPU (its catalog cores, billed as its platform bills)\n"
    );
    s.push_str(&format!(
        "{:<16} {:>8} {:>10} {:>10} {:>6} {:>18}\n",
        "class", "$/mo", "max req/s", "broke at", "steps", "req/s per $100/mo"
    ));
    for c in found {
        let cap = c.capacity.as_ref().expect("filtered");
        s.push_str(&format!(
            "{:<16} {:>8.0} {:>10} {:>10} {:>6} {:>18}{}\n",
            c.name,
            c.price_usd_month,
            cap.max_rate_rps.map_or("none".into(), |x| format!("{x:.2}")),
            cap.broke_at_rps.map_or("-".into(), |x| format!("{x:.2}")),
            cap.steps.len(),
            per_100_cell(c),
            if cap.converged {
                ""
            } else {
                "  (step budget ran out)"
            }
        ));
    }
    s
}
