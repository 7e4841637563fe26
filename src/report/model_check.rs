//! The `dynobench validate` table: measured vs predicted throughput, p50 and p95 per class,
//! profile and load, against the goals (throughput within 10%, p95 within 20%).

use std::fmt::Write as _;

use crate::record::model_check::ModelCheck;

/// Goal for the throughput's relative error.
pub const RPS_GOAL: f64 = 0.10;
/// Goal for the p95's relative error.
pub const P95_GOAL: f64 = 0.20;

/// The table.
pub fn render(m: &ModelCheck) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<14} {:<7} {:<22} {:>6} {:>3} {:>9} {:>9} {:>7} {:>15} {:>15} {:>7} {:>13}  p95 95% CI",
        "class",
        "profile",
        "load",
        "cores",
        "W",
        "req/s",
        "model",
        "err",
        "p50 ms (model)",
        "p95 ms (model)",
        "err",
        "at its CPU"
    );
    for r in &m.rows {
        let ok = |e: f64, goal: f64| if e.abs() <= goal { " " } else { "!" };
        let _ = writeln!(
            s,
            "{:<14} {:<7} {:<22} {:>6} {:>3} {:>9.2} {:>9.2} {:>+6.0}%{} {:>15} {:>15} {:>+6.0}%{} {:>13}  {}",
            r.class,
            r.profile,
            r.load,
            format!("{:.2}{}", r.cores, if r.quota { "q" } else { "" }),
            r.workers,
            r.measured_rps,
            r.predicted_rps,
            r.rps_error() * 100.0,
            ok(r.rps_error(), RPS_GOAL),
            format!("{:.0} ({:.0})", r.measured_p50_ms, r.predicted_p50_ms),
            format!("{:.0} ({:.0})", r.measured_p95_ms, r.predicted_p95_ms),
            r.p95_error() * 100.0,
            ok(r.p95_error(), P95_GOAL),
            match (r.predicted_p95_at_measured_cpu_ms, r.p95_error_at_measured_cpu()) {
                (Some(p), Some(e)) => format!("{p:.0} {:+.0}%{}", e * 100.0, ok(e, P95_GOAL)),
                _ => "-".into(),
            },
            match r.measured_p95_ci_ms {
                (Some(lo), Some(hi)) => format!(
                    "[{lo:.0}, {hi:.0}]{}",
                    if r.p95_in_ci() { " model inside" } else { "" }
                ),
                _ => "-".into(),
            },
        );
    }
    let within = |f: &dyn Fn(&crate::record::model_check::ModelCheckRow) -> bool| {
        m.rows.iter().filter(|r| f(r)).count()
    };
    let _ = writeln!(
        s,
        "\nthroughput within {:.0}%: {} of {} loads; p95 within {:.0}%: {} of {} ('!' marks a miss); \
         the model's p95 inside the measured p95's 95% confidence interval: {} of {}",
        RPS_GOAL * 100.0,
        within(&|r| r.rps_error().abs() <= RPS_GOAL),
        m.rows.len(),
        P95_GOAL * 100.0,
        within(&|r| r.p95_error().abs() <= P95_GOAL),
        m.rows.len(),
        within(&|r| r.p95_in_ci()),
        m.rows.len()
    );
    let _ = writeln!(
        s,
        "at the CPU per request each load measured ('at its CPU': the host's drift between the calibration and the load taken out): \
         p95 within {:.0}%: {} of {}",
        P95_GOAL * 100.0,
        within(&|r| r.p95_error_at_measured_cpu().is_some_and(|e| e.abs() <= P95_GOAL)),
        m.rows.len()
    );
    let _ = writeln!(
        s,
        "cores: q = a quota (full speed until the period's quota is used), else a share or whole cores"
    );
    for n in &m.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

/// The `validate --capacity` table: model against measurement, error and goal.
pub fn render_capacity(c: &crate::record::model_check::CapacityCheck) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<14} {:<44} {:>9} {:>9} {:>8} {:>6}  verdict",
        "check", "case", "model", "measured", "error", "goal"
    );
    for r in &c.rows {
        let _ = writeln!(
            s,
            "{:<14} {:<44} {:>9.2} {:>9.2} {:>+7.1}% {:>5.0}%  {}",
            r.check,
            r.case,
            r.model,
            r.measured,
            r.error_pct(),
            r.goal_pct,
            if r.within() { "within" } else { "OUTSIDE" }
        );
    }
    for r in &c.rows {
        let _ = writeln!(s, "  {}: {}", r.check, r.detail);
    }
    for n in &c.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
