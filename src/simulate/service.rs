//! Service-time distributions (deterministic, exponential, lognormal, the heavy-tailed
//! Weibull and Pareto, empirical from a measured histogram or a list of values) and the
//! parametric `--service` syntax. Times are in seconds here;
//! histograms are in microseconds. Loading measured ones from disk is `report::service`.

use hdrhistogram::Histogram;
use rand::RngExt;
use rand_distr::{Exp1, StandardNormal};

/// A service-time distribution (seconds).
#[derive(Debug, Clone)]
pub enum ServiceDist {
    /// Always the same time.
    Deterministic(f64),
    /// Exponential with this mean (memoryless: the M/M/1 textbook case).
    Exponential(f64),
    /// Lognormal with this mean and shape `sigma` (the log's standard deviation).
    LogNormal {
        /// Mean (seconds).
        mean: f64,
        /// Standard deviation of ln(service time).
        sigma: f64,
    },
    /// Weibull with this mean and `shape` k (k < 1: heavier-tailed than exponential; the
    /// fits of published web service times have k well below 1).
    Weibull {
        /// Mean (seconds).
        mean: f64,
        /// Shape k.
        shape: f64,
    },
    /// Pareto (type I) with this mean and tail index `alpha` > 1: P(S > t) = (xm / t)^alpha
    /// above the scale xm = mean (alpha − 1) / alpha.
    Pareto {
        /// Mean (seconds).
        mean: f64,
        /// Tail index alpha (> 1 for a finite mean; ≤ 2 has infinite variance).
        alpha: f64,
    },
    /// Drawn from a measured histogram or a file of values.
    Empirical(Empirical),
}

/// Gamma(x) for x > 0.
fn gamma(x: f64) -> f64 {
    statrs::function::gamma::gamma(x)
}

/// The Weibull scale of a mean and shape: mean / Γ(1 + 1/k).
fn weibull_scale(mean: f64, shape: f64) -> f64 {
    mean / gamma(1.0 + 1.0 / shape)
}

/// The Pareto scale (its minimum) of a mean and tail index.
fn pareto_scale(mean: f64, alpha: f64) -> f64 {
    mean * (alpha - 1.0) / alpha
}

impl ServiceDist {
    /// The mean service time (seconds).
    pub fn mean(&self) -> f64 {
        match self {
            ServiceDist::Deterministic(s) | ServiceDist::Exponential(s) => *s,
            ServiceDist::LogNormal { mean, .. }
            | ServiceDist::Weibull { mean, .. }
            | ServiceDist::Pareto { mean, .. } => *mean,
            ServiceDist::Empirical(e) => e.mean,
        }
    }

