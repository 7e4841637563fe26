//! One run's page: what ran where, the table, the verdicts (SLOs, saturation), the charts,
//! formation / merge / sweep / capacity sections where the run has them, a section per
//! class, the notes and warnings, and links to the raw files.

use super::{Tone, anchor, badge, esc, facts, file_link, inline_svg, list, page, table};
use crate::record::verdict::SloOutcome;
use crate::record::{ClassResult, ClassStatus, RunReport};
use crate::report::export::svg::Chart;
use crate::report::table::{HEADER, row};
use crate::report::writer::file_stem;

/// The files a results directory holds for this run (what the writer writes), in the order
/// the page lists them.
pub fn files_of(r: &RunReport, charts: &[Chart]) -> Vec<String> {
    let mut f: Vec<String> = ["run.json", "summary.md", "summary.csv"]
        .map(String::from)
        .to_vec();
    if !r.classes.is_empty() {
        f.push("runtime.log".into());
    }
    f.extend(charts.iter().map(|c| c.file.to_string()));
    for c in &r.classes {
        let stem = file_stem(&c.name);
        f.push(format!("{stem}.hgrm"));
        f.push(format!("{stem}.hlog"));
    }
    f
}

/// The page of a results directory holding every file the writer writes.
pub fn run_page(r: &RunReport, charts: &[Chart]) -> String {
    run_page_with(r, charts, &files_of(r, charts))
}

/// The page, linking only to `files` (a directory may hold fewer: a shard's log saved as
/// run.json alone).
pub fn run_page_with(r: &RunReport, charts: &[Chart], files: &[String]) -> String {
    let mut b = header(r);
    b.push_str("<main>\n");
    b.push_str(&summary(r, "summary", ""));
    b.push_str("<section id=\"verdicts\">\n<h2>Verdicts</h2>\n");
    b.push_str(&verdict_list(r));
    b.push_str("</section>\n");
    b.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    for c in charts {
        let linked = files.iter().any(|f| f == c.file);
        b.push_str(&figure(c, linked.then_some("")));
    }
    b.push_str("</section>\n");
    b.push_str(&extras(r));
    b.push_str("<section id=\"classes\">\n<h2>Classes</h2>\n");
    for c in &r.classes {
        let has = |f: &str| files.iter().any(|x| x == f);
        b.push_str(&super::class::section(r, c, &has));
    }
    b.push_str("</section>\n");
    b.push_str(&notes(r));
    b.push_str("<section id=\"files\">\n<h2>Raw files</h2>\n<ul class=\"files\">\n");
    for f in files {
        b.push_str(&format!("<li>{}</li>\n", file_link(f, f)));
    }
    b.push_str("</ul>\n<p class=\"note\">run.json holds every figure and histogram (its schema: <code>dynobench schema</code>); \
                .hgrm are percentile distributions and .hlog per-second interval logs, both readable by HdrHistogram tools.</p>\n</section>\n");
    b.push_str("</main>\n");
    b.push_str(&footer());
    page(&format!("dynobench run {}", r.run_id), &b)
}

fn header(r: &RunReport) -> String {
    let state = if r.complete {
        badge(Tone::Ok, "complete")
    } else if r.interrupted {
        badge(Tone::Bad, "interrupted: finished classes kept")
    } else {
        badge(Tone::Unsure, "incomplete")
    };
    let mut toc = vec![
        ("summary", "Summary".to_string()),
        ("verdicts", "Verdicts".into()),
        ("charts", "Charts".into()),
    ];
    if r.formation.is_some() {
        toc.push(("formation", "Formation".into()));
    }
    toc.push(("classes", "Classes:".into()));
    let mut nav: Vec<String> = toc
        .iter()
        .map(|(id, t)| format!("<a href=\"#{id}\">{}</a>", esc(t)))
        .collect();
    nav.extend(
        r.classes
            .iter()
            .map(|c| format!("<a href=\"#{}\">{}</a>", anchor(&c.name), esc(&c.name))),
    );
    nav.push("<a href=\"#notes\">Notes</a>".into());
    nav.push("<a href=\"#files\">Raw files</a>".into());
    format!(
        "<header class=\"top\">\n<h1>dynobench run <code>{}</code></h1>\n<p class=\"meta\">{} — started {}, finished {} {state}</p>\n<nav class=\"toc\">{}</nav>\n</header>\n",
        esc(&r.run_id),
        esc(&r.tool),
        esc(&r.started_at),
        esc(r.finished_at.as_deref().unwrap_or("-")),
        nav.join(" ")
    )
}

