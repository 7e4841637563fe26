//! Whether two runs can be compared at all (same workload, load and limits; otherwise a
//! named difference), and what the reader should know when they can (other hosts,
//! backends, host speed).

use thiserror::Error;

use crate::record::{ClassResult, RunReport};

/// Why two runs cannot be compared.
#[derive(Debug, Error)]
pub enum CompareError {
    /// The runs differ in a way that makes their figures incomparable.
    #[error("{0}")]
    Incompatible(String),
}

/// Refuses a what-if run (`run --cfs-period`/`--cfs-burst`) against a run metered otherwise
/// (a plain run, or another what-if): its classes are not the platform's as sold, so a
/// difference would be read as a regression or an improvement of the app.
pub fn check_what_if(a: &RunReport, b: &RunReport) -> Result<(), CompareError> {
    let (wa, wb) = (&a.config.what_if, &b.config.what_if);
    if wa == wb {
        return Ok(());
    }
    let say = |r: &RunReport, w: &Option<String>| match w {
        Some(w) => format!("{} is a what-if run ({w})", r.run_id),
        None => format!("{} ran the classes' own period and burst", r.run_id),
    };
    Err(CompareError::Incompatible(format!(
        "{}, {}: the difference would be the metering, not the app; compare --allow-what-if compares them anyway",
        say(a, wa),
        say(b, wb)
    )))
}

/// Refuses runs of different workloads.
pub fn check_compatible(a: &RunReport, b: &RunReport) -> Result<(), CompareError> {
    let wa = (
        &a.workload.payload,
        a.workload.payload_bytes,
        &a.workload.profile,
        &a.config.path,
    );
    let wb = (
        &b.workload.payload,
        b.workload.payload_bytes,
        &b.workload.profile,
        &b.config.path,
    );
    let la = (
        &a.config.load_model,
        a.config.concurrency,
        a.config.rate,
        &a.config.arrivals,
    );
    let lb = (
        &b.config.load_model,
        b.config.concurrency,
        b.config.rate,
        &b.config.arrivals,
    );
    if la != lb {
        return Err(CompareError::Incompatible(format!(
            "the runs applied different load: {} ran {} loop, concurrency {}{}; {} ran {} loop, concurrency {}{}",
            a.run_id,
            la.0,
            la.1,
            la.2.map_or(String::new(), |r| format!(", {r} req/s")),
            b.run_id,
            lb.0,
            lb.1,
            lb.2.map_or(String::new(), |r| format!(", {r} req/s"))
        )));
    }
    if wa != wb {
        return Err(CompareError::Incompatible(format!(
            "the runs measured different workloads: {} ran {} ({} bytes, profile {}, path {}), {} ran {} ({} bytes, profile {}, path {})",
            a.run_id, wa.0, wa.1, wa.2, wa.3, b.run_id, wb.0, wb.1, wb.2, wb.3
        )));
    }
    Ok(())
}

/// Differences that weaken a comparison without making it meaningless.
pub fn warnings(a: &RunReport, b: &RunReport) -> Vec<String> {
    let mut w = Vec::new();
    let mut differ = |what: &str, x: String, y: String| {
        if x != y {
            w.push(format!("the runs differ in {what}: A {x}, B {y}"));
        }
    };
    differ("limiter backend", a.host.limiter.clone(), b.host.limiter.clone());
    differ(
        "host CPU model",
        a.host.cpu_model.clone(),
        b.host.cpu_model.clone(),
    );
    differ("host CPUs", a.host.cpus.to_string(), b.host.cpus.to_string());
    differ(
        "calls per class",
        a.config.calls.to_string(),
        b.config.calls.to_string(),
    );
    differ(
        "rounds (--repeat)",
        a.config.repeat.max(1).to_string(),
        b.config.repeat.max(1).to_string(),
    );
    for ca in &a.classes {
        if let Some(cb) = b.class(&ca.name) {
            let capped = |c: &ClassResult| {
                c.limits
                    .as_ref()
                    .is_some_and(|l| l.warnings.iter().any(|x| x.contains("capped")))
            };
            if capped(ca) != capped(cb) {
                w.push(format!(
                    "{}: capped to this machine in {} but not in {}",
                    ca.name,
                    if capped(ca) { "A" } else { "B" },
                    if capped(ca) { "B" } else { "A" }
                ));
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_if_runs_are_not_compared_with_plain_ones() {
        let plain = RunReport::default();
        let mut what_if = RunReport::default();
        what_if.config.what_if = Some("period 20 ms".into());
        assert!(check_what_if(&plain, &plain).is_ok());
        assert!(check_what_if(&what_if, &what_if).is_ok());
        let e = check_what_if(&plain, &what_if).unwrap_err().to_string();
        assert!(
            e.contains("what-if run (period 20 ms)") && e.contains("--allow-what-if"),
            "{e}"
        );
        let mut other = what_if.clone();
        other.config.what_if = Some("burst 100% of quota".into());
        assert!(check_what_if(&what_if, &other).is_err());
    }
}
