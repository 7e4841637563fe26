//! The generic transform for any JSON document: walk every value, count by type, collect
//! number and string statistics and key frequencies, and re-serialize with sorted keys.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// How many of the most frequent object keys are reported.
const TOP_KEYS: usize = 25;

/// The result of the generic transform.
#[derive(Debug, Default, Serialize)]
pub struct GenericReport {
    /// Count of values by JSON type (`null`, `bool`, `integer`, `float`, `string`, `array`, `object`).
    pub types: BTreeMap<&'static str, u64>,
    /// Deepest nesting level (the root is depth 1).
    pub max_depth: u64,
    /// Number statistics over every numeric value.
    pub numbers: NumberStats,
    /// Total UTF-8 bytes in string values.
    pub string_bytes: u64,
    /// Longest string value, in characters.
    pub longest_string_chars: u64,
    /// Strings that contain non-ASCII characters.
    pub non_ascii_strings: u64,
    /// Largest array length.
    pub longest_array: u64,
    /// The most frequent object keys with their counts, most frequent first.
    pub top_keys: Vec<(String, u64)>,
    /// Bytes of the document re-serialized with sorted keys.
    pub canonical_bytes: u64,
}

/// Running statistics over numbers.
#[derive(Debug, Serialize)]
pub struct NumberStats {
    /// How many numbers.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Sum.
    pub sum: f64,
    /// Mean.
    pub mean: f64,
}

impl Default for NumberStats {
    fn default() -> Self {
        NumberStats {
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            mean: 0.0,
        }
    }
}

#[derive(Default)]
struct Walker<'a> {
    report: GenericReport,
    keys: BTreeMap<&'a str, u64>,
}

impl<'a> Walker<'a> {
    fn walk(&mut self, v: &'a Value, depth: u64) {
        self.report.max_depth = self.report.max_depth.max(depth);
        let kind = match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                let st = &mut self.report.numbers;
                st.count += 1;
                st.sum += x;
                st.min = st.min.min(x);
                st.max = st.max.max(x);
                if n.is_f64() { "float" } else { "integer" }
            }
            Value::String(s) => {
                self.report.string_bytes += s.len() as u64;
                self.report.longest_string_chars =
                    self.report.longest_string_chars.max(s.chars().count() as u64);
                if !s.is_ascii() {
                    self.report.non_ascii_strings += 1;
                }
                "string"
            }
            Value::Array(a) => {
                self.report.longest_array = self.report.longest_array.max(a.len() as u64);
                for x in a {
                    self.walk(x, depth + 1);
                }
                "array"
            }
            Value::Object(m) => {
                for (k, x) in m {
                    *self.keys.entry(k.as_str()).or_default() += 1;
                    self.walk(x, depth + 1);
                }
                "object"
            }
        };
        *self.report.types.entry(kind).or_default() += 1;
    }
}

/// Runs the generic transform; returns the report and the canonical (sorted-key) form of
/// the document, which is part of the work and of the digest.
pub fn transform(doc: &Value) -> (GenericReport, Vec<u8>) {
    let mut w = Walker::default();
    w.walk(doc, 1);
    let mut report = w.report;
    if report.numbers.count > 0 {
        report.numbers.mean = report.numbers.sum / report.numbers.count as f64;
    } else {
        report.numbers.min = 0.0;
        report.numbers.max = 0.0;
    }
    let mut keys: Vec<(String, u64)> = w.keys.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    keys.truncate(TOP_KEYS);
    report.top_keys = keys;
    // serde_json's Map keeps keys sorted (no `preserve_order`), so this is the canonical form.
    let canonical = serde_json::to_vec(doc).expect("a Value always serializes");
    report.canonical_bytes = canonical.len() as u64;
    (report, canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_types_and_sorts_keys() {
        let doc: Value = serde_json::from_str(r#"{"b":[1,2.5,null,true],"a":{"x":"héllo"}}"#).unwrap();
        let (r, canon) = transform(&doc);
        assert_eq!(r.types["integer"], 1);
        assert_eq!(r.types["float"], 1);
        assert_eq!(r.types["null"], 1);
        assert_eq!(r.types["bool"], 1);
        assert_eq!(r.types["string"], 1);
        assert_eq!(r.types["array"], 1);
        assert_eq!(r.types["object"], 2);
        assert_eq!(r.max_depth, 3);
        assert_eq!(r.non_ascii_strings, 1);
        assert_eq!(r.numbers.count, 2);
        assert_eq!(r.numbers.max, 2.5);
        assert_eq!(
            String::from_utf8(canon).unwrap(),
            r#"{"a":{"x":"héllo"},"b":[1,2.5,null,true]}"#
        );
        let _ = json!(null);
    }
}
