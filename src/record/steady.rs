//! Steady state, for anything that judges a queue at a rate (capacity-search steps,
//! formation points): the relaxation time τ = S/(1−√ρ)² of an M/M/1 queue (how long its
//! backlog takes to forget where it started), step lengths in units of τ, a trend test that
//! stays honest on autocorrelated series (batch means, each batch at least about τ long, so
//! the batches are close to independent), and a batch-means interval of a series' mean. Pure.

/// Warm-up before a capacity step is judged, in relaxation times.
pub const WARMUP_TAUS: f64 = 3.0;
/// Measured time of a capacity step, in relaxation times (at least the step's own length).
pub const MEASURE_TAUS: f64 = 5.0;

/// The M/M/1 relaxation time, s, of a queue with mean service `service_s` per worker and
/// utilization `rho` (per worker): S/(1−√ρ)², infinite at ρ ≥ 1. Several workers relax
/// faster; this is the conservative (one-worker) figure.
pub fn relaxation_s(service_s: f64, rho: f64) -> f64 {
    if rho.is_nan() || rho >= 1.0 || service_s.is_nan() || service_s <= 0.0 {
        return f64::INFINITY;
    }
    service_s / (1.0 - rho.max(0.0).sqrt()).powi(2)
}

/// How long one capacity step warms up and is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPlan {
    /// Relaxation time at the step's rate, s (infinite at or past saturation).
    pub tau_s: f64,
    /// Warm-up, s: at least [`WARMUP_TAUS`] τ (and 2 s), at most the budget.
    pub warmup_s: f64,
    /// Measured time, s: at least [`MEASURE_TAUS`] τ and the step length, at most the budget.
    pub measure_s: f64,
    /// Whether the budget let the step reach steady state (3τ warm-up and 5τ measured, a
    /// longer asked-for step being cut to the budget);
    /// a step that cannot is not judged to hold.
    pub steady: bool,
}

/// The step at `rate` req/s against `workers` workers whose mean service time is
/// `service_s`: warm-up ≥ 3τ, measured ≥ max(`step_s`, 5τ); neither past `max_s`. A step
/// whose relaxation times do not fit in `max_s` is planned at the plain length (it is not
/// steady, so it cannot hold).
pub fn step_plan(rate: f64, service_s: f64, workers: u32, step_s: f64, max_s: f64) -> StepPlan {
    let rho = rate * service_s / f64::from(workers.max(1));
    let tau = relaxation_s(service_s, rho);
    let short_warm = 2.0f64.max(step_s / 5.0);
    // The budget caps a long step's length, which costs only precision; steady state
    // needs the relaxation times themselves to fit.
    let steady = (WARMUP_TAUS * tau).max(2.0) <= max_s && MEASURE_TAUS * tau <= max_s;
    if !steady {
        // It cannot hold whatever it measures: the plain step length shows how it breaks
        // (and measures the service time again) without minutes of an overloaded queue.
        return StepPlan {
            tau_s: tau,
            warmup_s: short_warm.min(max_s),
            measure_s: step_s.min(max_s),
            steady,
        };
    }
    StepPlan {
        tau_s: tau,
        warmup_s: (WARMUP_TAUS * tau).max(short_warm).min(max_s),
        measure_s: (MEASURE_TAUS * tau).max(step_s).min(max_s),
        steady,
    }
}

/// One-sided 0.1% critical values of Student's t, for 1..=10 degrees of freedom. A search
/// tests up to a dozen steps, and a stable step called rising is struck as broken: at 1%
/// per step, one search in twenty answered low because of it (`cargo bench --bench
/// capacity_search`); a queue that really keeps growing is far past this level.
const T999: [f64; 10] = [
    318.31, 22.327, 10.215, 7.173, 5.893, 5.208, 4.785, 4.501, 4.297, 4.144,
];

/// Means of `series` cut into `b` consecutive batches of equal length (the remainder at the
/// start is dropped: the end of a step matters most).
pub fn batch_means(series: &[f64], b: usize) -> Vec<f64> {
    let b = b.max(1);
    let per = series.len() / b;
    if per == 0 {
        return Vec::new();
    }
    let skip = series.len() - per * b;
    series[skip..]
        .chunks(per)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

/// Whether a series (per-second latencies over a step, in time order) rises: the least-
/// squares slope of its batch means is positive at one-sided 0.1% (Student's t on the batch
/// means, which are near-independent when each batch spans about a relaxation time), and
/// the last batch is at least 10% above the first. `batches` is clamped to 5..=10; fewer
/// than 10 points never show a trend. Per-second points themselves are autocorrelated (a
/// queue remembers), which made a plain Mann-Kendall test reject stable steps.
pub fn rising(series: &[f64], batches: usize) -> bool {
    if series.len() < 10 {
        return false;
    }
    let b = batches.clamp(5, 10).min(series.len() / 2);
    let m = batch_means(series, b);
    let n = m.len() as f64;
    let xbar = (n - 1.0) / 2.0;
    let ybar = m.iter().sum::<f64>() / n;
    let sxx: f64 = (0..m.len()).map(|i| (i as f64 - xbar).powi(2)).sum();
    let sxy: f64 = m
        .iter()
        .enumerate()
        .map(|(i, y)| (i as f64 - xbar) * (y - ybar))
        .sum();
    let slope = sxy / sxx;
    let resid: f64 = m
        .iter()
        .enumerate()
        .map(|(i, y)| (y - ybar - slope * (i as f64 - xbar)).powi(2))
        .sum();
    let df = m.len() - 2;
    let se = (resid / df as f64 / sxx).sqrt();
    let t = if se > 0.0 {
        slope / se
    } else if slope > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let first = m[0];
    let last = m[m.len() - 1];
    t > T999[df - 1] && last >= 1.1 * first
}

/// Batches for [`rising`] over a measured step of `measure_s` with relaxation time `tau_s`:
/// as many as fit with each at least τ long, 5 to 10.
pub fn trend_batches(measure_s: f64, tau_s: f64) -> usize {
    if tau_s.is_nan() || tau_s <= 0.0 || !tau_s.is_finite() {
        return 5;
    }
    ((measure_s / tau_s).floor() as usize).clamp(5, 10)
}

/// A 95% interval of the mean of an autocorrelated series by batch means (`b` batches,
/// Student's t with b−1 degrees of freedom): (mean, half-width); `None` with fewer than 2
/// batches.
pub fn batch_means_interval(series: &[f64], b: usize) -> Option<(f64, f64)> {
    /// Two-sided 95% t for 1..=30 degrees of freedom (then 1.96).
    const T975: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    let m = batch_means(series, b);
    if m.len() < 2 {
        return None;
    }
    let n = m.len() as f64;
    let mean = m.iter().sum::<f64>() / n;
    let var = m.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = T975.get(m.len() - 2).copied().unwrap_or(1.96);
    Some((mean, t * (var / n).sqrt()))
}

#[cfg(test)]
#[path = "steady_tests.rs"]
mod tests;
