//! Structural checks of an HTML page dynobench wrote, with an HTML parser: nothing loaded
//! from elsewhere (no script, stylesheet, image or frame element; no src/href to http(s) or
//! protocol-relative; no @import or url() in styles), every in-page link names an id, every
//! file link names a file that is there, and a run page has every class's section and its
//! charts inline.

use std::collections::HashSet;
use std::path::Path;

use dynobench::record::RunReport;
use scraper::{ElementRef, Html, Selector};

pub fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e:?}"))
}

/// Whether a URL would be fetched from somewhere other than the page's own folder.
pub fn external(url: &str) -> bool {
    let v = url.trim().to_ascii_lowercase();
    v.starts_with("//")
        || v.starts_with('/')
        || v.contains("://")
        || [
            "http:",
            "https:",
            "ftp:",
            "ws:",
            "wss:",
            "data:",
            "javascript:",
            "file:",
        ]
        .iter()
        .any(|s| v.starts_with(s))
}

fn decode(path: &str) -> String {
    path.replace("%20", " ")
        .replace("%23", "#")
        .replace("%3F", "?")
        .replace("%25", "%")
}

/// Parses `html` and checks it is self-contained; links to files are checked against
/// `dir` (the page's folder) when given. Returns the parsed document.
pub fn self_contained(html: &str, dir: Option<&Path>) -> Html {
    let doc = Html::parse_document(html);
    assert!(doc.errors.len() < 5, "HTML parse errors: {:?}", doc.errors);
    for tag in [
        "script",
        "link",
        "img",
        "iframe",
        "frame",
        "object",
        "embed",
        "audio",
        "video",
        "source",
        "base",
        "picture",
        "image",
        "use",
        "foreignObject",
        "meta[http-equiv]",
    ] {
        assert!(
            doc.select(&sel(tag)).next().is_none(),
            "the page has a <{tag}> element"
        );
    }
    let ids: HashSet<&str> = doc.select(&sel("[id]")).filter_map(|e| e.value().id()).collect();
    for el in doc.select(&sel("*")) {
        for (name, value) in el.value().attrs() {
            if matches!(
                name,
                "src"
                    | "href"
                    | "action"
                    | "formaction"
                    | "poster"
                    | "data"
                    | "srcset"
                    | "background"
                    | "ping"
            ) {
                assert!(
                    !external(value),
                    "<{} {name}=\"{value}\"> loads from elsewhere",
                    el.value().name()
                );
                if name == "href" {
                    match value.strip_prefix('#') {
                        Some(id) => assert!(ids.contains(id), "href=\"{value}\": no element has that id"),
                        None => {
                            if let Some(dir) = dir {
                                let file = decode(value.split('#').next().unwrap_or(""));
                                assert!(
                                    dir.join(&file).exists(),
                                    "href=\"{value}\": no {file} in {}",
                                    dir.display()
                                );
                            }
                        }
                    }
                }
            }
            if name == "style" {
                let v = value.to_ascii_lowercase();
                assert!(!v.contains("url(") && !v.contains("@import"), "style=\"{value}\"");
            }
        }
    }
    for st in doc.select(&sel("style")) {
        let css = st.text().collect::<String>().to_ascii_lowercase();
        assert!(
            !css.contains("@import") && !css.contains("url("),
            "the style sheet loads something"
        );
    }
    doc
}

/// The text of an element, whitespace collapsed.
pub fn text(e: ElementRef<'_>) -> String {
    e.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The id dynobench gives a class's section.
pub fn class_id(name: &str) -> String {
    dynobench::report::export::html::anchor(name)
}

/// A run page: the summary table has one linked row per class, every class has its
/// section, every chart is an inline SVG in a figure with a link to its file, and the
/// SLO verdicts are there.
pub fn run_page(doc: &Html, r: &RunReport) {
    let title = text(doc.select(&sel("h1")).next().expect("a title"));
    assert!(title.contains(&r.run_id), "{title}");
    let summary = doc
        .select(&sel("#summary table"))
        .next()
        .expect("the summary table");
    let heads: Vec<String> = summary.select(&sel("th")).map(text).collect();
    assert_eq!(
        heads,
        dynobench::report::table::HEADER.to_vec(),
        "the table's columns"
    );
    let rows = summary.select(&sel("tbody tr")).count();
    assert_eq!(rows, r.classes.len(), "one row per class");
    for c in &r.classes {
        let id = class_id(&c.name);
        let art = doc
            .select(&sel(&format!("article.class[id=\"{id}\"]")))
            .next()
            .unwrap_or_else(|| panic!("no section for class {}", c.name));
        let h = text(art.select(&sel("h3")).next().expect("a heading"));
        assert!(h.starts_with(&c.name), "{h}");
        assert!(
            summary
                .select(&sel(&format!("a[href=\"#{id}\"]")))
                .next()
                .is_some(),
            "the table links to {}",
            c.name
        );
        if c.latency.count > 0 {
            assert!(
                art.select(&sel("table")).next().is_some(),
                "{}: percentiles",
                c.name
            );
            assert!(
                art.select(&sel("figure svg")).next().is_some(),
                "{}: its percentile chart",
                c.name
            );
        }
    }
    let figures: Vec<ElementRef> = doc.select(&sel("#charts figure")).collect();
    assert!(figures.len() >= 2, "latency and cost charts");
    for f in &figures {
        let svg = f.select(&sel("svg")).next().expect("the chart is inline SVG");
        assert!(
            svg.value().attr("viewBox").is_some(),
            "an inline chart scales by its viewBox"
        );
        assert!(f.select(&sel("figcaption")).next().is_some(), "a caption");
        if let Some(link) = f.select(&sel("figcaption a")).next() {
            assert!(link.value().attr("href").unwrap().ends_with(".svg"));
        }
    }
    let slos = doc.select(&sel("#verdicts li")).count();
    assert!(slos >= r.slo.len(), "every SLO verdict is listed");
}
