//! results/FIELDS.md: every field of run.json as a jq path with its type and its `///` doc,
//! flattened from the JSON schema the code generates, so the field reference cannot drift
//! from what runs write.

use serde_json::Value;

/// One documented field: its path (`classes[].latency.p50_us`), type and description.
struct Row {
    path: String,
    kind: String,
    doc: String,
}

/// The schema's definitions and the rows found so far.
struct Walk<'a> {
    defs: &'a serde_json::Map<String, Value>,
    rows: Vec<Row>,
    /// Definitions being expanded (a recursive type is listed once, not followed).
    stack: Vec<String>,
    /// Where each definition's fields were listed first (later uses point there).
    listed: Vec<(String, String)>,
}

/// The markdown field reference of run.json.
pub fn fields_markdown() -> String {
    let schema: Value = serde_json::from_str(&super::json::schema()).expect("the schema is JSON");
    let empty = serde_json::Map::new();
    let defs = schema.get("$defs").and_then(Value::as_object).unwrap_or(&empty);
    let mut w = Walk {
        defs,
        rows: Vec::new(),
        stack: Vec::new(),
        listed: Vec::new(),
    };
    w.object("", &schema);
    let mut out = format!(
        "# run.json, field by field\n\n\
         Generated from the code's `///` docs by `cargo run --release -- schema --fields > results/FIELDS.md`\n\
         (`tests/run.rs` checks it is current). Paths are as `jq` writes them: `classes[]` is every\n\
         class, `percentiles[]` every percentile entry. Times are µs (`_us`), ms (`_ms`) or s (`_s`),\n\
         as their names say. Schema version {}.\n\n\
         | field | type | what it holds |\n|---|---|---|\n",
        crate::record::SCHEMA_VERSION
    );
    for r in &w.rows {
        out.push_str(&format!("| `{}` | {} | {} |\n", r.path, r.kind, r.doc));
    }
    out
}

/// A schema's one-line description, pipes escaped for a table cell.
fn doc_of(s: &Value) -> String {
    s.get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// `s` with a `$ref` resolved (and the definition's name), else itself.
fn resolve<'s>(defs: &'s serde_json::Map<String, Value>, s: &'s Value) -> (&'s Value, Option<String>) {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or(r).to_string();
            (defs.get(&name).unwrap_or(s), Some(name))
        }
        None => (s, None),
    }
}

/// The non-null alternative of an `anyOf [X, null]`, else `s`.
fn unwrap_null(s: &Value) -> (&Value, bool) {
    if let Some(alts) = s.get("anyOf").and_then(Value::as_array) {
        let non_null: Vec<&Value> = alts
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if non_null.len() == 1 && alts.len() == 2 {
            return (non_null[0], true);
        }
    }
    (s, false)
}

impl<'a> Walk<'a> {
    /// A short type: `number`, `string`, `object`, `array of …`, one of the constants.
    fn kind(&self, s: &Value) -> String {
        let (s, nullable) = unwrap_null(s);
        let (s, name) = resolve(self.defs, s);
        let base = if let Some(c) = s.get("const").and_then(Value::as_str) {
            format!("`{c}`")
        } else if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
            let consts: Vec<String> = alts
                .iter()
                .filter_map(|a| a.get("const").and_then(Value::as_str))
                .map(|c| format!("`{c}`"))
                .collect();
            if consts.len() == alts.len() {
                consts.join(" / ")
            } else {
                name.unwrap_or_else(|| "one of several shapes".into())
            }
        } else if let Some(e) = s.get("enum").and_then(Value::as_array) {
            e.iter()
                .map(|v| format!("`{}`", v.as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(" / ")
        } else {
            match s.get("type") {
                Some(Value::String(t)) if t == "array" => {
                    let item = s.get("items").map_or("any".into(), |i| self.kind(i));
                    format!("array of {item}")
                }
                Some(Value::String(t)) if t == "integer" || t == "number" => "number".into(),
                Some(Value::String(t)) => t.clone(),
                Some(Value::Array(ts)) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|t| *t != "null")
                    .map(|t| if t == "integer" { "number" } else { t })
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "any".into(),
            }
        };
        let nullable =
            nullable || matches!(s.get("type"), Some(Value::Array(ts)) if ts.iter().any(|t| t == "null"));
        if nullable { format!("{base} or null") } else { base }
    }

