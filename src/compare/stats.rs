//! The statistics behind `compare` (pure, seeded): the relative change of a latency
//! percentile from run A to run B with a 95% interval, by
//!
//! - a **block bootstrap** when a run has one round: calls are kept in blocks of
//!   consecutive calls (the 100 ms intervals of the .hlog, merged until each block holds
//!   at least ⌈n^(1/3)⌉ calls), blocks are resampled with replacement, so the autocorrelation
//!   between neighbouring calls stays inside the blocks and widens the interval as it should;
//! - a **Welch t interval on the rounds** when both runs have two or more rounds
//!   (`run --repeat K`): each round's percentile (Harrell–Davis estimate) is one
//!   measurement, so the interval carries the run-to-run variance — drift of a shared host
//!   between rounds — that no single run can show;
//!
//! and the change of the error rate with a Newcombe (hybrid Wilson) interval. Percentiles
//! are compared as ratios (B/A − 1) on the log scale.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{Beta, ContinuousCDF, StudentsT};

use crate::record::summary::wilson;

/// Confidence of every interval here.
pub const CONFIDENCE: f64 = 0.95;

/// A relative change with its 95% interval: B/A − 1 (0.10 = B is 10% higher).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Change {
    /// Point estimate.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
}

/// The successful calls of one class in one run, as blocks of consecutive calls (µs).
#[derive(Debug, Clone, Default)]
pub struct Blocks {
    /// Each block's values, in the order they were measured.
    pub blocks: Vec<Vec<u64>>,
}

