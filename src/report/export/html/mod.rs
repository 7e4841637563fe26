//! index.html: one self-contained page per results directory, and pages of several runs
//! side by side (with a comparison) or of a plan: inline CSS, the run's SVG charts inlined,
//! no script, and nothing (font, image, style) fetched from anywhere. Pure: report data in,
//! HTML text out; the writer and the commands decide where it goes.

mod class;
mod markdown;
mod multi;
mod percentiles;
mod run;

pub use multi::{RunEntry, plan_page, runs_page};
pub use run::{files_of, run_page, run_page_with};

/// The page's file name in a results directory.
pub const INDEX: &str = "index.html";

const CSS: &str = include_str!("page.css");

/// Text escaped for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole document: `title` in the head, the inline style sheet, `body` as given (HTML).
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"dynobench {}\">\n<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

/// An SVG document made an inline element that scales with the page: its size becomes its
/// `viewBox` only, without the XML namespace declaration (HTML does not need it).
pub(crate) fn inline_svg(svg: &str, label: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let body = &svg[start..];
    let Some(end) = body.find('>') else {
        return String::new();
    };
    let (open, rest) = body.split_at(end);
    let mut attrs = String::new();
    for a in attributes(&open["<svg".len().min(open.len())..]) {
        if !matches!(a.0, "width" | "height" | "xmlns") {
            attrs.push_str(&format!(" {}=\"{}\"", a.0, a.1));
        }
    }
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\"{attrs}{}",
        esc(label),
        rest.trim_end()
    )
}

/// `name="value"` pairs of a start tag's attribute text.
fn attributes(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim();
        let after = &rest[eq + 2..];
        let Some(close) = after.find('"') else { break };
        out.push((name, &after[..close]));
        rest = after[close + 1..].trim_start();
    }
    out
}

/// The `id` of a class's section (`class-standard-1x`).
pub fn anchor(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("class-{slug}")
}

/// How a verdict or a state reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Holds, complete, measured.
    Ok,
    /// Breaks, failed, regression.
    Bad,
    /// Inconclusive, estimated, incomplete.
    Unsure,
}

/// A small coloured label.
pub(crate) fn badge(tone: Tone, text: &str) -> String {
    let class = match tone {
        Tone::Ok => "ok",
        Tone::Bad => "bad",
        Tone::Unsure => "unsure",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(text))
}

/// A table in a horizontally scrolling box; `head` and `rows` are HTML fragments, the
/// first column and the columns in `text_cols` left-aligned.
pub(crate) fn table(head: &[String], rows: &[Vec<String>], text_cols: &[usize]) -> String {
    let cls = |i: usize| {
        if text_cols.contains(&i) {
            " class=\"text\""
        } else {
            ""
        }
    };
    let mut s = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for (i, h) in head.iter().enumerate() {
        s.push_str(&format!("<th{}>{h}</th>", cls(i)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        s.push_str("<tr>");
        let span = head.len().saturating_sub(row.len()) + 1;
        for (i, cell) in row.iter().enumerate() {
            // A short row's last cell spans the rest (a failed class's reason).
            if i + 1 == row.len() && span > 1 {
                s.push_str(&format!("<td class=\"text\" colspan=\"{span}\">{cell}</td>"));
            } else {
                s.push_str(&format!("<td{}>{cell}</td>", cls(i)));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table></div>\n");
    s
}

/// A definition list of `(term, HTML)` pairs, skipping empty values.
pub(crate) fn facts(items: &[(&str, String)]) -> String {
    let mut s = String::from("<dl class=\"facts\">\n");
    for (k, v) in items.iter().filter(|(_, v)| !v.is_empty()) {
        s.push_str(&format!("<dt>{}</dt><dd>{v}</dd>\n", esc(k)));
    }
    s.push_str("</dl>\n");
    s
}

/// A bulleted list of plain-text items (empty text without items).
pub(crate) fn list(class: &str, items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut s = format!("<ul class=\"{class}\">\n");
    for i in items {
        s.push_str(&format!("<li>{}</li>\n", esc(i)));
    }
    s.push_str("</ul>\n");
    s
}

/// A link to a local file, relative to the page.
pub(crate) fn file_link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(href), esc(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svgs_become_inline_and_scale() {
        let svg = "<svg width=\"900\" height=\"560\" viewBox=\"0 0 900 560\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\"/>\n</svg>\n";
        let s = inline_svg(svg, "a <chart>");
        assert!(
            s.starts_with(
                "<svg class=\"chart\" role=\"img\" aria-label=\"a &lt;chart&gt;\" viewBox=\"0 0 900 560\">"
            ),
            "{s}"
        );
        assert!(!s.contains("http") && !s.contains("width=\"900\""), "{s}");
        assert!(s.ends_with("</svg>"), "{s}");
    }

    #[test]
    fn text_is_escaped_and_anchors_are_ids() {
        assert_eq!(esc("<a href='x'>&\""), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
        assert_eq!(anchor("heroku/standard-1x"), "class-heroku-standard-1x");
    }
}
