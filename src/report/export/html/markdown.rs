//! The Markdown the other renderers write (compare's report, a formation's section) as HTML,
//! so the page and summary.md say the same thing: headings, pipe tables, `- ` lists,
//! fenced blocks, paragraphs, `**bold**` and `code`. Images are dropped (the page inlines
//! its charts).

use super::{esc, table};

/// `**bold**` and `` `code` `` within a line, the rest escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let bold = rest.find("**");
        let code = rest.find('`');
        let (at, mark, tag) = match (bold, code) {
            (Some(b), Some(c)) if c < b => (c, "`", "code"),
            (Some(b), _) => (b, "**", "strong"),
            (None, Some(c)) => (c, "`", "code"),
            (None, None) => break,
        };
        let after = &rest[at + mark.len()..];
        let Some(end) = after.find(mark) else { break };
        out.push_str(&esc(&rest[..at]));
        out.push_str(&format!("<{tag}>{}</{tag}>", esc(&after[..end])));
        rest = &after[end + mark.len()..];
    }
    out.push_str(&esc(rest));
    out
}

fn cells(line: &str) -> Vec<String> {
    let t = line.trim().trim_start_matches('|').trim_end_matches('|');
    t.split('|').map(|c| inline(c.trim())).collect()
}

/// The HTML of `md`.
pub(super) fn to_html(md: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<String> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let flush = |out: &mut String, para: &mut Vec<String>, items: &mut Vec<String>| {
        if !para.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", para.join("<br>\n")));
            para.clear();
        }
        if !items.is_empty() {
            out.push_str("<ul class=\"notes\">\n");
            for i in items.drain(..) {
                out.push_str(&format!("<li>{i}</li>\n"));
            }
            out.push_str("</ul>\n");
        }
    };
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.starts_with("```") {
            flush(&mut out, &mut para, &mut items);
            let start = i + 1;
            i = start;
            while i < lines.len() && !lines[i].trim().starts_with("```") {
                i += 1;
            }
            out.push_str(&format!(
                "<pre>{}</pre>\n",
                esc(&lines[start..i.min(lines.len())].join("\n"))
            ));
        } else if t.starts_with('|') {
            flush(&mut out, &mut para, &mut items);
            let head = cells(t);
            let mut rows = Vec::new();
            i += 1;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                let r = lines[i].trim();
                if !r
                    .trim_matches(|c| c == '|' || c == '-' || c == ':' || c == ' ')
                    .is_empty()
                {
                    rows.push(cells(r));
                }
                i += 1;
            }
            out.push_str(&table(&head, &rows, &[]));
            continue;
        } else if let Some(h) = t.strip_prefix('#') {
            flush(&mut out, &mut para, &mut items);
            let level = 1 + h.chars().take_while(|c| *c == '#').count();
            // The page's own title is h1: headings of embedded text start at h2.
            let n = (level + 1).min(4);
            out.push_str(&format!(
                "<h{n}>{}</h{n}>\n",
                inline(h.trim_start_matches('#').trim())
            ));
        } else if let Some(item) = t.strip_prefix("- ") {
            if !para.is_empty() {
                flush(&mut out, &mut para, &mut Vec::new());
            }
            items.push(inline(item));
        } else if t.is_empty() {
            flush(&mut out, &mut para, &mut items);
        } else if !t.starts_with("![") {
            if !items.is_empty() && line.starts_with("  ") {
                let last = items.len() - 1;
                items[last].push_str(&format!("<br>{}", inline(t)));
            } else {
                flush(&mut out, &mut Vec::new(), &mut items);
                para.push(inline(t));
            }
        }
        i += 1;
    }
    flush(&mut out, &mut para, &mut items);
    out
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn the_subset_renders() {
        let md = "# Title\n\nA = `x<y`, **bold** text.\n\n| a | b |\n|---|---|\n| 1 | **2** |\n\n- one\n- two\n\n```\nfixed  width\n```\n![chart](c.svg)\n";
        let h = to_html(md);
        assert!(h.contains("<h2>Title</h2>"), "{h}");
        assert!(
            h.contains("<code>x&lt;y</code>") && h.contains("<strong>bold</strong>"),
            "{h}"
        );
        assert!(
            h.contains("<th>a</th>") && h.contains("<td>1</td>") && h.contains("<strong>2</strong>"),
            "{h}"
        );
        assert!(h.contains("<li>one</li>") && h.contains("<li>two</li>"), "{h}");
        assert!(h.contains("<pre>fixed  width</pre>"), "{h}");
        assert!(!h.contains("c.svg"), "{h}");
    }
}
