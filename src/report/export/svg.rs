//! Plots: latency.svg (percentile curves of every class on one chart, x logarithmic in
//! 1/(1-p) as HdrHistogram plots are) and cost.svg (p95/p99 and $ per million requests at
//! capacity, each bar saying where its capacity comes from); the list of a run's charts
//! (with workers.svg and burst.svg from `svg_extra`).

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use super::svg_extra::{burst_svg, workers_svg};
use crate::record::class_capacity::CapacityOrigin;
use crate::record::histogram::decode;
use crate::record::{ClassResult, RunReport};
use crate::report::palette::{axes, color, legend};

pub(super) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("plotting: {e:?}")
}

/// One chart of a results directory: its file name, what it shows, and its SVG text.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The file it is written to (`latency.svg`).
    pub file: &'static str,
    /// What it shows, in a few words.
    pub title: &'static str,
    /// The SVG document.
    pub svg: String,
}

/// Every chart the run's data supports, in the order a reader wants them: latency, cost,
/// then a formation, burst balances and worker sweeps where the run has them.
pub fn charts(r: &RunReport) -> Result<Vec<Chart>, String> {
    let mut out = vec![
        Chart {
            file: "latency.svg",
            title: "Client latency by percentile",
            svg: latency_svg(r)?,
        },
        Chart {
            file: "cost.svg",
            title: "Tail latency and cost per million requests",
            svg: cost_svg(r)?,
        },
    ];
    if let Some(f) = r.formation.as_ref().filter(|f| !f.points.is_empty()) {
        out.push(Chart {
            file: "formation.svg",
            title: "Formation: measured vs simulated",
            svg: crate::report::formation::svg(f)?,
        });
    }
    if r.classes.iter().any(|c| c.burst.is_some()) {
        out.push(Chart {
            file: "burst.svg",
            title: "Burst balance and latency over time",
            svg: burst_svg(r)?,
        });
    }
    if !r.worker_sweeps.is_empty() {
        out.push(Chart {
            file: "workers.svg",
            title: "Throughput and p99 by worker count",
            svg: workers_svg(r)?,
        });
    }
    Ok(out)
}

/// Percentile curve points (x = 1/(1-p), y = ms) of a class's client latency.
pub fn curve(c: &ClassResult) -> Vec<(f64, f64)> {
    let Ok(h) = decode(&c.histograms.client_latency) else {
        return Vec::new();
    };
    if h.is_empty() {
        return Vec::new();
    }
    let cap = h.len() as f64;
    h.iter_quantiles(5)
        .map(|v| {
            let q = v.quantile_iterated_to();
            ((1.0 / (1.0 - q)).min(cap), v.value_iterated_to() as f64 / 1000.0)
        })
        .collect()
}

/// latency.svg.
pub fn latency_svg(r: &RunReport) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let curves: Vec<(&str, Vec<(f64, f64)>)> =
            r.classes.iter().map(|c| (c.name.as_str(), curve(c))).collect();
        let xmax = curves
            .iter()
            .flat_map(|(_, p)| p.iter().map(|x| x.0))
            .fold(10.0f64, f64::max);
        let ymax = curves
            .iter()
            .flat_map(|(_, p)| p.iter().map(|x| x.1))
            .fold(1.0f64, f64::max)
            * 1.1;
        // Ticks at the percentiles people quote, up to the highest the calls reach.
        let keys: Vec<f64> = [1.0, 2.0, 4.0, 10.0, 20.0, 100.0, 1000.0, 10_000.0, 100_000.0]
            .into_iter()
            .filter(|k| *k <= xmax * 1.0001)
            .collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("client latency by percentile — {}", r.run_id),
                ("sans-serif", 18),
            )
            .margin(12)
            .margin_right(36)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d((1.0f64..xmax).log_scale().with_key_points(keys), 0.0f64..ymax)
            .map_err(err)?;
        axes(&mut chart.configure_mesh())
            .x_desc("percentile (log scale: p90, p99, p99.9 equally spaced)")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| format!("p{}", crate::report::palette::tick(&((1.0 - 1.0 / x) * 100.0))))
            .draw()
            .map_err(err)?;
        for (i, (name, pts)) in curves.iter().enumerate() {
            if pts.is_empty() {
                continue;
            }
            let color = color(i);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

type Axes<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Axes for one bar group per class, each class labelled under its group.
fn class_axes<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
    font: u32,
    names: &[String],
    ymax: f64,
    ydesc: &str,
) -> Result<Axes<'a, 'b>, String> {
    let n = names.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", font))
        .margin(10)
        .x_label_area_size(105)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
        .map_err(err)?;
    axes(&mut chart.configure_mesh())
        .x_labels(0)
        .y_desc(ydesc)
        .disable_x_mesh()
        .draw()
        .map_err(err)?;
    // Class names run downwards from under their bars (start-anchored, rotated), so long
    // names never overlap each other or the axis.
    let base = area.get_base_pixel();
    let style = ("sans-serif", 13)
        .into_font()
        .transform(FontTransform::Rotate90)
        .into_text_style(area)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        area.draw(&Text::new(
            name.clone(),
            (x - base.0, y - base.1 + 8),
            style.clone(),
        ))
        .map_err(err)?;
    }
    Ok(chart)
}

/// Room above the tallest bar for the legend and the bars' labels (the axis reaches this
/// multiple of it).
const HEADROOM: f64 = 1.4;

