//! `dynobench compare A B`: per class, p50/p95/p99 and the error rate from run A to run B
//! with both runs' confidence intervals; a change is significant only when the intervals do
//! not overlap, and a significant slow-down beyond the threshold is a regression (exit 1).
//! Pure: takes runs already read (`report::reader`), never reads or runs anything.

use serde::Serialize;
use thiserror::Error;

use crate::record::summary::Percentile;
use crate::record::{ClassResult, RunReport};

/// Why two runs cannot be compared.
#[derive(Debug, Error)]
pub enum CompareError {
    /// The runs differ in a way that makes their figures incomparable.
    #[error("{0}")]
    Incompatible(String),
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
