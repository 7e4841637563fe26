//! How a platform bills a class — a flat monthly price, provisioned (or used) resources per
//! second, request-based billing while requests are in flight, or a baseline with surplus
//! CPU billed — and the pure bill of a usage: what every per-dollar figure (`run`'s $/M
//! at capacity, `plan`'s monthly bill) is computed from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Hours in a month as Heroku and Render count a monthly price (30 days).
pub const HOURS_MONTH_30D: f64 = 720.0;
/// Hours in a month as AWS, Google Cloud and most per-second platforms count it (365 × 24 ÷ 12).
pub const HOURS_MONTH_AVG: f64 = 730.0;

fn h720() -> f64 {
    HOURS_MONTH_30D
}

fn h730() -> f64 {
    HOURS_MONTH_AVG
}

fn c80() -> u32 {
    80
}

fn r100() -> f64 {
    100.0
}

/// What per-second rates apply to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageBasis {
    /// The vCPUs and memory the instance is given, whether used or not (Fargate, Fly,
    /// Koyeb, DigitalOcean).
    #[default]
    Provisioned,
    /// The CPU time and memory the app actually uses (Railway).
    Used,
}

/// How the platform bills a class. `price_usd_month` of the class stays the price of one
/// instance provisioned (or, for request billing, busy) all month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Billing {
    /// A flat monthly price, prorated by the second over the platform's month (Heroku,
    /// Render): an instance costs `price_usd_month ÷ hours_per_month` per hour it exists.
    Monthly {
        /// Hours in the platform's billing month.
        #[serde(default = "h720")]
        hours_per_month: f64,
    },
    /// Resources billed per second (Fargate: vCPU-hours + GB-hours; Fly, Koyeb,
    /// DigitalOcean: a per-second price per size; Railway: the CPU and memory used).
    PerSecond {
        /// USD per vCPU-hour; absent: the class's price covers CPU and memory together.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usd_per_vcpu_hour: Option<f64>,
        /// USD per GB-hour of memory (GB = 1024 MB, as the platforms size memory).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usd_per_gb_hour: Option<f64>,
        /// Whether the rates apply to what is provisioned or to what is used.
        #[serde(default)]
        basis: UsageBasis,
        /// Hours in the platform's month (for the monthly figure of a per-second price).
        #[serde(default = "h730")]
        hours_per_month: f64,
        /// Shortest billed lifetime of an instance, seconds (Fargate: 60).
        #[serde(default)]
        minimum_s: f64,
    },
    /// Request-based billing (Cloud Run): vCPU-seconds and GiB-seconds only while an
    /// instance has at least one request in flight (each such stretch rounded up), plus a
    /// fee per request.
    Request {
        /// USD per vCPU-second while serving.
        usd_per_vcpu_s: f64,
        /// USD per GiB-second while serving.
        usd_per_gib_s: f64,
        /// USD per million requests.
        usd_per_million_requests: f64,
        /// Most requests one instance takes at once.
        #[serde(default = "c80")]
        max_concurrency: u32,
        /// Billable time of each busy stretch is rounded up to this many ms.
        #[serde(default = "r100")]
        rounding_ms: f64,
        /// Hours in the platform's month.
        #[serde(default = "h730")]
        hours_per_month: f64,
    },
    /// A baseline of CPU is in the price; CPU used above it is billed per vCPU-hour instead
    /// of being throttled (AWS T3/T4g "unlimited").
    BurstSurplus {
        /// Cores included in the price (baseline share × vCPUs).
        baseline_cores: f64,
        /// USD per vCPU-hour of CPU used above the baseline.
        usd_per_vcpu_hour: f64,
        /// Hours in the platform's month.
        #[serde(default = "h730")]
        hours_per_month: f64,
    },
}

impl Default for Billing {
    fn default() -> Billing {
        Billing::Monthly {
            hours_per_month: HOURS_MONTH_30D,
        }
    }
}

/// What a class is used for over a billed span: how many instances, how long, at what
/// rate, and what each instance uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Instances running the whole span.
    pub instances: f64,
    /// Hours billed.
    pub hours: f64,
    /// Requests per second, all instances together.
    pub rate_rps: f64,
    /// Share of the span an instance has at least one request in flight, rounding
    /// included (request billing; 1 = always).
    pub busy_fraction: f64,
    /// CPU cores an instance uses on average (used-basis and surplus billing).
    pub cores_used: f64,
    /// Memory an instance uses, MB (used-basis billing; absent: the class's memory).
    pub memory_used_mb: Option<f64>,
}

