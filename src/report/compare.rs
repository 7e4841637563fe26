//! Presentation of `compare`: per class and metric, both runs' figures, the change with its
//! 95% interval and the verdict; the error rate; host speed; warnings; the outcome.

use std::fmt::Write as _;

use super::table::pct_with_ci;
use crate::compare::verdict::Verdict;
use crate::compare::{ClassDelta, Comparison};

fn change_text(d: &crate::compare::MetricDelta) -> String {
    d.change.map_or("-".into(), |c| {
        format!(
            "{:+.1}% [{:+.1}%, {:+.1}%]",
            c.estimate * 100.0,
            c.lo * 100.0,
            c.hi * 100.0
        )
    })
}

fn verdict_cell(regression: bool, v: Verdict) -> String {
    if regression {
        "**REGRESSION** (slower)".into()
    } else {
        v.text().into()
    }
}

fn class_rows(s: &mut String, d: &ClassDelta) {
    if d.status != "compared" {
        let _ = writeln!(s, "| {} | status | | | | {} | |", d.class, d.status);
        if d.broke {
            let _ = writeln!(s, "| {} | status | ok | failed | | **REGRESSION** | |", d.class);
        }
        return;
    }
    for m in &d.metrics {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            d.class,
            m.metric,
            pct_with_ci(m.a.as_ref()),
            pct_with_ci(m.b.as_ref()),
            change_text(m),
            verdict_cell(m.regression, m.verdict),
            m.method
        );
    }
    let e = &d.error_rate;
    let _ = writeln!(
        s,
        "| {} | error rate | {:.2}% | {:.2}% | {:+.2} pt [{:+.2}, {:+.2}] | {} | Newcombe interval |",
        d.class,
        e.a * 100.0,
        e.b * 100.0,
        e.change.estimate * 100.0,
        e.change.lo * 100.0,
        e.change.hi * 100.0,
        if e.regression {
            "**REGRESSION** (more errors)"
        } else if e.change.hi < 0.0 {
            "fewer errors"
        } else {
            "no significant change"
        }
    );
}

/// The comparison as Markdown.
pub fn render_markdown(c: &Comparison) -> String {
    let mut s = format!(
        "# dynobench compare\n\nA = `{}`, B = `{}`. Each change is B/A − 1 with its interval; a class's four intervals hold together at 95% and classes are tested with Holm, so the whole comparison has one 5% error rate. A slower verdict beyond {}% is a regression; \"no change\" needs the whole interval within ±{}%.\n\n",
        c.a, c.b, c.threshold_pct, c.noise_pct
    );
    s.push_str(
        "| class | metric | A ms [95% CI] | B ms [95% CI] | change [95% CI] | verdict | method |\n|---|---|---|---|---|---|---|\n",
    );
    for d in &c.classes {
        class_rows(&mut s, d);
    }
    let notes: Vec<String> = c
        .classes
        .iter()
        .flat_map(|d| {
            d.metrics.iter().filter_map(move |m| {
                m.note
                    .as_ref()
                    .map(|n| format!("- {} {}: {n}", d.class, m.metric))
            })
        })
        .collect();
    let notes: Vec<String> = notes
        .into_iter()
        .chain(
            c.classes
                .iter()
                .filter_map(|d| d.drift_note.as_ref().map(|n| format!("- {}: {n}", d.class))),
        )
        .collect();
    if !notes.is_empty() {
        s.push_str("\nNotes:\n");
        for n in notes {
            let _ = writeln!(s, "{n}");
        }
    }
    let speeds: Vec<String> = c
        .classes
        .iter()
        .filter_map(|d| match d.host_cpu_ref_us {
            (Some(a), Some(b)) => Some(format!(
                "{} {:.0} → {:.0} µs ({:+.1}%)",
                d.class,
                a,
                b,
                (b / a - 1.0) * 100.0
            )),
            _ => None,
        })
        .collect();
    if !speeds.is_empty() {
        let _ = writeln!(
            s,
            "\nHost speed (CPU reference work, lower is faster): {}",
            speeds.join("; ")
        );
    }
    for w in &c.warnings {
        let _ = writeln!(s, "\nWarning: {w}");
    }
    if !c.only_a.is_empty() {
        let _ = writeln!(s, "\nOnly in A: {}", c.only_a.join(", "));
    }
    if !c.only_b.is_empty() {
        let _ = writeln!(s, "\nOnly in B: {}", c.only_b.join(", "));
    }
    let outcome = if c.regressed {
        "Regression: at least one class got significantly slower beyond the threshold, failed, or erred more."
            .to_string()
    } else if !c.invalid.is_empty() {
        format!(
            "Invalid: the driver was the bottleneck for {} in A or B, so no regression (or its absence) can be claimed for it; re-run with the driver's ceiling out of the way (more CPU for the driver, a lower --rate, more --concurrency or shards).",
            c.invalid.join(", ")
        )
    } else if c.inconclusive.is_empty() {
        "No regression beyond the threshold.".to_string()
    } else {
        format!(
            "No regression shown; inconclusive (insufficient data): {}.",
            c.inconclusive.join(", ")
        )
    };
    let _ = writeln!(s, "\n**{outcome}**");
    s
}
