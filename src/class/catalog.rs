//! Catalog loading: TOML with spans, so that every validation error names the file, the
//! line, the class and the field, and says what would be valid.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use toml::Spanned;

use super::{CpuModel, DynoClass};

/// The catalogs built into the binary, by name.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("heroku", include_str!("../../catalogs/heroku.toml")),
    ("containers", include_str!("../../catalogs/containers.toml")),
];

/// Names of the embedded catalogs.
pub fn embedded_names() -> Vec<&'static str> {
    EMBEDDED.iter().map(|(n, _)| *n).collect()
}

/// A catalog that cannot be used.
#[derive(Debug, Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read class catalog {file}: {source}")]
    Unreadable {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax or shape error (unknown field, wrong type).
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value that parses but is not valid.
    #[error("{file}:{line}: class '{class}', field '{field}': {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line of the field (or of the class when the field is missing).
        line: usize,
        /// The class name.
        class: String,
        /// The field.
        field: String,
        /// What is wrong and what would be valid.
        message: String,
    },
}

/// Catalog-level facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CatalogInfo {
    /// Catalog name.
    pub name: String,
    /// What it models.
    #[serde(default)]
    pub description: String,
    /// Where the prices come from.
    pub price_source: String,
    /// When the prices were recorded (YYYY-MM-DD).
    pub price_date: String,
}

/// A validated catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Catalog {
    /// Catalog-level facts.
    pub info: CatalogInfo,
    /// Where it was loaded from (`embedded:heroku` or a path).
    pub origin: String,
    /// The classes, in file order.
    pub classes: Vec<DynoClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    catalog: CatalogInfo,
    #[serde(default)]
    class: Vec<Spanned<RawClass>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: Spanned<String>,
    price_usd_month: Spanned<f64>,
    price_note: Option<String>,
    memory_mb: Spanned<i64>,
    memory_hard_mb: Option<Spanned<i64>>,
    workers: Spanned<i64>,
    compute: Option<String>,
    cpu: Spanned<CpuModel>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

impl Catalog {
    /// The embedded catalog `name` (`heroku`, `containers`).
    pub fn embedded(name: &str) -> Option<Catalog> {
        let (_, text) = EMBEDDED.iter().find(|(n, _)| *n == name)?;
        Some(Catalog::parse(&format!("embedded:{name}"), text).expect("embedded catalogs are valid"))
    }

    /// The default catalog (`heroku`).
    pub fn default_catalog() -> Catalog {
        Catalog::embedded("heroku").expect("the heroku catalog is embedded")
    }

    /// Loads `spec`: the name of an embedded catalog, or a TOML file.
    pub fn load(spec: &str) -> Result<Catalog, CatalogError> {
        if let Some(c) = Catalog::embedded(spec) {
            return Ok(c);
        }
        let text = std::fs::read_to_string(Path::new(spec)).map_err(|source| CatalogError::Unreadable {
            file: format!(
                "{spec} (not a file, nor an embedded catalog: {})",
                embedded_names().join(", ")
            ),
            source,
        })?;
        Catalog::parse(spec, &text)
    }

