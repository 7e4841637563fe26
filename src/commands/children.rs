//! The internal child processes sandboxes run: `dynobench neighbour` (a noisy neighbour
//! burning CPU in a seeded load pattern until killed) and `dynobench burn` (the calibration
//! child: CPU-bound loops, fixed-size work items, or a memory hog; prints its report as JSON).

use std::time::{Duration, Instant};

use anyhow::anyhow;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cli::{BurnArgs, NeighbourArgs};
use crate::error::{CliError, Outcome, failed, usage};
use crate::limit::calibrate::{BurnReport, BurnSpec};
use crate::limit::{NeighbourLoad, Pattern};
use crate::server::timing::thread_cpu_ns;

/// `dynobench neighbour` (never returns: it burns until killed).
pub(crate) fn neighbour(a: NeighbourArgs) -> Result<Outcome, CliError> {
    run_neighbour(NeighbourLoad {
        pattern: a.pattern,
        phase_ms: a.phase_ms,
        seed: a.seed,
    })
}

/// `dynobench burn`: runs and prints the report as one JSON line.
pub(crate) fn burn_child(a: BurnArgs) -> Result<Outcome, CliError> {
    if !(a.seconds >= 0.0 && a.seconds <= 3600.0 && a.item_ms >= 0.0 && a.item_ms <= 1000.0) {
        return Err(usage(anyhow!(
            "burn: --seconds must be in [0, 3600] and --item-ms in [0, 1000]"
        )));
    }
    if !(a.rate.is_finite() && (0.0..=100_000.0).contains(&a.rate)) || (a.rate > 0.0 && a.item_ms <= 0.0) {
        return Err(usage(anyhow!(
            "burn: --rate must be in [0, 100000] items/s, and needs --item-ms"
        )));
    }
    let r = burn(BurnSpec {
        seconds: a.seconds,
        threads: a.threads,
        item_ms: a.item_ms,
        alloc_mb: a.alloc_mb,
        rate: a.rate,
        seed: a.seed,
    });
    println!("{}", serde_json::to_string(&r).map_err(failed)?);
    Ok(Outcome::Ok)
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
fn run_neighbour(load: NeighbourLoad) -> ! {
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

/// Spins until this thread has used `item_ns` of CPU; returns the longest wall-clock gap
/// between two checks beyond their own length (how long the thread was held off a CPU), µs.
fn spin_item(item_ns: u64) -> u64 {
    let c = thread_cpu_ns();
    let mut gap = Duration::ZERO;
    let chunk = Duration::from_micros(50);
    // From one check to the next, the CPU-clock read included: a stall anywhere in the loop
    // counts.
    let mut t = Instant::now();
    while thread_cpu_ns() - c < item_ns {
        spin_until(t + chunk);
        let now = Instant::now();
        gap = gap.max((now - t).saturating_sub(chunk));
        t = now;
    }
    gap.as_micros() as u64
}

/// Poisson arrivals of `item_ms` work items at `rate` per second until `deadline`, served
/// one at a time in arrival order; each item's time from its arrival to its end (open loop:
/// queueing included), µs, and the longest stall.
fn open_items(spec: &BurnSpec, deadline: Instant) -> (Vec<u64>, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let item_ns = (spec.item_ms * 1e6) as u64;
    let mut items = Vec::new();
    let mut longest = 0;
    let mut arrival = Instant::now();
    loop {
        let u: f64 = rng.random::<f64>().max(1e-12);
        arrival += Duration::from_secs_f64(-u.ln() / spec.rate);
        if arrival >= deadline {
            break;
        }
        let now = Instant::now();
        if arrival > now {
            std::thread::sleep(arrival - now);
        }
        longest = longest.max(spin_item(item_ns));
        items.push(arrival.elapsed().as_micros() as u64);
    }
    (items, longest)
}

/// Runs the burn child and returns its report.
fn burn(spec: BurnSpec) -> BurnReport {
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
                let mut longest = 0;
                if spec.rate > 0.0 {
                    (items, longest) = open_items(&spec, deadline);
                } else if spec.item_ms > 0.0 {
                    let item_ns = (spec.item_ms * 1e6) as u64;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        longest = longest.max(spin_item(item_ns));
                        items.push(t.elapsed().as_micros() as u64);
                    }
                } else {
                    spin_until(deadline);
                }
                ((thread_cpu_ns() - cpu0) / 1000, items, longest)
            })
        })
        .collect();
    let mut report = BurnReport {
        available_parallelism,
        allocated_mb: hog.len() as u64,
        ..BurnReport::default()
    };
    for t in threads {
        let (cpu, items, longest) = t.join().unwrap_or_default();
        report.cpu_us += cpu;
        report.items_us.extend(items);
        report.longest_stall_us = report.longest_stall_us.max(longest);
    }
    report.wall_us = start.elapsed().as_micros() as u64;
    std::hint::black_box(&hog);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_items_take_their_cpu() {
        let r = burn(BurnSpec {
            seconds: 0.05,
            threads: 1,
            item_ms: 5.0,
            alloc_mb: 1,
            rate: 0.0,
            seed: 1,
        });
        assert!(!r.items_us.is_empty());
        assert!(r.items_us.iter().all(|&w| w >= 5000), "{:?}", r.items_us);
        // Each item runs until it has used its 5 ms of CPU, whatever else the machine does.
        assert!(r.cpu_us >= r.items_us.len() as u64 * 5000, "{r:?}");
        assert_eq!(r.allocated_mb, 1);
    }

    #[test]
    fn open_items_arrive_at_the_rate_and_count_their_queueing() {
        let r = burn(BurnSpec {
            seconds: 0.5,
            threads: 1,
            item_ms: 1.0,
            alloc_mb: 0,
            rate: 200.0,
            seed: 3,
        });
        // 100 arrivals expected in 0.5 s; Poisson spread is +-10 (1 sd).
        assert!((40..=160).contains(&r.items_us.len()), "{}", r.items_us.len());
        assert!(r.items_us.iter().all(|&w| w >= 1000), "{:?}", r.items_us);
    }
}
