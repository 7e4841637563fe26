//! One verdict, one error rate: the intervals of a class's four percentiles are
//! **simultaneous** (they cover all four changes at once with the stated confidence), and
//! classes are tested with **Holm's** step-down procedure, so a run with six classes calls
//! a false difference no more often than one with a single percentile.
//!
//! - One round a side: a block bootstrap of the calls gives joint replicates of the four
//!   log changes; a **run-to-run** term (this host's spread between identical back-to-back
//!   runs, which no single run can see) is added to every replicate as one shared shift per
//!   run; the simultaneous intervals use the max-|t| of the replicates.
//! - Rounds on both sides (`run --repeat`): Welch t intervals on the per-round estimates,
//!   made simultaneous by Bonferroni over the four percentiles.
//!
//! Pure and seeded.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::stats::Change;

/// Run-to-run spread of a one-round percentile on this kind of host: the standard
/// deviation, on the log scale, of one run's p50, p90, p95 and p99 around the class's true
/// value (so the difference of two runs has √2 times it). Measured with `dynobench
/// validate --aa` (README: "run-to-run noise"); `compare --run-to-run PCT` overrides it.
pub const RUN_TO_RUN: [f64; 4] = [0.04, 0.045, 0.05, 0.06];

/// What a class's family of percentile changes rests on.
#[derive(Debug, Clone)]
pub enum Family {
    /// One round a side: bootstrap replicates of each percentile's log change, and the
    /// run-to-run spread to add (log SD per percentile, per run).
    Bootstrap {
        /// Log change B/A of each percentile's estimate (`None`: not estimable).
        center: Vec<Option<f64>>,
        /// Replicates of each percentile's log change (rows: percentiles).
        reps: Vec<Vec<f64>>,
        /// Run-to-run SD per percentile and run (log scale).
        run_to_run: Vec<f64>,
        /// Seed of the run-to-run draws.
        seed: u64,
    },
    /// Rounds on both sides: per-round log estimates of each percentile.
    Rounds {
        /// A's per-round estimates, per percentile.
        a: Vec<Vec<f64>>,
        /// B's per-round estimates, per percentile.
        b: Vec<Vec<f64>>,
    },
}

/// One percentile's change on the log scale: centre and standard error (with the terms of
/// its method), and the degrees of freedom of a Welch interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogChange {
    /// log(B/A).
    pub center: f64,
    /// Its standard error.
    pub se: f64,
    /// Welch degrees of freedom (rounds); infinite for the bootstrap.
    pub df: f64,
}

impl LogChange {
    /// The relative change with the interval centre ± `q` standard errors.
    pub fn change(&self, q: f64) -> Change {
        Change {
            estimate: self.center.exp() - 1.0,
            lo: (self.center - q * self.se).exp() - 1.0,
            hi: (self.center + q * self.se).exp() - 1.0,
        }
    }
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n.max(1.0);
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v.sqrt())
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1);
    sorted[i]
}

/// The family's intervals and p-value.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyIntervals {
    /// Each percentile's log change (`None`: not estimable).
    pub changes: Vec<Option<LogChange>>,
    /// The p-value of "some percentile changed" (the smallest α at which a simultaneous
    /// interval excludes no change).
    pub p_value: f64,
}

