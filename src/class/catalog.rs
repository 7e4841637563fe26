//! Catalog loading: TOML with spans, so that every validation error names the file, the
//! line, the class and the field, and says what would be valid.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use toml::Spanned;

use super::catalog_check::{RawClass, class_of};
use super::{Billing, DynoClass};

/// The catalogs built into the binary, by name.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("heroku", include_str!("../../catalogs/heroku.toml")),
    ("heroku-fir", include_str!("../../catalogs/heroku-fir.toml")),
    ("render", include_str!("../../catalogs/render.toml")),
    ("fly", include_str!("../../catalogs/fly.toml")),
    ("fargate", include_str!("../../catalogs/fargate.toml")),
    ("cloudrun", include_str!("../../catalogs/cloudrun.toml")),
    ("railway", include_str!("../../catalogs/railway.toml")),
    ("digitalocean", include_str!("../../catalogs/digitalocean.toml")),
    ("koyeb", include_str!("../../catalogs/koyeb.toml")),
    ("aws-t3", include_str!("../../catalogs/aws-t3.toml")),
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
    /// How the platform bills its classes (a class may name its own); absent: monthly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
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

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// The class (its `name`) and the field (the key) at 1-based `line`, when the line is a
/// `key = value` line inside a `[[class]]` block.
fn class_and_field_at(text: &str, line: usize) -> Option<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?;
    let (key, _) = here.split_once('=')?;
    let field = key.trim().trim_matches('"').to_string();
    if field.is_empty() || field.contains(char::is_whitespace) {
        return None;
    }
    let start = (0..line).rev().find(|&i| lines[i].trim() == "[[class]]")?;
    let end = (start + 1..lines.len())
        .find(|&i| lines[i].trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let class = lines[start + 1..end]
        .iter()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "name")
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| "(unnamed)".into());
    Some((class, field))
}

/// A TOML error as a catalog error: a wrong value inside a class names the class and the
/// field, not just the line.
fn syntax_error(file: &str, text: &str, e: &toml::de::Error) -> CatalogError {
    let line = e.span().map_or(1, |s| line_of(text, s.start));
    match e.span().and_then(|_| class_and_field_at(text, line)) {
        Some((class, field)) => CatalogError::Invalid {
            file: file.to_string(),
            line,
            class,
            field,
            message: e.message().trim().to_string(),
        },
        None => CatalogError::Syntax {
            file: file.to_string(),
            line,
            message: e.message().trim().to_string(),
        },
    }
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

    /// Loads `spec`: the name of an embedded catalog, a TOML file, or several of those
    /// separated by commas (`heroku,render,fly`): their classes in order, each marked with
    /// its catalog, and named `catalog/class` where a name appears in more than one.
    pub fn load(spec: &str) -> Result<Catalog, CatalogError> {
        let mut parts: Vec<&str> = Vec::new();
        for p in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !parts.contains(&p) {
                parts.push(p);
            }
        }
        if parts.len() <= 1 {
            return Catalog::load_one(spec.trim());
        }
        let cats = parts
            .iter()
            .map(|p| Catalog::load_one(p))
            .collect::<Result<Vec<_>, _>>()?;
        let clash = |name: &str| {
            cats.iter()
                .filter(|c| c.classes.iter().any(|k| k.name == name))
                .count()
                > 1
        };
        let mut classes = Vec::new();
        for c in &cats {
            for k in &c.classes {
                let mut k = k.clone();
                if clash(&k.name) {
                    k.name = format!("{}/{}", c.info.name, k.name);
                }
                k.catalog = Some(c.info.name.clone());
                if k.source.is_none() {
                    k.source = Some(c.info.price_source.clone());
                }
                classes.push(k);
            }
        }
        let join =
            |f: &dyn Fn(&Catalog) -> String, sep: &str| cats.iter().map(f).collect::<Vec<_>>().join(sep);
        Ok(Catalog {
            info: CatalogInfo {
                name: join(&|c| c.info.name.clone(), "+"),
                description: join(&|c| c.info.description.clone(), "; "),
                price_source: join(&|c| format!("{}: {}", c.info.name, c.info.price_source), "; "),
                price_date: cats
                    .iter()
                    .map(|c| c.info.price_date.clone())
                    .min()
                    .unwrap_or_default(),
                // Each class carries its own billing.
                billing: None,
            },
            origin: join(&|c| c.origin.clone(), ","),
            classes,
        })
    }

    fn load_one(spec: &str) -> Result<Catalog, CatalogError> {
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
        let raw: RawCatalog = toml::from_str(text).map_err(|e| syntax_error(file, text, &e))?;
        let mut classes = Vec::with_capacity(raw.class.len());
        if raw.class.is_empty() {
            return Err(CatalogError::Syntax {
                file: file.into(),
                line: 1,
                message: "the catalog has no [[class]] entries".into(),
            });
        }
        for c in raw.class {
            let class = class_of(file, text, c.into_inner(), raw.catalog.billing.as_ref(), &classes)?;
            classes.push(class);
        }
        Ok(Catalog {
            info: raw.catalog,
            origin: file.to_string(),
            classes,
        })
    }

    /// The class called `name`, or an error listing the classes there are.
    pub fn class(&self, name: &str) -> Result<&DynoClass, String> {
        let qualified = |c: &DynoClass| {
            c.catalog.as_ref().is_some_and(|cat| {
                name.split_once('/') == Some((cat.as_str(), c.name.rsplit('/').next().unwrap_or("")))
            })
        };
        self.classes
            .iter()
            .find(|c| c.name == name || qualified(c))
            .ok_or_else(|| {
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
#[path = "catalog_tests.rs"]
mod tests;
