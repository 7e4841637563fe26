//! The look shared by every chart: one colour palette, one legend style, and one axes style
//! (a light major grid without minor lines, tick labels without needless decimals, axis
//! titles that carry their units).

use plotters::coord::CoordTranslate;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

/// Series colours, in order (matplotlib's tab10).
pub const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The grid's colour: light enough to read the data over it.
pub const GRID: RGBColor = RGBColor(226, 226, 226);

/// The colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// A tick label: whole numbers without decimals (`600`, not `600.0`), others with at most
/// three decimals and no trailing zeros (`0.25`).
pub fn tick(v: &f64) -> String {
    let v = *v;
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() < 1e-12 {
        return "0".into();
    }
    if (v - v.round()).abs() <= 1e-9 * v.abs().max(1.0) {
        return format!("{:.0}", v.round());
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Applies the shared axes style to a chart's mesh: major grid lines only, in [`GRID`];
/// [`tick`] labels on both axes; readable label and title fonts. The caller adds its axis
/// titles (with units) and draws.
pub fn axes<'a, 'b, 'm, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
    DB: DrawingBackend,
{
    mesh.max_light_lines(0)
        .bold_line_style(GRID)
        .axis_style(RGBColor(120, 120, 120))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
}

/// Draws the series legend, top left, the same on every chart.
pub fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| format!("drawing the legend: {e}"))
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn ticks_drop_needless_decimals() {
        assert_eq!(tick(&600.0), "600");
        assert_eq!(tick(&0.0), "0");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&2.5), "2.5");
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&0.125), "0.125");
        assert_eq!(tick(&1e6), "1000000");
    }
}
