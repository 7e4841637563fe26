//! What the simulation engines share: the seeded random generator (and the per-task seed
//! derivation), invalid-settings errors, and the utilization ranges to sweep.

use std::fmt;
use std::str::FromStr;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use thiserror::Error;

/// The random generator every simulation uses: a named algorithm, so a seed gives the same
/// numbers on every platform and rand version.
pub type SimRng = Xoshiro256PlusPlus;

/// Invalid simulation settings (each message names the setting and what would be valid).
#[derive(Debug, Error, PartialEq)]
pub enum SimError {
    /// `dynos` was zero.
    #[error("--dynos must be at least 1 (got 0)")]
    ZeroDynos,
    /// `workers` was zero.
    #[error("--workers must be at least 1 (got 0)")]
    ZeroWorkers,
    /// `samples` was zero.
    #[error("--samples must be at least 1 (got 0)")]
    ZeroSamples,
    /// `ticks` was zero.
    #[error("--ticks must be at least 1 (got 0)")]
    ZeroTicks,
    /// `routers` was zero.
    #[error("--routers must be at least 1 (got 0)")]
    ZeroRouters,
    /// Too few requests to measure anything.
    #[error("--requests must be at least 100 (got {0})")]
    TooFewRequests(u64),
    /// Routers × dynos would not fit in memory.
    #[error("--routers {routers} × {dynos} dynos is too many router views (at most 50 million)")]
    TooManyRouterViews {
        /// Routers asked for.
        routers: u32,
        /// Dynos asked for.
        dynos: u32,
    },
    /// The router timeout was not positive.
    #[error("--timeout must be positive")]
    BadTimeout,
    /// The service distribution has a zero mean, so utilization is undefined.
    #[error("the service time distribution has a zero mean; utilization is undefined")]
    ZeroServiceMean,
}

/// Utilization points to sweep, in percent of total capacity: `A..B` (both ends included,
/// as in the classic experiment's `0..110`), `A..B:STEP`, or a single value.
#[derive(Debug, Clone, PartialEq)]
pub struct UtilRange {
    /// First point (percent).
    pub start: f64,
    /// Last point (percent), included when the step lands on it.
    pub end: f64,
    /// Distance between points (percent, > 0).
    pub step: f64,
}

/// The largest utilization accepted (percent).
pub const MAX_UTIL: f64 = 1000.0;

impl UtilRange {
    /// A range from `start` to `end` (inclusive) by `step`.
    pub fn new(start: f64, end: f64, step: f64) -> Result<UtilRange, String> {
        for (what, v) in [("start", start), ("end", end), ("step", step)] {
            if !v.is_finite() {
                return Err(format!("the {what} of --util is not a number"));
            }
        }
        if start < 0.0 {
            return Err(format!("--util cannot start below 0% (got {start})"));
        }
        if end > MAX_UTIL {
            return Err(format!("--util cannot go above {MAX_UTIL}% (got {end})"));
        }
        if start > end {
            return Err(format!(
                "--util {start}..{end} is reversed: the start must not exceed the end (e.g. --util {end}..{start})"
            ));
        }
        if step <= 0.0 {
            return Err(format!(
                "the step of --util must be positive (got {step}); e.g. --util 0..110:5"
            ));
        }
        Ok(UtilRange { start, end, step })
    }

    /// The points, in increasing order (at most 100 001).
    pub fn points(&self) -> Vec<f64> {
        let n = ((self.end - self.start) / self.step + 1e-9).floor() as usize + 1;
        (0..n.min(100_001))
            .map(|i| {
                // Round to 1e-9 so that 0.1 steps print and seed cleanly.
                let v = self.start + i as f64 * self.step;
                (v * 1e9).round() / 1e9
            })
            .collect()
    }
}

impl fmt::Display for UtilRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}%", self.start)
        } else {
            write!(f, "{}..{}% step {}", self.start, self.end, self.step)
        }
    }
}

impl FromStr for UtilRange {
    type Err = String;

