//! The effective sample size of a percentile's interval when calls are not independent:
//! the order-statistic interval assumes independent calls, and consecutive calls of a
//! real run are correlated (a throttled period, a busy neighbour, a GC pause slow several
//! in a row). The **design effect** of the exceedance indicator I(x > q̂) — how much more
//! its share varies than independent calls would — is estimated by batch means over the
//! run's consecutive intervals (the .hlog's), and between rounds as clusters (`--repeat`);
//! the interval is then taken at n ÷ design effect calls. Pure.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::histogram::Hist;
use super::intervals::IntervalSeries;

/// Batches the interval series is cut into (fewer when there are fewer intervals).
const BATCHES: usize = 20;
/// Fewest batches (or rounds) that give a design effect at all.
const MIN_BATCHES: usize = 5;
/// How often independent calls may be taken as correlated (the dispersion test's level).
const SIGNIFICANCE: f64 = 0.05;
/// Random allocations of the exceedances that give the dispersion test's p-value.
const CHANCE_DRAWS: usize = 2000;

/// Exceedances above `q` and calls, of one histogram.
fn exceed(h: &Hist, q: u64) -> (f64, f64) {
    let n = h.len() as f64;
    let within = h.count_between(0, q) as f64;
    (n - within, n)
}

/// The design effect of the share of (y, m) pairs (exceedances, calls per cluster): the
/// variance of the ratio estimator over clusters against the binomial variance, when a
/// dispersion test at [`SIGNIFICANCE`] says it is beyond chance; otherwise 1.
/// `None` with fewer than [`MIN_BATCHES`] clusters or no exceedance at all.
pub fn design_effect(clusters: &[(f64, f64)]) -> Option<f64> {
    let clusters: Vec<(f64, f64)> = clusters.iter().copied().filter(|c| c.1 > 0.0).collect();
    let b = clusters.len();
    if b < MIN_BATCHES {
        return None;
    }
    let (y, m): (f64, f64) = clusters.iter().fold((0.0, 0.0), |a, c| (a.0 + c.0, a.1 + c.1));
    let p = y / m;
    if p <= 0.0 || p >= 1.0 {
        return None;
    }
    let var = b as f64 / (b as f64 - 1.0)
        * clusters.iter().map(|(yb, mb)| (yb - p * mb).powi(2)).sum::<f64>()
        / (m * m);
    let de = var / (p * (1.0 - p) / m);
    // A dispersion chance alone gives 1 time in 20 is not taken as correlation: the
    // estimate is noisy with few exceedances (a p99 of a few hundred calls has ~4), and
    // would otherwise exceed 1 half the time for independent calls and withhold verdicts
    // they support.
    Some(if beyond_chance(&clusters, y, m, de) {
        de
    } else {
        1.0
    })
}

/// Whether the design effect `de` of `clusters` (y exceedances among m calls) is beyond
/// what independent calls give at [`SIGNIFICANCE`]: χ²(b − 1) when every cluster expects
/// at least 5 exceedances, else the same statistic for the y exceedances dropped into the
/// clusters at random (seeded Monte Carlo, exact for any count).
fn beyond_chance(clusters: &[(f64, f64)], y: f64, m: f64, de: f64) -> bool {
    let b = clusters.len();
    let dof = b as f64 - 1.0;
    if y / b as f64 >= 5.0 {
        let chance = ChiSquared::new(dof).map_or(f64::INFINITY, |c| c.inverse_cdf(1.0 - SIGNIFICANCE));
        return de * dof > chance;
    }
    let p = y / m;
    let spread = |counts: &mut dyn Iterator<Item = f64>| -> f64 {
        counts
            .zip(clusters)
            .map(|(yb, (_, mb))| (yb - p * mb).powi(2))
            .sum()
    };
    let observed = spread(&mut clusters.iter().map(|c| c.0));
    let mut cum = Vec::with_capacity(b);
    let mut acc = 0.0;
    for (_, mb) in clusters {
        acc += mb;
        cum.push(acc);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0xd15e_a5e5);
    let mut counts = vec![0.0; b];
    let mut as_large = 0usize;
    for _ in 0..CHANCE_DRAWS {
        counts.iter_mut().for_each(|c| *c = 0.0);
        for _ in 0..y.round() as usize {
            let u = rng.random::<f64>() * m;
            counts[cum.partition_point(|&c| c <= u).min(b - 1)] += 1.0;
        }
        if spread(&mut counts.iter().copied()) >= observed * (1.0 - 1e-9) {
            as_large += 1;
        }
    }
    ((as_large + 1) as f64 / (CHANCE_DRAWS + 1) as f64) <= SIGNIFICANCE
}

/// A series' consecutive intervals added into about [`BATCHES`] batches of equal length,
/// as (exceedances above `q`, calls).
pub fn batches(series: &IntervalSeries, q: u64) -> Vec<(f64, f64)> {
    if series.is_empty() {
        return Vec::new();
    }
    let per = series.len().div_ceil(BATCHES).max(1);
    series.grouped(per).map(|h| exceed(&h, q)).collect()
}

/// The design effect of a class's calls for the percentile estimate `q`: the larger of the
/// batch-means one over its intervals and the between-rounds one over its rounds; `None`
/// when neither can be estimated (then calls are taken as independent).
pub fn class_design_effect(series: &IntervalSeries, rounds: &[Hist], q: u64) -> Option<f64> {
    let by_batches = design_effect(&batches(series, q));
    let by_rounds = design_effect(&rounds.iter().map(|h| exceed(h, q)).collect::<Vec<_>>());
    match (by_batches, by_rounds) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_clusters_have_no_design_effect_and_clumped_ones_do() {
        // 20 batches of 100 calls, 1 exceedance each: less spread than binomial → 1.
        let even: Vec<(f64, f64)> = (0..20).map(|_| (1.0, 100.0)).collect();
        assert_eq!(design_effect(&even), Some(1.0));
        // The same 20 exceedances all in two batches: strongly clumped.
        let mut clumped: Vec<(f64, f64)> = (0..20).map(|_| (0.0, 100.0)).collect();
        clumped[3].0 = 10.0;
        clumped[11].0 = 10.0;
        let de = design_effect(&clumped).unwrap();
        assert!(de > 5.0, "{de}");
        assert_eq!(design_effect(&even[..4]), None);
        // Three exceedances, two of them in one batch: chance does that 15% of the time.
        let mut few: Vec<(f64, f64)> = (0..20).map(|_| (0.0, 18.0)).collect();
        few[2].0 = 2.0;
        few[9].0 = 1.0;
        assert_eq!(design_effect(&few), Some(1.0));
        // Six exceedances all in one batch: chance almost never does.
        few[2].0 = 6.0;
        few[9].0 = 0.0;
        assert!(design_effect(&few).unwrap() > 1.0);
        assert_eq!(design_effect(&[(0.0, 100.0); 10]), None);
    }
}