    /// Parses and validates catalog text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| CatalogError::Syntax {
            file: file.to_string(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
        let mut classes = Vec::with_capacity(raw.class.len());
        if raw.class.is_empty() {
            return Err(CatalogError::Syntax {
                file: file.into(),
                line: 1,
                message: "the catalog has no [[class]] entries".into(),
            });
        }
        for c in raw.class {
            let c = c.into_inner();
            let name = c.name.get_ref().clone();
            let bad = |span: std::ops::Range<usize>, field: &str, message: String| CatalogError::Invalid {
                file: file.to_string(),
                line: line_of(text, span.start),
                class: name.clone(),
                field: field.to_string(),
                message,
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            {
                return Err(bad(
                    c.name.span(),
                    "name",
                    "must be non-empty and use only letters, digits, '-', '_' or '.'".into(),
                ));
            }
            if classes.iter().any(|k: &DynoClass| k.name == name) {
                return Err(bad(
                    c.name.span(),
                    "name",
                    "is defined twice; class names must be unique".into(),
                ));
            }
            let price = *c.price_usd_month.get_ref();
            if !(price.is_finite() && price > 0.0) {
                return Err(bad(
                    c.price_usd_month.span(),
                    "price_usd_month",
                    format!("must be a positive number of USD per month, got {price}"),
                ));
            }
            let memory = *c.memory_mb.get_ref();
            if !(16..=16 * 1024 * 1024).contains(&memory) {
                return Err(bad(
                    c.memory_mb.span(),
                    "memory_mb",
                    format!("must be between 16 and 16777216 MB, got {memory}"),
                ));
            }
            let hard = match &c.memory_hard_mb {
                Some(h) if *h.get_ref() < memory || *h.get_ref() > 64 * 1024 * 1024 => {
                    return Err(bad(
                        h.span(),
                        "memory_hard_mb",
                        format!(
                            "must be between memory_mb ({memory}) and 67108864 MB, got {}",
                            h.get_ref()
                        ),
                    ));
                }
                Some(h) => *h.get_ref(),
                None => memory * 2,
            };
            let workers = *c.workers.get_ref();
            if !(1..=1024).contains(&workers) {
                return Err(bad(
                    c.workers.span(),
                    "workers",
                    format!("must be between 1 and 1024, got {workers}"),
                ));
            }
            let cpu = c.cpu.get_ref().clone();
            let cpu_err = |m: String| bad(c.cpu.span(), "cpu", m);
            let positive = |x: f64| x.is_finite() && x > 0.0 && x <= 1024.0;
            match cpu {
                CpuModel::Shared {
                    floor_cores,
                    burst_cores,
                    burst_us,
                } => {
                    if !positive(floor_cores) || !positive(burst_cores) {
                        return Err(cpu_err(format!(
                            "floor_cores and burst_cores must be positive core counts, got {floor_cores} and {burst_cores}"
                        )));
                    }
                    if floor_cores > burst_cores {
                        return Err(cpu_err(format!(
                            "floor_cores ({floor_cores}) cannot exceed burst_cores ({burst_cores})"
                        )));
                    }
                    if burst_us > 10_000_000 {
                        return Err(cpu_err(format!(
                            "burst_us must be at most 10000000 (10 s), got {burst_us}"
                        )));
                    }
                }
                CpuModel::Dedicated { cores } | CpuModel::Quota { cores } => {
                    if !positive(cores) {
                        return Err(cpu_err(format!(
                            "cores must be a positive core count, got {cores}"
                        )));
                    }
                }
            }
            classes.push(DynoClass {
                name,
                price_usd_month: price,
                price_note: c.price_note,
                memory_mb: memory as u64,
                memory_hard_mb: hard as u64,
                workers: workers as u32,
                compute: c.compute,
                cpu,
            });
        }
        Ok(Catalog {
            info: raw.catalog,
            origin: file.to_string(),
            classes,
        })
    }

    /// The class called `name`, or an error listing the classes there are.
    pub fn class(&self, name: &str) -> Result<&DynoClass, String> {
        self.classes.iter().find(|c| c.name == name).ok_or_else(|| {
            format!(
                "no class '{name}' in catalog {}; classes: {}",
                self.origin,
                self.classes
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// The cheapest class's monthly price.
    pub fn cheapest(&self) -> Option<&DynoClass> {
        self.classes
            .iter()
            .min_by(|a, b| a.price_usd_month.total_cmp(&b.price_usd_month))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogs_are_valid() {
        let h = Catalog::default_catalog();
        let names: Vec<_> = h.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "eco",
                "basic",
                "standard-1x",
                "standard-2x",
                "performance-m",
                "performance-l"
            ]
        );
        let workers: Vec<_> = h.classes.iter().map(|c| c.workers).collect();
        assert_eq!(workers, [2, 2, 2, 4, 5, 17]);
        let mem: Vec<_> = h.classes.iter().map(|c| c.memory_mb).collect();
        assert_eq!(mem, [512, 512, 512, 1024, 2560, 14336]);
        assert_eq!(h.class("standard-1x").unwrap().memory_hard_mb, 1024);
        assert!((h.class("standard-1x").unwrap().price_usd_hour() - 25.0 / 720.0).abs() < 1e-12);
        assert!(Catalog::embedded("containers").is_some());
    }

    fn err(text: &str) -> String {
        Catalog::parse("t.toml", text).unwrap_err().to_string()
    }

    const HEAD: &str = "[catalog]\nname = \"t\"\nprice_source = \"x\"\nprice_date = \"2026-01-01\"\n";

    #[test]
    fn errors_name_file_line_class_and_field() {
        let bad_mem = format!(
            "{HEAD}\n[[class]]\nname = \"tiny\"\nprice_usd_month = 5.0\nmemory_mb = 0\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 0.5 }}\n"
        );
        assert_eq!(
            err(&bad_mem),
            "t.toml:9: class 'tiny', field 'memory_mb': must be between 16 and 16777216 MB, got 0"
        );
        let bad_cpu = format!(
            "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"shared\", floor_cores = 0.9, burst_cores = 0.5 }}\n"
        );
        let e = err(&bad_cpu);
        assert!(
            e.starts_with("t.toml:11: class 's', field 'cpu': floor_cores (0.9)"),
            "{e}"
        );
        let unknown = format!(
            "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncolour = \"red\"\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n"
        );
        let e = err(&unknown);
        assert!(e.starts_with("t.toml:11:") && e.contains("colour"), "{e}");
        let bad_kind = format!(
            "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"gpu\", cores = 1.0 }}\n"
        );
        let e = err(&bad_kind);
        assert!(e.starts_with("t.toml:11:") && e.contains("gpu"), "{e}");
        let missing = format!(
            "{HEAD}\n[[class]]\nname = \"s\"\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n"
        );
        let e = err(&missing);
        assert!(e.contains("price_usd_month"), "{e}");
        let dup = format!(
            "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n"
        );
        assert!(
            err(&dup).starts_with("t.toml:13: class 's', field 'name': is defined twice"),
            "{}",
            err(&dup)
        );
        assert!(err("not toml [").starts_with("t.toml:1:"));
        assert!(err(HEAD).contains("no [[class]]"));
    }

    #[test]
    fn missing_file_names_the_embedded_alternatives() {
        let e = Catalog::load("/nonexistent/cat.toml").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/cat.toml") && e.contains("heroku"), "{e}");
    }
}
