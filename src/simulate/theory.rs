//! Textbook queueing results the engines are checked against.

/// M/M/1 mean response time 1/(μ−λ) in units of the mean service time, at load ρ.
pub fn mm1_mean_response(rho: f64) -> f64 {
    1.0 / (1.0 - rho)
}

/// M/D/1 mean response time by Pollaczek–Khinchine (service + ρ·S/(2(1−ρ))), in units of the
/// service time, at load ρ.
pub fn md1_mean_response(rho: f64) -> f64 {
    1.0 + rho / (2.0 * (1.0 - rho))
}
