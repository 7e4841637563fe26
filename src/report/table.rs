//! The terminal table printed after a run, and the one-line formats shared by the
//! Markdown summary (ms with one decimal, confidence intervals, not-estimable marks); the
//! text under the table is in `table_notes`.

pub use super::table_notes::{capacity_text, sweeps_text};
use crate::record::summary::{Percentile, Summary};
use crate::record::{ClassResult, ClassStatus, RunReport};
use crate::units::ms;

/// A percentile as `412.3` or `n/e` (not estimable).
pub fn pct_value(p: Option<&Percentile>) -> String {
    p.and_then(|p| p.value_us).map_or("n/e".into(), ms)
}

/// A percentile with its 95% interval: `412.3 [398.0, 430.1]`, `—` for an unknown bound.
pub fn pct_with_ci(p: Option<&Percentile>) -> String {
    match p {
        Some(p) if p.value_us.is_some() => format!(
            "{} [{}, {}]",
            pct_value(Some(p)),
            p.ci_low_us.map_or("—".into(), ms),
            p.ci_high_us.map_or("—".into(), ms)
        ),
        Some(p) => format!("n/e ({} calls)", p.n),
        None => "-".into(),
    }
}

/// The class's CPU as applied: `0.17-0.67 sh`, `1 ded`, `0.5 quota`, `0.06-1 bu` (burst
/// balance), with `*` when capped, then how the quota is metered when not the kernel's
/// default: `/80ms` (period), `+b` (CPU burst), `?` (a what-if override).
pub fn cores(c: &ClassResult) -> String {
    let Some(l) = &c.limits else {
        return "remote".into();
    };
    let mut text = cores_only(c, l);
    if l.quota_cores.is_some() && l.period_us != 0 && l.period_us != 100_000 {
        text.push_str(&format!("/{}ms", l.period_us as f64 / 1000.0));
    }
    if l.burst_us > 0 {
        text.push_str("+b");
    }
    if l.what_if.is_some() {
        text.push('?');
    }
    text
}

