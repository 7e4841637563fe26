//! A class's percentile chart for its section: the latency curve (every recorded value) and
//! each reported percentile as a dot with its 95% interval as a whisker; a whisker whose
//! upper bound the calls cannot give runs to the top, dashed.

use plotters::prelude::*;

use super::inline_svg;
use crate::record::ClassResult;
use crate::report::export::svg::curve;
use crate::report::palette::{axes, color, tick};

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("plotting: {e:?}")
}

/// The chart as an inline figure (empty when it cannot be drawn).
pub(super) fn figure(c: &ClassResult) -> String {
    match svg(c) {
        Ok(svg) => format!(
            "<figure>\n{}\n<figcaption>Client latency by percentile: the line is every call, dots are p50 … p99.9 with their 95% intervals (dashed: no upper bound from this many calls).</figcaption>\n</figure>\n",
            inline_svg(
                &svg,
                &format!("{}: latency percentiles with 95% intervals", c.name)
            )
        ),
        Err(_) => String::new(),
    }
}

fn svg(c: &ClassResult) -> Result<String, String> {
    let pts = curve(c);
    let ps: Vec<_> = c
        .latency
        .percentiles
        .iter()
        .filter(|p| p.value_us.is_some())
        .collect();
    let to_x = |p: f64| 1.0 / (1.0 - p / 100.0);
    let xmax = pts
        .iter()
        .map(|p| p.0)
        .chain(ps.iter().map(|p| to_x(p.p)))
        .fold(10.0f64, f64::max)
        * 1.3;
    let ymax = pts
        .iter()
        .map(|p| p.1)
        .chain(ps.iter().filter_map(|p| p.ci_high_us.map(|v| v as f64 / 1000.0)))
        .fold(1.0f64, f64::max)
        * 1.1;
    let keys: Vec<f64> = [1.0, 2.0, 10.0, 20.0, 100.0, 1000.0, 10_000.0]
        .into_iter()
        .filter(|k| *k <= xmax)
        .collect();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (760, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .margin_right(24)
            .x_label_area_size(40)
            .y_label_area_size(58)
            .build_cartesian_2d((1.0f64..xmax).log_scale().with_key_points(keys), 0f64..ymax)
            .map_err(err)?;
        axes(&mut chart.configure_mesh())
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| format!("p{}", tick(&((1.0 - 1.0 / x) * 100.0))))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().copied(),
                color(7).mix(0.6).stroke_width(1),
            ))
            .map_err(err)?;
        let dot = color(0);
        for p in &ps {
            let x = to_x(p.p);
            let v = p.value_us.unwrap_or(0) as f64 / 1000.0;
            let lo = p.ci_low_us.map_or(0.0, |v| v as f64 / 1000.0);
            let (hi, known) = match p.ci_high_us {
                Some(h) => (h as f64 / 1000.0, true),
                None => (ymax, false),
            };
            let style = if known {
                dot.stroke_width(2)
            } else {
                dot.mix(0.45).stroke_width(2)
            };
            if known {
                chart
                    .draw_series(std::iter::once(PathElement::new(vec![(x, lo), (x, hi)], style)))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, lo), (x, v)],
                        dot.stroke_width(2),
                    )))
                    .map_err(err)?;
                chart
                    .draw_series(DashedLineSeries::new(vec![(x, v), (x, hi)], 4, 3, style))
                    .map_err(err)?;
            }
            chart
                .draw_series([lo, hi].into_iter().filter(|_| known).map(|y| {
                    EmptyElement::at((x, y)) + PathElement::new(vec![(-5, 0), (5, 0)], dot.stroke_width(2))
                }))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Circle::new((x, v), 4, dot.filled())))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}
