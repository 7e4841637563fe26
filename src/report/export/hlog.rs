//! `<class>.hlog`: an HdrHistogram interval log of client latency (µs), one interval per
//! 100 ms of the measured phase, tagged with the class name.

use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::record::ClassResult;

/// Renders a class's interval histograms as an interval log.
pub fn hlog(c: &ClassResult) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    let start = UNIX_EPOCH + Duration::from_secs_f64(c.measured_start_unix_s.max(0.0));
    let mut w = IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "dynobench client latency of class {}, values in microseconds",
            c.name
        ))
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut buf, &mut ser)
        .map_err(|e| e.to_string())?;
    let tag = Tag::new(&c.name).ok_or_else(|| format!("class name '{}' cannot be an hlog tag", c.name))?;
    let width = c.intervals.width_us();
    for (i, h) in c.intervals.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        w.write_histogram(
            &h,
            Duration::from_micros(i as u64 * width),
            Duration::from_micros(width),
            Some(tag),
        )
        .map_err(|e| format!("{e:?}"))?;
    }
    Ok(buf)
}
