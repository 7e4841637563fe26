//! The `dynobench calibrate` table: quota precision per backend and the tail shape of a
//! quota against a share.

use crate::record::LimiterKind;
use crate::record::calibration::{BurstRow, CalibrationReport, FidelityRow, QuotaRow, StallRow, TailRow};

/// The `dynobench fidelity` table: published, ours, the ratio, and why they differ.
pub fn render_fidelity(rows: &[FidelityRow]) -> String {
    let mut s = format!(
        "{:<58} {:>10} {:>10} {:>6}  {}\n",
        "published measurement", "published", "ours", "ratio", "source"
    );
    let num = |v: f64, unit: &str| match unit {
        "cores" => format!("{v:.4}"),
        "x" if v < 1.0 => format!("{v:.3}x"),
        "x" => format!("{v:.1}x"),
        u => format!("{v:.1} {u}"),
    };
    for r in rows {
        s.push_str(&format!(
            "{:<58} {:>10} {:>10} {:>6.2}  {}\n",
            r.what,
            num(r.published, &r.unit),
            num(r.ours, &r.unit),
            r.ratio(),
            r.source
        ));
        s.push_str(&format!("    measured: {}\n", r.how));
        match &r.note {
            Some(n) => s.push_str(&format!("    differs by more than 15%: {n}\n")),
            None => s.push_str("    within 15%\n"),
        }
    }
    s
}

/// Renders the report as the terminal table.
pub fn render(r: &CalibrationReport) -> String {
    let mut s = String::new();
    if let Some(p) = &r.placement {
        s.push_str(&format!("placement: {}\n\n", p.describe()));
    }
    quota_table(&mut s, &r.quotas);
    if !r.tails.is_empty() {
        tail_table(&mut s, &r.tails);
    }
    quota_tails_apart(&mut s, &r.tails);
    if !r.stalls.is_empty() {
        stall_table(&mut s, &r.stalls);
    }
    if !r.bursts.is_empty() {
        burst_table(&mut s, &r.bursts);
    }
    for (k, why) in &r.skipped {
        s.push_str(&format!("\nskipped {k}: {why}\n"));
    }
    if r.interrupted {
        s.push_str("\ninterrupted: the table above is partial\n");
    }
    s
}

/// Quota precision: requested against achieved cores per backend.
fn quota_table(s: &mut String, quotas: &[QuotaRow]) {
    s.push_str("quota precision (a CPU-bound child; achieved = its CPU time / wall time)\n");
    s.push_str(&format!(
        "{:<10} {:>9} {:>9} {:>8} {:>7} {:>10}  {}\n",
        "backend", "requested", "achieved", "error", "target", "throttled", "verdict"
    ));
    for q in quotas {
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
            if q.within_target {
                "ok"
            } else if q.host_shortfall {
                "host shortfall (never throttled: the host had no CPU to give, not a limiter error)"
            } else {
                "OUTSIDE TARGET"
            }
        ));
    }
}

/// The tail shape of a quota against a share.
fn tail_table(s: &mut String, tails: &[TailRow]) {
    let ms = tails[0].item_ms;
    s.push_str(&format!(
        "\ntail shape: {ms}-ms CPU work items at 0.5 core, as a hard quota (stalls at 100-ms period ends)\n\
             vs as a share against an always-busy neighbour (interleaving at scheduler granularity)\n"
    ));
    s.push_str(&format!(
        "{:<10} {:<6} {:>6} {:>9} {:>9} {:>9}\n",
        "backend", "mode", "items", "p50 ms", "p99 ms", "max ms"
    ));
    for t in tails {
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

/// The same quota's p99 under the kernel's limiter and under dutycycle, when both ran.
fn quota_tails_apart(s: &mut String, tails: &[TailRow]) {
    let quota_p99 = |dutycycle: bool| {
        tails
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
}

/// Period stalls against the kernel's rule.
fn stall_table(s: &mut String, stalls: &[StallRow]) {
    s.push_str(
            "\nperiod stall: back-to-back CPU items under a quota; an item that finds the quota spent waits for the next period,\n\
             (1 - quota) x period by the kernel's rule (arXiv 2510.10747: 26 ms at 0.6 core, 100-ms period -> ~40 ms stall, ~66 ms in all)\n",
        );
    s.push_str(&format!(
        "{:<10} {:>7} {:>6} {:>8} {:>6} {:>9} {:>9} {:>9}  {}\n",
        "backend", "period", "quota", "item ms", "items", "expected", "longest", "max item", "verdict"
    ));
    for t in stalls {
        let off = (t.longest_stall_ms / t.expected_stall_ms.max(1e-9) - 1.0) * 100.0;
        s.push_str(&format!(
            "{:<10} {:>5}ms {:>6.2} {:>8.1} {:>6} {:>7.1}ms {:>7.1}ms {:>7.1}ms  {:+.0}% {}\n",
            t.backend.name(),
            t.period_ms,
            t.quota_cores,
            t.item_ms,
            t.items,
            t.expected_stall_ms,
            t.longest_stall_ms,
            t.max_item_ms,
            off,
            if off.abs() <= 25.0 {
                "ok"
            } else {
                "off the kernel's rule"
            }
        ));
    }
}

/// Percentiles without and with CPU burst.
fn burst_table(s: &mut String, bursts: &[BurstRow]) {
    s.push_str(
            "\nCPU burst: items offered at random (Poisson) below the quota, so it binds only when they bunch up;\n\
             burst (100% of the quota) lets unused quota accrue and absorb the bunches (times from each item's arrival)\n",
        );
    s.push_str(&format!(
        "{:<10} {:>7} {:>6} {:>5} {:>8} {:>12} {:>12} {:>7}  {}\n",
        "backend", "period", "quota", "load", "burst", "p99 no burst", "p99 burst", "ratio", "verdict"
    ));
    for b in bursts {
        let verdict = if b.applied_burst_ms <= 0.0 {
            "burst not applied on this backend (see skipped reasons)".to_string()
        } else if b.p50_plain_ms > 2.0 * b.item_ms {
            format!(
                "busy host: p50 {:.1} ms for {}-ms items, the tail is the host's, not the quota's",
                b.p50_plain_ms, b.item_ms
            )
        } else if b.p99_ratio() <= 0.5 {
            "ok (p99 at most half)".into()
        } else {
            "burst helped less than 2x".into()
        };
        s.push_str(&format!(
            "{:<10} {:>5}ms {:>6.2} {:>4.0}% {:>6.0}ms {:>10.1}ms {:>10.1}ms {:>7.2}  {}\n",
            b.backend.name(),
            b.period_ms,
            b.quota_cores,
            b.utilization * 100.0,
            b.applied_burst_ms,
            b.p99_plain_ms,
            b.p99_burst_ms,
            b.p99_ratio(),
            verdict
        ));
    }
    s.push_str(
        "under continuous load nothing accrues: burst cannot help a class that is always over its quota\n",
    );
}