/// The host, load, workload and catalog, then the table with one row per class, as the
/// section `id`; class names link to `{href_prefix}#class-…`.
pub(super) fn summary(r: &RunReport, id: &str, href_prefix: &str) -> String {
    let h = &r.host;
    let c = &r.config;
    let mut s = format!("<section id=\"{id}\">\n<h2>Summary</h2>\n");
    s.push_str(&facts(&[
        (
            "host",
            esc(&format!(
                "{}: {} × {}, {:.1} GiB, kernel {}",
                h.hostname,
                h.cpus,
                h.cpu_model,
                h.memory_bytes as f64 / 1073741824.0,
                h.kernel
            )),
        ),
        (
            "limiter",
            esc(&format!(
                "{} — {}; {}; host steal {}",
                h.limiter,
                h.limiter_detail,
                h.placement_note,
                h.steal_pct.map_or("-".into(), |x| format!("{x:.2}%"))
            )),
        ),
        (
            "load",
            esc(&format!(
                "{} loop, concurrency {}{}; {} warm-up + {} measured calls per class{}; timeout {} ms; path {}; neighbours {}; seed {}",
                c.load_model,
                c.concurrency,
                c.rate.map_or(String::new(), |x| format!(", {x} req/s {}", c.arrivals.as_deref().unwrap_or(""))),
                c.warmup,
                c.calls,
                if c.repeat > 1 { format!(" in each of {} rounds", c.repeat) } else { String::new() },
                c.timeout_ms,
                c.path,
                c.neighbours,
                c.seed
            )),
        ),
        (
            "workload",
            esc(&format!(
                "{} ({} bytes), profile {}",
                r.workload.payload, r.workload.payload_bytes, r.workload.profile
            )),
        ),
        (
            "catalog",
            esc(&format!(
                "{} ({}); prices {} as of {}",
                r.catalog.name, r.catalog_origin, r.catalog.price_source, r.catalog.price_date
            )),
        ),
    ]));
    for w in &r.warnings {
        s.push_str(&format!("<p>{} {}</p>\n", badge(Tone::Unsure, "warning"), esc(w)));
    }
    let head: Vec<String> = HEADER.iter().map(|h| esc(h)).collect();
    let rows: Vec<Vec<String>> = r
        .classes
        .iter()
        .map(|c| {
            let mut cells: Vec<String> = row(c).iter().map(|x| esc(x)).collect();
            cells[0] = format!(
                "<a href=\"{href_prefix}#{}\">{}</a>",
                anchor(&c.name),
                esc(&crate::report::table::name_cell(c))
            );
            cells
        })
        .collect();
    s.push_str(&table(&head, &rows, &[]));
    s.push_str(&format!(
        "<p class=\"note\">Latencies in ms. p99 [95% CI]: the nearest-rank estimate with a distribution-free 95% interval; \
         — marks a bound the calls cannot give (from 100 calls, p99's upper bound), n/e a percentile they cannot estimate. \
         cores: sh = shared (floor–burst), ded = dedicated, bu = burst balance, * = capped to this machine. \
         cpu/wait/io: mean server CPU, waiting for a CPU, simulated IO per request. {}.{}</p>\n",
        esc(crate::report::table::COST_LEGEND),
        crate::report::table::metering_legend(r).map_or(String::new(), |m| format!(" {}.", esc(&m))),
    ));
    if let Some(m) = crate::report::table::invalid_legend(r) {
        s.push_str(&format!("<p class=\"note\">{}.</p>\n", esc(m)));
    }
    s.push_str("</section>\n");
    s
}

/// Whether a class ran at capacity and the driver kept up: (tone, verdict in a word or
/// two, the line that says why).
pub(super) fn saturation(c: &ClassResult) -> (Tone, &'static str, String) {
    // The one driver-bottleneck rule `run` and `merge` apply (figures of files before
    // schema 1.4: their late sends).
    if let Some(why) = c
        .invalid
        .clone()
        .or_else(|| crate::record::driver_load::driver_bound_reason(c))
    {
        return (Tone::Bad, "driver-bound", format!("{}: invalid: {why}", c.name));
    }
    if let Some(cap) = &c.capacity {
        return match cap.max_rate_rps {
            Some(x) => (
                Tone::Ok,
                "capacity found",
                format!(
                    "{}: holds {} up to {x:.2} req/s (capacity search)",
                    c.name, cap.slo
                ),
            ),
            None => (
                Tone::Bad,
                "no capacity",
                format!("{}: {} held at no rate tried", c.name, cap.slo),
            ),
        };
    }
    let Some(p) = c.cost.capacity.first() else {
        return (Tone::Unsure, "unknown", format!("{}: no capacity figure", c.name));
    };
    (
        super::class::origin_tone(p.origin),
        p.origin.name(),
        format!(
            "{}: {:.2} req/s at capacity ({}, {:.2} cores), {} — {}",
            c.name,
            p.capacity_rps,
            p.situation.label(),
            p.cores,
            p.origin.name(),
            p.note
        ),
    )
}