impl Blocks {
    /// Groups per-interval value lists (in time order) into blocks of at least
    /// ⌈n^(1/3)⌉ (and 5) consecutive calls; empty intervals are skipped.
    pub fn from_intervals(intervals: Vec<Vec<u64>>) -> Blocks {
        let n: usize = intervals.iter().map(Vec::len).sum();
        let min = ((n as f64).cbrt().ceil() as usize).max(5);
        let mut blocks: Vec<Vec<u64>> = Vec::new();
        let mut cur: Vec<u64> = Vec::new();
        for iv in intervals {
            cur.extend(iv);
            if cur.len() >= min {
                blocks.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            match blocks.last_mut() {
                Some(last) if cur.len() < min => last.extend(cur),
                _ => blocks.push(cur),
            }
        }
        Blocks { blocks }
    }

    /// Blocks of an interval series (the .hlog's intervals, or a run's in memory).
    pub fn from_series(series: &crate::record::intervals::IntervalSeries) -> Blocks {
        Blocks::from_intervals(series.iter().map(|h| values_of(&h)).collect())
    }

    /// Calls in all blocks.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    /// Whether there are no calls.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every value a histogram recorded (at its bucket's highest equivalent), in order.
pub fn values_of(h: &crate::record::histogram::Hist) -> Vec<u64> {
    let mut v = Vec::with_capacity(h.len() as usize);
    for x in h.iter_recorded() {
        v.extend(std::iter::repeat_n(
            h.highest_equivalent(x.value_iterated_to()),
            x.count_at_value() as usize,
        ));
    }
    v
}

/// Nearest-rank percentile `p` (0..1) of sorted values (as the summaries report it).
pub fn nearest_rank(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let k = ((p * sorted.len() as f64 - 1e-9).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[k - 1])
}

/// Harrell–Davis estimate of percentile `p` (0..1) of sorted values: a Beta-weighted mean
/// of all order statistics, less noisy than one order statistic in small samples.
pub fn harrell_davis(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n == 1 {
        return Some(sorted[0]);
    }
    let a = p * (n as f64 + 1.0);
    let b = (1.0 - p) * (n as f64 + 1.0);
    let beta = Beta::new(a, b).ok()?;
    let mut prev = 0.0;
    let mut sum = 0.0;
    for (i, &x) in sorted.iter().enumerate() {
        let c = beta.cdf((i + 1) as f64 / n as f64);
        sum += (c - prev) * x;
        prev = c;
    }
    Some(sum)
}

/// Per-block value counts over one shared index of distinct values, for fast resampling.
struct Indexed {
    /// Each block as (value index, count) pairs.
    blocks: Vec<Vec<(u32, u32)>>,
}

fn index(b: &Blocks, values: &[u64]) -> Indexed {
    let blocks = b
        .blocks
        .iter()
        .map(|blk| {
            let mut idx: Vec<u32> = blk
                .iter()
                .map(|v| values.binary_search(v).expect("value indexed") as u32)
                .collect();
            idx.sort_unstable();
            let mut out: Vec<(u32, u32)> = Vec::new();
            for i in idx {
                match out.last_mut() {
                    Some((j, c)) if *j == i => *c += 1,
                    _ => out.push((i, 1)),
                }
            }
            out
        })
        .collect();
    Indexed { blocks }
}

/// Percentiles `ps` of a resample of `x`'s blocks (as many blocks as it has, drawn with
/// replacement), as log values; `counts` is scratch of one slot per distinct value.
fn resample(x: &Indexed, values: &[u64], ps: &[f64], rng: &mut ChaCha8Rng, counts: &mut [u64]) -> Vec<f64> {
    counts.iter_mut().for_each(|c| *c = 0);
    let mut n = 0u64;
    let k = x.blocks.len();
    for _ in 0..k {
        for &(i, c) in &x.blocks[rng.random_range(0..k)] {
            counts[i as usize] += u64::from(c);
            n += u64::from(c);
        }
    }
    let mut out = Vec::with_capacity(ps.len());
    for &p in ps {
        let rank = ((p * n as f64 - 1e-9).ceil() as u64).clamp(1, n.max(1));
        let mut seen = 0u64;
        let mut v = values.last().copied().unwrap_or(1);
        for (i, &c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                v = values[i];
                break;
            }
        }
        out.push((v.max(1) as f64).ln());
    }
    out
}

fn percentile_of(sorted: &mut [f64], q: f64) -> f64 {
    let i = ((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1);
    sorted[i]
}

/// Block-bootstrap replicates of the log change of each percentile in `ps` (0..1) from A
/// to B, resampled jointly (one resample of each run serves every percentile, so their
/// dependence is kept), with the log change of the estimates themselves. `None` when either
/// side has fewer than 2 blocks.
#[allow(clippy::type_complexity)]
pub fn bootstrap_replicates(
    a: &Blocks,
    b: &Blocks,
    ps: &[f64],
    seed: u64,
) -> Option<(Vec<Option<f64>>, Vec<Vec<f64>>)> {
    if a.blocks.len() < 2 || b.blocks.len() < 2 {
        return None;
    }
    let mut values: Vec<u64> = a.blocks.iter().chain(&b.blocks).flatten().copied().collect();
    values.sort_unstable();
    values.dedup();
    let (ia, ib) = (index(a, &values), index(b, &values));
    // Keep the work bounded on very long runs: fewer replicates when each is expensive.
    let per_rep = (ia.blocks.iter().chain(&ib.blocks).map(Vec::len).sum::<usize>() + 2 * values.len()) as f64;
    let reps = ((4e8 / per_rep) as usize).clamp(400, 2000);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = vec![0u64; values.len()];
    let mut logs: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); ps.len()];
    for _ in 0..reps {
        let ra = resample(&ia, &values, ps, &mut rng, &mut counts);
        let rb = resample(&ib, &values, ps, &mut rng, &mut counts);
        for (j, l) in logs.iter_mut().enumerate() {
            l.push(rb[j] - ra[j]);
        }
    }
    let sorted = |b: &Blocks| {
        let mut v: Vec<u64> = b.blocks.iter().flatten().copied().collect();
        v.sort_unstable();
        v
    };
    let (sa, sb) = (sorted(a), sorted(b));
    let center = ps
        .iter()
        .map(|&p| {
            let (va, vb) = (nearest_rank(&sa, p)?, nearest_rank(&sb, p)?);
            Some((vb.max(1) as f64 / va.max(1) as f64).ln())
        })
        .collect();
    Some((center, logs))
}

/// Block-bootstrap intervals of the change of each percentile in `ps` (0..1) from A to B,
/// one at a time (percentile method, not simultaneous). `None` per percentile when either
/// side has fewer than 2 blocks.
pub fn bootstrap_changes(a: &Blocks, b: &Blocks, ps: &[f64], seed: u64) -> Vec<Option<Change>> {
    let Some((center, mut logs)) = bootstrap_replicates(a, b, ps, seed) else {
        return vec![None; ps.len()];
    };
    center
        .iter()
        .zip(logs.iter_mut())
        .map(|(c, l)| {
            let c = (*c)?;
            l.sort_by(f64::total_cmp);
            let alpha = (1.0 - CONFIDENCE) / 2.0;
            Some(Change {
                estimate: c.exp() - 1.0,
                lo: percentile_of(l, alpha).exp() - 1.0,
                hi: percentile_of(l, 1.0 - alpha).exp() - 1.0,
            })
        })
        .collect()
}

