//! SLO verdicts (pure): each SLO checked against each class's measured figures.

use super::model::SloVerdict;
use super::result::{ClassResult, ClassStatus};
use crate::slo::{Slo, SloMetric};
use crate::units::ms_text as ms;

/// One verdict per class and SLO. A class that failed, or a percentile its sample count
/// cannot support, does not hold (a claim we cannot make is not a pass).
pub fn slo_verdicts(classes: &[ClassResult], slos: &[Slo]) -> Vec<SloVerdict> {
    let mut out = Vec::new();
    for c in classes {
        for s in slos {
            let (measured, held, line) = if c.status != ClassStatus::Ok {
                (
                    None,
                    false,
                    format!(
                        "{}: {} not checked: the class {}",
                        c.name,
                        s,
                        c.failure.as_deref().unwrap_or("failed")
                    ),
                )
            } else {
                match s.metric {
                    SloMetric::ErrorRate => {
                        let v = c.calls.error_rate;
                        let held = s.holds(v);
                        (
                            Some(v),
                            held,
                            format!(
                                "{}: error rate {:.2}% {} {}",
                                c.name,
                                v * 100.0,
                                if held { "meets" } else { "breaks" },
                                s
                            ),
                        )
                    }
                    SloMetric::Max => {
                        let v = c.latency.max_us as f64;
                        let held = c.latency.count > 0 && s.holds(v);
                        (
                            Some(v),
                            held,
                            format!(
                                "{}: max {} {} {}",
                                c.name,
                                ms(v),
                                if held { "meets" } else { "breaks" },
                                s
                            ),
                        )
                    }
                    SloMetric::Percentile(p) => match c.latency.value(p) {
                        Some(v) => {
                            let v = v as f64;
                            let held = s.holds(v);
                            (
                                Some(v),
                                held,
                                format!(
                                    "{}: p{p} {} {} {}",
                                    c.name,
                                    ms(v),
                                    if held { "meets" } else { "breaks" },
                                    s
                                ),
                            )
                        }
                        None => (
                            None,
                            false,
                            format!(
                                "{}: p{p} cannot be estimated from {} calls (needs at least {}), so {} is not shown to hold",
                                c.name,
                                c.latency.count,
                                (1.0 / (1.0 - p / 100.0)).ceil() as u64,
                                s
                            ),
                        ),
                    },
                }
            };
            out.push(SloVerdict {
                class: c.name.clone(),
                slo: s.text.clone(),
                measured,
                held,
                line,
            });
        }
    }
    out
}
