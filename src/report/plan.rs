//! Presentation of `plan`: per class (and, for a shared class, per CPU situation) the
//! workers, dynos, utilization and monthly bill, the cheapest answer, and the CSV.

use std::fmt::Write as _;

use super::simulate::fmt_num;
use crate::simulate::plan::{ClassPlan, PlanOutcome, ScenarioPlan};
use crate::slo::{Slo, SloMetric};
use crate::units::fmt_secs;

fn slo_value_text(slo: &Slo, v: f64) -> String {
    match slo.metric {
        SloMetric::ErrorRate => format!("{:.2}%", v * 100.0),
        _ if !v.is_finite() => "∞".into(),
        _ => fmt_secs(v / 1e6),
    }
}

/// Cells of one situation: dynos, utilization, the metric reached, $/month.
fn cells(slo: &Slo, o: &PlanOutcome) -> (String, String, String, String) {
    match o {
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
    }
}

/// The bootstrap range of dynos: `16-18`, `16-never`, or `-` without one.
fn range_cell(s: &ScenarioPlan) -> String {
    match &s.range {
        None => "-".into(),
        Some(r) => {
            let end = |n: Option<u32>| {
                n.filter(|&n| n != u32::MAX)
                    .map_or("never".into(), |n| n.to_string())
            };
            format!("{}-{}", end(Some(r.low)), end(r.high))
        }
    }
}

fn cpu_cell(s: &ScenarioPlan) -> String {
    match s.cores {
        Some(c) if s.label.is_empty() => format!("{c:.2}"),
        Some(c) => {
            let short = match s.label.split(' ').next().unwrap_or("") {
                "dedicated" => "ded",
                "as" => "here",
                other => other,
            };
            format!("{c:.2} {short}")
        }
        None => "-".into(),
    }
}

fn explain(out: &mut String, p: &ClassPlan, s: &ScenarioPlan, slo: &Slo, rate: f64) {
    let metric = slo.metric_name();
    let name = if s.label.is_empty() {
        p.class.clone()
    } else {
        format!("{} ({})", p.class, s.label)
    };
    match &s.outcome {
        PlanOutcome::ServiceTooSlow { service_value } => {
            let _ = writeln!(
                out,
                "{}: cannot meet {slo} at any number of dynos: its service time alone has {metric} = {}. \
                 More dynos add throughput, not speed; only faster requests (or a faster class) help.",
                if s.label.is_empty() { p.class.clone() } else { name },
                slo_value_text(slo, *service_value)
            );
        }
        PlanOutcome::NotWithin { max_dynos, .. } if s.min_dynos_for_rate > *max_dynos => {
            let _ = writeln!(
                out,
                "{name}: needs at least {} dynos just to carry {} req/s (at most {} req/s per dyno); \
                 raise --max-dynos to plan it.",
                s.min_dynos_for_rate,
                fmt_num(rate),
                fmt_num((s.capacity_per_dyno * 100.0).round() / 100.0)
            );
        }
        PlanOutcome::NotWithin { max_dynos, .. } => {
            let _ = writeln!(
                out,
                "{name}: does not meet {slo} with up to {max_dynos} dynos (service time alone: {metric} = {}); \
                 raise --max-dynos to search further.",
                slo_value_text(slo, s.service_value)
            );
        }
        PlanOutcome::Meets { .. } => {}
    }
}

/// The table: one row per class and CPU situation.
fn table(out: &mut String, plans: &[ClassPlan], slo: &Slo) {
    let metric = slo.metric_name();
    let _ = writeln!(
        out,
        "{:<18} {:>13} {:>7} {:>9} {:>9} {:>10} {:>8} {:>9} {:>7} {:>10} {:>12}",
        "class",
        "cores",
        "workers",
        "svc mean",
        "cpu mean",
        format!("svc {metric}"),
        "dynos",
        "range",
        "util",
        metric,
        "$/month"
    );
    for p in plans {
        for s in &p.scenarios {
            let (dynos, util, achieved, cost) = cells(slo, &s.outcome);
            let _ = writeln!(
                out,
                "{:<18} {:>13} {:>7} {:>9} {:>9} {:>10} {:>8} {:>9} {:>7} {:>10} {:>12}",
                p.class,
                cpu_cell(s),
                s.workers,
                fmt_secs(p.service_mean),
                p.cpu_mean.map_or("-".into(), fmt_secs),
                slo_value_text(slo, s.service_value),
                dynos,
                range_cell(s),
                util,
                achieved,
                cost
            );
        }
    }
    let _ = writeln!(out);
}

