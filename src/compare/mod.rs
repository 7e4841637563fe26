//! `dynobench compare A B`: per class, p50/p95/p99 and the error rate from run A to run B
//! with both runs' confidence intervals; a change is significant only when the intervals do
//! not overlap, and a significant slow-down beyond the threshold is a regression (exit 1).
//! Reads results from disk; never runs anything.

use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::record::ClassResult;
use crate::record::summary::Percentile;
use crate::report::RunReport;
use crate::report::model::SCHEMA_VERSION;

/// Why a results directory cannot be compared.
#[derive(Debug, Error)]
pub enum CompareError {
    /// No run.json there.
    #[error(
        "{path}: no run.json there ({source}); give a results directory such as results/20261124-101500-local"
    )]
    Missing {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// run.json is not a dynobench run.
    #[error("{path}: not a readable dynobench run.json ({message})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// The runs cannot be compared.
    #[error("{0}")]
    Incompatible(String),
}

/// Reads `dir/run.json` (or a run.json path).
pub fn load_run(path: &Path) -> Result<RunReport, CompareError> {
    let file = if path.is_dir() {
        path.join("run.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| CompareError::Missing {
        path: path.to_path_buf(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| CompareError::Corrupt {
        path: file.clone(),
        message: format!("{e}"),
    })?;
    let major = v["schema_version"]
        .as_str()
        .unwrap_or("")
        .split('.')
        .next()
        .unwrap_or("")
        .to_string();
    let ours = SCHEMA_VERSION.split('.').next().unwrap_or("");
    if major != ours {
        return Err(CompareError::Incompatible(format!(
            "{}: schema version {} is not readable by this dynobench (it reads {ours}.x)",
            file.display(),
            v["schema_version"]
        )));
    }
    serde_json::from_value(v).map_err(|e| CompareError::Corrupt {
        path: file,
        message: e.to_string(),
    })
}

/// One metric of one class, A → B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDelta {
    /// `p50`, `p95`, `p99`.
    pub metric: String,
    /// A's estimate and interval, µs.
    pub a: Option<Percentile>,
    /// B's estimate and interval, µs.
    pub b: Option<Percentile>,
    /// (B - A) / A, percent.
    pub change_pct: Option<f64>,
    /// The intervals do not overlap.
    pub significant: bool,
    /// Significant and slower by more than the threshold.
    pub regression: bool,
}

/// One class, A → B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassDelta {
    /// Class.
    pub class: String,
    /// p50, p95, p99.
    pub metrics: Vec<MetricDelta>,
    /// Error rates A and B.
    pub error_rate: (f64, f64),
    /// B's error rate is significantly higher (two-proportion z > 1.96).
    pub error_regression: bool,
    /// `faster`, `slower`, `no significant change`, or why not compared.
    pub verdict: String,
    /// Measured in A but failed in B: a regression whatever the threshold.
    pub broke: bool,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Run ids.
    pub a: String,
    /// Run ids.
    pub b: String,
    /// Threshold, percent.
    pub threshold_pct: f64,
    /// Classes in both runs.
    pub classes: Vec<ClassDelta>,
    /// Classes only in A.
    pub only_a: Vec<String>,
    /// Classes only in B.
    pub only_b: Vec<String>,
    /// Any regression.
    pub regressed: bool,
}

/// Refuses runs of different workloads.
pub fn check_compatible(a: &RunReport, b: &RunReport) -> Result<(), CompareError> {
    let wa = (
        &a.workload.payload,
        a.workload.payload_bytes,
        &a.workload.profile,
        &a.config.path,
    );
    let wb = (
        &b.workload.payload,
        b.workload.payload_bytes,
        &b.workload.profile,
        &b.config.path,
    );
    let la = (
        &a.config.load_model,
        a.config.concurrency,
        a.config.rate,
        &a.config.arrivals,
    );
    let lb = (
        &b.config.load_model,
        b.config.concurrency,
        b.config.rate,
        &b.config.arrivals,
    );
    if la != lb {
        return Err(CompareError::Incompatible(format!(
            "the runs applied different load: {} ran {} loop, concurrency {}{}; {} ran {} loop, concurrency {}{}",
            a.run_id,
            la.0,
            la.1,
            la.2.map_or(String::new(), |r| format!(", {r} req/s")),
            b.run_id,
            lb.0,
            lb.1,
            lb.2.map_or(String::new(), |r| format!(", {r} req/s"))
        )));
    }
    if wa != wb {
        return Err(CompareError::Incompatible(format!(
            "the runs measured different workloads: {} ran {} ({} bytes, profile {}, path {}), {} ran {} ({} bytes, profile {}, path {})",
            a.run_id, wa.0, wa.1, wa.2, wa.3, b.run_id, wb.0, wb.1, wb.2, wb.3
        )));
    }
    Ok(())
}

fn overlap(a: &Percentile, b: &Percentile) -> bool {
    let lo = |p: &Percentile| p.ci_low_us.unwrap_or(0) as f64;
    let hi = |p: &Percentile| p.ci_high_us.map_or(f64::INFINITY, |x| x as f64);
    lo(a) <= hi(b) && lo(b) <= hi(a)
}

