//! Presentation of `simulate`: the compact terminal table, the finding line per policy,
//! CSV with every point, and the SVG chart. Everything returns strings; the command layer
//! writes them.

use std::fmt::Write as _;

use plotters::prelude::*;

use super::palette::{axes, color, legend};
use crate::simulate::Policy;
use crate::simulate::sweep::{Finding, Points, SimReport};
use crate::units::short_secs;

pub(crate) fn pct(u: f64) -> String {
    if u.fract() == 0.0 {
        format!("{u:.0}%")
    } else {
        format!("{u}%")
    }
}

/// The finding lines: per policy, how far utilization can go, and the capacity lost against
/// the best policy in the run.
pub fn render_findings(report: &SimReport, f: &[Finding]) -> String {
    let mut out = String::new();
    let crit = report.criterion.describe();
    let _ = writeln!(
        out,
        "Highest utilization that keeps {crit} (capacity lost to the routing policy):"
    );
    let best = f
        .iter()
        .filter_map(|x| x.holds_up_to.map(|u| (u, x.policy)))
        .fold(None::<(f64, Policy)>, |acc, (u, p)| match acc {
            Some((bu, _)) if bu >= u => acc,
            _ => Some((u, p)),
        });
    let width = f
        .iter()
        .map(|x| x.policy.label(report.routers).len())
        .max()
        .unwrap_or(0);
    for x in f {
        let label = x.policy.label(report.routers);
        let range_note = if x.fails_at.is_none() {
            " (the whole swept range)"
        } else {
            ""
        };
        let line = match (x.holds_up_to, best) {
            (None, _) => format!(
                "never: already fails at {}",
                x.fails_at.map(pct).unwrap_or_default()
            ),
            (Some(u), Some((bu, bp))) if bu > u => {
                let lost = bu - u;
                let more = if u > 0.0 {
                    format!("{:.0}% more dynos for the same traffic", (bu / u - 1.0) * 100.0)
                } else {
                    "no traffic at all fits".into()
                };
                format!(
                    "up to {}{range_note}: {} points of capacity lost vs {} ({}); {more}",
                    pct(u),
                    fmt_num(lost),
                    bp.label(report.routers),
                    pct(bu)
                )
            }
            (Some(u), _) if f.len() > 1 => format!("up to {}{range_note} (best)", pct(u)),
            (Some(u), _) => format!("up to {}{range_note}", pct(u)),
        };
        let _ = writeln!(out, "  {label:<width$}  {line}");
    }
    out
}

