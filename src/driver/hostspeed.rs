//! The host's speed, timed by fixed seeded reference work outside any quota: a CPU-bound
//! item (SHA-256 over 8 MiB of a seeded buffer) and a memory-bound one (a pointer chase through a
//! seeded random cycle of 16 MiB), each the best of several tries, on a thread pinned to the
//! CPUs the servers use. Taken before and after each class (and round), it tells whether
//! the machine itself changed speed while the run went on.

use std::sync::OnceLock;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::limit::placement::pin_current_thread;
use crate::record::HostSpeed;

const CPU_BUF: usize = 256 * 1024;
const CPU_ROUNDS: usize = 32;
const CHASE_LEN: usize = 4 * 1024 * 1024; // u32 slots: 16 MiB
const CHASE_STEPS: usize = 200_000;

struct Buffers {
    cpu: Vec<u8>,
    chase: Vec<u32>,
}

fn buffers() -> &'static Buffers {
    static B: OnceLock<Buffers> = OnceLock::new();
    B.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
        let cpu: Vec<u8> = (0..CPU_BUF).map(|_| rng.random::<u8>()).collect();
        // One random cycle through every slot (Sattolo), so the chase visits them all.
        let mut chase: Vec<u32> = (0..CHASE_LEN as u32).collect();
        for i in (1..CHASE_LEN).rev() {
            let j = rng.random_range(0..i);
            chase.swap(i, j);
        }
        Buffers { cpu, chase }
    })
}

fn cpu_item(b: &Buffers) -> u64 {
    let t = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..CPU_ROUNDS {
        h.update(&b.cpu);
    }
    std::hint::black_box(h.finalize());
    t.elapsed().as_micros() as u64
}

fn mem_item(b: &Buffers) -> u64 {
    let t = Instant::now();
    let mut i = 0u32;
    for _ in 0..CHASE_STEPS {
        i = b.chase[i as usize];
    }
    std::hint::black_box(i);
    t.elapsed().as_micros() as u64
}

/// Times the reference work (best of `tries` each) on a thread pinned to `cpus`.
pub fn measure(cpus: &[usize], tries: usize) -> Option<HostSpeed> {
    let cpus = cpus.to_vec();
    std::thread::Builder::new()
        .name("hostspeed".into())
        .spawn(move || {
            if !cpus.is_empty() {
                let _ = pin_current_thread(&cpus);
            }
            let b = buffers();
            // The CPU item is the index: more tries for it (the best of them is stable to
            // about 1%); the memory item is slower and only reported.
            let cpu = (0..tries.max(1) * 2).map(|_| cpu_item(b)).min()?;
            let mem = (0..tries.max(1)).map(|_| mem_item(b)).min()?;
            Some(HostSpeed {
                cpu_ref_us: cpu as f64,
                mem_ref_us: mem as f64,
            })
        })
        .ok()?
        .join()
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_work_is_timed() {
        let s = measure(&[], 2).unwrap();
        assert!(s.cpu_ref_us > 0.0 && s.mem_ref_us > 0.0, "{s:?}");
    }
}