/// Each distinct value of `key` among the plans (skipping those `skip` says), once, with
/// the classes that have it ("every class" when all do).
fn grouped<'a>(
    plans: &'a [ClassPlan],
    key: impl Fn(&ClassPlan) -> &str,
    skip: impl Fn(&str) -> bool,
) -> Vec<(String, &'a str)> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for p in plans.iter().filter(|p| !skip(key(p))) {
        let k: &'a str = key(p);
        if seen.contains(&k) {
            continue;
        }
        seen.push(k);
        let who: Vec<&str> = plans
            .iter()
            .filter(|o| key(o) == k)
            .map(|o| o.class.as_str())
            .collect();
        let whom = if who.len() == plans.len() {
            "every class".to_string()
        } else {
            who.join(", ")
        };
        out.push((whom, k));
    }
    out
}

/// How each class is billed (each description once), and what the bill of a met plan is
/// made of where it is not simply dynos × price.
fn billing(out: &mut String, plans: &[ClassPlan]) {
    let monthly = |b: &str| b.starts_with("monthly");
    for (whom, b) in grouped(plans, |p| &p.billing, monthly) {
        let _ = writeln!(out, "billing ({whom}): {b}");
    }
    for p in plans.iter().filter(|p| !monthly(&p.billing)) {
        if let PlanOutcome::Meets {
            bill, monthly_usd, ..
        } = &p.outcome
        {
            let parts: Vec<String> = bill
                .iter()
                .map(|(what, usd)| format!("{what} = ${usd:.2}"))
                .collect();
            let _ = writeln!(
                out,
                "  {}: ${monthly_usd:.2}/month = {} (one dyno provisioned all month: ${:.2})",
                p.class,
                parts.join(" + "),
                p.price_usd_month
            );
        }
    }
}

/// The notes under the conclusions: the bootstrap range, the shared classes' two
/// situations.
fn range_notes(out: &mut String, plans: &[ClassPlan]) {
    if let Some(r) = plans
        .iter()
        .flat_map(|p| &p.scenarios)
        .find_map(|s| s.range.as_ref())
    {
        let _ = writeln!(
            out,
            "range: the 5th-95th percentile of the dynos needed over {} bootstrap resamples of the measured pairs \
             (each simulated shorter, so it also carries simulation noise); dynos is planned at its upper end.",
            r.resamples
        );
    }
    if plans.iter().any(|p| p.scenarios.len() > 1) {
        let _ = writeln!(
            out,
            "A shared class is planned at its floor (a busy host: the share it is guaranteed) and at its burst cap \
             (an idle host); the truth lies between, and the cheapest answer below uses the floor."
        );
    }
}

/// The answer: the cheapest class that meets the SLO, or that none does.
fn cheapest_line(out: &mut String, plans: &[ClassPlan], cheapest: Option<usize>, slo: &Slo, rate: f64) {
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
    table(&mut out, plans, slo);
    billing(&mut out, plans);
    for (whom, source) in grouped(plans, |p| &p.source, |s| s == "server_wall") {
        let _ = writeln!(out, "note: {whom}: service times from {source}");
    }
    for p in plans {
        for s in &p.scenarios {
            explain(&mut out, p, s, slo, rate);
        }
    }
    for s in skipped {
        let _ = writeln!(out, "{s}");
    }
    range_notes(&mut out, plans);
    cheapest_line(&mut out, plans, cheapest, slo, rate);
    out
}

/// The plan as CSV (written by the csv crate: fields with commas, quotes or newlines are
/// quoted): one row per class and CPU situation.
pub fn render_plan_csv(plans: &[ClassPlan], slo: &Slo, rate: f64) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "class",
        "workers",
        "price_usd_month",
        "source",
        "service_mean_ms",
        "slo",
        "service_value",
        "rate_rps",
        "outcome",
        "dynos",
        "utilization",
        "achieved",
        "monthly_usd",
        "cpu",
        "cores",
        "cpu_mean_ms",
        "capacity_per_dyno_rps",
        "billing",
        "dynos_low",
        "dynos_high",
    ]);
    for p in plans {
        for s in &p.scenarios {
            let (outcome, dynos, util, achieved, cost) = match &s.outcome {
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
            let _ = w.write_record([
                p.class.clone(),
                s.workers.to_string(),
                p.price_usd_month.to_string(),
                p.source.clone(),
                format!("{:.6}", p.service_mean * 1e3),
                slo.to_string(),
                s.service_value.to_string(),
                rate.to_string(),
                outcome.to_string(),
                dynos,
                util,
                achieved,
                cost,
                s.label.clone(),
                s.cores.map_or(String::new(), |c| format!("{c}")),
                p.cpu_mean.map_or(String::new(), |c| format!("{:.6}", c * 1e3)),
                format!("{:.4}", s.capacity_per_dyno),
                p.billing.clone(),
                s.range.as_ref().map_or(String::new(), |r| {
                    if r.low == u32::MAX {
                        "never".into()
                    } else {
                        r.low.to_string()
                    }
                }),
                s.range.as_ref().map_or(String::new(), |r| {
                    r.high.map_or("never".into(), |h| h.to_string())
                }),
            ]);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
