//! Dyno class catalogs: the classes' prices, memory and CPU models, loaded from TOML
//! (an embedded default, `heroku`, or a file) and validated with file, line, class and field.

pub mod billing;
pub mod catalog;
mod catalog_check;
mod metering;

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

/// How a class's quota is metered: the CFS period, the kernel burst and whether a quota of
/// several vCPUs is pooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bandwidth {
    /// The period, µs.
    pub period_us: u64,
    /// The burst, µs of CPU (0 = none).
    pub burst_us: u64,
    /// One pool for all vCPUs (true) or a quota per vCPU.
    pub pooled: bool,
}

impl Default for Bandwidth {
    /// The kernel's defaults: 100-ms period, no burst, pooled.
    fn default() -> Bandwidth {
        Bandwidth {
            period_us: (DEFAULT_PERIOD_MS * 1000.0) as u64,
            burst_us: 0,
            pooled: true,
        }
    }
}

/// A CFS burst given as a share of the quota (`100%`) or as CPU time (`40ms`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BurstSize {
    /// This fraction of one period's quota (1.0 = 100%, the most the kernel allows).
    QuotaFraction(f64),
    /// This much CPU time, µs.
    Micros(u64),
}

/// What-if overrides of every class's CFS period and burst (`run --cfs-period 20ms`,
/// `--cfs-burst 100%`): the same classes metered otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WhatIf {
    /// The period for every class, µs.
    pub period_us: Option<u64>,
    /// The burst for every class.
    pub burst: Option<BurstSize>,
}

impl WhatIf {
    /// Whether anything is overridden.
    pub fn is_set(&self) -> bool {
        self.period_us.is_some() || self.burst.is_some()
    }

    /// `period 20 ms, burst 100% of quota` (empty when nothing is overridden).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.period_us {
            parts.push(format!("period {} ms", p as f64 / 1000.0));
        }
        match self.burst {
            Some(BurstSize::QuotaFraction(f)) => parts.push(format!("burst {}% of quota", f * 100.0)),
            Some(BurstSize::Micros(us)) => parts.push(format!("burst {} ms", us as f64 / 1000.0)),
            None => {}
        }
        parts.join(", ")
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

/// The kernel's default CFS bandwidth period, ms.
pub const DEFAULT_PERIOD_MS: f64 = 100.0;

fn default_period_ms() -> f64 {
    DEFAULT_PERIOD_MS
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// One dyno class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The CFS bandwidth period of the class's quota, ms (the platform's: the kernel's 100
    /// by default, Fly's 80): a quota is `cores × period` of CPU per period.
    #[serde(default = "default_period_ms")]
    pub period_ms: f64,
    /// Kernel CPU burst, ms of CPU (`cpu.max.burst`, `cpu.cfs_burst_us`): quota left unused
    /// in earlier periods that a busy period may spend on top of its own, at most the quota
    /// of one period; 0 = none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub burst_ms: f64,
    /// Whether a quota of several vCPUs is one pool usable on any of them (CFS bandwidth
    /// control, Fly's shared-cpu-Nx: N × 5 ms per 80 ms on any vCPU) rather than a quota per
    /// vCPU.
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub quota_pooled: bool,
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

impl Default for DynoClass {
    fn default() -> DynoClass {
        DynoClass {
            name: String::new(),
            price_usd_month: 0.0,
            price_note: None,
            memory_mb: 0,
            memory_hard_mb: 0,
            workers: 0,
            compute: None,
            cpu: CpuModel::default(),
            period_ms: DEFAULT_PERIOD_MS,
            burst_ms: 0.0,
            quota_pooled: true,
            billing: Billing::default(),
            source: None,
            unverified: false,
            in_default_run: true,
            catalog: None,
        }
    }
}

impl DynoClass {
    /// How the quota is metered, for tables: `, per 80 ms, burst 5 ms, pooled over 2 vCPUs`
    /// (the period always; burst and pooling when they apply).
    pub fn describe_metering(&self) -> String {
        if matches!(self.cpu, CpuModel::Dedicated { .. }) && self.cpu.max_cores().fract() == 0.0 {
            return String::new();
        }
        let mut s = format!(", per {} ms", self.period_ms);
        if self.burst_us() > 0 {
            s.push_str(&format!(", burst {} ms", self.burst_us() as f64 / 1000.0));
        }
        if self.cpu.max_cores() > 1.0 {
            s.push_str(if self.quota_pooled {
                ", pooled over its vCPUs"
            } else {
                ", quota per vCPU"
            });
        }
        s
    }

    /// The quota period, µs.
    pub fn period_us(&self) -> u64 {
        (self.period_ms * 1000.0).round() as u64
    }

    /// The kernel burst, µs: `burst_ms`, or a shared model's legacy `burst_us`.
    pub fn burst_us(&self) -> u64 {
        let legacy = match self.cpu {
            CpuModel::Shared { burst_us, .. } => burst_us,
            _ => 0,
        };
        ((self.burst_ms * 1000.0).round() as u64).max(legacy)
    }

    /// The quota period and burst as the sandbox applies them.
    pub fn bandwidth(&self) -> Bandwidth {
        Bandwidth {
            period_us: self.period_us(),
            burst_us: self.burst_us(),
            pooled: self.quota_pooled,
        }
    }

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
