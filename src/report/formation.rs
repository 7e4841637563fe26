//! A formation's presentation: the measured-vs-simulated table (text and Markdown) and
//! formation.svg (mean latency and p99 per policy against utilization, measured as points,
//! simulated as lines).

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::record::formation::{FormationFacts, FormationPoint};
use crate::report::palette::{axes, color, legend};

/// Goal for a policy's mean latency against the simulator's.
pub const MEAN_GOAL_PCT: f64 = 15.0;

fn header(f: &FormationFacts) -> String {
    format!(
        "formation: {} × {} ({} worker(s) each) behind {}; service {:.1} ms at concurrency 1 → capacity {:.1} req/s; \
         balancer overhead {:+.2} ms (through it {:.2} ms vs straight to a dyno {:.2} ms); per-dyno limit {}, backlog {}, timeout {:.0} s\n",
        f.dynos,
        f.class,
        f.workers,
        if f.balancer.is_empty() {
            "our router"
        } else {
            &f.balancer
        },
        f.service_mean_ms,
        f.capacity_rps,
        f.router_overhead_ms,
        f.routed_mean_ms,
        f.direct_mean_ms,
        f.max_in_flight,
        f.backlog,
        f.router_timeout_s
    )
}

fn policy_label(p: &FormationPoint, routers: u32) -> String {
    match p.policy.as_str() {
        "per-router-least-connections" => format!("per-router(R={routers})"),
        "least-connections" => "least-conn".into(),
        "power-of-two-choices" => "power-of-two".into(),
        other => other.into(),
    }
}

fn row(p: &FormationPoint, routers: u32) -> [String; 10] {
    let m = &p.measured;
    let s = &p.predicted;
    [
        policy_label(p, routers),
        format!("{:.0}% ({:.0}%)", p.target_util_pct, p.offered_util_pct),
        format!("{:.1}", p.target_rps),
        format!("{:.1} ({:.1})", m.mean_ms, s.mean_ms),
        format!(
            "{:+.0}%{}{}",
            p.mean_error_pct,
            match agreement(p) {
                Agreement::Within => "",
                Agreement::Undecided => "?",
                Agreement::Miss => "!",
            },
            if p.steady { "" } else { "~" }
        ),
        format!("{:.0} ({:.0})", m.p95_ms, s.p95_ms),
        format!("{:.0} ({:.0})", m.p99_ms, s.p99_ms),
        format!("{:.1} ({:.1})", m.mean_wait_ms, s.mean_wait_ms),
        format!("{:.2} ({:.2})", m.mean_queue, s.mean_queue),
        format!("{}/{}/{}", p.h11, p.h12, p.h13),
    ]
}

const HEADS: [&str; 10] = [
    "policy",
    "util (offered)",
    "offered req/s",
    "mean ms (sim)",
    "err",
    "p95 ms (sim)",
    "p99 ms (sim)",
    "wait ms (sim)",
    "queue (sim)",
    "H11/H12/H13",
];

/// A point's agreement with the model, judged on the measured mean's batch-means interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// The whole interval is within the goal band around the prediction.
    Within,
    /// The interval straddles the band's edge: measure longer to tell.
    Undecided,
    /// The whole interval is outside the band (or the estimate is, without an interval).
    Miss,
}

/// Whether point `p`'s measured mean agrees with the prediction within [`MEAN_GOAL_PCT`].
pub fn agreement(p: &FormationPoint) -> Agreement {
    let pred = p.predicted.mean_ms;
    let (lo, hi) = (
        pred * (1.0 - MEAN_GOAL_PCT / 100.0),
        pred * (1.0 + MEAN_GOAL_PCT / 100.0),
    );
    let m = p.measured.mean_ms;
    match p.mean_ci_half_ms {
        Some(h) if m - h >= lo && m + h <= hi => Agreement::Within,
        Some(h) if m + h < lo || m - h > hi => Agreement::Miss,
        Some(_) => Agreement::Undecided,
        None if p.mean_error_pct.abs() <= MEAN_GOAL_PCT => Agreement::Within,
        None => Agreement::Miss,
    }
}

/// (points not shown to miss, points), of all points or the steady ones.
fn within(f: &FormationFacts, steady_only: bool) -> (usize, usize) {
    let pts: Vec<_> = f.points.iter().filter(|p| p.steady || !steady_only).collect();
    (
        pts.iter().filter(|p| agreement(p) != Agreement::Miss).count(),
        pts.len(),
    )
}