impl Family {
    /// The log changes with their standard errors, and the class's p-value.
    pub fn intervals(&self) -> FamilyIntervals {
        match self {
            Family::Bootstrap {
                center,
                reps,
                run_to_run,
                ..
            } => {
                let changes: Vec<Option<LogChange>> = center
                    .iter()
                    .zip(reps)
                    .zip(run_to_run)
                    .map(|((c, r), rr)| {
                        let c = (*c)?;
                        let (_, sd) = mean_sd(r);
                        Some(LogChange {
                            center: c,
                            se: (sd * sd + 2.0 * rr * rr).sqrt(),
                            df: f64::INFINITY,
                        })
                    })
                    .collect();
                let max_t = self.max_t();
                let observed = changes
                    .iter()
                    .flatten()
                    .map(|c| {
                        if c.se > 0.0 {
                            c.center.abs() / c.se
                        } else {
                            f64::INFINITY
                        }
                    })
                    .fold(0.0, f64::max);
                let beyond = max_t.iter().filter(|&&m| m >= observed).count();
                FamilyIntervals {
                    changes,
                    p_value: (beyond as f64 + 1.0) / (max_t.len() as f64 + 1.0),
                }
            }
            Family::Rounds { a, b } => {
                let k = a.len().max(1) as f64;
                let mut p_min: f64 = 1.0;
                let changes = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| {
                        let c = welch(x, y)?;
                        let p = if c.se > 0.0 {
                            let t = StudentsT::new(0.0, 1.0, c.df.max(1.0)).ok()?;
                            2.0 * (1.0 - t.cdf(c.center.abs() / c.se))
                        } else if c.center != 0.0 {
                            0.0
                        } else {
                            1.0
                        };
                        p_min = p_min.min(p);
                        Some(c)
                    })
                    .collect();
                FamilyIntervals {
                    changes,
                    // Bonferroni over the percentiles.
                    p_value: (p_min * k).min(1.0),
                }
            }
        }
    }

    /// The bootstrap's max-|t| replicates: for each replicate, the largest standardized
    /// deviation over the percentiles, with one run-to-run shift per run shared by them.
    fn max_t(&self) -> Vec<f64> {
        let Family::Bootstrap {
            center,
            reps,
            run_to_run,
            seed,
        } = self
        else {
            return Vec::new();
        };
        let cols: Vec<usize> = (0..center.len())
            .filter(|&j| center[j].is_some() && !reps[j].is_empty())
            .collect();
        let Some(&first) = cols.first() else {
            return Vec::new();
        };
        let n = reps[first].len();
        let mut rng = ChaCha8Rng::seed_from_u64(*seed ^ 0x5eed_f00d);
        let stats: Vec<(f64, f64)> = cols
            .iter()
            .map(|&j| {
                let (m, sd) = mean_sd(&reps[j]);
                (m, (sd * sd + 2.0 * run_to_run[j] * run_to_run[j]).sqrt())
            })
            .collect();
        (0..n)
            .map(|r| {
                // One shift for run A and one for run B, shared by every percentile.
                let za: f64 = StandardNormal.sample(&mut rng);
                let zb: f64 = StandardNormal.sample(&mut rng);
                cols.iter()
                    .zip(&stats)
                    .map(|(&j, &(m, se))| {
                        let shifted = reps[j][r] + run_to_run[j] * (zb - za);
                        if se > 0.0 { ((shifted - m) / se).abs() } else { 0.0 }
                    })
                    .fold(0.0, f64::max)
            })
            .collect()
    }

    /// The multiplier of the standard errors that makes the percentiles' intervals
    /// simultaneous at level 1 − `alpha`.
    pub fn critical(&self, alpha: f64, changes: &[Option<LogChange>]) -> Vec<f64> {
        match self {
            Family::Bootstrap { .. } => {
                let mut m = self.max_t();
                m.sort_by(f64::total_cmp);
                let q = if m.is_empty() {
                    f64::INFINITY
                } else {
                    quantile(&m, 1.0 - alpha)
                };
                vec![q; changes.len()]
            }
            Family::Rounds { .. } => {
                let k = changes.iter().flatten().count().max(1) as f64;
                changes
                    .iter()
                    .map(|c| match c {
                        Some(c) if c.df.is_finite() => StudentsT::new(0.0, 1.0, c.df.max(1.0))
                            .map_or(f64::INFINITY, |t| t.inverse_cdf(1.0 - alpha / k / 2.0)),
                        _ => f64::INFINITY,
                    })
                    .collect()
            }
        }
    }
}

/// Welch's log change of per-round estimates (log values), with its degrees of freedom.
pub fn welch(a: &[f64], b: &[f64]) -> Option<LogChange> {
    if a.len() < 2 || b.len() < 2 || a.iter().chain(b).any(|x| !x.is_finite()) {
        return None;
    }
    let (ma, sa) = mean_sd(a);
    let (mb, sb) = mean_sd(b);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (sa * sa / na, sb * sb / nb);
    let se2 = va + vb;
    let df = if se2 > 0.0 {
        se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0))
    } else {
        na + nb - 2.0
    };
    Some(LogChange {
        center: mb - ma,
        se: se2.sqrt(),
        df,
    })
}

/// Holm's step-down levels: for p-values of `m` hypotheses, the level each is tested at
/// (α/m for the smallest, α/(m−1) for the next, …), and whether it is rejected; once one
/// is not rejected, none after it is.
pub fn holm(p: &[f64], alpha: f64) -> Vec<(f64, bool)> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut out = vec![(alpha, false); m];
    let mut open = true;
    for (k, &i) in order.iter().enumerate() {
        let level = alpha / (m - k) as f64;
        let reject = open && p[i] <= level;
        open = reject;
        out[i] = (level, reject);
    }
    out
}

#[cfg(test)]
#[path = "family_tests.rs"]
mod tests;
