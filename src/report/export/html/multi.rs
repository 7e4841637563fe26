//! Pages beyond one run: several runs side by side (`dynobench report A B…`, `compare
//! --html`), with their comparisons when given; and a capacity plan (`plan --html`).

use super::run::{figure, footer, summary, verdict_list};
use super::{anchor, esc, file_link, page, table};
use crate::compare::Comparison;
use crate::record::RunReport;
use crate::report::export::svg::Chart;
use crate::report::table::{HEADER, row};

/// One run on a page of several.
pub struct RunEntry<'a> {
    /// The run.
    pub report: &'a RunReport,
    /// Its directory relative to the page, with a trailing `/` (`""` for the page's own).
    pub href: String,
    /// Its charts.
    pub charts: Vec<Chart>,
}

/// Several runs side by side: the comparisons (each B against A), one table with every
/// class's row of every run next to each other, the runs' latency charts, then each run's
/// summary and verdicts with a link to its own page.
pub fn runs_page(runs: &[RunEntry<'_>], comparisons: &[Comparison]) -> String {
    let ids: Vec<&str> = runs.iter().map(|r| r.report.run_id.as_str()).collect();
    let mut nav = Vec::new();
    if !comparisons.is_empty() {
        nav.push("<a href=\"#compare\">Comparison</a>".to_string());
    }
    nav.push("<a href=\"#side\">Side by side</a>".into());
    nav.extend(
        runs.iter()
            .enumerate()
            .map(|(i, r)| format!("<a href=\"#run-{i}\">{}</a>", esc(&r.report.run_id))),
    );
    let mut b = format!(
        "<header class=\"top\">\n<h1>dynobench: {} runs side by side</h1>\n<p class=\"meta\">{}</p>\n<nav class=\"toc\">{}</nav>\n</header>\n<main>\n",
        runs.len(),
        esc(&ids.join(" · ")),
        nav.join(" ")
    );
    if !comparisons.is_empty() {
        b.push_str("<section id=\"compare\">\n");
        for c in comparisons {
            b.push_str(&super::markdown::to_html(
                &crate::report::compare::render_markdown(c),
            ));
        }
        b.push_str("</section>\n");
    }
    b.push_str(&side_by_side(runs));
    for (i, r) in runs.iter().enumerate() {
        let id = format!("run-{i}");
        b.push_str(&format!(
            "<section id=\"{id}\">\n<h2>{} <span class=\"note\">— {}</span></h2>\n",
            esc(&r.report.run_id),
            file_link(&format!("{}index.html", r.href), "its own page")
        ));
        b.push_str(&summary(
            r.report,
            &format!("{id}-summary"),
            &format!("{}index.html", r.href),
        ));
        b.push_str(&verdict_list(r.report));
        b.push_str("</section>\n");
    }
    b.push_str("</main>\n");
    b.push_str(&footer());
    page(&format!("dynobench: {}", ids.join(" vs ")), &b)
}

fn side_by_side(runs: &[RunEntry<'_>]) -> String {
    let mut classes: Vec<&str> = Vec::new();
    for r in runs {
        for c in &r.report.classes {
            if !classes.contains(&c.name.as_str()) {
                classes.push(&c.name);
            }
        }
    }
    let mut head: Vec<String> = vec![esc(HEADER[0]), "run".into()];
    head.extend(HEADER[1..].iter().map(|h| esc(h)));
    let mut rows = Vec::new();
    for name in &classes {
        for r in runs {
            let Some(c) = r.report.class(name) else {
                continue;
            };
            let mut cells: Vec<String> = row(c).iter().map(|x| esc(x)).collect();
            cells[0] = format!(
                "<a href=\"{}index.html#{}\">{}</a>",
                esc(&r.href),
                anchor(name),
                esc(name)
            );
            cells.insert(1, esc(&r.report.label));
            rows.push(cells);
        }
    }
    let mut s = String::from("<section id=\"side\">\n<h2>Side by side</h2>\n");
    s.push_str(&table(&head, &rows, &[1]));
    s.push_str("<p class=\"note\">Each class's rows sit together, one per run (by label); the columns are those of each run's own table.</p>\n<div class=\"grid2\">\n");
    for r in runs {
        if let Some(c) = r.charts.iter().find(|c| c.file == "latency.svg") {
            s.push_str(&figure(c, Some(&r.href)));
        }
    }
    s.push_str("</div>\n</section>\n");
    s
}

/// A capacity plan's page: `intro` (what was planned, from what), the plan's CSV as a
/// table, and the conclusions (lines of text).
pub fn plan_page(title: &str, intro: &str, csv: &str, conclusions: &str) -> String {
    let mut rd = ::csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let head: Vec<String> = rd
        .headers()
        .map(|h| h.iter().map(|x| esc(&x.replace('_', " "))).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = rd
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(esc).collect())
        .collect();
    let mut b = format!(
        "<header class=\"top\">\n<h1>{}</h1>\n</header>\n<main>\n<section id=\"plan\">\n",
        esc(title)
    );
    for l in intro.lines().filter(|l| !l.trim().is_empty()) {
        b.push_str(&format!("<p>{}</p>\n", esc(l)));
    }
    b.push_str(&table(&head, &rows, &[]));
    b.push_str("<h2>Conclusions</h2>\n");
    b.push_str(&super::list(
        "notes",
        &conclusions
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect::<Vec<_>>(),
    ));
    b.push_str("</section>\n</main>\n");
    b.push_str(&footer());
    page(title, &b)
}