impl Usage {
    /// One instance for one hour at `rate_rps`, busy all the time, using `cores_used`.
    pub fn one_hour(rate_rps: f64, cores_used: f64, memory_used_mb: Option<f64>) -> Usage {
        Usage {
            instances: 1.0,
            hours: 1.0,
            rate_rps,
            busy_fraction: 1.0,
            cores_used,
            memory_used_mb,
        }
    }
}

/// A bill: the total and its parts, for the reader to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    /// USD in all.
    pub usd: f64,
    /// What it is made of: (what, USD).
    pub parts: Vec<(String, f64)>,
}

/// The share of time an instance has at least one request in flight, with each busy
/// stretch's billed time rounded up to `rounding_s`, when it receives `rate_rps` Poisson
/// requests that each stay `response_s` on average. Requests in flight are counted as in
/// an M/G/∞ system (each instance takes up to its concurrency at once): P(≥ 1) = 1 −
/// e^(−λT); busy stretches start at rate λe^(−λT) and round up by half a unit on average.
pub fn busy_fraction(rate_rps: f64, response_s: f64, rounding_s: f64) -> f64 {
    if !(rate_rps > 0.0 && response_s > 0.0) {
        return 0.0;
    }
    let load = rate_rps * response_s;
    let idle = (-load).exp();
    let starts = rate_rps * idle;
    ((1.0 - idle) + starts * rounding_s.max(0.0) / 2.0).min(1.0)
}

impl Billing {
    /// Hours in the platform's billing month.
    pub fn hours_per_month(&self) -> f64 {
        match *self {
            Billing::Monthly { hours_per_month }
            | Billing::PerSecond { hours_per_month, .. }
            | Billing::Request { hours_per_month, .. }
            | Billing::BurstSurplus { hours_per_month, .. } => hours_per_month,
        }
    }

    /// The model's name as catalogs spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Billing::Monthly { .. } => "monthly",
            Billing::PerSecond { .. } => "per-second",
            Billing::Request { .. } => "request",
            Billing::BurstSurplus { .. } => "burst-surplus",
        }
    }

    /// One line for tables: `monthly (720 h)`, `per-second: $0.0405/vCPU-h + $0.0044/GB-h`.
    pub fn describe(&self) -> String {
        match *self {
            Billing::Monthly { hours_per_month } => format!("monthly, prorated ({hours_per_month} h)"),
            Billing::PerSecond {
                usd_per_vcpu_hour,
                usd_per_gb_hour,
                basis,
                minimum_s,
                ..
            } => {
                let rates = match (usd_per_vcpu_hour, usd_per_gb_hour) {
                    (None, None) => "the size's price".to_string(),
                    (c, m) => format!(
                        "${}/vCPU-h + ${}/GB-h",
                        c.map_or("0".into(), |v| format!("{v}")),
                        m.map_or("0".into(), |v| format!("{v}"))
                    ),
                };
                let basis = match basis {
                    UsageBasis::Provisioned => "provisioned",
                    UsageBasis::Used => "used",
                };
                let min = if minimum_s > 0.0 {
                    format!(", {minimum_s} s minimum")
                } else {
                    String::new()
                };
                format!("per-second ({basis}): {rates}{min}")
            }
            Billing::Request {
                usd_per_vcpu_s,
                usd_per_gib_s,
                usd_per_million_requests,
                max_concurrency,
                rounding_ms,
                ..
            } => format!(
                "request: ${usd_per_vcpu_s}/vCPU-s + ${usd_per_gib_s}/GiB-s while serving \
                 (rounded up to {rounding_ms} ms), ${usd_per_million_requests}/M requests, \
                 {max_concurrency} per instance"
            ),
            Billing::BurstSurplus {
                baseline_cores,
                usd_per_vcpu_hour,
                ..
            } => format!("burst-surplus: {baseline_cores} cores included, ${usd_per_vcpu_hour}/vCPU-h above"),
        }
    }

    /// The per-hour price of one instance of `vcpus` vCPUs and `memory_mb` provisioned
    /// all the time (request billing: busy all the time, fees aside), when the model has
    /// rates; `None` when the class's own price is the rate.
    pub fn rate_per_hour(&self, vcpus: f64, memory_mb: f64) -> Option<f64> {
        let gb = memory_mb / 1024.0;
        match *self {
            Billing::PerSecond {
                usd_per_vcpu_hour,
                usd_per_gb_hour,
                ..
            } if usd_per_vcpu_hour.is_some() || usd_per_gb_hour.is_some() => {
                Some(vcpus * usd_per_vcpu_hour.unwrap_or(0.0) + gb * usd_per_gb_hour.unwrap_or(0.0))
            }
            Billing::Request {
                usd_per_vcpu_s,
                usd_per_gib_s,
                ..
            } => Some(3600.0 * (vcpus * usd_per_vcpu_s + gb * usd_per_gib_s)),
            _ => None,
        }
    }
}

