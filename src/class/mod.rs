//! Dyno class catalogs: the classes' prices, memory and CPU models, loaded from TOML
//! (an embedded default, `heroku`, or a file) and validated with file, line, class and field.

pub mod billing;
pub mod catalog;

pub use billing::{Bill, Billing, Usage, UsageBasis};
pub use catalog::{Catalog, CatalogError, EMBEDDED, embedded_names};

use serde::{Deserialize, Serialize};

/// Hours in a billing month as Heroku counts it (the default billing model's month; each
/// class's own is `billing.hours_per_month()`).
pub const HOURS_PER_MONTH: f64 = billing::HOURS_MONTH_30D;

/// How a class gets CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum CpuModel {
    /// Shared hosts: a guaranteed floor under contention (a weight against noisy
    /// neighbours) and a hard cap it can burst to when the host is idle (a CFS quota).
    Shared {
        /// Cores guaranteed when neighbours are busy.
        floor_cores: f64,
        /// Cores usable at most (the quota).
        burst_cores: f64,
        /// CFS burst allowance in microseconds (cpu.max.burst / cpu.cfs_burst_us), 0 = none.
        #[serde(default)]
        burst_us: u64,
    },
    /// Dedicated CPUs: exclusive cores, no neighbours.
    Dedicated {
        /// Cores (vCPUs) the class owns.
        cores: f64,
    },
    /// A hard quota only (`docker --cpus`): no guaranteed share, no neighbours.
    Quota {
        /// Cores of quota.
        cores: f64,
    },
    /// A baseline plus a balance of burst time (Fly.io shared CPUs, AWS burstable
    /// instances): the class runs at `burst_cores` while its balance lasts; the balance
    /// drains by the CPU used above `baseline_cores` and refills (× `refill`) below it;
    /// empty, the class is held at the baseline. No neighbours.
    Burst {
        /// Cores always allowed.
        baseline_cores: f64,
        /// Cores allowed while the balance lasts.
        burst_cores: f64,
        /// The most balance the class holds, core-seconds above the baseline.
        balance_s: f64,
        /// Balance a new instance starts with, core-seconds (a run starts with it unless
        /// `--start-balance` says otherwise); absent: full.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initial_balance_s: Option<f64>,
        /// Balance regained per unused baseline core-second (1 = all of it).
        #[serde(default = "one")]
        refill: f64,
    },
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

impl Default for CpuModel {
    /// One dedicated core (only a placeholder for results files that lack the class).
    fn default() -> CpuModel {
        CpuModel::Dedicated { cores: 1.0 }
    }
}

impl CpuModel {
    /// The most CPU the class may use, in cores.
    pub fn max_cores(&self) -> f64 {
        match *self {
            CpuModel::Shared { burst_cores, .. } => burst_cores,
            CpuModel::Dedicated { cores } | CpuModel::Quota { cores } => cores,
            CpuModel::Burst { burst_cores, .. } => burst_cores,
        }
    }

    /// The CPU situations a class is sold in, conservative first, as (situation, cores):
    /// a shared class on a busy host (its floor) and on an idle one (its burst cap); a
    /// burst-balance class drained (its baseline) and with balance left; a dedicated or
    /// quota class at its cores.
    pub fn situations(&self) -> Vec<(Situation, f64)> {
        match *self {
            CpuModel::Shared {
                floor_cores,
                burst_cores,
                ..
            } => vec![(Situation::Floor, floor_cores), (Situation::Burst, burst_cores)],
            CpuModel::Burst {
                baseline_cores,
                burst_cores,
                ..
            } => vec![
                (Situation::Baseline, baseline_cores),
                (Situation::Burst, burst_cores),
            ],
            CpuModel::Dedicated { cores } => vec![(Situation::Dedicated, cores)],
            CpuModel::Quota { cores } => vec![(Situation::Quota, cores)],
        }
    }

    /// Whether the class runs beside noisy neighbours.
    pub fn is_shared(&self) -> bool {
        matches!(self, CpuModel::Shared { .. })
    }

