//! Noisy neighbours of shared classes: the load pattern they follow (steady, periodic or
//! bursty, seeded) and the command line that starts one (`dynobench neighbour`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
}
