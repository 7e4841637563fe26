//! The `dynobench calibrate` table: quota precision per backend and the tail shape of a
//! quota against a share.

use crate::record::LimiterKind;
use crate::record::calibration::CalibrationReport;

/// Renders the report as the terminal table.
pub fn render(r: &CalibrationReport) -> String {
    let mut s = String::new();
    if let Some(p) = &r.placement {
        s.push_str(&format!("placement: {}\n\n", p.describe()));
    }
    s.push_str("quota precision (a CPU-bound child; achieved = its CPU time / wall time)\n");
    s.push_str(&format!(
        "{:<10} {:>9} {:>9} {:>8} {:>7} {:>10}  {}\n",
        "backend", "requested", "achieved", "error", "target", "throttled", "verdict"
    ));
    for q in &r.quotas {
        let thr = q
            .throttled_ratio
            .map(|t| format!("{:.0}%", t * 100.0))
            .or(q.stopped_us.map(|u| format!("{:.1}s stop", u as f64 / 1e6)))
            .unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "{:<10} {:>9.3} {:>9.3} {:>+7.1}% {:>6.0}% {:>10}  {}\n",
            q.backend.name(),
            q.requested_cores,
            q.achieved_cores,
            q.error_pct,
            q.target_pct,
            thr,
            if q.within_target { "ok" } else { "OUTSIDE TARGET" }
        ));
    }
    if !r.tails.is_empty() {
        let ms = r.tails[0].item_ms;
        s.push_str(&format!(
            "\ntail shape: {ms}-ms CPU work items at 0.5 core, as a hard quota (stalls at 100-ms period ends)\n\
             vs as a share against an always-busy neighbour (interleaving at scheduler granularity)\n"
        ));
        s.push_str(&format!(
            "{:<10} {:<6} {:>6} {:>9} {:>9} {:>9}\n",
            "backend", "mode", "items", "p50 ms", "p99 ms", "max ms"
        ));
        for t in &r.tails {
            s.push_str(&format!(
                "{:<10} {:<6} {:>6} {:>9.1} {:>9.1} {:>9.1}\n",
                t.backend.name(),
                t.mode,
                t.items,
                t.p50_ms,
                t.p99_ms,
                t.max_ms
            ));
        }
    }
    let quota_p99 = |dutycycle: bool| {
        r.tails
            .iter()
            .find(|t| {
                t.mode == "quota"
                    && (t.backend == LimiterKind::Dutycycle) == dutycycle
                    && t.backend != LimiterKind::None
            })
            .map(|t| (t.backend, t.p99_ms))
    };
    if let (Some((k, kernel)), Some((_, user))) = (quota_p99(false), quota_p99(true)) {
        let apart = (user / kernel - 1.0) * 100.0;
        s.push_str(&format!(
            "\nthe same quota's tail on both: p99 {user:.1} ms under dutycycle vs {kernel:.1} ms under {k} ({apart:+.0}%; target within 20%: {})\n",
            if apart.abs() <= 20.0 { "ok" } else { "OUTSIDE TARGET" }
        ));
    }
    for (k, why) in &r.skipped {
        s.push_str(&format!("\nskipped {k}: {why}\n"));
    }
    if r.interrupted {
        s.push_str("\ninterrupted: the table above is partial\n");
    }
    s
}
