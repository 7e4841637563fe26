//! Routing policies (how a request picks a dyno) and the O(1) "least loaded, ties at random"
//! structure that the least-connections family shares between both engines.

use std::fmt;
use std::str::FromStr;

use rand::RngExt;

/// How the router picks a dyno for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Uniformly at random: what many independent routers add up to.
    Random,
    /// One global router cycling through the dynos in turn.
    RoundRobin,
    /// One global, all-knowing router sending each request to a dyno with the fewest requests
    /// in it (queued or in service); ties are broken at random.
    LeastConnections,
    /// `--routers R` independent routers, each picked at random per request, each sending to
    /// the dyno with the fewest of *its own* requests in flight (the platform's behaviour).
    /// R = 1 is least-connections; large R approaches random.
    PerRouterLeastConnections,
    /// Two distinct dynos drawn at random; the one with fewer requests in it wins.
    PowerOfTwoChoices,
}

impl Policy {
    /// Every policy, in the order reports list them (random first: it is the platform's).
    pub const ALL: [Policy; 5] = [
        Policy::Random,
        Policy::RoundRobin,
        Policy::LeastConnections,
        Policy::PerRouterLeastConnections,
        Policy::PowerOfTwoChoices,
    ];

    /// The policy's canonical name, as accepted on the command line and written to CSV.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Random => "random",
            Policy::RoundRobin => "round-robin",
            Policy::LeastConnections => "least-connections",
            Policy::PerRouterLeastConnections => "per-router-least-connections",
            Policy::PowerOfTwoChoices => "power-of-two-choices",
        }
    }

    /// A short label for table headers; per-router shows its router count.
    pub fn short_label(self, routers: u32) -> String {
        match self {
            Policy::Random => "random".into(),
            Policy::RoundRobin => "round-robin".into(),
            Policy::LeastConnections => "least-conn".into(),
            Policy::PerRouterLeastConnections => format!("per-router(R={routers})"),
            Policy::PowerOfTwoChoices => "power-of-two".into(),
        }
    }

    /// The full label for findings and charts; per-router shows its router count.
    pub fn label(self, routers: u32) -> String {
        match self {
            Policy::PerRouterLeastConnections => format!("per-router-least-connections (R={routers})"),
            p => p.name().to_string(),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Policy, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "random" => Policy::Random,
            "round-robin" | "rr" => Policy::RoundRobin,
            "least-connections" | "lc" | "least-conn" => Policy::LeastConnections,
            "per-router-least-connections" | "per-router" | "per-router-lc" => {
                Policy::PerRouterLeastConnections
            }
            "power-of-two-choices" | "power-of-two" | "p2c" => Policy::PowerOfTwoChoices,
            other => {
                return Err(format!(
                    "unknown routing policy '{other}'; use one of: random, round-robin (rr), \
                     least-connections (lc), per-router-least-connections (per-router), \
                     power-of-two-choices (p2c)"
                ));
            }
        })
    }
}

/// Per-dyno counters that can name a dyno with the smallest count, uniformly at random among
/// ties, in O(1): dynos are kept in buckets by count, and the smallest non-empty bucket is
/// tracked. Increments and decrements move one dyno between neighbouring buckets.
#[derive(Debug, Clone)]
pub(crate) struct MinPicker {
    count: Vec<u32>,
    pos: Vec<u32>,
    buckets: Vec<Vec<u32>>,
    min: usize,
}

impl MinPicker {
    /// `n` dynos, all at zero.
    pub(crate) fn new(n: usize) -> MinPicker {
        MinPicker {
            count: vec![0; n],
            pos: (0..n as u32).collect(),
            buckets: vec![(0..n as u32).collect()],
            min: 0,
        }
    }

    /// The count of dyno `d`.
    #[inline]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn count(&self, d: usize) -> u32 {
        self.count[d]
    }

    #[inline]
    fn take_out(&mut self, d: usize, c: usize) {
        let b = &mut self.buckets[c];
        let i = self.pos[d] as usize;
        let last = b.pop().expect("a dyno is always in the bucket of its count");
        if last as usize != d {
            b[i] = last;
            self.pos[last as usize] = i as u32;
        }
    }

    #[inline]
    fn put_in(&mut self, d: usize, c: usize) {
        if self.buckets.len() <= c {
            self.buckets.resize_with(c + 1, Vec::new);
        }
        let b = &mut self.buckets[c];
        self.pos[d] = b.len() as u32;
        b.push(d as u32);
    }

    /// One more request at dyno `d`.
    #[inline]
    pub(crate) fn inc(&mut self, d: usize) {
        let c = self.count[d] as usize;
        self.take_out(d, c);
        self.put_in(d, c + 1);
        self.count[d] += 1;
        if c == self.min && self.buckets[c].is_empty() {
            self.min = c + 1;
        }
    }

    /// One request fewer at dyno `d` (which must have one).
    #[inline]
    pub(crate) fn dec(&mut self, d: usize) {
        let c = self.count[d] as usize;
        debug_assert!(c > 0, "dec below zero");
        self.take_out(d, c);
        self.put_in(d, c - 1);
        self.count[d] -= 1;
        if c - 1 < self.min {
            self.min = c - 1;
        }
    }

    /// A dyno with the smallest count, uniformly at random among ties.
    #[inline]
    pub(crate) fn pick_min<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let b = &self.buckets[self.min];
        if b.len() == 1 {
            b[0] as usize
        } else {
            b[rng.random_range(0..b.len())] as usize
        }
    }
}

