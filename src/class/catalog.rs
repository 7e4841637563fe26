//! Catalog loading: TOML with spans, so that every validation error names the file, the
//! line, the class and the field, and says what would be valid.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use toml::Spanned;

use super::{Billing, CpuModel, DynoClass};

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
    period_ms: Option<Spanned<f64>>,
    burst_ms: Option<Spanned<f64>>,
    quota_pooled: Option<bool>,
    billing: Option<Spanned<Billing>>,
    source: Option<String>,
    #[serde(default)]
    unverified: bool,
    #[serde(default = "super::yes")]
    in_default_run: bool,
}

fn line_of(text: &str, offset: usize) -> usize {
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

/// Checks a billing model's figures, and that a class's monthly price agrees with the
/// model's rates (within 2%) where the model has rates.
fn check_billing(b: &Billing, price: f64, vcpus: f64, memory_mb: f64) -> Result<(), String> {
    let rate = |name: &str, v: f64| -> Result<(), String> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(format!("{name} must be a non-negative number of USD, got {v}"))
        }
    };
    let hours = b.hours_per_month();
    if !(hours.is_finite() && (1.0..=744.0).contains(&hours)) {
        return Err(format!(
            "hours_per_month must be between 1 and 744 (720 for a 30-day month, 730 for an average one), got {hours}"
        ));
    }
    match *b {
        Billing::Monthly { .. } => {}
        Billing::PerSecond {
            usd_per_vcpu_hour,
            usd_per_gb_hour,
            minimum_s,
            ..
        } => {
            rate("usd_per_vcpu_hour", usd_per_vcpu_hour.unwrap_or(0.0))?;
            rate("usd_per_gb_hour", usd_per_gb_hour.unwrap_or(0.0))?;
            if !(minimum_s.is_finite() && (0.0..=86_400.0).contains(&minimum_s)) {
                return Err(format!(
                    "minimum_s must be between 0 and 86400 seconds, got {minimum_s}"
                ));
            }
        }
        Billing::Request {
            usd_per_vcpu_s,
            usd_per_gib_s,
            usd_per_million_requests,
            max_concurrency,
            rounding_ms,
            ..
        } => {
            rate("usd_per_vcpu_s", usd_per_vcpu_s)?;
            rate("usd_per_gib_s", usd_per_gib_s)?;
            rate("usd_per_million_requests", usd_per_million_requests)?;
            if !(1..=1000).contains(&max_concurrency) {
                return Err(format!(
                    "max_concurrency must be between 1 and 1000, got {max_concurrency}"
                ));
            }
            if !(rounding_ms.is_finite() && (0.0..=60_000.0).contains(&rounding_ms)) {
                return Err(format!(
                    "rounding_ms must be between 0 and 60000, got {rounding_ms}"
                ));
            }
        }
        Billing::BurstSurplus {
            baseline_cores,
            usd_per_vcpu_hour,
            ..
        } => {
            rate("usd_per_vcpu_hour", usd_per_vcpu_hour)?;
            if !(baseline_cores.is_finite() && baseline_cores >= 0.0 && baseline_cores <= vcpus) {
                return Err(format!(
                    "baseline_cores must be between 0 and the class's {vcpus} cores, got {baseline_cores}"
                ));
            }
        }
    }
    if let Some(per_hour) = b.rate_per_hour(vcpus, memory_mb) {
        let want = per_hour * hours;
        if (price - want).abs() > 0.02 * want {
            return Err(format!(
                "price_usd_month {price} disagrees with the {} rates: {vcpus} vCPU and {memory_mb} MB for {hours} h cost {want:.2}; \
                 set price_usd_month = {want:.2} or correct the rates",
                b.name()
            ));
        }
    }
    Ok(())
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
        let raw: RawCatalog = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            // A wrong value inside a class: name the class and the field, not just the line.
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
                CpuModel::Burst {
                    baseline_cores,
                    burst_cores,
                    balance_s,
                    initial_balance_s,
                    refill,
                } => {
                    if !positive(baseline_cores) || !positive(burst_cores) || baseline_cores > burst_cores {
                        return Err(cpu_err(format!(
                            "baseline_cores and burst_cores must be positive with baseline_cores <= burst_cores, got {baseline_cores} and {burst_cores}"
                        )));
                    }
                    if !(balance_s.is_finite() && balance_s > 0.0 && balance_s <= 86_400.0) {
                        return Err(cpu_err(format!(
                            "balance_s must be between 0 and 86400 core-seconds, got {balance_s}"
                        )));
                    }
                    if let Some(i) = initial_balance_s
                        && !(i.is_finite() && (0.0..=balance_s).contains(&i))
                    {
                        return Err(cpu_err(format!(
                            "initial_balance_s must be between 0 and balance_s ({balance_s}), got {i}"
                        )));
                    }
                    if !(refill.is_finite() && refill > 0.0 && refill <= 100.0) {
                        return Err(cpu_err(format!("refill must be between 0 and 100, got {refill}")));
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
            let (period_ms, burst_ms) =
                super::metering::check(&cpu, c.period_ms.as_ref(), c.burst_ms.as_ref())
                    .map_err(|(span, field, m)| bad(span, field, m))?;
            let (billing, billing_span) = match &c.billing {
                Some(b) => (b.get_ref().clone(), b.span()),
                None => (raw.catalog.billing.clone().unwrap_or_default(), c.cpu.span()),
            };
            check_billing(&billing, price, cpu.max_cores(), memory as f64)
                .map_err(|m| bad(billing_span, "billing", m))?;
            classes.push(DynoClass {
                name,
                price_usd_month: price,
                price_note: c.price_note,
                memory_mb: memory as u64,
                memory_hard_mb: hard as u64,
                workers: workers as u32,
                compute: c.compute,
                cpu,
                period_ms,
                burst_ms,
                quota_pooled: c.quota_pooled.unwrap_or(true),
                billing,
                source: c.source,
                unverified: c.unverified,
                in_default_run: c.in_default_run,
                catalog: None,
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
