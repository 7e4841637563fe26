//! Presentation of `plan`: the table of dynos, utilization and monthly bill per class, the
//! cheapest answer, and the CSV.

use std::fmt::Write as _;

use super::simulate::fmt_num;
use crate::simulate::plan::{ClassPlan, PlanOutcome};
use crate::slo::{Slo, SloMetric};
use crate::units::fmt_secs;

fn slo_value_text(slo: &Slo, v: f64) -> String {
    match slo.metric {
        SloMetric::ErrorRate => format!("{:.2}%", v * 100.0),
        _ if !v.is_finite() => "∞".into(),
        _ => fmt_secs(v / 1e6),
    }
}

/// The plan table and its conclusions.
pub fn render_plan(
    plans: &[ClassPlan],
    cheapest: Option<usize>,
    slo: &Slo,
    rate: f64,
    skipped: &[String],
) -> String {
    let mut out = String::new();
    let metric = slo.metric_name();
    let _ = writeln!(
        out,
        "{:<16} {:>7} {:>9} {:>10} {:>8} {:>7} {:>10} {:>12}",
        "class",
        "workers",
        "svc mean",
        format!("svc {metric}"),
        "dynos",
        "util",
        metric,
        "$/month"
    );
    for p in plans {
        let (dynos, util, achieved, cost) = match &p.outcome {
            PlanOutcome::Meets {
                dynos,
                utilization,
                achieved,
                monthly_usd,
                ..
            } => (
                dynos.to_string(),
                format!("{utilization:.0}%"),
                slo_value_text(slo, *achieved),
                format!("{monthly_usd:.2}"),
            ),
            PlanOutcome::ServiceTooSlow { .. } => ("never".into(), "-".into(), "-".into(), "-".into()),
            PlanOutcome::NotWithin { max_dynos, achieved } => (
                format!(">{max_dynos}"),
                "-".into(),
                if achieved.is_finite() {
                    slo_value_text(slo, *achieved)
                } else {
                    "-".into()
                },
                "-".into(),
            ),
        };
        let _ = writeln!(
            out,
            "{:<16} {:>7} {:>9} {:>10} {:>8} {:>7} {:>10} {:>12}",
            p.class,
            p.workers,
            fmt_secs(p.service_mean),
            slo_value_text(slo, p.service_value),
            dynos,
            util,
            achieved,
            cost
        );
    }
    let _ = writeln!(out);
    for p in plans {
        if p.source != "server_wall" {
            let _ = writeln!(out, "note: {}: service times from {}", p.class, p.source);
        }
        match &p.outcome {
            PlanOutcome::ServiceTooSlow { service_value } => {
                let _ = writeln!(
                    out,
                    "{}: cannot meet {slo} at any number of dynos: its service time alone has {metric} = {}. \
                     More dynos add throughput, not speed; only faster requests (or a faster class) help.",
                    p.class,
                    slo_value_text(slo, *service_value)
                );
            }
            PlanOutcome::NotWithin { max_dynos, .. } if p.min_dynos_for_rate > *max_dynos => {
                let _ = writeln!(
                    out,
                    "{}: needs at least {} dynos just to carry {} req/s ({} workers × {} mean service each); \
                     raise --max-dynos to plan it.",
                    p.class,
                    p.min_dynos_for_rate,
                    fmt_num(rate),
                    p.workers,
                    fmt_secs(p.service_mean)
                );
            }
            PlanOutcome::NotWithin { max_dynos, .. } => {
                let _ = writeln!(
                    out,
                    "{}: does not meet {slo} with up to {max_dynos} dynos (service time alone: {metric} = {}); \
                     raise --max-dynos to search further.",
                    p.class,
                    slo_value_text(slo, p.service_value)
                );
            }
            PlanOutcome::Meets { .. } => {}
        }
    }
    for s in skipped {
        let _ = writeln!(out, "{s}");
    }
    match cheapest {
        Some(i) => {
            let p = &plans[i];
            if let PlanOutcome::Meets {
                dynos, monthly_usd, ..
            } = p.outcome
            {
                let _ = writeln!(
                    out,
                    "Cheapest: {} × {} ({} workers each) at ${:.2}/month holds {slo} at {} req/s.",
                    dynos,
                    p.class,
                    p.workers,
                    monthly_usd,
                    fmt_num(rate)
                );
            }
        }
        None => {
            let _ = writeln!(out, "No class meets {slo} at {} req/s.", fmt_num(rate));
        }
    }
    out
}

/// The plan as CSV.
pub fn render_plan_csv(plans: &[ClassPlan], slo: &Slo, rate: f64) -> String {
    let mut out = String::from(
        "class,workers,price_usd_month,source,service_mean_ms,slo,service_value,rate_rps,outcome,dynos,utilization,achieved,monthly_usd\n",
    );
    for p in plans {
        let (outcome, dynos, util, achieved, cost) = match &p.outcome {
            PlanOutcome::Meets {
                dynos,
                utilization,
                achieved,
                monthly_usd,
                ..
            } => (
                "meets",
                dynos.to_string(),
                format!("{utilization:.3}"),
                format!("{achieved}"),
                format!("{monthly_usd:.2}"),
            ),
            PlanOutcome::ServiceTooSlow { .. } => (
                "service-too-slow",
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ),
            PlanOutcome::NotWithin { max_dynos, achieved } => (
                "not-within-max-dynos",
                format!(">{max_dynos}"),
                String::new(),
                format!("{achieved}"),
                String::new(),
            ),
        };
        let _ = writeln!(
            out,
            "{},{},{},{},{:.6},{},{},{},{outcome},{dynos},{util},{achieved},{cost}",
            p.class,
            p.workers,
            p.price_usd_month,
            p.source,
            p.service_mean * 1e3,
            slo,
            p.service_value,
            rate
        );
    }
    out
}
