//! Shards of one run merged into one report (pure): the shards are checked to be shares
//! of the same run (same configuration, workload and classes; refused otherwise, naming the
//! difference), their histograms and counters added exactly, every summary, interval, cost
//! and verdict recomputed, and a shard that could not keep its rate or started off the
//! barrier flagged.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::driver_load::driver_bound_reason;
use super::merge::merge_concurrent;
use super::shard::ShardFacts;
use super::sweep::worker_sweeps;
use super::value::apply_value;
use super::verdict::slo_verdicts;
use super::{ClassResult, RunReport};

/// One shard's results, with where they were read from.
#[derive(Debug, Clone)]
pub struct ShardRun {
    /// Where it came from (a results directory), for messages.
    pub source: String,
    /// Its run.json.
    pub report: RunReport,
}

/// What a merged run says about its shards (`merged` in run.json).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergeFacts {
    /// Shards in the run.
    pub count: u32,
    /// Shards merged (fewer than `count` only with `merge --partial`).
    pub merged: u32,
    /// The barrier every shard was given, RFC 3339.
    pub start_at: Option<String>,
    /// How far apart the shards' measured calls started on the server's clock, ms (each
    /// driver's start corrected by its measured clock offset).
    pub start_spread_ms: Option<f64>,
    /// The shards, by index.
    pub shards: Vec<MergedShard>,
}

/// One merged shard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergedShard {
    /// Its index.
    pub index: u32,
    /// Where it was read from.
    pub source: String,
    /// Its run id.
    pub run_id: String,
    /// Measured calls that succeeded (all classes).
    pub ok: u64,
    /// Its target rate, req/s (open loop).
    pub target_rps: Option<f64>,
    /// The rate it achieved, req/s (first class).
    pub achieved_rps: f64,
    /// Open loop: calls sent more than 1 ms after their intended time.
    pub late_sends: u64,
    /// When its measured calls started, ms after the earliest shard's, on the server's clock.
    pub start_ms: Option<f64>,
    /// Its clock against the server's (server − driver), ms, and the ± bound.
    pub clock_offset_ms: Option<f64>,
    /// The bound of `clock_offset_ms`, ms.
    pub clock_uncertainty_ms: Option<f64>,
}

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing given.
    #[error("no shards given")]
    Empty,
    /// A results directory of a whole run, not a shard.
    #[error("{0} is not a shard (it was run without --shard I/N); merge combines the shards of one run")]
    NotAShard(String),
    /// Shards of different runs.
    #[error("{a} and {b} are not shards of one run: {what}")]
    Different {
        /// One shard.
        a: String,
        /// Another.
        b: String,
        /// What differs.
        what: String,
    },
    /// The same index twice.
    #[error("shard {index} is given twice: {a} and {b}")]
    Duplicate {
        /// The index.
        index: u32,
        /// One source.
        a: String,
        /// The other.
        b: String,
    },
    /// Shards missing.
    #[error(
        "shard(s) {missing:?} of {count} are missing: the merged load would be less than the run's; give them all, or --partial to merge what is here"
    )]
    Missing {
        /// Missing indices.
        missing: Vec<u32>,
        /// Shards in the run.
        count: u32,
    },
    /// A histogram that does not decode.
    #[error("{0}")]
    Histogram(String),
}

/// A shard is flagged when it achieved less than this share of its target rate.
pub const RATE_SHARE_FLAG: f64 = 0.9;
/// The shards' starts may spread this much (s) before it is flagged, or this share of the
/// measured duration, whichever is more.
pub const START_SPREAD_FLAG_S: f64 = 0.1;
/// See [`START_SPREAD_FLAG_S`].
pub const START_SPREAD_FLAG_SHARE: f64 = 0.02;

fn shard_of(s: &ShardRun) -> Result<&ShardFacts, MergeError> {
    s.report
        .config
        .shard
        .as_ref()
        .ok_or_else(|| MergeError::NotAShard(s.source.clone()))
}

