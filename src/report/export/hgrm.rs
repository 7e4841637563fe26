//! `<class>.hgrm`: HdrHistogram's percentile-distribution text (the format of Java's
//! `outputPercentileDistribution`, values in ms), loadable by HdrHistogram's plotter.

use std::fmt::Write;

use crate::record::histogram::Hist;

/// Renders a histogram of µs values as a percentile distribution in ms.
pub fn hgrm(h: &Hist) -> String {
    let scale = 1000.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = v.value_iterated_to() as f64 / scale;
            if q < 1.0 {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
            } else {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let (mean, sd, max) = if !h.is_empty() {
        (h.mean() / scale, h.stdev() / scale, h.max() as f64 / scale)
    } else {
        (0.0, 0.0, 0.0)
    };
    let _ = writeln!(s, "#[Mean    = {mean:12.3}, StdDeviation   = {sd:12.3}]");
    let _ = writeln!(s, "#[Max     = {max:12.3}, Total count    = {:12}]", h.len());
    // HdrHistogram's sub-bucket count: the power of two above 2 * 10^significant-digits.
    let sub_buckets = (2.0 * 10f64.powi(i32::from(h.sigfig()))).log2().ceil().exp2() as u64;
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    );
    s
}