/// Welch t interval of the change of a per-round estimate from A's rounds to B's (on the
/// log scale). `None` with fewer than two rounds on a side or no spread at all.
pub fn welch_change(a: &[f64], b: &[f64]) -> Option<Change> {
    if a.len() < 2 || b.len() < 2 || a.iter().chain(b).any(|x| x.is_nan() || *x <= 0.0) {
        return None;
    }
    let stats = |x: &[f64]| {
        let l: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        let n = l.len() as f64;
        let m = l.iter().sum::<f64>() / n;
        let var = l.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, var, n)
    };
    let (ma, va, na) = stats(a);
    let (mb, vb, nb) = stats(b);
    let se2 = va / na + vb / nb;
    let d = mb - ma;
    if se2 <= 0.0 {
        return Some(Change {
            estimate: d.exp() - 1.0,
            lo: d.exp() - 1.0,
            hi: d.exp() - 1.0,
        });
    }
    let df = se2 * se2 / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0));
    let t = StudentsT::new(0.0, 1.0, df.max(1.0)).ok()?;
    let q = t.inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0);
    let h = q * se2.sqrt();
    Some(Change {
        estimate: d.exp() - 1.0,
        lo: (d - h).exp() - 1.0,
        hi: (d + h).exp() - 1.0,
    })
}

/// Newcombe's hybrid Wilson interval of the difference of two proportions, B − A, in
/// absolute terms (0.01 = one percentage point more failures in B).
pub fn proportion_change(fail_a: u64, n_a: u64, fail_b: u64, n_b: u64) -> Change {
    let (pa, pb) = (
        fail_a as f64 / (n_a.max(1)) as f64,
        fail_b as f64 / (n_b.max(1)) as f64,
    );
    let (la, ua) = wilson(fail_a as f64, n_a as f64);
    let (lb, ub) = wilson(fail_b as f64, n_b as f64);
    let d = pb - pa;
    Change {
        estimate: d,
        lo: d - ((pb - lb).powi(2) + (ua - pa).powi(2)).sqrt(),
        hi: d + ((ub - pb).powi(2) + (pa - la).powi(2)).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_at_least_the_cube_root() {
        let iv: Vec<Vec<u64>> = (0..100).map(|i| vec![i; 10]).collect();
        let b = Blocks::from_intervals(iv);
        assert_eq!(b.len(), 1000);
        assert!(b.blocks.iter().all(|x| x.len() >= 10), "{:?}", b.blocks.len());
        let small = Blocks::from_intervals(vec![vec![1, 2], vec![3], vec![4, 5, 6]]);
        assert_eq!(small.blocks, vec![vec![1, 2, 3, 4, 5, 6]]);
    }

    #[test]
    fn harrell_davis_of_a_uniform_grid() {
        let v: Vec<f64> = (1..=999).map(f64::from).collect();
        assert!((harrell_davis(&v, 0.5).unwrap() - 500.0).abs() < 1.0);
        assert!((harrell_davis(&v, 0.9).unwrap() - 900.0).abs() < 2.0);
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 0.5), Some(2));
    }

    #[test]
    fn bootstrap_sees_a_doubling_and_not_a_copy() {
        let a = Blocks::from_intervals(
            (0..50)
                .map(|i| (0..20).map(|j| 1000 + (i * 20 + j) % 97 * 10).collect())
                .collect(),
        );
        let b2 = Blocks {
            blocks: a
                .blocks
                .iter()
                .map(|x| x.iter().map(|v| v * 2).collect())
                .collect(),
        };
        let c = bootstrap_changes(&a, &b2, &[0.5, 0.95], 1);
        let m = c[0].unwrap();
        assert!(
            m.lo > 0.6 && m.hi < 1.5 && (m.estimate - 1.0).abs() < 0.05,
            "{m:?}"
        );
        let same = bootstrap_changes(&a, &a, &[0.5], 1)[0].unwrap();
        assert!(same.lo < 0.0 && same.hi > 0.0 && same.estimate == 0.0, "{same:?}");
    }

    #[test]
    fn welch_and_proportions() {
        let c = welch_change(&[100.0, 102.0, 98.0], &[150.0, 153.0, 147.0]).unwrap();
        assert!(c.lo > 0.4 && c.hi < 0.6, "{c:?}");
        assert!(welch_change(&[1.0], &[2.0, 3.0]).is_none());
        let p = proportion_change(0, 100, 30, 100);
        assert!(p.lo > 0.15 && (p.estimate - 0.3).abs() < 1e-12, "{p:?}");
        let q = proportion_change(5, 100, 6, 100);
        assert!(q.lo < 0.0 && q.hi > 0.0);
    }
}
