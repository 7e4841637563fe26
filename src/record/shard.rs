//! Shards of one run (`run --shard I/N`): how a run's load is split between drivers (calls,
//! callers, rate, seeds, arrival phases), and the facts each shard's run.json carries so
//! that `merge` can tell shards of one run from shards of different runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a shard's run.json says about the run it is a share of (`config.shard`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShardFacts {
    /// This shard's index, 0 ≤ index < count (Kubernetes' `JOB_COMPLETION_INDEX`).
    pub index: u32,
    /// Shards in the run.
    pub count: u32,
    /// The barrier: when every shard starts its measured calls (RFC 3339, UTC), if given.
    pub start_at: Option<String>,
    /// The barrier, seconds since the Unix epoch.
    pub start_at_unix_s: Option<f64>,
    /// The whole run's seed (this shard's `config.seed` is derived from it).
    pub run_seed: u64,
    /// The whole run's measured calls per class (this shard's `config.calls` is its share).
    pub run_calls: u32,
    /// The whole run's callers (closed loop) or connections (open loop).
    pub run_concurrency: u32,
    /// The whole run's open-loop rate, req/s.
    pub run_rate: Option<f64>,
    /// Open loop, constant arrivals: this shard's first call is this many ms after the
    /// barrier, so that the shards' calls interleave evenly instead of arriving together.
    pub arrival_offset_ms: f64,
}

/// Shard `index`'s share of `total` items split `count` ways: the remainder goes to the
/// lowest indices, so the shares add up to `total`.
pub fn share(total: u64, count: u32, index: u32) -> u64 {
    let n = u64::from(count.max(1));
    total / n + u64::from(u64::from(index) < total % n)
}

/// Shard `index`'s seed, derived from the run's (splitmix64): distinct per shard, and the
/// same for the same run and index.
pub fn shard_seed(seed: u64, index: u32) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(u64::from(index) + 1));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Constant arrivals at `rate` in all, split `count` ways: shard `index` starts `index /
/// rate` seconds after the others' first call, so that the merged arrivals are evenly
/// spaced at `rate` (each shard sends every `count / rate` s).
pub fn arrival_offset_s(rate: f64, index: u32) -> f64 {
    if rate > 0.0 { f64::from(index) / rate } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for total in [0u64, 1, 7, 100, 101, 1000] {
            for count in 1..=9u32 {
                let s: Vec<u64> = (0..count).map(|i| share(total, count, i)).collect();
                assert_eq!(s.iter().sum::<u64>(), total, "{total}/{count}");
                assert!(s.iter().max().unwrap() - s.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn seeds_are_distinct_and_stable() {
        let s: std::collections::BTreeSet<u64> = (0..64).map(|i| shard_seed(42, i)).collect();
        assert_eq!(s.len(), 64);
        assert_eq!(shard_seed(42, 3), shard_seed(42, 3));
        assert_ne!(shard_seed(42, 3), shard_seed(43, 3));
    }

    #[test]
    fn offsets_interleave_constant_arrivals() {
        // 4 shards at 100 req/s in all: each sends every 40 ms, 10 ms apart.
        let mut sends: Vec<f64> = (0..4)
            .flat_map(|i| (0..5).map(move |k| arrival_offset_s(100.0, i) + f64::from(k) * 4.0 / 100.0))
            .collect();
        sends.sort_by(f64::total_cmp);
        assert!(sends.windows(2).all(|w| ((w[1] - w[0]) - 0.01).abs() < 1e-9));
    }
}
