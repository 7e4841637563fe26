//! The helper processes sandboxes run: noisy neighbours (`dynobench neighbour`, a CPU
//! burner following a seeded load pattern) and the calibration child (`dynobench burn`,
//! CPU-bound loops, fixed-size work items, or a memory hog).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::server::timing::thread_cpu_ns;

/// How noisy neighbours load their CPU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Pattern {
    /// Always busy: the share floor, all the time.
    Steady,
    /// Busy `duty` of each phase, then idle.
    Periodic {
        /// Busy fraction of each phase.
        duty: f64,
    },
    /// Random phases of random length (exponential, mean = phase): busy with probability `duty`.
    Bursty {
        /// Long-run busy fraction.
        duty: f64,
    },
}

/// A neighbour load: pattern, mean phase length and seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NeighbourLoad {
    /// The pattern.
    pub pattern: Pattern,
    /// Mean phase length, ms.
    pub phase_ms: u64,
    /// Seed of the random phases.
    pub seed: u64,
}

impl Default for NeighbourLoad {
    fn default() -> Self {
        NeighbourLoad {
            pattern: Pattern::Bursty { duty: 0.5 },
            phase_ms: 100,
            seed: 1,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Steady => write!(f, "steady"),
            Pattern::Periodic { duty } => write!(f, "periodic:{duty}"),
            Pattern::Bursty { duty } => write!(f, "bursty:{duty}"),
        }
    }
}

impl FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Pattern, String> {
        let (name, duty) = match s.split_once(':') {
            Some((n, d)) => (
                n,
                Some(
                    d.parse::<f64>()
                        .map_err(|_| format!("duty '{d}' in '{s}' is not a number"))?,
                ),
            ),
            None => (s, None),
        };
        let duty = duty.unwrap_or(0.5);
        if !(duty > 0.0 && duty <= 1.0) {
            return Err(format!("duty {duty} in '{s}' must be in (0, 1]"));
        }
        match name {
            "steady" => Ok(Pattern::Steady),
            "periodic" => Ok(Pattern::Periodic { duty }),
            "bursty" => Ok(Pattern::Bursty { duty }),
            _ => Err(format!(
                "unknown neighbour pattern '{s}'; valid: steady, bursty[:DUTY], periodic[:DUTY], none"
            )),
        }
    }
}

impl NeighbourLoad {
    /// Command-line arguments of `dynobench neighbour` for this load, with a per-process seed.
    pub fn args(&self, index: usize) -> Vec<String> {
        vec![
            "neighbour".into(),
            "--pattern".into(),
            self.pattern.to_string(),
            "--phase-ms".into(),
            self.phase_ms.to_string(),
            "--seed".into(),
            (self.seed.wrapping_add(index as u64 * 7919)).to_string(),
        ]
    }
}

fn spin_until(deadline: Instant) {
    let mut x = 1u64;
    while Instant::now() < deadline {
        for _ in 0..1000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
        std::hint::black_box(x);
    }
}

/// Runs a neighbour forever (until killed).
pub fn run_neighbour(load: NeighbourLoad) -> ! {
    let mut rng = ChaCha8Rng::seed_from_u64(load.seed);
    let phase = Duration::from_millis(load.phase_ms.max(1));
    loop {
        match load.pattern {
            Pattern::Steady => spin_until(Instant::now() + phase),
            Pattern::Periodic { duty } => {
                let busy = phase.mul_f64(duty);
                spin_until(Instant::now() + busy);
                std::thread::sleep(phase - busy);
            }
            Pattern::Bursty { duty } => {
                // Exponential phase length with the given mean.
                let u: f64 = rng.random::<f64>().max(1e-9);
                let len = phase.mul_f64(-u.ln()).min(phase * 10);
                if rng.random_bool(duty) {
                    spin_until(Instant::now() + len);
                } else {
                    std::thread::sleep(len);
                }
            }
        }
    }
}

/// What a `dynobench burn` child measured of itself, printed as JSON on stdout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BurnReport {
    /// Wall time of the busy phase, µs.
    pub wall_us: u64,
    /// CPU time used by all busy threads, µs.
    pub cpu_us: u64,
    /// Wall time of each work item, µs (when `--item-ms` was given).
    pub items_us: Vec<u64>,
    /// `available_parallelism` as the child saw it.
    pub available_parallelism: usize,
    /// Memory touched, MB (when `--alloc-mb` was given).
    pub allocated_mb: u64,
}

/// What a burn child should do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnSpec {
    /// How long, seconds.
    pub seconds: f64,
    /// Busy threads.
    pub threads: usize,
    /// CPU milliseconds per work item; 0 = one continuous loop.
    pub item_ms: f64,
    /// MB to allocate and touch first (then hold while burning).
    pub alloc_mb: u64,
}

/// Runs the burn child and returns its report.
pub fn burn(spec: BurnSpec) -> BurnReport {
    let mut hog: Vec<Vec<u8>> = Vec::new();
    for _ in 0..spec.alloc_mb {
        // Touch every page so the memory is resident, not just reserved.
        hog.push(vec![1u8; 1 << 20]);
    }
    let available_parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(spec.seconds);
    let threads: Vec<_> = (0..spec.threads.max(1))
        .map(|_| {
            std::thread::spawn(move || {
                let cpu0 = thread_cpu_ns();
                let mut items = Vec::new();
                if spec.item_ms > 0.0 {
                    let item_ns = (spec.item_ms * 1e6) as u64;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let c = thread_cpu_ns();
                        while thread_cpu_ns() - c < item_ns {
                            spin_until(Instant::now() + Duration::from_micros(50));
                        }
                        items.push(t.elapsed().as_micros() as u64);
                    }
                } else {
                    spin_until(deadline);
                }
                ((thread_cpu_ns() - cpu0) / 1000, items)
            })
        })
        .collect();
    let mut report = BurnReport {
        available_parallelism,
        allocated_mb: hog.len() as u64,
        ..BurnReport::default()
    };
    for t in threads {
        let (cpu, items) = t.join().unwrap_or_default();
        report.cpu_us += cpu;
        report.items_us.extend(items);
    }
    report.wall_us = start.elapsed().as_micros() as u64;
    std::hint::black_box(&hog);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_print() {
        assert_eq!("steady".parse::<Pattern>().unwrap(), Pattern::Steady);
        assert_eq!(
            "bursty:0.3".parse::<Pattern>().unwrap(),
            Pattern::Bursty { duty: 0.3 }
        );
        assert_eq!(
            "periodic".parse::<Pattern>().unwrap(),
            Pattern::Periodic { duty: 0.5 }
        );
        assert_eq!(Pattern::Bursty { duty: 0.3 }.to_string(), "bursty:0.3");
        assert!("bursty:2".parse::<Pattern>().is_err());
        assert!("loud".parse::<Pattern>().unwrap_err().contains("valid"));
    }

    #[test]
    fn neighbour_args_vary_the_seed_per_process() {
        let l = NeighbourLoad::default();
        assert_ne!(l.args(0), l.args(1));
        assert_eq!(l.args(0)[0], "neighbour");
    }

    #[test]
    fn burn_items_take_their_cpu() {
        let r = burn(BurnSpec {
            seconds: 0.05,
            threads: 1,
            item_ms: 5.0,
            alloc_mb: 1,
        });
        assert!(!r.items_us.is_empty());
        assert!(r.items_us.iter().all(|&w| w >= 5000), "{:?}", r.items_us);
        assert!(r.cpu_us > 30_000);
        assert_eq!(r.allocated_mb, 1);
    }
}
