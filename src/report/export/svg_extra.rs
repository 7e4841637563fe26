//! The charts only some runs have: workers.svg (a worker sweep: throughput and p99 against
//! the worker count) and burst.svg (a burst-balance class's balance and latency over time).

use plotters::prelude::*;

use super::svg::err;
use crate::record::{ClassResult, RunReport};
use crate::report::palette::{axes, color, legend, tick};

/// workers.svg: per swept class, throughput (left) and p99 (right) against workers, with
/// counts over the memory quota marked.
pub fn workers_svg(r: &RunReport) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(500);
        let sweeps = &r.worker_sweeps;
        let wmax = sweeps
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.workers))
            .max()
            .unwrap_or(1) as f64
            + 0.5;
        let tmax = sweeps
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.throughput_rps))
            .fold(1.0f64, f64::max)
            * 1.15;
        let pmax = sweeps
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.p99_us))
            .fold(1000u64, u64::max) as f64
            / 1000.0
            * 1.15;
        for (area, title, ymax, is_tp) in [
            (&left, "throughput", tmax, true),
            (&right, "p99 latency (x: over the memory quota)", pmax, false),
        ] {
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(0.5f64..wmax, 0f64..ymax)
                .map_err(err)?;
            axes(&mut chart.configure_mesh())
                // Whole worker counts only: at most one tick per count.
                .x_labels((wmax as usize).clamp(2, 12))
                .x_label_formatter(&|x| if x.fract() == 0.0 { tick(x) } else { String::new() })
                .x_desc("workers (WEB_CONCURRENCY)")
                .y_desc(if is_tp {
                    "requests per second"
                } else {
                    "p99 latency (ms)"
                })
                .draw()
                .map_err(err)?;
            for (i, s) in sweeps.iter().enumerate() {
                let color = color(i);
                let pts: Vec<(f64, f64, bool)> = s
                    .points
                    .iter()
                    .filter(|p| p.ok)
                    .filter_map(|p| {
                        let y = if is_tp {
                            Some(p.throughput_rps)
                        } else {
                            p.p99_us.map(|v| v as f64 / 1000.0)
                        }?;
                        Some((f64::from(p.workers), y, p.over_memory))
                    })
                    .collect();
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().map(|p| (p.0, p.1)),
                        color.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(s.class.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
                chart
                    .draw_series(pts.iter().map(|p| {
                        if p.2 {
                            Cross::new((p.0, p.1), 6, color.stroke_width(2)).into_dyn()
                        } else {
                            Circle::new((p.0, p.1), 3, color.filled()).into_dyn()
                        }
                    }))
                    .map_err(err)?;
            }
            if !is_tp && sweeps.iter().all(|s| s.points.iter().all(|p| p.p99_us.is_none())) {
                area.draw(&Text::new(
                    "p99 not estimable: fewer than 100 calls per count",
                    (90, 200),
                    ("sans-serif", 15).into_font().color(&RGBColor(90, 90, 90)),
                ))
                .map_err(err)?;
            }
            legend(&mut chart)?;
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// burst.svg: for each burst-balance class, its balance over the run (top) and every
/// call's latency at the time it finished (bottom), on one time axis (seconds since the
/// class's load started); a vertical line where the balance ran out.
pub fn burst_svg(r: &RunReport) -> Result<String, String> {
    let classes: Vec<&ClassResult> = r.classes.iter().filter(|c| c.burst.is_some()).collect();
    let mut out = String::new();
    {
        let h = 340 * classes.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut out, (1000, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        for (area, c) in root.split_evenly((classes.len().max(1), 1)).iter().zip(&classes) {
            let b = c.burst.as_ref().expect("filtered");
            let t0 = c.load_start_unix_s;
            let balance: Vec<(f64, f64)> = b.samples.iter().map(|s| (s.unix_s - t0, s.balance_s)).collect();
            let calls: Vec<(f64, f64)> = c
                .call_log
                .iter()
                .filter(|l| l.error.is_none())
                .map(|l| (l.done_us as f64 / 1e6, l.service_us as f64 / 1000.0))
                .collect();
            let tmax = balance
                .iter()
                .chain(calls.iter())
                .map(|p| p.0)
                .fold(1.0f64, f64::max);
            let tmin = balance.iter().map(|p| p.0).fold(0.0f64, f64::min);
            let (top, bottom) = area.split_vertically(area.dim_in_pixel().1 / 2);
            let mut up = ChartBuilder::on(&top)
                .caption(
                    format!(
                        "{}: burst balance (core-s) — {} → {} cores",
                        c.name, b.burst_cores, b.baseline_cores
                    ),
                    ("sans-serif", 14),
                )
                .margin(6)
                .x_label_area_size(18)
                .y_label_area_size(55)
                .build_cartesian_2d(tmin..tmax, 0f64..(b.capacity_s * 1.05).max(0.1))
                .map_err(err)?;
            axes(&mut up.configure_mesh())
                .y_labels(4)
                .y_desc("balance (core-s)")
                .draw()
                .map_err(err)?;
            up.draw_series(LineSeries::new(balance.iter().copied(), color(0).stroke_width(2)))
                .map_err(err)?;
            let ymax = calls.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
            let mut down = ChartBuilder::on(&bottom)
                .margin(6)
                .x_label_area_size(44)
                .y_label_area_size(55)
                .build_cartesian_2d(tmin..tmax, 0f64..ymax)
                .map_err(err)?;
            axes(&mut down.configure_mesh())
                .y_labels(6)
                .x_desc("time since the load started (s)")
                .y_desc("latency (ms)")
                .draw()
                .map_err(err)?;
            down.draw_series(calls.iter().map(|&p| Circle::new(p, 2, color(1).filled())))
                .map_err(err)?;
            if let Some(d) = b.drained_at_s {
                // drained_at_s counts from the server's start; samples carry both clocks.
                if let Some(s0) = b.samples.first() {
                    let x = s0.unix_s - s0.t_s + d - t0;
                    for chart_area in [up.plotting_area(), down.plotting_area()] {
                        let (_, yr) = (chart_area.get_x_range(), chart_area.get_y_range());
                        chart_area
                            .draw(&PathElement::new(
                                vec![(x, yr.start), (x, yr.end)],
                                RED.stroke_width(1),
                            ))
                            .map_err(err)?;
                    }
                }
            }
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}