    /// A short human description: `shared 0.17-0.67 cores`, `dedicated 2 cores`, `quota 0.5 cores`.
    pub fn describe(&self) -> String {
        match *self {
            CpuModel::Shared {
                floor_cores,
                burst_cores,
                ..
            } => {
                format!("shared {floor_cores:.2}-{burst_cores:.2} cores")
            }
            CpuModel::Dedicated { cores } => format!("dedicated {cores} cores"),
            CpuModel::Quota { cores } => format!("quota {cores} cores"),
            CpuModel::Burst {
                baseline_cores,
                burst_cores,
                balance_s,
                initial_balance_s,
                ..
            } => match initial_balance_s {
                Some(i) => format!(
                    "burst {baseline_cores:.3}-{burst_cores:.2} cores, balance {balance_s} s (starts at {i} s)"
                ),
                None => format!("burst {baseline_cores:.3}-{burst_cores:.2} cores, balance {balance_s} s"),
            },
        }
    }
}

/// A CPU situation a class can be in, for capacity and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Situation {
    /// Dedicated cores.
    Dedicated,
    /// A hard quota.
    Quota,
    /// A shared class on a busy host: its guaranteed floor.
    Floor,
    /// A shared class on an idle host (its burst cap), or a burst-balance class with
    /// balance left.
    Burst,
    /// A burst-balance class with its balance spent: the sustained baseline.
    Baseline,
}

impl Situation {
    /// A short label: `dedicated`, `quota`, `floor`, `burst`, `baseline`.
    pub fn label(self) -> &'static str {
        match self {
            Situation::Dedicated => "dedicated",
            Situation::Quota => "quota",
            Situation::Floor => "floor",
            Situation::Burst => "burst",
            Situation::Baseline => "baseline",
        }
    }
}

/// One dyno class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DynoClass {
    /// Class name as the platform spells it (`standard-1x`).
    pub name: String,
    /// List price, USD per month (720 h).
    pub price_usd_month: f64,
    /// A remark about the price (pools, discounts), if any.
    pub price_note: Option<String>,
    /// Memory quota, MB (the platform's R14 threshold).
    pub memory_mb: u64,
    /// Memory at which the platform kills the dyno (R15), MB.
    pub memory_hard_mb: u64,
    /// Default `WEB_CONCURRENCY` on this class.
    pub workers: u32,
    /// The platform's own CPU figure (`1x-4x`, `12x`), for reference.
    pub compute: Option<String>,
    /// The local CPU model that emulates the class.
    pub cpu: CpuModel,
    /// How the platform bills it (default: a monthly price over 720 h).
    #[serde(default)]
    pub billing: Billing,
    /// Where this class's figures come from (falls back to the catalog's price source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A figure of this class could not be confirmed offline when the catalog was written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
    /// Whether `run` without `--class` measures it (large classes that most machines can
    /// only cap to the same CPUs as a smaller one are measured when named).
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub in_default_run: bool,
    /// The catalog it comes from, when a run mixes catalogs (`--classes heroku,render`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
}

impl DynoClass {
    /// A class known only by its monthly price (billed monthly, one dedicated core): for
    /// plans and tests that need nothing else of a catalog.
    pub fn priced(usd_month: f64) -> DynoClass {
        DynoClass {
            price_usd_month: usd_month,
            ..DynoClass::default()
        }
    }

    /// Price per hour of one instance provisioned all the time (for request billing: busy
    /// all the time, request fees aside), over the platform's month.
    pub fn price_usd_hour(&self) -> f64 {
        self.price_usd_month / self.billing.hours_per_month()
    }

    /// vCPUs the platform bills the class for: its cores (at least its burst cap).
    pub fn vcpus(&self) -> f64 {
        self.cpu.max_cores()
    }

    /// The bill of `usage` on this class, as its platform bills.
    pub fn bill(&self, usage: &Usage) -> Bill {
        billing::bill(
            &self.billing,
            self.price_usd_month,
            self.vcpus(),
            self.memory_mb as f64,
            usage,
        )
    }
}