    fn from_str(s: &str) -> Result<UtilRange, String> {
        let t = s.trim().trim_end_matches('%');
        let num = |x: &str, what: &str| -> Result<f64, String> {
            x.trim().trim_end_matches('%').parse::<f64>().map_err(|_| {
                format!("the {what} of --util '{s}' is not a number; write A..B, A..B:STEP or A (percent)")
            })
        };
        let (range, step) = match t.split_once(':') {
            Some((r, st)) => (r, Some(num(st, "step")?)),
            None => (t, None),
        };
        match range.split_once("..") {
            Some((a, b)) => {
                let b = b.strip_prefix('=').unwrap_or(b);
                UtilRange::new(num(a, "start")?, num(b, "end")?, step.unwrap_or(1.0))
            }
            None => {
                let v = num(range, "value")?;
                UtilRange::new(v, v, step.unwrap_or(1.0))
            }
        }
    }
}

/// Utilizations as one flag value, the same grammar wherever `--util` is taken: points and
/// ranges separated by commas (`50,70,80`, `0..110:5`, `10..50:10,70,90`).
#[derive(Debug, Clone, PartialEq)]
pub struct UtilList(pub Vec<UtilRange>);

impl UtilList {
    /// Every point of every part, in increasing order, each once.
    pub fn points(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.0.iter().flat_map(UtilRange::points).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    }
}

impl From<UtilRange> for UtilList {
    fn from(r: UtilRange) -> UtilList {
        UtilList(vec![r])
    }
}

impl fmt::Display for UtilList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

impl FromStr for UtilList {
    type Err = String;

    fn from_str(s: &str) -> Result<UtilList, String> {
        if s.trim().is_empty() {
            return Err(
                "--util is empty; write A..B, A..B:STEP or A, several separated by commas (percent)".into(),
            );
        }
        s.split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(UtilList)
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The generator of one (utilization, sample) task, derived from the base seed. It depends on
/// the utilization's value (not its index) and not on the policy, so a point gives the same
/// numbers whatever range it was swept in, and policies see common random numbers where their
/// draws line up.
pub fn task_rng(seed: u64, util: f64, sample: u32) -> SimRng {
    let key = (util * 1000.0).round() as i64 as u64;
    let h = splitmix64(splitmix64(splitmix64(seed) ^ key) ^ u64::from(sample));
    SimRng::seed_from_u64(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn util_ranges() {
        let r: UtilRange = "0..110".parse().unwrap();
        assert_eq!(r.points().len(), 111);
        assert_eq!(*r.points().last().unwrap(), 110.0);
        let r: UtilRange = "0..110:5".parse().unwrap();
        assert_eq!(r.points().len(), 23);
        let r: UtilRange = "50..=60:2.5%".parse().unwrap();
        assert_eq!(r.points(), vec![50.0, 52.5, 55.0, 57.5, 60.0]);
        assert_eq!("70".parse::<UtilRange>().unwrap().points(), vec![70.0]);
        assert!("110..0".parse::<UtilRange>().unwrap_err().contains("reversed"));
        assert!("0..110:0".parse::<UtilRange>().unwrap_err().contains("step"));
        assert!("a..3".parse::<UtilRange>().unwrap_err().contains("start"));
        assert!("-5..3".parse::<UtilRange>().is_err());
        let r: UtilRange = "0..1:0.1".parse().unwrap();
        assert_eq!(r.points().len(), 11);
    }

    #[test]
    fn util_lists_take_points_and_ranges() {
        let l: UtilList = "10,20,30".parse().unwrap();
        assert_eq!(l.points(), vec![10.0, 20.0, 30.0]);
        let l: UtilList = "90,10..30:10,20".parse().unwrap();
        assert_eq!(l.points(), vec![10.0, 20.0, 30.0, 90.0]);
        assert_eq!("0..110:5".parse::<UtilList>().unwrap().points().len(), 23);
        assert!("10,x".parse::<UtilList>().unwrap_err().contains("'x'"));
        assert!("".parse::<UtilList>().is_err());
    }

    #[test]
    fn task_seeds_differ() {
        use rand::RngExt;
        let a: u64 = task_rng(1, 50.0, 0).random();
        let b: u64 = task_rng(1, 50.0, 1).random();
        let c: u64 = task_rng(1, 51.0, 0).random();
        let d: u64 = task_rng(2, 50.0, 0).random();
        let a2: u64 = task_rng(1, 50.0, 0).random();
        assert_eq!(a, a2);
        assert!(a != b && a != c && a != d);
    }
}
