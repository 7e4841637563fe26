//! The machine a run happened on and how the driver and server were placed on its CPUs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::cpu_list;

/// The machine and how it was used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub cpus: usize,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// Limiter backend used (`cgroup1`, `dutycycle`, …), or `remote`.
    pub limiter: String,
    /// What that backend is and how coarse it is.
    pub limiter_detail: String,
    /// Whether cgroup v2 was usable, or why not.
    pub cgroup2: String,
    /// Whether cgroup v1 was usable, or why not.
    pub cgroup1: String,
    /// Driver and server CPU placement (local runs).
    pub placement: Option<Placement>,
    /// Sentence describing the placement.
    pub placement_note: String,
    /// Host CPU steal over the whole run, percent of CPU time.
    pub steal_pct: Option<f64>,
}

/// Which CPUs the driver and the server get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Placement {
    /// CPUs the driver (load generator) is pinned to.
    pub driver: Vec<usize>,
    /// CPUs the server (and its neighbours) may use.
    pub server: Vec<usize>,
    /// Whether driver and server are on disjoint CPUs.
    pub disjoint: bool,
}

impl Placement {
    /// Splits the CPUs this process may use: the first one for the driver, the rest for
    /// the server. With a single CPU both share it (and the report says so).
    pub fn from_cpus(cpus: &[usize]) -> Placement {
        let mut cpus = cpus.to_vec();
        cpus.sort_unstable();
        cpus.dedup();
        if cpus.len() >= 2 {
            Placement {
                driver: vec![cpus[0]],
                server: cpus[1..].to_vec(),
                disjoint: true,
            }
        } else {
            Placement {
                driver: cpus.clone(),
                server: cpus,
                disjoint: false,
            }
        }
    }

    /// A sentence for the report.
    pub fn describe(&self) -> String {
        if self.disjoint {
            format!(
                "driver pinned to CPU {}, server and neighbours on CPU {}",
                cpu_list(&self.driver),
                cpu_list(&self.server)
            )
        } else if self.server.len() > 1 {
            format!(
                "server on CPUs {} including the driver's CPU {} (--share-driver-cpu): the driver's own work competes with the server",
                cpu_list(&self.server),
                cpu_list(&self.driver)
            )
        } else {
            "only one CPU: driver and server share it (the driver's own work shows up in the server's latency)".into()
        }
    }
}
