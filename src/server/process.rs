//! Resource figures of the serving process itself, for `GET /stats`.

/// RSS and CPU of the current process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessStats {
    /// Resident set size now, bytes.
    pub rss_bytes: u64,
    /// Peak resident set size, bytes.
    pub max_rss_bytes: u64,
    /// User + system CPU, microseconds.
    pub cpu_us: u64,
}

/// Reads the current process's RSS (from `/proc/self/statm`) and CPU and peak RSS (getrusage).
pub fn process_stats() -> ProcessStats {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let rss_bytes = crate::procfs::resident_pages("self").map_or(0, |pages| pages * page);
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0;
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    ProcessStats {
        rss_bytes,
        max_rss_bytes: if ok { ru.ru_maxrss as u64 * 1024 } else { 0 },
        cpu_us: if ok { tv(ru.ru_utime) + tv(ru.ru_stime) } else { 0 },
    }
}