/// The bill of `usage` on a class priced `price_usd_month`, with `vcpus` vCPUs and
/// `memory_mb` of memory, billed as `billing` says.
pub fn bill(billing: &Billing, price_usd_month: f64, vcpus: f64, memory_mb: f64, u: &Usage) -> Bill {
    let flat_hour = price_usd_month / billing.hours_per_month();
    let inst_hours = u.instances * u.hours;
    let requests = u.rate_rps * u.hours * 3600.0;
    let mut parts: Vec<(String, f64)> = Vec::new();
    match *billing {
        Billing::Monthly { .. } => {
            parts.push((
                format!("{:.4} instance-hours × ${flat_hour:.5}/h", inst_hours),
                inst_hours * flat_hour,
            ));
        }
        Billing::PerSecond {
            usd_per_vcpu_hour,
            usd_per_gb_hour,
            basis,
            minimum_s,
            ..
        } => {
            // A shorter life is billed as the minimum.
            let hours = u.hours.max(minimum_s / 3600.0);
            let inst_hours = u.instances * hours;
            match (basis, usd_per_vcpu_hour.is_some() || usd_per_gb_hour.is_some()) {
                (_, false) => parts.push((
                    format!("{inst_hours:.4} instance-hours × ${flat_hour:.5}/h"),
                    inst_hours * flat_hour,
                )),
                (UsageBasis::Provisioned, true) => {
                    let c = usd_per_vcpu_hour.unwrap_or(0.0);
                    let m = usd_per_gb_hour.unwrap_or(0.0);
                    let gb = memory_mb / 1024.0;
                    parts.push((
                        format!("{:.4} vCPU-hours × ${c}", vcpus * inst_hours),
                        vcpus * inst_hours * c,
                    ));
                    parts.push((
                        format!("{:.4} GB-hours × ${m}", gb * inst_hours),
                        gb * inst_hours * m,
                    ));
                }
                (UsageBasis::Used, true) => {
                    let c = usd_per_vcpu_hour.unwrap_or(0.0);
                    let m = usd_per_gb_hour.unwrap_or(0.0);
                    let cores = u.cores_used.clamp(0.0, vcpus);
                    let gb = u.memory_used_mb.unwrap_or(memory_mb).clamp(0.0, memory_mb) / 1024.0;
                    parts.push((
                        format!("{:.4} vCPU-hours used × ${c}", cores * inst_hours),
                        cores * inst_hours * c,
                    ));
                    parts.push((
                        format!("{:.4} GB-hours used × ${m}", gb * inst_hours),
                        gb * inst_hours * m,
                    ));
                }
            }
        }
        Billing::Request {
            usd_per_vcpu_s,
            usd_per_gib_s,
            usd_per_million_requests,
            ..
        } => {
            let busy_s = inst_hours * 3600.0 * u.busy_fraction.clamp(0.0, 1.0);
            let gib = memory_mb / 1024.0;
            parts.push((
                format!("{:.1} vCPU-seconds serving × ${usd_per_vcpu_s}", vcpus * busy_s),
                vcpus * busy_s * usd_per_vcpu_s,
            ));
            parts.push((
                format!("{:.1} GiB-seconds serving × ${usd_per_gib_s}", gib * busy_s),
                gib * busy_s * usd_per_gib_s,
            ));
            parts.push((
                format!("{requests:.0} requests × ${usd_per_million_requests}/M"),
                requests / 1e6 * usd_per_million_requests,
            ));
        }
        Billing::BurstSurplus {
            baseline_cores,
            usd_per_vcpu_hour,
            ..
        } => {
            parts.push((
                format!("{inst_hours:.4} instance-hours × ${flat_hour:.5}/h"),
                inst_hours * flat_hour,
            ));
            let surplus = (u.cores_used.min(vcpus) - baseline_cores).max(0.0);
            parts.push((
                format!(
                    "{:.4} surplus vCPU-hours × ${usd_per_vcpu_hour}",
                    surplus * inst_hours
                ),
                surplus * inst_hours * usd_per_vcpu_hour,
            ));
        }
    }
    Bill {
        usd: parts.iter().map(|(_, v)| v).sum(),
        parts,
    }
}

#[cfg(test)]
#[path = "billing_tests.rs"]
mod tests;