    /// The `q` quantile (0 < q < 1) of the service time (seconds).
    pub fn quantile(&self, q: f64) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => *s,
            ServiceDist::Exponential(m) => -m * (1.0 - q).ln(),
            ServiceDist::LogNormal { mean, sigma } => {
                let mu = mean.ln() - sigma * sigma / 2.0;
                (mu + sigma * probit(q)).exp()
            }
            ServiceDist::Weibull { mean, shape } => {
                weibull_scale(*mean, *shape) * (-(1.0 - q).ln()).powf(1.0 / shape)
            }
            ServiceDist::Pareto { mean, alpha } => pareto_scale(*mean, *alpha) * (1.0 - q).powf(-1.0 / alpha),
            ServiceDist::Empirical(e) => e.quantile(q),
        }
    }

    /// The largest service time (seconds; infinite for unbounded distributions).
    pub fn max(&self) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => *s,
            ServiceDist::Exponential(_)
            | ServiceDist::LogNormal { .. }
            | ServiceDist::Weibull { .. }
            | ServiceDist::Pareto { .. } => f64::INFINITY,
            ServiceDist::Empirical(e) => e.values.last().copied().unwrap_or(0.0),
        }
    }

    /// The share of service times above `t` seconds.
    pub fn share_above(&self, t: f64) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => f64::from(u8::from(*s > t)),
            ServiceDist::Exponential(m) => (-t / m).exp(),
            ServiceDist::LogNormal { mean, sigma } => {
                let mu = mean.ln() - sigma * sigma / 2.0;
                1.0 - normal_cdf((t.ln() - mu) / sigma)
            }
            ServiceDist::Weibull { mean, shape } => {
                (-(t.max(0.0) / weibull_scale(*mean, *shape)).powf(*shape)).exp()
            }
            ServiceDist::Pareto { mean, alpha } => {
                let xm = pareto_scale(*mean, *alpha);
                if t < xm { 1.0 } else { (xm / t).powf(*alpha) }
            }
            ServiceDist::Empirical(e) => e.share_above(t),
        }
    }

    /// Draws one service time.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => *s,
            ServiceDist::Exponential(m) => {
                let e: f64 = rng.sample(Exp1);
                m * e
            }
            ServiceDist::LogNormal { mean, sigma } => {
                let z: f64 = rng.sample(StandardNormal);
                (mean.ln() - sigma * sigma / 2.0 + sigma * z).exp()
            }
            // Inversion: -ln U is Exp(1), so scale × E^(1/k) is Weibull and
            // xm × exp(E / alpha) = xm × U^(-1/alpha) is Pareto.
            ServiceDist::Weibull { mean, shape } => {
                let e: f64 = rng.sample(Exp1);
                weibull_scale(*mean, *shape) * e.powf(1.0 / shape)
            }
            ServiceDist::Pareto { mean, alpha } => {
                let e: f64 = rng.sample(Exp1);
                pareto_scale(*mean, *alpha) * (e / alpha).exp()
            }
            ServiceDist::Empirical(e) => e.sample(rng),
        }
    }

    /// A short description: kind, mean and p99.
    pub fn describe(&self) -> String {
        let kind = match self {
            ServiceDist::Deterministic(_) => "deterministic".to_string(),
            ServiceDist::Exponential(_) => "exponential".to_string(),
            ServiceDist::LogNormal { sigma, .. } => format!("lognormal (sigma {sigma})"),
            ServiceDist::Weibull { shape, .. } => format!("weibull (shape {shape})"),
            ServiceDist::Pareto { alpha, .. } => format!("pareto (alpha {alpha})"),
            ServiceDist::Empirical(e) => format!("empirical ({} samples)", e.total),
        };
        format!(
            "{kind}, mean {}, p99 {}",
            crate::units::fmt_secs(self.mean()),
            crate::units::fmt_secs(self.quantile(0.99))
        )
    }
}

/// A measured distribution: the distinct values of a histogram with their counts, sampled in
/// O(1) with Walker's alias method.
#[derive(Debug, Clone)]
pub struct Empirical {
    values: Vec<f64>,
    cum: Vec<u64>,
    prob: Vec<f64>,
    alias: Vec<u32>,
    total: u64,
    mean: f64,
}

impl Empirical {
    /// From a histogram of microseconds; `None` when it holds no values.
    pub fn from_histogram_us(h: &Histogram<u64>) -> Option<Empirical> {
        let mut pairs: Vec<(f64, u64)> = Vec::new();
        for v in h.iter_recorded() {
            let c = v.count_at_value();
            if c > 0 {
                let us = h.median_equivalent(v.value_iterated_to());
                pairs.push((us as f64 / 1e6, c));
            }
        }
        Empirical::from_pairs(pairs)
    }

