//! The `dynobench soak` report: the driver's RSS over a long open-loop run (goal: < 10%
//! growth from the first minute to the end), p50 over time at a steady rate and at
//! concurrency 64, and the server's RSS with many idle connections.

use std::fmt::Write as _;

use crate::record::ClassResult;

/// Growth of the driver's RSS from the first minute to the end that passes, percent.
pub const RSS_GROWTH_GOAL_PCT: f64 = 10.0;

/// One reading of the driver's RSS.
#[derive(Debug, Clone, Copy)]
pub struct RssSample {
    /// Seconds since the open-loop run started.
    pub t_s: f64,
    /// Resident set, bytes.
    pub rss_bytes: u64,
}

/// What the soak measured.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Open loop: rate, calls, ok, duration.
    pub open_line: String,
    /// The driver's RSS over the open-loop run.
    pub rss: Vec<RssSample>,
    /// Open loop: p50 per slice of the run (slice start s, p50 µs, calls).
    pub open_p50: Vec<(f64, u64, u64)>,
    /// Closed loop at concurrency 64: calls, ok, errors.
    pub closed_line: String,
    /// Closed loop: p50 per tenth of the run (start s, p50 µs, calls).
    pub closed_p50: Vec<(f64, u64, u64)>,
    /// The server's RSS before and with the idle connections, bytes, and how many opened.
    pub idle: (u64, u64, usize),
}

/// p50 per group of `per` intervals: (start s, p50 µs, calls).
fn p50_series(c: &ClassResult, slices: usize) -> Vec<(f64, u64, u64)> {
    let per = c.intervals.len().div_ceil(slices.max(1)).max(1);
    let width_s = c.intervals.width_us() as f64 / 1e6;
    c.intervals
        .grouped(per)
        .enumerate()
        .filter(|(_, h)| !h.is_empty())
        .map(|(i, h)| ((i * per) as f64 * width_s, h.value_at_quantile(0.5), h.len()))
        .collect()
}

impl SoakReport {
    /// The report of the three measurements.
    pub fn new(
        open: &ClassResult,
        rss: Vec<RssSample>,
        closed: &ClassResult,
        idle: (u64, u64, usize),
    ) -> SoakReport {
        let line = |c: &ClassResult| {
            format!(
                "{} calls, {} ok, errors {:?}, reconnects {}, {:.1} s, {:.1} req/s{}",
                c.calls.attempted,
                c.calls.ok,
                c.calls.errors,
                c.calls.reconnects,
                c.duration_s,
                c.throughput_rps,
                c.failure.as_ref().map_or(String::new(), |f| format!(" — {f}"))
            )
        };
        let slices = ((open.duration_s / 60.0).ceil() as usize).clamp(1, 60);
        SoakReport {
            open_line: line(open),
            rss,
            open_p50: p50_series(open, slices),
            closed_line: line(closed),
            closed_p50: p50_series(closed, 10),
            idle,
        }
    }

    /// The RSS sample nearest to `t_s`.
    fn rss_at(&self, t_s: f64) -> Option<RssSample> {
        self.rss
            .iter()
            .copied()
            .min_by(|a, b| (a.t_s - t_s).abs().total_cmp(&(b.t_s - t_s).abs()))
    }

    /// Growth of the driver's RSS from the first minute (or a sixth of the run, if shorter)
    /// to the end, percent.
    pub fn rss_growth_pct(&self) -> Option<f64> {
        let end = self.rss.last()?;
        let first = self.rss_at(60.0_f64.min(end.t_s / 6.0))?;
        (first.rss_bytes > 0).then(|| (end.rss_bytes as f64 / first.rss_bytes as f64 - 1.0) * 100.0)
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / 1024.0 / 1024.0
}

/// The report as text.
pub fn render(r: &SoakReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "open loop: {}", r.open_line);
    let _ = writeln!(s, "{:>8} {:>10}", "t s", "driver MiB");
    let step = (r.rss.len() / 20).max(1);
    for x in r.rss.iter().step_by(step).chain(r.rss.last()) {
        let _ = writeln!(s, "{:>8.0} {:>10.1}", x.t_s, mib(x.rss_bytes));
    }
    if let (Some(g), Some(end)) = (r.rss_growth_pct(), r.rss.last()) {
        let first = r.rss_at(60.0_f64.min(end.t_s / 6.0)).expect("samples exist");
        let _ = writeln!(
            s,
            "driver RSS: {:.1} MiB at {:.0} s, {:.1} MiB at the end ({:.0} s): {g:+.1}% (goal: under {RSS_GROWTH_GOAL_PCT}%) {}",
            mib(first.rss_bytes),
            first.t_s,
            mib(end.rss_bytes),
            end.t_s,
            if g < RSS_GROWTH_GOAL_PCT { "met" } else { "MISSED" }
        );
    }
    let series = |s: &mut String, name: &str, v: &[(f64, u64, u64)]| {
        let cells: Vec<String> = v
            .iter()
            .map(|(t, p, n)| format!("{t:.0}s:{:.1}ms/{n}", *p as f64 / 1000.0))
            .collect();
        let (lo, hi) = v
            .iter()
            .fold((u64::MAX, 0), |(lo, hi), x| (lo.min(x.1), hi.max(x.1)));
        let _ = writeln!(s, "{name} p50 over time: {}", cells.join(" "));
        if !v.is_empty() && lo > 0 {
            let _ = writeln!(
                s,
                "{name} p50 spread: {:.1}% (highest over lowest slice)",
                (hi as f64 / lo as f64 - 1.0) * 100.0
            );
        }
    };
    series(&mut s, "open loop", &r.open_p50);
    let _ = writeln!(s, "closed loop, concurrency 64: {}", r.closed_line);
    series(&mut s, "closed loop", &r.closed_p50);
    let (before, after, n) = r.idle;
    let _ = writeln!(
        s,
        "server RSS: {:.1} MiB, {:.1} MiB with {n} idle kept-alive connections ({:.1} KiB each)",
        mib(before),
        mib(after),
        if n > 0 {
            after.saturating_sub(before) as f64 / 1024.0 / n as f64
        } else {
            0.0
        }
    );
    s
}