/// The run-level configuration a shard is a share of (its own share's fields reset).
fn run_config(s: &ShardRun) -> Result<super::RunConfig, MergeError> {
    let f = shard_of(s)?;
    let mut c = s.report.config.clone();
    c.calls = f.run_calls;
    c.concurrency = f.run_concurrency;
    c.rate = f.run_rate;
    c.seed = f.run_seed;
    c.shard = None;
    Ok(c)
}

/// The first field (a dotted path) where two JSON values differ, with both values.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                first_difference(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        _ if a == b => None,
        _ => Some(format!("{path} is {a} in one and {b} in the other")),
    }
}

/// What identifies the run a shard belongs to, as JSON: the run-level configuration, the
/// barrier, the shard count, the workload and the classes measured.
fn identity(s: &ShardRun) -> Result<Value, MergeError> {
    let f = shard_of(s)?;
    let classes: BTreeMap<&str, &crate::class::DynoClass> = s
        .report
        .classes
        .iter()
        .map(|c| (c.name.as_str(), &c.class))
        .collect();
    Ok(serde_json::json!({
        "config": run_config(s)?,
        "shards": { "count": f.count, "start_at": f.start_at },
        "workload": s.report.workload,
        "classes": classes,
    }))
}

/// Checks that the shards are shares of one run and in order by index; `Err` names the
/// first difference, a duplicate or (without `partial`) the missing shards.
pub fn check_shards(shards: &mut [ShardRun], partial: bool) -> Result<(), MergeError> {
    let Some(first) = shards.first() else {
        return Err(MergeError::Empty);
    };
    let base = identity(first)?;
    for s in shards.iter().skip(1) {
        if let Some(what) = first_difference("", &base, &identity(s)?) {
            return Err(MergeError::Different {
                a: first.source.clone(),
                b: s.source.clone(),
                what: what.trim_start_matches('.').to_string(),
            });
        }
    }
    shards.sort_by_key(|s| s.report.config.shard.as_ref().map_or(0, |f| f.index));
    for w in shards.windows(2) {
        let (i, j) = (shard_of(&w[0])?.index, shard_of(&w[1])?.index);
        if i == j {
            return Err(MergeError::Duplicate {
                index: i,
                a: w[0].source.clone(),
                b: w[1].source.clone(),
            });
        }
    }
    let count = shard_of(&shards[0])?.count;
    let have: Vec<u32> = shards
        .iter()
        .filter_map(|s| s.report.config.shard.as_ref().map(|f| f.index))
        .collect();
    let missing: Vec<u32> = (0..count).filter(|i| !have.contains(i)).collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing { missing, count });
    }
    Ok(())
}

/// Merges the shards of one run into one report named `run_id`: every class's histograms
/// and counts added, figures and verdicts recomputed, and the shards' rates and barriers
/// checked (warnings). `Err` when they are not the shards of one run.
pub fn merge_shards(mut shards: Vec<ShardRun>, partial: bool, run_id: &str) -> Result<RunReport, MergeError> {
    check_shards(&mut shards, partial)?;
    let first = &shards[0];
    let facts = shard_of(first)?.clone();
    let mut report = RunReport {
        run_id: run_id.to_string(),
        label: run_id.splitn(3, '-').nth(2).unwrap_or("merged").to_string(),
        config: run_config(first)?,
        started_at: shards
            .iter()
            .map(|s| s.report.started_at.clone())
            .min()
            .unwrap_or_default(),
        finished_at: shards.iter().filter_map(|s| s.report.finished_at.clone()).max(),
        complete: shards.iter().all(|s| s.report.complete) && shards.len() as u32 == facts.count,
        interrupted: shards.iter().any(|s| s.report.interrupted),
        classes: Vec::new(),
        slo: Vec::new(),
        worker_sweeps: Vec::new(),
        warnings: Vec::new(),
        ..first.report.clone()
    };
    for class in first.report.classes.iter().map(|c| c.name.clone()) {
        let parts: Vec<ClassResult> = shards
            .iter()
            .filter_map(|s| s.report.class(&class).cloned())
            .collect();
        report
            .classes
            .push(merge_concurrent(&parts).map_err(MergeError::Histogram)?);
    }
    apply_value(&mut report.classes);
    report.slo = slo_verdicts(&report.classes, &report.config.slos);
    report.worker_sweeps = worker_sweeps(&report.classes, &report.config.slos);
    let (merged, warnings) = merge_facts(&shards, &facts, &report.classes);
    report.warnings = warnings;
    report.merged = Some(merged);
    Ok(report)
}

