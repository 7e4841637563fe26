//! A measured class → the simulator's inputs, in one place: [`model_input`] turns a class of
//! a results run (`ClassResult`) into its service times (server_wall, else client_latency)
//! and its per-request demand for the CPU model ((CPU, non-CPU) pairs, else the server_cpu
//! histogram with the non-CPU part at its mean). Pure: it takes decoded results, never paths.

use std::fmt;

use thiserror::Error;

use super::cpu::{Demand, DemandDist};
use super::service::{Empirical, ServiceDist};
use crate::record::ClassResult;
use crate::record::histogram::{Hist, decode};
use crate::record::summary::Summary;

/// Why a measured class gives no distribution (the caller adds the file it came from).
#[derive(Debug, Clone, Error)]
pub enum MeasuredError {
    /// A histogram field that does not decode.
    #[error("class '{class}': histograms.{field} is not a base64 HdrHistogram V2 ({reason})")]
    BadHistogram {
        /// The class.
        class: String,
        /// `server_wall`, `client_latency` or `server_cpu`.
        field: String,
        /// The decoding error.
        reason: String,
    },
    /// A class whose histograms are absent or hold no values.
    #[error(
        "class '{class}' (status {status}) has no service times: histograms.server_wall and \
         histograms.client_latency are both absent or empty"
    )]
    EmptyClass {
        /// The class.
        class: String,
        /// The class's status in the run.
        status: String,
    },
}

/// Which measured histogram gave the service times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistSource {
    /// Server-side wall time of the handler (what a worker spends per request).
    ServerWall,
    /// Client-observed latency (used when server_wall is absent or empty; includes the network
    /// and any server-side queueing, so it overstates service time).
    ClientLatency,
    /// All intervals of an interval log.
    IntervalLog,
}

impl HistSource {
    /// The short name (`server_wall`, `client_latency`, `interval_log`).
    pub fn name(self) -> &'static str {
        match self {
            HistSource::ServerWall => "server_wall",
            HistSource::ClientLatency => "client_latency",
            HistSource::IntervalLog => "interval_log",
        }
    }
}

impl fmt::Display for HistSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HistSource::ServerWall => "server_wall",
            HistSource::ClientLatency => "client_latency (server_wall absent or empty)",
            HistSource::IntervalLog => "interval log",
        })
    }
}

/// A class's service times, decoded.
#[derive(Debug, Clone)]
pub struct ClassService {
    /// The distribution (seconds).
    pub dist: ServiceDist,
    /// Which histogram it came from.
    pub source: HistSource,
}

/// A class's per-request demand for the CPU model.
#[derive(Debug, Clone)]
pub struct MeasuredDemand {
    /// The distribution (seconds of CPU and of non-CPU time per request).
    pub dist: DemandDist,
    /// Where it came from, in words (e.g. `1000 measured (CPU, non-CPU) pairs`).
    pub source: String,
}

/// What a measured class gives the simulator; each part is an error only when it is asked
/// for and its histogram does not decode (or, for service times, holds nothing).
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// Service times: server_wall, or client_latency when that is absent or empty.
    pub service: Result<ClassService, MeasuredError>,
    /// Demand for the CPU model; `None` when the class holds no CPU figures (then a planner
    /// models workers as independent servers).
    pub demand: Result<Option<MeasuredDemand>, MeasuredError>,
}

/// THE conversion of a measured class into the simulator's inputs: its service times and
/// its per-request demand.
pub fn model_input(class: &ClassResult) -> ModelInput {
    ModelInput {
        service: service_times(class),
        demand: demand(class),
    }
}

fn decoded(class: &ClassResult, field: &str, b64: &str) -> Result<Hist, MeasuredError> {
    decode(b64).map_err(|reason| MeasuredError::BadHistogram {
        class: class.name.clone(),
        field: field.into(),
        reason,
    })
}

/// server_wall, or client_latency when that is absent or empty.
fn service_times(class: &ClassResult) -> Result<ClassService, MeasuredError> {
    let fields = [
        (
            "server_wall",
            class.histograms.server_wall.as_deref(),
            HistSource::ServerWall,
        ),
        (
            "client_latency",
            Some(class.histograms.client_latency.as_str()),
            HistSource::ClientLatency,
        ),
    ];
    for (field, value, source) in fields {
        let Some(b64) = value.filter(|s| !s.trim().is_empty()) else {
            continue;
        };
        if let Some(e) = Empirical::from_histogram_us(&decoded(class, field, b64)?) {
            return Ok(ClassService {
                dist: ServiceDist::Empirical(e),
                source,
            });
        }
    }
    Err(MeasuredError::EmptyClass {
        class: class.name.clone(),
        status: class.status.name().to_string(),
    })
}

/// The measured (CPU, non-CPU) pairs, or the server CPU histogram with the non-CPU part at
/// its mean; `None` without CPU figures.
fn demand(class: &ClassResult) -> Result<Option<MeasuredDemand>, MeasuredError> {
    let d = &class.demand;
    if !d.cpu_us.is_empty() && d.cpu_us.len() == d.other_us.len() {
        let pairs: Vec<Demand> = d
            .cpu_us
            .iter()
            .zip(&d.other_us)
            .map(|(&c, &o)| Demand {
                cpu: f64::from(c) / 1e6,
                other: f64::from(o) / 1e6,
            })
            .collect();
        return Ok(Some(MeasuredDemand {
            dist: DemandDist::Pairs(pairs),
            source: format!("{} measured (CPU, non-CPU) pairs", d.cpu_us.len()),
        }));
    }
    let Some(b64) = class
        .histograms
        .server_cpu
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    else {
        return Ok(None);
    };
    let Some(cpu) = Empirical::from_histogram_us(&decoded(class, "server_cpu", b64)?) else {
        return Ok(None);
    };
    let mean = |s: &Option<Summary>| s.as_ref().map_or(0.0, |s| s.mean_us);
    let other_us = (mean(&class.server_wall) - mean(&class.server_cpu) - mean(&class.cpu_wait)).max(0.0);
    Ok(Some(MeasuredDemand {
        dist: DemandDist::Independent {
            cpu: ServiceDist::Empirical(cpu),
            other: ServiceDist::Deterministic(other_us / 1e6),
        },
        source: "server_cpu histogram, non-CPU part at its mean".into(),
    }))
}
