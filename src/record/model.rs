//! The run report: everything one `dynobench run` measured, as plain data. Serialized as
//! run.json (versioned; `results/run.schema.json` is its JSON schema; `report::reader`
//! is its one reader).

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::host::HostFacts;
use super::result::ClassResult;
use super::sweep::WorkerSweep;
use super::verdict::SloVerdict;
use crate::class::catalog::CatalogInfo;
use crate::slo::Slo;

/// Version of the run.json format. Readers refuse another major version.
pub const SCHEMA_VERSION: &str = "1.4";

/// How open-loop arrivals are spaced, in a live run and in the simulator alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Evenly spaced at 1/rate (also spelled `deterministic`).
    #[serde(alias = "deterministic")]
    Constant,
    /// Exponential gaps with mean 1/rate, seeded: many independent users.
    Poisson,
}

impl Arrivals {
    /// The name used in reports and run.json.
    pub fn name(self) -> &'static str {
        match self {
            Arrivals::Constant => "constant",
            Arrivals::Poisson => "poisson",
        }
    }
}

impl FromStr for Arrivals {
    type Err = String;

    fn from_str(s: &str) -> Result<Arrivals, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "poisson" => Ok(Arrivals::Poisson),
            "constant" | "deterministic" | "even" => Ok(Arrivals::Constant),
            o => Err(format!(
                "unknown arrival process '{o}'; use poisson or constant (also spelled deterministic)"
            )),
        }
    }
}

impl fmt::Display for Arrivals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The configuration a run used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RunConfig {
    /// Classes selected, in order.
    pub classes: Vec<String>,
    /// `--workers`: empty for class defaults, one override, or the counts swept.
    pub workers: Vec<u32>,
    /// Warm-up calls per class.
    pub warmup: u32,
    /// Measured calls per class (per round).
    pub calls: u32,
    /// Rounds (`--repeat`): every class measured this many times, interleaved.
    pub repeat: u32,
    /// `closed` or `open`.
    pub load_model: String,
    /// Callers (closed) or connections (open).
    pub concurrency: u32,
    /// Target rate, req/s (open loop).
    pub rate: Option<f64>,
    /// Arrivals (open loop).
    pub arrivals: Option<String>,
    /// Per-call timeout, ms.
    pub timeout_ms: u64,
    /// `--limiter` as given.
    pub limiter: String,
    /// Neighbour load pattern for shared classes (`none` if disabled).
    pub neighbours: String,
    /// Seed for neighbours and arrivals.
    pub seed: u64,
    /// Remote URL (`--url`), if any.
    pub url: Option<String>,
    /// Path called.
    pub path: String,
    /// SLOs checked.
    pub slos: Vec<Slo>,
    /// The SLO of a capacity search (`--find-capacity`), if any.
    #[serde(default)]
    pub find_capacity: Option<String>,
    /// Extra memory per worker, MB (`--worker-ballast-mb`).
    #[serde(default)]
    pub worker_ballast_mb: u64,
    /// With `--shard I/N`: this run is one share of a run; `merge` combines the shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::shard::ShardFacts>,
    /// What-if overrides of every class's CFS period and burst (`--cfs-period`,
    /// `--cfs-burst`), e.g. `period 20 ms, burst 100% of quota`; absent: each class's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_if: Option<String>,
    /// With `--precision`: the stopping rule was precision, not a call count (`calls` is
    /// then the most calls per class): each class was measured until its percentile's
    /// interval was within the target, or the maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<super::precision::PrecisionConfig>,
}

/// What the endpoint worked on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct WorkloadFacts {
    /// Payload name (`bundled:orders.json` or the file given).
    pub payload: String,
    /// Payload bytes.
    pub payload_bytes: u64,
    /// Workload profile (`cpu`).
    pub profile: String,
}

/// A whole run. Fields a file lacks take their defaults (files of another 1.x version).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RunReport {
    /// Format version (`1.0`).
    pub schema_version: String,
    /// The tool and version that wrote it.
    pub tool: String,
    /// `YYYYmmdd-HHMMSS-label` (UTC), also the directory name.
    pub run_id: String,
    /// The label.
    pub label: String,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// End, RFC 3339 UTC (absent while running).
    pub finished_at: Option<String>,
    /// Every selected class was attempted.
    pub complete: bool,
    /// An interrupt stopped the run; finished classes are kept.
    pub interrupted: bool,
    /// The machine.
    pub host: HostFacts,
    /// The configuration.
    pub config: RunConfig,
    /// The class catalog used.
    pub catalog: CatalogInfo,
    /// Where the catalog came from.
    pub catalog_origin: String,
    /// The workload.
    pub workload: WorkloadFacts,
    /// Per-class results, in run order.
    pub classes: Vec<ClassResult>,
    /// SLO verdicts (one per class and SLO).
    pub slo: Vec<SloVerdict>,
    /// Worker-count sweeps (`--workers 1..8`), one per class, with a recommendation.
    #[serde(default)]
    pub worker_sweeps: Vec<WorkerSweep>,
    /// A formation run (`--dynos N`): N dynos behind our router, measured and simulated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formation: Option<super::formation::FormationFacts>,
    /// A run merged from shards (`dynobench merge`): the shards, their rates and barrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<super::shards::MergeFacts>,
    /// What the reader should know about the run as a whole (the host's speed moving).
    pub warnings: Vec<String>,
}

impl RunReport {
    /// The class called `name`.
    pub fn class(&self, name: &str) -> Option<&ClassResult> {
        self.classes.iter().find(|c| c.name == name)
    }

    /// The major part of the schema version.
    pub fn schema_major(&self) -> &str {
        self.schema_version.split('.').next().unwrap_or("")
    }
}

/// RFC 3339 UTC text of a time.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let (date, time) = utc_parts(t);
    format!("{date}T{time}Z")
}

/// `YYYYmmdd-HHMMSS` (UTC) of a time.
pub fn compact_stamp(t: std::time::SystemTime) -> String {
    let (date, time) = utc_parts(t);
    format!("{}-{}", date.replace('-', ""), time.replace(':', ""))
}

fn utc_parts(t: std::time::SystemTime) -> (String, String) {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = crate::units::civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", r / 3600, (r % 3600) / 60, r % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
        assert_eq!(compact_stamp(t), "20261118-110640");
    }
}