/// One shard's row of the merged facts (its start still on the server's clock, ms).
fn shard_row(s: &ShardRun) -> MergedShard {
    let c = s.report.classes.first();
    let f = s.report.config.shard.clone().unwrap_or_default();
    MergedShard {
        index: f.index,
        source: s.source.clone(),
        run_id: s.report.run_id.clone(),
        ok: s.report.classes.iter().map(|c| c.calls.ok).sum(),
        target_rps: c.and_then(|c| c.load.target_rps),
        achieved_rps: c.map_or(0.0, |c| c.load.achieved_rps),
        late_sends: c.map_or(0, |c| c.load.late_sends),
        start_ms: c
            .filter(|c| c.measured_start_unix_s > 0.0)
            .map(|c| (c.measured_start_unix_s + c.clock.map_or(0.0, |k| k.offset_ms / 1000.0)) * 1000.0),
        clock_offset_ms: c.and_then(|c| c.clock).map(|k| k.offset_ms),
        clock_uncertainty_ms: c.and_then(|c| c.clock).map(|k| k.uncertainty_ms),
    }
}

/// Shards whose driver was the bottleneck, or that fell short of their rate.
fn load_warnings(rows: &[MergedShard], shards: &[ShardRun], warnings: &mut Vec<String>) {
    for (r, s) in rows.iter().zip(shards) {
        // The one driver-bottleneck rule `run` applies to its own classes.
        if let Some(why) = s.report.classes.first().and_then(driver_bound_reason) {
            warnings.push(format!(
                "shard {} ({}): {why}; so the merged load was not the run's rate: use more shards or fewer connections per driver",
                r.index, r.source
            ));
        }
        if let Some(t) = r.target_rps.filter(|t| r.achieved_rps < RATE_SHARE_FLAG * t) {
            warnings.push(format!(
                "shard {} ({}) achieved {:.1} req/s of its {t:.1}: its driver saturated or its calls failed",
                r.index, r.source, r.achieved_rps
            ));
        }
    }
}

/// Makes the rows' starts relative to the earliest and returns how far apart they were
/// (beyond each shard's intended arrival offset), warning when more than allowed; `None`
/// when no shard knows its start.
fn start_spread(
    rows: &mut [MergedShard],
    shards: &[ShardRun],
    facts: &ShardFacts,
    merged: &[ClassResult],
    warnings: &mut Vec<String>,
) -> Option<f64> {
    let e = rows.iter().filter_map(|r| r.start_ms).reduce(f64::min)?;
    for r in rows.iter_mut() {
        r.start_ms = r.start_ms.map(|s| s - e);
    }
    // Constant arrivals start each shard on purpose a little later: that is not skew.
    let starts: Vec<f64> = rows.iter().filter_map(|r| r.start_ms).collect();
    let offsets: Vec<f64> = shards
        .iter()
        .map(|s| {
            s.report
                .config
                .shard
                .as_ref()
                .map_or(0.0, |f| f.arrival_offset_ms)
        })
        .collect();
    let skew: Vec<f64> = starts.iter().zip(&offsets).map(|(s, o)| s - o).collect();
    let sp = skew.iter().copied().fold(f64::MIN, f64::max) - skew.iter().copied().fold(f64::MAX, f64::min);
    let unc: f64 = rows
        .iter()
        .filter_map(|r| r.clock_uncertainty_ms)
        .fold(0.0, f64::max)
        * 2.0;
    let duration = merged.first().map_or(0.0, |c| c.duration_s);
    let allowed_ms = (START_SPREAD_FLAG_S.max(START_SPREAD_FLAG_SHARE * duration)) * 1000.0;
    if sp - unc > allowed_ms {
        let late = rows
            .iter()
            .zip(&skew)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(r, _)| r.index)
            .unwrap_or(0);
        warnings.push(format!(
            "the shards' measured calls started up to {sp:.0} ms apart on the server's clock (shard {late} last, of a {duration:.1} s measurement): at the ends the load was below the run's; {}",
            if facts.start_at.is_none() {
                "give every shard the same --start-at"
            } else {
                "give a later --start-at, or sync the drivers' clocks (see their clock offsets)"
            }
        ));
    }
    Some(sp)
}

