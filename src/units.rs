//! Units and their text: milliseconds and megabytes as the reports print them, durations
//! with a fitting unit, duration parsing for flags and SLOs, CPU lists (`1-3,6`), and the
//! wall clock and calendar dates (UTC).

/// Microseconds as milliseconds with one decimal, no unit (`412.3`): table cells.
pub fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

/// Microseconds as milliseconds with one decimal and the unit (`412.3 ms`).
pub fn ms_text(us: f64) -> String {
    format!("{:.1} ms", us / 1000.0)
}

/// Microseconds as milliseconds with three decimals, empty when absent: CSV cells.
pub fn ms_csv(us: Option<u64>) -> String {
    us.map_or(String::new(), |x| format!("{:.3}", x as f64 / 1000.0))
}

/// Bytes in MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// A duration in seconds, written with a fitting unit (`850 µs`, `12.3 ms`, `1.50 s`).
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "∞".into()
    } else if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 0.1 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        let t = format!("{s:.2}");
        format!("{} s", t.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// A duration in seconds, short form without a space (`850µs`, `12ms`, `1.5s`): chart ticks.
pub fn short_secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.0}ms", s * 1e3)
    } else {
        format!("{s:.1}s")
    }
}

/// Parses a duration such as `300ms`, `1.5s`, `800us` or `800µs` into microseconds.
pub fn parse_duration_us(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("'{s}' needs a unit: us, ms, s, m or h"))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("'{s}' is not a duration"))?;
    let mult = match unit.trim() {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" | "min" => 60e6,
        "h" => 3600e6,
        other => {
            return Err(format!(
                "unknown duration unit '{other}' in '{s}'; use us, ms, s, m or h"
            ));
        }
    };
    Ok(n * mult)
}

/// Renders a CPU list for `cpuset.cpus` (`1`, `1-3`, `0,2`).
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Parses a CPU list such as `0-3,6`.
pub fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(a) = part.trim().parse() {
                    out.push(a);
                }
            }
        }
    }
    out
}

/// The wall clock, µs since the Unix epoch (0 if the clock is before it).
pub fn unix_now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `YYYY-mm-ddTHH:MM:SSZ` (RFC 3339, UTC) of a time in seconds since the Unix epoch.
pub fn utc_timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_round_trip() {
        assert_eq!(cpu_list(&[3, 1, 2, 6]), "1-3,6");
        assert_eq!(cpu_list(&[1]), "1");
        assert_eq!(parse_cpu_list("0-2,5\n"), vec![0, 1, 2, 5]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
    }

    #[test]
    fn civil_dates() {
        const YEAR_START: i64 = 1_767_225_600;
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(utc_timestamp(YEAR_START), "2026-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(YEAR_START + 59 * 86_400), "2026-03-01T00:00:00Z");
    }

    #[test]
    fn texts() {
        assert_eq!(ms(412_345), "412.3");
        assert_eq!(ms_text(1500.0), "1.5 ms");
        assert_eq!(ms_csv(Some(1234)), "1.234");
        assert_eq!(fmt_secs(0.0123), "12.3 ms");
        assert_eq!(fmt_secs(1.5), "1.5 s");
        assert_eq!(short_secs(0.25), "250ms");
        assert_eq!(parse_duration_us("1.5s").unwrap(), 1_500_000.0);
        assert!(parse_duration_us("3 parsecs").is_err());
    }
}
