//! The `none` backend: no CPU or memory limit (CPU pinning only), with the process's own
//! CPU time and peak memory as counters.

use std::fs::File;

use super::backend::{Backend, SandboxSpec};
use crate::procfs::{peak_rss_bytes, process_cpu_ns};
use crate::record::{AppliedLimits, Counters, LimiterKind};

/// The backend that applies nothing.
pub(crate) struct Unlimited;

impl Unlimited {
    pub(crate) fn new(_spec: &SandboxSpec) -> Unlimited {
        Unlimited
    }
}

impl Backend for Unlimited {
    fn kind(&self) -> LimiterKind {
        LimiterKind::None
    }

    fn server_join(&self) -> Result<Vec<File>, String> {
        Ok(Vec::new())
    }

    fn neighbour_join(&self) -> Result<Vec<File>, String> {
        Ok(Vec::new())
    }

    fn counters(&self, server: Option<i32>, neighbours: &[i32]) -> Counters {
        Counters {
            cpu_usage_us: server.and_then(process_cpu_ns).map(|ns| ns / 1000),
            memory_peak_bytes: server.and_then(peak_rss_bytes),
            neighbour_cpu_us: (!neighbours.is_empty())
                .then(|| neighbours.iter().filter_map(|&p| process_cpu_ns(p)).sum::<u64>() / 1000),
            ..Counters::default()
        }
    }

    fn describe(&self, a: &mut AppliedLimits) {
        a.quota_cores = None;
        a.floor_cores = None;
        a.memory_soft_bytes = None;
        a.memory_hard_bytes = None;
        a.warnings
            .push("limiter none: the class's CPU and memory model is not applied".into());
    }

    fn destroy(&mut self) -> Vec<String> {
        Vec::new()
    }
}