/// Shards whose clock is off the server's by more than the start spread allowed.
fn clock_warnings(rows: &[MergedShard], warnings: &mut Vec<String>) {
    for r in rows {
        if let (Some(o), Some(u)) = (r.clock_offset_ms, r.clock_uncertainty_ms)
            && o.abs() - u > START_SPREAD_FLAG_S * 1000.0
        {
            warnings.push(format!(
                "shard {}'s clock is {:.0} ms (± {u:.1}) {} the server's: its --start-at barrier fell that far off; sync the clocks (NTP)",
                r.index,
                o.abs(),
                if o > 0.0 { "behind" } else { "ahead of" }
            ));
        }
    }
}

/// Fewer shards than the run had (`--partial`), or shards written by different versions.
fn coverage_warnings(shards: &[ShardRun], facts: &ShardFacts, warnings: &mut Vec<String>) {
    if shards.len() as u32 != facts.count {
        warnings.push(format!(
            "{} of {} shards merged (--partial): the load was {:.0}% of the run's",
            shards.len(),
            facts.count,
            100.0 * shards.len() as f64 / f64::from(facts.count.max(1))
        ));
    }
    for s in shards.iter().skip(1) {
        if s.report.tool != shards[0].report.tool {
            warnings.push(format!(
                "{} was written by {} and {} by {}",
                shards[0].source, shards[0].report.tool, s.source, s.report.tool
            ));
        }
    }
}

/// The shards' facts, and warnings for shards off their rate or off the barrier.
fn merge_facts(shards: &[ShardRun], facts: &ShardFacts, merged: &[ClassResult]) -> (MergeFacts, Vec<String>) {
    let mut warnings = Vec::new();
    let mut rows: Vec<MergedShard> = shards.iter().map(shard_row).collect();
    load_warnings(&rows, shards, &mut warnings);
    let spread = start_spread(&mut rows, shards, facts, merged, &mut warnings);
    clock_warnings(&rows, &mut warnings);
    coverage_warnings(shards, facts, &mut warnings);
    let facts = MergeFacts {
        count: facts.count,
        merged: shards.len() as u32,
        start_at: facts.start_at.clone(),
        start_spread_ms: spread,
        shards: rows,
    };
    (facts, warnings)
}

/// The shards' intervals of one class merged by time: a shard whose measured calls started
/// `start_s` after the earliest shard's (server clock) has its interval k added to merged
/// interval `k + round(start_s / width)`, at the coarsest of the shards' widths. Exact
/// counts; the alignment is to the nearest interval, which is what an interval can resolve.
pub fn merge_intervals(
    parts: &[(f64, super::intervals::IntervalSeries)],
) -> super::intervals::IntervalSeries {
    let width = parts
        .iter()
        .map(|p| p.1.width_us())
        .max()
        .unwrap_or(super::intervals::INTERVAL_US);
    let mut out = super::intervals::IntervalSeries::new(width);
    for (start_s, series) in parts {
        let shift = (start_s.max(0.0) * 1e6 / width as f64).round() as usize;
        for (k, h) in series.regrouped(width).iter().enumerate() {
            out.add_at(k + shift, &h);
        }
    }
    out
}
