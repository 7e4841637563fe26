//! Reads the facts of the machine a run happens on, and host CPU steal over an interval.

use crate::record::HostFacts;

/// Steal between two readings, percent.
pub fn steal_pct(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<f64> {
    let ((s0, t0), (s1, t1)) = (a?, b?);
    (t1 > t0).then(|| (s1.saturating_sub(s0)) as f64 / (t1 - t0) as f64 * 100.0)
}

/// Reads the static facts of this machine.
pub fn probe() -> HostFacts {
    let uts = nix::sys::utsname::uname().ok();
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let memory_bytes = sysinfo::System::new()
        .map(|mut s| {
            s.refresh_memory();
            s.total_memory()
        })
        .unwrap_or(0);
    HostFacts {
        hostname: uts
            .as_ref()
            .map(|u| u.nodename().to_string_lossy().to_string())
            .unwrap_or_default(),
        kernel: uts
            .as_ref()
            .map(|u| u.release().to_string_lossy().to_string())
            .unwrap_or_default(),
        cpu_model,
        cpus: crate::limit::allowed_cpus().len(),
        memory_bytes,
        ..HostFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::{cpu_jiffies, parse_cpu_line};

    #[test]
    fn steal_from_proc_stat() {
        let a = parse_cpu_line("cpu  100 0 50 800 10 0 0 40 0 0").unwrap();
        assert_eq!(a, (40, 1000));
        let b = parse_cpu_line("cpu  150 0 60 1730 10 0 0 50 0 0").unwrap();
        assert!((steal_pct(Some(a), Some(b)).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(parse_cpu_line("cpu0 1 2 3"), None);
        assert!(cpu_jiffies().is_some());
    }
}
