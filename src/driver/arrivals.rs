//! Open-loop arrivals: the intended send offsets of scheduled calls at a rate, constant or
//! Poisson (seeded), generated as they are needed.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::record::Arrivals;

/// Intended send offsets of open-loop calls, generated as they are needed (an hour at a
/// high rate is millions of calls: the schedule is never held whole).
#[derive(Debug, Clone)]
pub struct ArrivalTimes {
    rng: ChaCha8Rng,
    t: f64,
    i: u64,
    rate: f64,
    arrivals: Arrivals,
}

impl ArrivalTimes {
    /// Arrivals at `rate` per second, constant or Poisson (seeded).
    pub fn new(rate: f64, arrivals: Arrivals, seed: u64) -> ArrivalTimes {
        ArrivalTimes {
            rng: ChaCha8Rng::seed_from_u64(seed),
            t: 0.0,
            i: 0,
            rate,
            arrivals,
        }
    }
}

impl Iterator for ArrivalTimes {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let at = match self.arrivals {
            Arrivals::Constant => self.i as f64 / self.rate,
            Arrivals::Poisson => {
                let now = self.t;
                let u: f64 = self.rng.random::<f64>().max(1e-12);
                self.t += -u.ln() / self.rate;
                now
            }
        };
        self.i += 1;
        Some(Duration::from_secs_f64(at))
    }
}

/// Intended send offsets of `n` open-loop calls.
pub fn schedule(n: u32, rate: f64, arrivals: Arrivals, seed: u64) -> Vec<Duration> {
    ArrivalTimes::new(rate, arrivals, seed).take(n as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_spaced_by_the_rate() {
        let c = schedule(5, 10.0, Arrivals::Constant, 1);
        assert_eq!(c[4], Duration::from_millis(400));
        let p = schedule(20_000, 100.0, Arrivals::Poisson, 7);
        assert_eq!(p, schedule(20_000, 100.0, Arrivals::Poisson, 7), "seeded");
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
        let mean_gap = p.last().unwrap().as_secs_f64() / (p.len() - 1) as f64;
        assert!((mean_gap - 0.01).abs() < 0.0005, "mean gap {mean_gap}");
    }
}
