//! `dynobench fidelity`'s flags, the calibration child's (`burn`), and the CFS period list of
//! `calibrate --stall-periods`.

use clap::Args;

/// `dynobench fidelity`.
#[derive(Debug, Args)]
pub struct FidelityArgs {
    /// The backend to measure on: auto (the one `run` would pick), cgroup2, cgroup1 or dutycycle.
    #[arg(long, default_value = "auto")]
    pub limiter: crate::limit::LimiterChoice,
    /// Seconds per stall measurement.
    #[arg(long, default_value_t = 4.0)]
    pub seconds: f64,
    /// Seconds per burst measurement (two: without and with burst).
    #[arg(long, default_value_t = 20.0)]
    pub burst_seconds: f64,
    /// Print the rows as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A period of `--stall-periods` (µs), or 0 for `none`.
pub(crate) fn parse_stall_period(s: &str) -> Result<u64, String> {
    if s.trim() == "none" {
        return Ok(0);
    }
    super::run::parse_cfs_period(s)
}

/// `dynobench burn` (internal).
#[derive(Debug, Args)]
pub struct BurnArgs {
    /// How long to burn, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Busy threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// CPU ms per work item (0: one continuous loop).
    #[arg(long, default_value_t = 0.0)]
    pub item_ms: f64,
    /// MB of memory to allocate and touch first.
    #[arg(long, default_value_t = 0)]
    pub alloc_mb: u64,
    /// Offer the work items open loop, Poisson at this many per second (0: back to back);
    /// each item's time then counts from its arrival.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Seed of the arrivals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