fn class_delta(a: &ClassResult, b: &ClassResult, threshold_pct: f64) -> ClassDelta {
    let mut metrics = Vec::new();
    for p in [50.0, 95.0, 99.0] {
        let (pa, pb) = (a.latency.percentile(p).cloned(), b.latency.percentile(p).cloned());
        let (va, vb) = (
            pa.as_ref().and_then(|x| x.value_us),
            pb.as_ref().and_then(|x| x.value_us),
        );
        let change_pct = va
            .zip(vb)
            .filter(|(x, _)| *x > 0)
            .map(|(x, y)| (y as f64 - x as f64) / x as f64 * 100.0);
        let significant = match (&pa, &pb) {
            (Some(x), Some(y)) if va.is_some() && vb.is_some() => !overlap(x, y),
            _ => false,
        };
        metrics.push(MetricDelta {
            metric: format!("p{p}"),
            regression: significant && change_pct.is_some_and(|c| c > threshold_pct),
            a: pa,
            b: pb,
            change_pct,
            significant,
        });
    }
    let (ra, rb) = (a.calls.error_rate, b.calls.error_rate);
    let (na, nb) = (a.calls.attempted.max(1) as f64, b.calls.attempted.max(1) as f64);
    let pooled = (ra * na + rb * nb) / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let error_regression = rb > ra && (se == 0.0 || (rb - ra) / se > 1.96);
    let verdict = if !a.is_ok() || !b.is_ok() {
        format!(
            "not compared: {}",
            if !a.is_ok() {
                format!("failed in A ({})", a.failure.as_deref().unwrap_or(""))
            } else {
                format!("failed in B ({})", b.failure.as_deref().unwrap_or(""))
            }
        )
    } else if metrics
        .iter()
        .any(|m| m.significant && m.change_pct.unwrap_or(0.0) > 0.0)
    {
        "slower".into()
    } else if metrics.iter().any(|m| m.significant) {
        "faster".into()
    } else {
        "no significant change".into()
    };
    ClassDelta {
        class: a.name.clone(),
        metrics,
        error_rate: (ra, rb),
        error_regression,
        verdict,
        broke: a.is_ok() && !b.is_ok(),
    }
}

/// Compares two runs.
pub fn compare(a: &RunReport, b: &RunReport, threshold_pct: f64) -> Comparison {
    let mut classes = Vec::new();
    for ca in &a.classes {
        if let Some(cb) = b.class(&ca.name) {
            classes.push(class_delta(ca, cb, threshold_pct));
        }
    }
    let only_a = a
        .classes
        .iter()
        .filter(|c| b.class(&c.name).is_none())
        .map(|c| c.name.clone())
        .collect();
    let only_b = b
        .classes
        .iter()
        .filter(|c| a.class(&c.name).is_none())
        .map(|c| c.name.clone())
        .collect();
    let regressed = classes
        .iter()
        .any(|c| c.broke || c.error_regression || c.metrics.iter().any(|m| m.regression));
    Comparison {
        a: a.run_id.clone(),
        b: b.run_id.clone(),
        threshold_pct,
        classes,
        only_a,
        only_b,
        regressed,
    }
}

fn cell(p: &Option<Percentile>) -> String {
    crate::report::table::pct_with_ci(p.as_ref())
}

/// The comparison as Markdown.
pub fn render_markdown(c: &Comparison) -> String {
    let mut s = format!(
        "# dynobench compare\n\nA = `{}`, B = `{}`; regression threshold {}% (a change counts only when the 95% intervals do not overlap).\n\n",
        c.a, c.b, c.threshold_pct
    );
    s.push_str("| class | metric | A ms [95% CI] | B ms [95% CI] | change | significant | verdict |\n|---|---|---|---|---|---|---|\n");
    for d in &c.classes {
        for m in &d.metrics {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                d.class,
                m.metric,
                cell(&m.a),
                cell(&m.b),
                m.change_pct.map_or("-".into(), |x| format!("{x:+.1}%")),
                if m.significant { "yes" } else { "no" },
                if m.regression {
                    "**REGRESSION**".to_string()
                } else {
                    d.verdict.clone()
                }
            ));
        }
        s.push_str(&format!(
            "| {} | error rate | {:.2}% | {:.2}% | {:+.2} pt | {} | {} |\n",
            d.class,
            d.error_rate.0 * 100.0,
            d.error_rate.1 * 100.0,
            (d.error_rate.1 - d.error_rate.0) * 100.0,
            if d.error_regression { "yes" } else { "no" },
            if d.error_regression { "**REGRESSION**" } else { "" }
        ));
        if d.broke {
            s.push_str(&format!(
                "| {} | status | ok | failed | | yes | **REGRESSION** |\n",
                d.class
            ));
        }
    }
    if !c.only_a.is_empty() {
        s.push_str(&format!("\nOnly in A: {}\n", c.only_a.join(", ")));
    }
    if !c.only_b.is_empty() {
        s.push_str(&format!("\nOnly in B: {}\n", c.only_b.join(", ")));
    }
    s.push_str(&format!(
        "\n**{}**\n",
        if c.regressed {
            "Regression: at least one class got significantly slower beyond the threshold."
        } else {
            "No regression beyond the threshold."
        }
    ));
    s
}
