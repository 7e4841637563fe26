//! runtime.log: what the platform's logs would have said — log-runtime-metrics samples
//! (`source=web.1 dyno=… sample#load_avg_1m=… sample#memory_rss=…MB`), R14/R15 memory
//! errors, and one router line per call (`at=info method=GET path="/work" connect=…ms
//! service=…ms status=200 bytes=…`; timeouts as `at=error code=H12`).

use std::fmt::Write;

use crate::record::{BurstTrace, ClassResult, ErrorKind, RunReport};
use crate::units::mib;

fn ts(unix_s: f64) -> String {
    let whole = unix_s.max(0.0).floor();
    let micros = ((unix_s - whole) * 1e6).round().min(999_999.0) as u64;
    let base =
        crate::record::model::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(whole as u64));
    format!("{}.{micros:06}+00:00", base.trim_end_matches('Z'))
}

fn mb(b: u64) -> String {
    format!("{:.2}MB", mib(b))
}

/// A class's lines, unordered: its runtime samples, its CPU balance, then the router's
/// view of its calls (a formation's own router log, or one line per logged call) and how
/// it ended.
fn class_lines(r: &RunReport, c: &ClassResult, out: &mut Vec<(f64, String)>) {
    let dyno = format!("heroku.{}.{}", r.run_id, c.name);
    sample_lines(&dyno, c, out);
    if let Some(b) = &c.burst {
        balance_lines(&dyno, b, out);
    }
    // A formation's point: the router's own log replaces the client's view of it.
    if let Some(p) = r.formation.as_ref().and_then(|f| {
        f.points
            .iter()
            .find(|p| p.name == c.name && !p.router_log.is_empty())
    }) {
        out.extend(p.router_log.iter().cloned());
        return;
    }
    call_lines(r, c, out);
    if let Some(f) = &c.failure
        && f.contains("R15")
    {
        let t = c.runtime.last().map_or(c.load_start_unix_s, |s| s.unix_s);
        out.push((
            t,
            "heroku[web.1]: Error R15 (Memory quota vastly exceeded)".into(),
        ));
        out.push((t, "heroku[web.1]: Stopping process with SIGKILL".into()));
    }
}

/// log-runtime-metrics: load averages and memory per sample, R14 when over the quota.
fn sample_lines(dyno: &str, c: &ClassResult, out: &mut Vec<(f64, String)>) {
    let quota = c.class.memory_mb << 20;
    for s in &c.runtime {
        out.push((
            s.unix_s,
            format!(
                "heroku[web.1]: source=web.1 dyno={dyno} sample#load_avg_1m={:.2} sample#load_avg_5m={:.2} sample#load_avg_15m={:.2}",
                s.load_avg_1m, s.load_avg_5m, s.load_avg_15m
            ),
        ));
        out.push((
            s.unix_s,
            format!(
                "heroku[web.1]: source=web.1 dyno={dyno} sample#memory_total={} sample#memory_rss={} sample#memory_swap={} sample#memory_quota={}",
                mb(s.rss_bytes + s.swap_bytes),
                mb(s.rss_bytes),
                mb(s.swap_bytes),
                mb(quota)
            ),
        ));
        let used = s.rss_bytes + s.swap_bytes;
        if used > quota {
            out.push((
                s.unix_s,
                format!(
                    "heroku[web.1]: Process running mem={}M({:.1}%)",
                    used >> 20,
                    used as f64 / quota as f64 * 100.0
                ),
            ));
            out.push((
                s.unix_s,
                "heroku[web.1]: Error R14 (Memory quota exceeded)".into(),
            ));
        }
    }
}

/// A burst-balance CPU: its balance once a second.
fn balance_lines(dyno: &str, b: &BurstTrace, out: &mut Vec<(f64, String)>) {
    let mut next = f64::MIN;
    for x in &b.samples {
        if x.t_s + 1e-9 >= next {
            next = x.t_s + 1.0;
            out.push((
                    x.unix_s,
                    format!(
                        "heroku[web.1]: source=web.1 dyno={dyno} sample#cpu_balance={:.2}s sample#cpu_allowed={:.3} sample#cpu_used={:.3}",
                        x.balance_s, x.cores, x.cpu_cores
                    ),
                ));
        }
    }
}

/// One router line per logged call, and a note of the calls the log dropped.
fn call_lines(r: &RunReport, c: &ClassResult, out: &mut Vec<(f64, String)>) {
    let host = r.config.url.clone().unwrap_or_else(|| "localhost".into());
    let host = host
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_string();
    let timeout_ms = c.load.timeout_ms;
    for (i, l) in c.call_log.iter().enumerate() {
        let t = c.load_start_unix_s + l.done_us as f64 / 1e6;
        let (connect, service) = (
            l.connect_us / 1000,
            l.service_us.saturating_sub(l.connect_us) / 1000,
        );
        let common = format!(
            "method=GET path=\"{}\" host={host} request_id={}-{i} fwd=\"127.0.0.1\" dyno=web.1",
            r.config.path, c.name
        );
        let line = match l.error {
            Some(ErrorKind::Timeout) => format!(
                "heroku[router]: at=error code=H12 desc=\"Request timeout\" {common} connect={connect}ms service={timeout_ms}ms status=503 bytes=0 protocol=http"
            ),
            Some(ErrorKind::Connect) => format!(
                "heroku[router]: at=error code=H19 desc=\"Backend connection failed\" {common} connect={connect}ms service=0ms status=503 bytes=0 protocol=http"
            ),
            Some(ErrorKind::Http) => format!(
                "heroku[router]: at=error code=H13 desc=\"Connection closed without response\" {common} connect={connect}ms service={service}ms status=503 bytes=0 protocol=http"
            ),
            _ => format!(
                "heroku[router]: at=info {common} connect={connect}ms service={service}ms status={} bytes={} protocol=http",
                l.status.unwrap_or(0),
                l.bytes
            ),
        };
        out.push((t, line));
    }
    if c.call_log_dropped > 0 {
        let t = c.load_start_unix_s + c.call_log.last().map_or(0.0, |l| l.done_us as f64 / 1e6);
        out.push((
            t,
            format!(
                "dynobench: {} later calls are not logged here (the log keeps the first {}); the histograms and .hlog hold every call",
                c.call_log_dropped,
                crate::record::recorder::CALL_LOG_MAX
            ),
        ));
    }
}

/// One class's log lines, time-ordered.
pub fn class_log(r: &RunReport, c: &ClassResult) -> String {
    let mut lines = Vec::new();
    class_lines(r, c, &mut lines);
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut s = String::new();
    for (t, l) in lines {
        let _ = writeln!(s, "{} {l}", ts(t));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds() {
        assert_eq!(ts(1_795_000_000.25), "2026-11-18T11:06:40.250000+00:00");
    }
}