pub(crate) fn fmt_num(x: f64) -> String {
    if x.fract().abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Chooses the rows to print: all when few, else the multiples of `every`.
fn table_rows(utils: &[f64], every: f64) -> Vec<usize> {
    if utils.len() <= 25 || every <= 0.0 {
        return (0..utils.len()).collect();
    }
    let rows: Vec<usize> = (0..utils.len())
        .filter(|&i| {
            let r = utils[i] / every;
            (r - r.round()).abs() < 1e-9
        })
        .collect();
    if rows.len() >= 2 {
        rows
    } else {
        let step = utils.len().div_ceil(12);
        (0..utils.len()).step_by(step).collect()
    }
}

/// The compact terminal table: one row per `every`% of utilization, one column per policy.
pub fn render_table(report: &SimReport, every: f64) -> String {
    let mut out = String::new();
    for h in &report.header {
        let _ = writeln!(out, "{h}");
    }
    let Some((_, first)) = report.sweeps.first() else {
        return out;
    };
    let utils = first.utils();
    let is_tick = matches!(first, Points::Tick(_));
    let cells: Vec<Vec<String>> = report
        .sweeps
        .iter()
        .map(|(_, pts)| match pts {
            Points::Tick(v) => v
                .iter()
                .map(|p| format!("{:.2} {} {}", p.time_mean, p.p99, p.max))
                .collect(),
            Points::Event(v) => v
                .iter()
                .map(|p| {
                    let mark = if p.share_503 > 0.0 {
                        format!(" {:.0}%!", p.share_503 * 100.0)
                    } else {
                        String::new()
                    };
                    if p.requests == 0 {
                        "-".to_string()
                    } else {
                        format!("{:.2} {}{mark}", p.mean_wait_jobs, short_secs(p.p99))
                    }
                })
                .collect(),
        })
        .collect();
    let heads: Vec<String> = report
        .sweeps
        .iter()
        .map(|(p, _)| p.short_label(report.routers))
        .collect();
    let widths: Vec<usize> = heads
        .iter()
        .zip(&cells)
        .map(|(h, c)| {
            c.iter()
                .map(|s| s.chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = writeln!(out);
    if is_tick {
        let _ = writeln!(
            out,
            "Each cell: mean queue (all dynos, every tick after warm-up)  p99  max (queues at the end of each run, as in the classic experiment)"
        );
    } else {
        let _ = writeln!(
            out,
            "Each cell: mean wait (in jobs, i.e. mean service times)  p99 response time; N%! = share of 503s"
        );
    }
    let mut line = format!("{:>6}", "util");
    for (h, w) in heads.iter().zip(&widths) {
        let _ = write!(line, "  {h:>w$}");
    }
    let _ = writeln!(out, "{line}");
    for i in table_rows(&utils, every) {
        let mut line = format!("{:>6}", pct(utils[i]));
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(line, "  {:>w$}", c.get(i).map(String::as_str).unwrap_or(""));
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

/// Every point of every policy as CSV (one header line, then one line per policy and point).
pub fn render_csv(report: &SimReport) -> String {
    let mut out = String::new();
    let Some((_, first)) = report.sweeps.first() else {
        return out;
    };
    let (r, s, d, w) = (report.routers, report.seed, report.dynos, report.workers);
    match first {
        Points::Tick(_) => {
            out.push_str(
                "engine,policy,routers,dynos,workers,utilization,jobs_per_tick,mean_queue_end,median_queue_end,\
                 p99_queue_end,max_queue_end,mean_queue_time,observations,seed\n",
            );
        }
        Points::Event(_) => {
            out.push_str(
                "engine,policy,routers,dynos,workers,utilization,rate_rps,requests,mean_ms,p50_ms,p95_ms,p99_ms,\
                 max_ms,mean_wait_ms,mean_wait_jobs,mean_queue,p99_queue,max_queue,timeouts,rejected,share_503,seed\n",
            );
        }
    }
    for (policy, pts) in &report.sweeps {
        match pts {
            Points::Tick(v) => {
                for p in v {
                    let _ = writeln!(
                        out,
                        "tick,{policy},{r},{d},{w},{},{},{:.6},{},{},{},{:.6},{},{s}",
                        p.utilization,
                        p.jobs_per_tick,
                        p.mean,
                        p.median,
                        p.p99,
                        p.max,
                        p.time_mean,
                        p.observations
                    );
                }
            }
            Points::Event(v) => {
                for p in v {
                    let _ = writeln!(
                        out,
                        "event,{policy},{r},{d},{w},{},{:.6},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{:.6},{s}",
                        p.utilization,
                        p.rate,
                        p.requests,
                        p.mean_response * 1e3,
                        p.p50 * 1e3,
                        p.p95 * 1e3,
                        p.p99 * 1e3,
                        p.max * 1e3,
                        p.mean_wait * 1e3,
                        p.mean_wait_jobs,
                        p.mean_queue,
                        p.p99_queue,
                        p.max_queue,
                        p.timeouts,
                        p.rejected,
                        p.share_503
                    );
                }
            }
        }
    }
    out
}

type Series = Vec<(String, Vec<(f64, f64)>)>;

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    series: &Series,
    y_cap: f64,
    x_range: (f64, f64),
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("drawing the chart: {e}");
    let ymax = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max)
        .min(y_cap)
        .max(1.0)
        * 1.05;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(x_range.0..x_range.1.max(x_range.0 + 1.0), 0f64..ymax)
        .map_err(e)?;
    axes(&mut chart.configure_mesh())
        .x_desc("utilization (% of capacity)")
        .y_desc(y_desc)
        .draw()
        .map_err(e)?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = color(i);
        let clipped: Vec<(f64, f64)> = pts.iter().map(|&(x, y)| (x, y.min(ymax))).collect();
        chart
            .draw_series(LineSeries::new(clipped, color.stroke_width(2)))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    legend(&mut chart)
}

/// An SVG chart, two panels, one line per policy. Tick engine: mean queue and end-of-run max
/// queue vs utilization. Event engine: mean queue per dyno and p99 response time (ms).
/// Values past the top of a panel are drawn at its edge.
pub fn render_svg(report: &SimReport) -> Result<String, String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1200, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| format!("drawing the chart: {e}"))?;
        let (left, right) = root.split_horizontally(600);
        let utils: Vec<f64> = report.sweeps.first().map(|(_, p)| p.utils()).unwrap_or_default();
        let x_range = (
            utils.first().copied().unwrap_or(0.0),
            utils.last().copied().unwrap_or(100.0),
        );
        let label = |p: &Policy| p.label(report.routers);
        let is_tick = matches!(report.sweeps.first(), Some((_, Points::Tick(_))));
        let (a, b): (Series, Series) = report
            .sweeps
            .iter()
            .map(|(p, pts)| match pts {
                Points::Tick(v) => (
                    (label(p), v.iter().map(|q| (q.utilization, q.time_mean)).collect()),
                    (
                        label(p),
                        v.iter().map(|q| (q.utilization, f64::from(q.max))).collect(),
                    ),
                ),
                Points::Event(v) => (
                    (
                        label(p),
                        v.iter().map(|q| (q.utilization, q.mean_queue)).collect(),
                    ),
                    (
                        label(p),
                        v.iter()
                            .filter(|q| q.requests > 0)
                            .map(|q| (q.utilization, q.p99 * 1e3))
                            .collect(),
                    ),
                ),
            })
            .unzip();
        if is_tick {
            panel(&left, "Mean queue per dyno", "jobs waiting", &a, 20.0, x_range)?;
            panel(
                &right,
                "Longest queue (end of run)",
                "jobs waiting",
                &b,
                40.0,
                x_range,
            )?;
        } else {
            let p99_cap = b
                .iter()
                .flat_map(|(_, v)| v.iter().map(|p| p.1))
                .filter(|y| y.is_finite() && *y > 0.0)
                .fold(f64::INFINITY, f64::min);
            // The fastest p99 (light load: the service time's own tail) × 20.
            let p99_cap = if p99_cap.is_finite() {
                p99_cap * 20.0
            } else {
                1000.0
            };
            panel(
                &left,
                "Mean queue per dyno",
                "requests waiting",
                &a,
                20.0,
                x_range,
            )?;
            panel(
                &right,
                "p99 response time",
                "p99 response time (ms)",
                &b,
                p99_cap,
                x_range,
            )?;
        }
        root.present().map_err(|e| format!("drawing the chart: {e}"))?;
    }
    Ok(buf)
}