    /// Lists the fields of the object schema `s` under `prefix`, and what each holds.
    fn object(&mut self, prefix: &str, s: &'a Value) {
        let (s, _) = unwrap_null(s);
        let (s, name) = resolve(self.defs, s);
        if let Some(n) = &name {
            if self.stack.contains(n) {
                return;
            }
            self.stack.push(n.clone());
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let mut keys: Vec<&String> = props.keys().collect();
            keys.sort();
            for k in keys {
                self.field(&format!("{prefix}.{k}"), &props[k]);
            }
        }
        // Tagged enums: the fields of every shape, once each.
        if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
            for a in alts {
                if a.get("properties").is_some() {
                    self.object(prefix, a);
                }
            }
        }
        if let Some(extra) = s.get("additionalProperties").filter(|v| v.is_object()) {
            self.field(&format!("{prefix}.<key>"), extra);
        }
        if name.is_some() {
            self.stack.pop();
        }
    }

    /// One field's row, then its own fields (of an object, or of an array's items).
    fn field(&mut self, path: &str, s: &'a Value) {
        let shown = path.trim_start_matches('.').to_string();
        let kind = self.kind(s);
        if let Some(row) = self.rows.iter_mut().find(|r| r.path == shown) {
            // A field of several shapes of a tagged enum: its tag lists every shape's name.
            if s.get("const").is_some() && !row.kind.split(" / ").any(|k| k == kind) {
                row.kind = format!("{} / {kind}", row.kind);
            }
            return;
        }
        let (inner, _) = unwrap_null(s);
        let (resolved, _) = resolve(self.defs, inner);
        let doc = match doc_of(s) {
            d if d.is_empty() && s.get("const").is_some() => {
                "Which shape this is; the fields beside it that apply to that shape are set.".into()
            }
            d if d.is_empty() && shown.ends_with(".<key>") => {
                "The count for each key of the map (an error kind, a status code).".into()
            }
            // The content of an adjacently tagged SLO metric has no doc of its own.
            d if d.is_empty() && shown.ends_with("metric.value") => {
                "For `percentile`: which one, as a percentage (50, 90, 95, 99, 99.9).".into()
            }
            d if d.is_empty() => doc_of(resolved),
            d => d,
        };
        self.rows.push(Row {
            path: shown,
            kind,
            doc,
        });
        // A type listed before under another path: point there instead of repeating it.
        let def = unwrap_null(s).0;
        let def = def
            .get("$ref")
            .or_else(|| def.get("items").and_then(|i| i.get("$ref")))
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_string());
        if let Some(d) = &def {
            let suffix = if resolved.get("type") == Some(&Value::String("array".into())) {
                "[]"
            } else {
                ""
            };
            if let Some((_, first)) = self.listed.iter().find(|(n, _)| n == d) {
                let first = first.clone();
                if let Some(row) = self.rows.last_mut() {
                    row.doc = format!("{} Its fields: as under `{first}`.", row.doc);
                }
                return;
            }
            let here = format!("{}{suffix}", path.trim_start_matches('.'));
            if self.defs.get(d).is_some_and(|x| {
                x.get("properties").is_some()
                    || x.get("oneOf").is_some_and(|o| {
                        o.as_array()
                            .is_some_and(|a| a.iter().any(|v| v.get("properties").is_some()))
                    })
            }) {
                self.listed.push((d.clone(), here));
            }
        }
        let is = |t: &str| match resolved.get("type") {
            Some(Value::String(x)) => x == t,
            Some(Value::Array(ts)) => ts.iter().any(|x| x == t),
            _ => false,
        };
        if is("array") {
            if let Some(items) = resolved.get("items") {
                self.object(&format!("{path}[]"), items);
            }
        } else if is("object") || resolved.get("oneOf").is_some() {
            self.object(path, inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_a_class_result_is_listed_with_its_doc() {
        let md = fields_markdown();
        for path in [
            "`schema_version`",
            "`classes[].latency`",
            "`classes[].cpu_wait.percentiles[].value_us`",
            "`classes[].kernel.throttled_us`",
            "`classes[].cost.capacity_basis`",
            "`classes[].limits.period_us`",
        ] {
            assert!(md.contains(path), "{path} missing from the field reference");
        }
        // Every row has a description.
        for line in md.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split(" | ").collect();
            assert!(
                cells.len() >= 3 && !cells[2].trim_end_matches(" |").trim().is_empty(),
                "{line}"
            );
        }
    }
}