/// Writes a short label centred above each bar top `(x, y, text)`.
fn bar_labels(
    chart: &mut Axes<'_, '_>,
    labels: impl Iterator<Item = (f64, f64, String)>,
) -> Result<(), String> {
    let style = TextStyle::from(("sans-serif", 14).into_font())
        .color(&RGBColor(70, 70, 70))
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(
            labels.map(|(x, y, text)| EmptyElement::at((x, y)) + Text::new(text, (0, -3), style.clone())),
        )
        .map_err(err)?;
    Ok(())
}

/// A class's cheapest and dearest $/M at capacity over its situations, each with its origin.
fn cost_ends(c: &ClassResult) -> Option<((f64, CapacityOrigin), (f64, CapacityOrigin))> {
    let pts: Vec<(f64, CapacityOrigin)> = c
        .cost
        .capacity
        .iter()
        .filter_map(|p| Some((p.usd_per_million_requests?, p.origin)))
        .collect();
    let lo = pts.iter().copied().min_by(|a, b| a.0.total_cmp(&b.0))?;
    let hi = pts.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some((lo, hi))
}

fn short_origin(o: CapacityOrigin) -> &'static str {
    match o {
        CapacityOrigin::Measured => "meas.",
        CapacityOrigin::Extrapolated => "extrap.",
        CapacityOrigin::Estimated => "est.",
    }
}

/// cost.svg: per class, p95 and p99 (left) and USD per million requests at capacity at the
/// class's own CPU (right): a range from burst to floor for shared classes, the origin of
/// each figure (measured, extrapolated, estimated) by fill and by a label above the bar.
pub fn cost_svg(r: &RunReport) -> Result<String, String> {
    let ok: Vec<&ClassResult> = r.classes.iter().filter(|c| c.latency.count > 0).collect();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(560);
        let lat_max = ok
            .iter()
            .filter_map(|c| c.latency.value(99.0).or(Some(c.latency.max_us)))
            .fold(1u64, u64::max) as f64
            / 1000.0
            * HEADROOM;
        let names: Vec<String> = ok.iter().map(|c| c.name.clone()).collect();
        let mut chart = class_axes(
            &left,
            "tail latency per class",
            16,
            &names,
            lat_max,
            "latency (ms)",
        )?;
        for (p, offset, color) in [(95.0, 0.15, color(0)), (99.0, 0.5, color(3))] {
            chart
                .draw_series(ok.iter().enumerate().filter_map(|(i, c)| {
                    let v = c.latency.value(p)? as f64 / 1000.0;
                    let x0 = i as f64 + offset;
                    Some(Rectangle::new([(x0, 0.0), (x0 + 0.33, v)], color.filled()))
                }))
                .map_err(err)?
                .label(format!("p{p}"))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
            // A percentile the calls cannot estimate says so where its bar would be.
            bar_labels(
                &mut chart,
                ok.iter()
                    .enumerate()
                    .filter(|(_, c)| c.latency.value(p).is_none())
                    .map(|(i, _)| (i as f64 + offset + 0.165, 0.0, "n/e".to_string())),
            )?;
        }
        legend(&mut chart)?;
        let cost_max = ok
            .iter()
            .flat_map(|c| c.cost.capacity.iter().filter_map(|p| p.usd_per_million_requests))
            .fold(0.01f64, f64::max)
            * HEADROOM;
        let mut chart = class_axes(
            &right,
            "$ per million requests at capacity, class's own CPU (box: burst to floor)",
            14,
            &names,
            cost_max,
            "USD per million requests",
        )?;
        // Each class: a bar to its best case (burst, or its one figure) and, for a range, a
        // lighter box up to its worst case (floor or baseline); the fill says the origin of
        // each end, and a label above says it in words.
        let fill = |o: CapacityOrigin| match o {
            CapacityOrigin::Measured => color(2).filled(),
            CapacityOrigin::Extrapolated => color(1).mix(0.8).filled(),
            CapacityOrigin::Estimated => color(2).mix(0.35).filled(),
        };
        for origin in [
            CapacityOrigin::Measured,
            CapacityOrigin::Extrapolated,
            CapacityOrigin::Estimated,
        ] {
            let style = fill(origin);
            chart
                .draw_series(ok.iter().enumerate().flat_map(|(i, c)| {
                    let ends = cost_ends(c);
                    let x = i as f64;
                    let mut bars = Vec::new();
                    if let Some(((lo, lo_o), (hi, hi_o))) = ends {
                        if lo_o == origin {
                            bars.push(Rectangle::new([(x + 0.2, 0.0), (x + 0.8, lo)], style));
                        }
                        if hi > lo * 1.005 && hi_o == origin {
                            bars.push(Rectangle::new([(x + 0.3, lo), (x + 0.7, hi)], style));
                        }
                    }
                    bars
                }))
                .map_err(err)?
                .label(origin.name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], style));
        }
        for (i, c) in ok.iter().enumerate() {
            let Some(((lo, lo_o), (hi, hi_o))) = cost_ends(c) else {
                continue;
            };
            if hi > lo * 1.005 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(i as f64 + 0.3, lo), (i as f64 + 0.7, hi)],
                        BLACK.mix(0.6).stroke_width(1),
                    )))
                    .map_err(err)?;
            }
            // Each bar says where its capacity comes from, without the legend.
            let label = if lo_o == hi_o {
                short_origin(lo_o).to_string()
            } else {
                format!("{}/{}", short_origin(lo_o), short_origin(hi_o))
            };
            bar_labels(&mut chart, std::iter::once((i as f64 + 0.5, hi, label)))?;
        }
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}