/// Two distinct dynos drawn uniformly at random (the same dyno twice when there is only one).
#[inline]
pub(crate) fn two_choices<R: rand::Rng + ?Sized>(n: usize, rng: &mut R) -> (usize, usize) {
    let a = rng.random_range(0..n);
    if n == 1 {
        return (a, a);
    }
    let mut b = rng.random_range(0..n - 1);
    if b >= a {
        b += 1;
    }
    (a, b)
}

/// A router's state for one policy: which dyno gets the next request. Shared by the CPU
/// engine and the live router (`driver::router`), so the simulation and the real processes
/// route by the same code. Per-router least-connections keeps one count per router; each
/// router forgets a request when it leaves *that router* (answered or timed out), while the
/// global counts follow the dyno.
#[derive(Debug, Clone)]
pub struct Chooser {
    policy: Policy,
    in_system: Vec<u32>,
    least: MinPicker,
    routers: Vec<MinPicker>,
    rr: usize,
}

impl Chooser {
    /// A chooser over `dynos` dynos with `routers` independent routers (per-router policy).
    pub fn new(policy: Policy, dynos: usize, routers: u32) -> Chooser {
        Chooser {
            policy,
            in_system: vec![0; dynos],
            least: MinPicker::new(dynos),
            routers: vec![MinPicker::new(dynos); routers.max(1) as usize],
            rr: 0,
        }
    }

    /// The dyno (and router) for the next request.
    pub fn pick<R: rand::Rng + ?Sized>(&mut self, rng: &mut R) -> (usize, u32) {
        let n = self.in_system.len();
        match self.policy {
            Policy::Random => (rng.random_range(0..n), 0),
            Policy::RoundRobin => {
                let d = self.rr;
                self.rr = (self.rr + 1) % n;
                (d, 0)
            }
            Policy::LeastConnections => (self.least.pick_min(rng), 0),
            Policy::PerRouterLeastConnections => {
                let r = rng.random_range(0..self.routers.len());
                (self.routers[r].pick_min(rng), r as u32)
            }
            Policy::PowerOfTwoChoices => {
                let (a, b) = two_choices(n, rng);
                if a != b && self.in_system[b] < self.in_system[a] {
                    (b, 0)
                } else {
                    (a, 0)
                }
            }
        }
    }

    /// A request was sent to dyno `d` by router `r`.
    pub fn sent(&mut self, d: usize, r: u32) {
        self.in_system[d] += 1;
        self.least.inc(d);
        if self.policy == Policy::PerRouterLeastConnections {
            self.routers[r as usize].inc(d);
        }
    }

    /// Router `r` is done with its request to dyno `d` (answered, or given up on).
    pub fn router_done(&mut self, d: usize, r: u32) {
        if self.policy == Policy::PerRouterLeastConnections {
            self.routers[r as usize].dec(d);
        }
    }

    /// Dyno `d` finished a request.
    pub fn dyno_done(&mut self, d: usize) {
        self.in_system[d] -= 1;
        self.least.dec(d);
    }

    /// Requests in dyno `d` (queued or in service).
    pub fn in_system(&self, d: usize) -> u32 {
        self.in_system[d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>().unwrap(), p);
        }
        assert_eq!("p2c".parse::<Policy>().unwrap(), Policy::PowerOfTwoChoices);
        assert!("smart".parse::<Policy>().unwrap_err().contains("random"));
    }

    #[test]
    fn min_picker_tracks_minimum_and_ties() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut m = MinPicker::new(4);
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[m.pick_min(&mut rng)] = true;
        }
        assert_eq!(seen, [true; 4], "ties are broken among all dynos");
        m.inc(0);
        m.inc(1);
        m.inc(2);
        for _ in 0..50 {
            assert_eq!(m.pick_min(&mut rng), 3);
        }
        m.inc(3);
        m.inc(3);
        m.dec(1);
        assert_eq!(m.pick_min(&mut rng), 1);
        assert_eq!((m.count(0), m.count(1), m.count(3)), (1, 0, 2));
        // A brute-force check against random operations.
        let mut m = MinPicker::new(9);
        let mut c = [0u32; 9];
        for _ in 0..5000 {
            let d = rng.random_range(0..9);
            if c[d] > 0 && rng.random_bool(0.45) {
                c[d] -= 1;
                m.dec(d);
            } else {
                c[d] += 1;
                m.inc(d);
            }
            let p = m.pick_min(&mut rng);
            assert_eq!(c[p], *c.iter().min().unwrap());
        }
    }

    #[test]
    fn two_choices_are_distinct() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for _ in 0..1000 {
            let (a, b) = two_choices(3, &mut rng);
            assert!(a != b && a < 3 && b < 3);
        }
        assert_eq!(two_choices(1, &mut rng), (0, 0));
    }
}
