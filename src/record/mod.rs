//! The results model and recording (pure: no I/O, no processes): one [`RequestRecord`] per
//! call goes into a [`ClassRecorder`]; its histograms and counters become a [`ClassResult`],
//! and the classes of a run a [`RunReport`] — the plain serde data that run.json holds and
//! that every exporter, `compare`, `plan` and `simulate` read. Summaries with confidence
//! intervals, verdicts, cost figures, sweeps and capacity searches are computed here too.

mod build;
pub mod calibration;
pub mod capacity;
pub mod capacity_step;
pub mod class_capacity;
pub mod clock;
pub mod cost;
pub mod driver_load;
pub mod ess;
pub mod formation;
pub mod group;
pub mod histogram;
pub mod host;
pub mod intervals;
pub mod limits;
pub mod merge;
pub mod model;
pub mod model_check;
pub mod precision;
pub mod recorder;
mod result;
pub mod runtime;
pub mod shard;
pub mod shards;
pub mod steady;
pub mod summary;
pub mod sweep;
pub mod value;
pub mod verdict;

pub use clock::{ClockBounds, ClockOffset};
pub use host::{HostFacts, Placement};
pub use limits::{AppliedLimits, BurstSample, BurstTrace, Counters, LimiterKind};
pub use model::{Arrivals, RunConfig, RunReport, SCHEMA_VERSION, WorkloadFacts};
pub use recorder::{ClassRecorder, Phase, RequestRecord, digest_hash};
pub use result::{
    CallCounts, CallLine, ClassContext, ClassResult, ClassStatus, ErrorKind, Histograms, HostSpeed,
    HostSpeedIndex, LatencyBreakdown, LoadFacts, RoundResult, WarmupFacts,
};
pub use runtime::{MemoryQuotaReport, RuntimeSample, memory_quota};
pub use shard::ShardFacts;
pub use value::apply_value;
pub use verdict::SloVerdict;
