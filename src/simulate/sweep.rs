//! A `simulate` sweep as plain data — per routing policy, the points of one engine over a
//! range of utilizations — and what it finds: the highest utilization each policy sustains
//! under a criterion (the capacity a routing policy costs). `report::simulate` presents it.

use hdrhistogram::Histogram;

use super::policy::Policy;
use super::tick::TickPoint;
use crate::slo::{Slo, SloMetric};

/// Response times, queues and 503s at one utilization, over all samples.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventPoint {
    /// Offered load, percent of total capacity.
    pub utilization: f64,
    /// Arrival rate, requests per second, all dynos together (a closed loop's: achieved).
    pub rate: f64,
    /// Requests per second that arrived while counting (the simulated throughput offered).
    pub achieved_rps: f64,
    /// Requests counted (after warm-up), all samples.
    pub requests: u64,
    /// Mean response time (seconds; 503s count at the timeout).
    pub mean_response: f64,
    /// Median response time (seconds).
    pub p50: f64,
    /// 95th percentile response time (seconds).
    pub p95: f64,
    /// 99th percentile response time (seconds).
    pub p99: f64,
    /// Largest response time (seconds).
    pub max: f64,
    /// Mean time waiting for a worker (seconds), over requests a dyno accepted.
    pub mean_wait: f64,
    /// `mean_wait` in units of the mean service time: how many jobs' worth one waits.
    pub mean_wait_jobs: f64,
    /// Time-averaged number of requests waiting per dyno (Little's law on the waits).
    pub mean_queue: f64,
    /// 99th percentile of the queue an arriving request found on its dyno.
    pub p99_queue: u32,
    /// Largest queue an arriving request found on its dyno.
    pub max_queue: u32,
    /// Requests the router gave up on after the timeout (503).
    pub timeouts: u64,
    /// Requests refused because the dyno's backlog was full (503).
    pub rejected: u64,
    /// Share of requests answered 503 (timeouts + rejected), 0..1.
    pub share_503: f64,
    /// Response-time histogram (microseconds).
    #[serde(skip)]
    pub latency: Histogram<u64>,
}

impl EventPoint {
    /// The response-time quantile `q` (seconds).
    pub fn quantile(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1e6
    }

    /// The value an SLO constrains: microseconds for latency metrics, a fraction for the
    /// error rate. `None` when no request was counted.
    pub fn slo_value(&self, slo: &Slo) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        Some(match slo.metric {
            SloMetric::Percentile(p) => self.latency.value_at_quantile(p / 100.0) as f64,
            SloMetric::Max => self.latency.max() as f64,
            SloMetric::ErrorRate => self.share_503,
        })
    }
}

/// One policy's sweep.
#[derive(Debug, Clone)]
pub enum Points {
    /// Tick-engine points.
    Tick(Vec<TickPoint>),
    /// Event-engine points.
    Event(Vec<EventPoint>),
}

impl Points {
    /// The utilization points swept.
    pub fn utils(&self) -> Vec<f64> {
        match self {
            Points::Tick(v) => v.iter().map(|p| p.utilization).collect(),
            Points::Event(v) => v.iter().map(|p| p.utilization).collect(),
        }
    }
}

/// What a finding requires of a utilization point.
#[derive(Debug, Clone)]
pub enum Criterion {
    /// Mean wait under this many jobs: the tick engine's time-averaged queue, or the event
    /// engine's mean wait divided by the mean service time.
    MeanWaitJobs(f64),
    /// An SLO on the event engine's response times or 503 share.
    Slo(Slo),
}

impl Criterion {
    /// Words for the finding line.
    pub fn describe(&self) -> String {
        match self {
            Criterion::MeanWaitJobs(j) if *j == 1.0 => "mean wait under 1 job".into(),
            Criterion::MeanWaitJobs(j) => format!("mean wait under {j} jobs"),
            Criterion::Slo(s) => format!("{s}"),
        }
    }

    fn holds_tick(&self, p: &TickPoint) -> bool {
        match self {
            Criterion::MeanWaitJobs(j) => p.time_mean < *j,
            Criterion::Slo(_) => false,
        }
    }

    fn holds_event(&self, p: &EventPoint) -> bool {
        match self {
            Criterion::MeanWaitJobs(j) => p.mean_wait_jobs < *j,
            Criterion::Slo(s) => p.slo_value(s).is_none_or(|v| s.holds(v)),
        }
    }
}

/// A whole `simulate` run, ready to present.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// Lines describing the settings (engine, dynos, seed, service...).
    pub header: Vec<String>,
    /// Routers of the per-router policy.
    pub routers: u32,
    /// The per-policy sweeps, in report order.
    pub sweeps: Vec<(Policy, Points)>,
    /// What findings require.
    pub criterion: Criterion,
    /// Base seed (also in the header).
    pub seed: u64,
    /// Dynos (for CSV).
    pub dynos: u32,
    /// Workers per dyno (for CSV).
    pub workers: u32,
}

/// One policy's finding.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// The policy.
    pub policy: Policy,
    /// Highest swept utilization (percent) such that it and every lower point meet the
    /// criterion; `None` when the first point already fails.
    pub holds_up_to: Option<f64>,
    /// First swept utilization that fails; `None` when the whole range holds.
    pub fails_at: Option<f64>,
}

/// The finding of each policy, in report order.
pub fn findings(report: &SimReport) -> Vec<Finding> {
    report
        .sweeps
        .iter()
        .map(|(policy, points)| {
            let ok: Vec<(f64, bool)> = match points {
                Points::Tick(v) => v
                    .iter()
                    .map(|p| (p.utilization, report.criterion.holds_tick(p)))
                    .collect(),
                // A point without traffic (0%) says nothing either way.
                Points::Event(v) => v
                    .iter()
                    .filter(|p| p.requests > 0)
                    .map(|p| (p.utilization, report.criterion.holds_event(p)))
                    .collect(),
            };
            let first_fail = ok.iter().position(|&(_, h)| !h);
            let upto = match first_fail {
                Some(0) => None,
                Some(i) => Some(ok[i - 1].0),
                None => ok.last().map(|p| p.0),
            };
            Finding {
                policy: *policy,
                holds_up_to: upto,
                fails_at: first_fail.map(|i| ok[i].0),
            }
        })
        .collect()
}
