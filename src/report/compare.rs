//! Presentation of `compare`: the Markdown table of per-class deltas and the verdict.

use super::table::pct_with_ci;
use crate::compare::Comparison;
use crate::record::summary::Percentile;

fn cell(p: &Option<Percentile>) -> String {
    pct_with_ci(p.as_ref())
}

/// The comparison as Markdown.
pub fn render_markdown(c: &Comparison) -> String {
    let mut s = format!(
        "# dynobench compare\n\nA = `{}`, B = `{}`; regression threshold {}% (a change counts only when the 95% intervals do not overlap).\n\n",
        c.a, c.b, c.threshold_pct
    );
    s.push_str("| class | metric | A ms [95% CI] | B ms [95% CI] | change | significant | verdict |\n|---|---|---|---|---|---|---|\n");
    for d in &c.classes {
        for m in &d.metrics {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                d.class,
                m.metric,
                cell(&m.a),
                cell(&m.b),
                m.change_pct.map_or("-".into(), |x| format!("{x:+.1}%")),
                if m.significant { "yes" } else { "no" },
                if m.regression {
                    "**REGRESSION**".to_string()
                } else {
                    d.verdict.clone()
                }
            ));
        }
        s.push_str(&format!(
            "| {} | error rate | {:.2}% | {:.2}% | {:+.2} pt | {} | {} |\n",
            d.class,
            d.error_rate.0 * 100.0,
            d.error_rate.1 * 100.0,
            (d.error_rate.1 - d.error_rate.0) * 100.0,
            if d.error_regression { "yes" } else { "no" },
            if d.error_regression { "**REGRESSION**" } else { "" }
        ));
        if d.broke {
            s.push_str(&format!(
                "| {} | status | ok | failed | | yes | **REGRESSION** |\n",
                d.class
            ));
        }
    }
    if !c.only_a.is_empty() {
        s.push_str(&format!("\nOnly in A: {}\n", c.only_a.join(", ")));
    }
    if !c.only_b.is_empty() {
        s.push_str(&format!("\nOnly in B: {}\n", c.only_b.join(", ")));
    }
    s.push_str(&format!(
        "\n**{}**\n",
        if c.regressed {
            "Regression: at least one class got significantly slower beyond the threshold."
        } else {
            "No regression beyond the threshold."
        }
    ));
    s
}