    /// From (seconds, count) pairs; `None` when the counts add up to zero.
    pub fn from_pairs(mut pairs: Vec<(f64, u64)>) -> Option<Empirical> {
        pairs.retain(|&(v, c)| c > 0 && v.is_finite() && v >= 0.0);
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = pairs.iter().map(|p| p.1).sum();
        if total == 0 {
            return None;
        }
        let n = pairs.len();
        let values: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0u64;
        let mut sum = 0.0;
        for &(v, c) in &pairs {
            acc += c;
            cum.push(acc);
            sum += v * c as f64;
        }
        // Vose's alias tables.
        let mut prob: Vec<f64> = pairs
            .iter()
            .map(|p| p.1 as f64 * n as f64 / total as f64)
            .collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| prob[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            prob[l] -= 1.0 - prob[s];
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in large.into_iter().chain(small) {
            prob[i] = 1.0;
        }
        Some(Empirical {
            values,
            cum,
            prob,
            alias,
            total,
            mean: sum / total as f64,
        })
    }

    /// From values in seconds, each counted once; `None` when there are none.
    pub fn from_values(values: &[f64]) -> Option<Empirical> {
        Empirical::from_pairs(values.iter().map(|&v| (v, 1)).collect())
    }

    /// How many measurements it holds.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (seconds): the smallest value with at least `q` of the mass at or below.
    pub fn quantile(&self, q: f64) -> f64 {
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let i = self.cum.partition_point(|&c| c < rank);
        self.values[i.min(self.values.len() - 1)]
    }

    /// The share of the mass strictly above `t` seconds.
    pub fn share_above(&self, t: f64) -> f64 {
        let i = self.values.partition_point(|&v| v <= t);
        let below = if i == 0 { 0 } else { self.cum[i - 1] };
        (self.total - below) as f64 / self.total as f64
    }

    /// Draws one value.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let i = rng.random_range(0..self.values.len());
        let u: f64 = rng.random();
        if u < self.prob[i] {
            self.values[i]
        } else {
            self.values[self.alias[i] as usize]
        }
    }
}

/// The standard normal CDF (Abramowitz–Stegun 7.1.26 through erf; error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    0.5 * (1.0 + if z >= 0.0 { erf } else { -erf })
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let us = crate::units::parse_duration_us(s)?;
    if us.is_finite() && us > 0.0 {
        Ok(us / 1e6)
    } else {
        Err("the mean service time must be positive".into())
    }
}

/// The shape parameter after `KIND:MEAN:`, a number in `range` (`what` names it).
fn parse_shape(
    kind: &str,
    what: &str,
    s: Option<&str>,
    default: Option<f64>,
    ok: (f64, f64),
) -> Result<f64, String> {
    let v = match (s, default) {
        (None, Some(d)) => d,
        (None, None) => {
            return Err(format!(
                "{kind} needs its {what}: write {kind}:MEAN:{}",
                what.to_uppercase()
            ));
        }
        (Some(s), _) => s.trim().parse::<f64>().map_err(|_| {
            format!(
                "{what} '{s}' is not a number; write {kind}:MEAN:{}",
                what.to_uppercase()
            )
        })?,
    };
    if !(v > ok.0 && v <= ok.1) {
        return Err(format!("{kind} {what} must be in ({}, {}] (got {v})", ok.0, ok.1));
    }
    Ok(v)
}

/// Parses a parametric spec: `deterministic:100ms`, `exponential:100ms` (mean),
/// `lognormal:100ms` or `lognormal:100ms:1.2` (mean and sigma, default 1),
/// `weibull:300ms:0.5` (mean and shape), `pareto:300ms:1.5` (mean and tail index > 1).
/// `None` when `spec` is not of that form (then it names a file); `Some(Err(reason))` when
/// it is but is wrong.
pub fn parse_parametric(spec: &str) -> Option<Result<ServiceDist, String>> {
    let (kind, rest) = spec.split_once(':')?;
    let kind = kind.trim().to_ascii_lowercase();
    let dist = match kind.as_str() {
        "deterministic" | "det" | "const" | "constant" => parse_secs(rest).map(ServiceDist::Deterministic),
        "exponential" | "exp" => parse_secs(rest).map(ServiceDist::Exponential),
        "lognormal" | "weibull" | "pareto" => {
            let (m, shape) = match rest.split_once(':') {
                Some((m, s)) => (m, Some(s)),
                None => (rest, None),
            };
            parse_secs(m).and_then(|mean| match kind.as_str() {
                "lognormal" => parse_shape("lognormal", "sigma", shape, Some(1.0), (0.0, 5.0))
                    .map(|sigma| ServiceDist::LogNormal { mean, sigma }),
                // Below shape 0.1 the tail is so heavy that no simulation length estimates it.
                "weibull" => parse_shape("weibull", "shape", shape, None, (0.1, 10.0))
                    .map(|shape| ServiceDist::Weibull { mean, shape }),
                _ => parse_shape("pareto", "alpha", shape, None, (1.0, 100.0))
                    .map(|alpha| ServiceDist::Pareto { mean, alpha }),
            })
        }
        _ => return None,
    };
    Some(dist)
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