/// The SLO verdicts and each class's saturation verdict.
pub(super) fn verdict_list(r: &RunReport) -> String {
    let mut s = String::from("<h3>SLOs</h3>\n");
    if r.slo.is_empty() {
        s.push_str("<p class=\"note\">No SLO was checked; <code>run --slo 'p99&lt;=300ms'</code> gives a verdict per class.</p>\n");
    } else {
        s.push_str("<ul class=\"verdicts\">\n");
        for v in &r.slo {
            let (tone, word) = match v.outcome {
                SloOutcome::Meets => (Tone::Ok, "meets"),
                SloOutcome::Breaks => (Tone::Bad, "breaks"),
                SloOutcome::Inconclusive => (Tone::Unsure, "inconclusive"),
                SloOutcome::Invalid => (Tone::Bad, "invalid"),
            };
            s.push_str(&format!("<li>{} {}</li>\n", badge(tone, word), esc(&v.line)));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("<h3>Saturation</h3>\n<ul class=\"verdicts\">\n");
    for c in r.classes.iter().filter(|c| c.is_ok()) {
        let (tone, word, line) = saturation(c);
        s.push_str(&format!("<li>{} {}</li>\n", badge(tone, word), esc(&line)));
    }
    s.push_str("</ul>\n");
    s
}

/// A chart as a figure with its caption and, with `dir` (`""` or `results/RUN/`), a link
/// to its file there.
pub(super) fn figure(c: &Chart, dir: Option<&str>) -> String {
    format!(
        "<figure>\n{}\n<figcaption>{}{}</figcaption>\n</figure>\n",
        inline_svg(&c.svg, c.title),
        esc(c.title),
        dir.map_or(String::new(), |d| format!(
            " — {}",
            file_link(&format!("{d}{}", c.file), c.file)
        ))
    )
}

/// The formation, merge, worker-sweep and capacity-search sections the run has.
fn extras(r: &RunReport) -> String {
    let mut s = String::new();
    if let Some(f) = &r.formation {
        s.push_str("<section id=\"formation\">\n");
        s.push_str(&super::markdown::to_html(&crate::report::formation::markdown(f)));
        s.push_str("</section>\n");
    }
    if let Some(m) = &r.merged {
        s.push_str(&format!(
            "<section id=\"merged\">\n<h2>Merged from shards</h2>\n<pre>{}</pre>\n</section>\n",
            esc(&crate::report::merge::render(m))
        ));
    }
    let sweeps = crate::report::table::sweeps_text(r);
    if !sweeps.is_empty() {
        s.push_str(&format!(
            "<section id=\"workers\">\n<h2>Workers (WEB_CONCURRENCY)</h2>\n<pre>{}</pre>\n</section>\n",
            esc(sweeps.trim_start())
        ));
    }
    let cap = crate::report::table::capacity_text(r);
    if !cap.is_empty() {
        s.push_str(&format!(
            "<section id=\"capacity\">\n<h2>Capacity per dollar</h2>\n<pre>{}</pre>\n</section>\n",
            esc(cap.trim_start())
        ));
    }
    s
}

fn notes(r: &RunReport) -> String {
    let mut items: Vec<String> = r.warnings.iter().map(|w| format!("warning: {w}")).collect();
    for c in &r.classes {
        if let Some(of) = &c.same_as {
            items.push(format!(
                "{}: emulated here exactly as {of} (CPU model, memory, workers), so its figures are {of}'s measurement; only the price differs (run --measure-identical measures it on its own)",
                c.name
            ));
        }
        if c.status != ClassStatus::Ok {
            items.push(format!(
                "{} {}: {} (its figures cover only the calls made)",
                c.name,
                c.status.name(),
                c.failure.as_deref().unwrap_or("no reason recorded")
            ));
        }
        items.extend(c.warnings.iter().map(|w| format!("{}: {w}", c.name)));
    }
    if r.interrupted {
        items.push("interrupted: the classes above are kept; the run is marked incomplete".into());
    }
    let mut s = String::from("<section id=\"notes\">\n<h2>Notes and warnings</h2>\n");
    if items.is_empty() {
        s.push_str("<p class=\"note\">None.</p>\n");
    }
    s.push_str(&list("notes", &items));
    s.push_str("</section>\n");
    s
}

/// The footer every page carries.
pub(super) fn footer() -> String {
    format!(
        "<footer>Written by dynobench {}. This page is self-contained: it loads no script, font, style or image from anywhere; open it offline, print it, or attach it.</footer>\n",
        env!("CARGO_PKG_VERSION")
    )
}