/// The metering marks explained, for the legends: only those that appear in `r`.
pub fn metering_legend(r: &RunReport) -> Option<String> {
    let limits: Vec<&crate::record::AppliedLimits> =
        r.classes.iter().filter_map(|c| c.limits.as_ref()).collect();
    let mut parts = Vec::new();
    if limits
        .iter()
        .any(|l| l.quota_cores.is_some() && l.period_us != 0 && l.period_us != 100_000)
    {
        parts.push("/Nms = the quota's CFS period (the kernel's default is 100 ms)".to_string());
    }
    if limits.iter().any(|l| l.burst_us > 0) {
        parts.push("+b = kernel CPU burst (unused quota accrues, up to one period's quota)".to_string());
    }
    if let Some(w) = limits.iter().find_map(|l| l.what_if.as_deref()) {
        parts.push(format!(
            "? = what-if ({w}; --cfs-period/--cfs-burst), not the platform's own metering"
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn cores_only(c: &ClassResult, l: &crate::record::AppliedLimits) -> String {
    let capped = if l.warnings.iter().any(|w| w.contains("capped")) {
        "*"
    } else {
        ""
    };
    let dedicated = matches!(c.class.cpu, crate::class::CpuModel::Dedicated { .. });
    if let crate::class::CpuModel::Burst { baseline_cores, .. } = c.class.cpu {
        return format!("{baseline_cores:.2}-{} bu{capped}", l.quota_cores.unwrap_or(0.0));
    }
    match (l.floor_cores, l.quota_cores) {
        (Some(f), Some(q)) => format!("{f:.2}-{q:.2} sh{capped}"),
        (None, Some(q)) if dedicated => format!("{q} ded{capped}"),
        (None, Some(q)) => format!("{q} quota{capped}"),
        _ => format!("{} ded{capped}", l.cpus.len()),
    }
}

/// What a class is in one line: workers, memory, CPU model, price, platform compute.
pub fn class_text(c: &ClassResult) -> String {
    format!(
        "{} workers, {} MB (killed at {} MB), {}, ${}/month{}",
        c.workers,
        c.class.memory_mb,
        c.class.memory_hard_mb,
        c.class.cpu.describe(),
        c.price_usd_month,
        c.class
            .compute
            .as_ref()
            .map_or(String::new(), |x| format!(", platform compute {x}"))
    )
}

/// A class's calls in one line: measured, ok, errors by kind, warm-up, throughput.
pub fn calls_text(c: &ClassResult) -> String {
    format!(
        "{} measured ({} ok, error rate {:.2}%{}), {} warm-up (mean {:.1} ms, max {} ms); {:.2} req/s over {:.1} s",
        c.calls.attempted,
        c.calls.ok,
        c.calls.error_rate * 100.0,
        if c.calls.errors.is_empty() {
            String::new()
        } else {
            format!(", errors {:?}", c.calls.errors)
        },
        c.warmup.calls,
        c.warmup.mean_us / 1000.0,
        ms(c.warmup.max_us),
        c.throughput_rps,
        c.duration_s
    )
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or("-".into(), f)
}

/// One row of figures per class (shared by the terminal and Markdown tables).
pub fn row(c: &ClassResult) -> Vec<String> {
    let l: &Summary = &c.latency;
    if c.status != ClassStatus::Ok && c.calls.ok == 0 {
        return vec![
            c.name.clone(),
            cores(c),
            format!("{:.0}", c.price_usd_month),
            format!("{:?}", c.status).to_uppercase(),
            c.failure.clone().unwrap_or_default(),
        ];
    }
    vec![
        name_cell(c),
        cores(c),
        format!("{:.0}", c.price_usd_month),
        pct_value(l.percentile(50.0)),
        pct_value(l.percentile(95.0)),
        pct_with_ci(l.percentile(99.0)),
        ms(l.max_us),
        format!("{:.2}", c.throughput_rps),
        opt(c.throttled_ratio, |r| format!("{:.0}%", r * 100.0)),
        c.breakdown.as_ref().map_or("-".into(), |b| {
            format!("{:.0}/{:.0}/{:.0}", b.cpu_ms, b.cpu_wait_ms, b.io_ms)
        }),
        usd_per_million_cell(c),
        value_cell(c),
    ]
}

/// The class's name, marked `!` when its figures are invalid (the driver was the
/// bottleneck).
pub fn name_cell(c: &ClassResult) -> String {
    if c.invalid.is_some() {
        format!("{}!", c.name)
    } else {
        c.name.clone()
    }
}

/// The legend of the `!` mark, when a class of `r` carries it.
pub fn invalid_legend(r: &RunReport) -> Option<&'static str> {
    r.classes.iter().any(|c| c.invalid.is_some()).then_some(
        "! = invalid: the driver was the bottleneck (its CPU, its send lateness or its connections bounded the run), so the figures are the driver's ceiling, not the class's; SLO verdicts are invalid and compare does not judge it",
    )
}

/// The driver's own figures in one line: CPU share, and in open loop the p99 send
/// lateness against its limit and the connection waits.
pub fn driver_text(d: &crate::record::driver_load::DriverLoad) -> String {
    let mut t = format!(
        "CPU {} of {} core(s) over {:.1} s",
        d.cpu_share.map_or("?".into(), |x| format!("{:.0}%", x * 100.0)),
        d.cores.map_or("?".into(), |n| n.to_string()),
        d.wall_s
    );
    if d.scheduled > 0 {
        t.push_str(&format!(
            "; p99 send lateness {} ms (limit {} ms); {} of {} scheduled calls waited for one of {} connections",
            d.lateness_p99_us.map_or("-".into(), |x| format!("{:.2}", x / 1000.0)),
            d.lateness_limit_us.map_or("-".into(), |x| format!("{:.1}", x / 1000.0)),
            d.connection_waits,
            d.scheduled,
            d.connections
        ));
    }
    t
}

/// `lo-hi` of two figures (one when they agree to the shown precision), two decimals.
fn range(a: f64, b: f64) -> String {
    let (lo, hi) = (a.min(b), a.max(b));
    let (l, h) = (format!("{lo:.2}"), format!("{hi:.2}"));
    if l == h { l } else { format!("{l}-{h}") }
}

/// The origin marks of a class's capacity figures: `~` estimated, `*` extrapolated.
pub fn origin_marks(c: &ClassResult) -> String {
    let mut m = String::new();
    for mark in ["~", "*"] {
        if c.cost.capacity.iter().any(|p| p.origin.mark() == mark) {
            m.push_str(mark);
        }
    }
    m
}

/// `$/M req` at capacity over the class's situations (a shared class: burst to floor),
/// with its origin marks.
pub fn usd_per_million_cell(c: &ClassResult) -> String {
    let v: Vec<f64> = c
        .cost
        .capacity
        .iter()
        .filter_map(|p| p.usd_per_million_requests)
        .collect();
    match (
        v.iter().copied().reduce(f64::min),
        v.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => format!("{}{}", range(lo, hi), origin_marks(c)),
        _ => opt(c.cost.usd_per_million_requests, |x| format!("{x:.2}")),
    }
}

/// Requests per second per $100 of monthly bill over the class's situations, with origin
/// marks.
pub fn per_100_cell(c: &ClassResult) -> String {
    let v: Vec<f64> = c
        .cost
        .capacity
        .iter()
        .filter_map(|p| p.rps_per_100_usd_month)
        .collect();
    match (
        v.iter().copied().reduce(f64::min),
        v.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => format!("{}{}", range(lo, hi), origin_marks(c)),
        _ => "-".into(),
    }
}

/// `value/$`: requests per dollar relative to the cheapest class, floor against floor and
/// burst against burst (one figure when they agree).
pub fn value_cell(c: &ClassResult) -> String {
    match (c.cost.value_capacity, c.cost.value_capacity_burst) {
        (Some(a), Some(b)) => range(a, b),
        (Some(a), None) | (None, Some(a)) => format!("{a:.2}"),
        (None, None) => "-".into(),
    }
}

/// What the cost columns mean (under the terminal and Markdown tables).
pub const COST_LEGEND: &str = "$/M req = dollars per million requests with one dyno of the class serving at capacity, \
at the class's own CPU (not this machine's cap) and billed as its platform bills; a range runs from a shared class's \
burst (idle host) to its floor (busy host). ~ = capacity estimated from service times (not measured at capacity); \
* = extrapolated to the class's cores from fewer cores here. value/$ = requests per dollar relative to the cheapest \
class, floor against floor and burst against burst";

/// Column titles of [`row`].
pub const HEADER: [&str; 12] = [
    "class",
    "cores",
    "$/mo",
    "p50 ms",
    "p95 ms",
    "p99 ms [95% CI]",
    "max ms",
    "req/s",
    "throttled",
    "cpu/wait/io ms",
    "$/M req",
    "value/$",
];

/// The terminal table with notes, failures and SLO lines.
pub fn render(r: &RunReport) -> String {
    let mut s = grid(r);
    super::table_notes::push_notes(&mut s, r);
    s
}

/// The table's rows under its header, each column as wide as its widest cell; a class
/// without figures spans them with its status and failure.
fn grid(r: &RunReport) -> String {
    let rows: Vec<Vec<String>> = r.classes.iter().map(row).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.chars().count()).collect();
    for row in rows.iter().filter(|r| r.len() == HEADER.len()) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    s.push_str(&aligned(&HEADER.map(String::from), &widths));
    s.push('\n');
    for row in &rows {
        if row.len() == HEADER.len() {
            s.push_str(&aligned(row, &widths));
        } else {
            s.push_str(&format!(
                "{:<w0$}  {:>w1$}  {:>w2$}  {}: {}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            ));
        }
        s.push('\n');
    }
    s
}

/// One line of cells, the first left-aligned and the rest right-aligned to `widths`.
fn aligned(cells: &[String], widths: &[usize]) -> String {
    cells
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (c, w))| {
            if i == 0 {
                format!("{c:<w$}")
            } else {
                format!("{c:>w$}")
            }
        })
        .collect::<Vec<_>>()
        .join("  ")
}
