//! summary.md: the run for humans — host, configuration, the table, per-class detail with
//! every percentile's confidence interval, kernel observations, warnings and SLO verdicts
//! (each class's section in `markdown_class`).

use std::fmt::Write;

use super::markdown_class::class_section;
use crate::record::{ClassStatus, RunReport};
use crate::report::table::{HEADER, row};

/// The Markdown text.
pub fn summary_md(r: &RunReport) -> String {
    let mut s = String::new();
    header(&mut s, r);
    config_lines(&mut s, r);
    table(&mut s, r);
    per_dollar(&mut s, r);
    run_sections(&mut s, r);
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

/// The title, the run's state, and the host.
fn header(s: &mut String, r: &RunReport) {
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
}

/// Load, workload and catalog; the stopping rule; the run's warnings.
fn config_lines(s: &mut String, r: &RunReport) {
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
}

/// The table of classes with its legends.
fn table(s: &mut String, r: &RunReport) {
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
}

/// What the per-dollar columns mean, and which classes share another's measurement.
fn per_dollar(s: &mut String, r: &RunReport) {
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
}

/// The run-wide sections: SLO verdicts, worker sweeps, capacity per dollar, a formation.
fn run_sections(s: &mut String, r: &RunReport) {
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
}