fn footer(f: &FormationFacts) -> String {
    let (all_ok, all) = within(f, false);
    let (steady_ok, steady) = within(f, true);
    let mut s = format!(
        "mean latency within {MEAN_GOAL_PCT:.0}% of the simulation: {all_ok} of {all} points; {steady_ok} of {steady} measured at steady state \
         ('!' marks a miss: the measured mean's 95% batch-means interval wholly outside the band; '?' an interval straddling it; '~' a point shorter than 2τ warm-up + 5τ measured). wait = time waiting for a worker (router backlog + the dyno's queue); \
         queue = requests waiting per dyno (Little's law)\n"
    );
    for n in &f.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

/// The text table.
pub fn render(f: &FormationFacts) -> String {
    let mut s = header(f);
    let rows: Vec<[String; 10]> = f.points.iter().map(|p| row(p, f.routers)).collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([HEADS[i].len()])
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..10).map(width).collect();
    let line = |cells: &[String]| {
        let mut l = format!("{:<w0$}", cells[0], w0 = w[0]);
        for (i, c) in cells.iter().enumerate().skip(1) {
            let _ = write!(l, "  {:>wi$}", c, wi = w[i]);
        }
        l
    };
    let _ = writeln!(s, "{}", line(&HEADS.map(String::from)));
    for r in &rows {
        let _ = writeln!(s, "{}", line(r));
    }
    s.push_str(&footer(f));
    s
}

/// The Markdown section of summary.md.
pub fn markdown(f: &FormationFacts) -> String {
    let mut s = String::from("## Formation: measured vs simulated\n\n");
    s.push_str(&header(f));
    s.push('\n');
    let _ = writeln!(s, "| {} |", HEADS.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(HEADS.len()));
    for p in &f.points {
        let _ = writeln!(s, "| {} |", row(p, f.routers).join(" | "));
    }
    s.push('\n');
    s.push_str(&footer(f));
    s.push_str("\n![formation](formation.svg)\n");
    s
}

/// formation.svg: mean latency (left) and p99 (right) against offered utilization, one
/// colour per policy; points measured, lines simulated.
pub fn svg(f: &FormationFacts) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Debug| format!("plotting: {e:?}");
    let mut policies: Vec<&str> = Vec::new();
    for p in &f.points {
        if !policies.contains(&p.policy.as_str()) {
            policies.push(&p.policy);
        }
    }
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1100, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (left, right) = root.split_horizontally(550);
        let umax = f
            .points
            .iter()
            .map(|p| p.offered_util_pct.max(p.target_util_pct))
            .fold(10.0f64, f64::max)
            * 1.05;
        type Pick = fn(&FormationPoint, bool) -> f64;
        let mean: Pick = |p, sim| {
            if sim {
                p.predicted.mean_ms
            } else {
                p.measured.mean_ms
            }
        };
        let p99: Pick = |p, sim| {
            if sim {
                p.predicted.p99_ms
            } else {
                p.measured.p99_ms
            }
        };
        for (area, title, pick) in [
            (
                &left,
                "mean latency (dots measured, hollow: transient; lines simulated)",
                mean,
            ),
            (
                &right,
                "p99 latency (dots measured, hollow: transient; lines simulated)",
                p99,
            ),
        ] {
            let ymax = f
                .points
                .iter()
                .flat_map(|p| [pick(p, true), pick(p, false)])
                .filter(|v| v.is_finite())
                .fold(1.0f64, f64::max)
                * 1.1;
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 15))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(0f64..umax, 0f64..ymax)
                .map_err(|e| err(&e))?;
            axes(&mut chart.configure_mesh())
                .x_desc(format!("offered utilization (% of {:.0} req/s)", f.capacity_rps))
                .y_desc("latency (ms)")
                .draw()
                .map_err(|e| err(&e))?;
            for (i, pol) in policies.iter().enumerate() {
                let c = color(i);
                let mut pts: Vec<&FormationPoint> = f.points.iter().filter(|p| p.policy == *pol).collect();
                pts.sort_by(|a, b| a.offered_util_pct.total_cmp(&b.offered_util_pct));
                let label = policy_label(pts[0], f.routers);
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().map(|p| (p.offered_util_pct, pick(p, true))),
                        c.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
                chart
                    .draw_series(pts.iter().map(|p| {
                        // Hollow: a transient (measured for less than a relaxation time).
                        let style = if p.steady { c.filled() } else { c.stroke_width(2) };
                        Circle::new((p.offered_util_pct, pick(p, false)), 4, style)
                    }))
                    .map_err(|e| err(&e))?;
            }
            legend(&mut chart)?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}
