//! `run --dynos N`'s flags checked into a formation plan: one class, no URL, rate or
//! capacity search, the routing policies (all, or HAProxy's four with `--balancer haproxy`)
//! and the utilizations.

use anyhow::anyhow;

use crate::cli::RunArgs;
use crate::driver::FormationSpec;
use crate::error::{CliError, usage};
use crate::simulate::Policy;

/// The formation flags, checked (`None` without `--dynos`).
pub(crate) fn formation(a: &RunArgs) -> Result<Option<FormationSpec>, CliError> {
    let Some(dynos) = a.dynos else {
        return Ok(None);
    };
    let conflict =
        |flag: &str, why: &str| Err(usage(anyhow!("--dynos cannot be combined with {flag}: {why}")));
    if a.url.is_some() {
        return conflict("--url", "a formation starts its own local dynos");
    }
    if a.rate.is_some() {
        return conflict(
            "--rate",
            "its rates are --util of the formation's measured capacity",
        );
    }
    if a.find_capacity {
        return conflict("--find-capacity", "it measures its capacity itself");
    }
    if a.repeat > 1 {
        return conflict("--repeat", "run the formation again instead");
    }
    if a.class.len() != 1 {
        return Err(usage(anyhow!(
            "--dynos runs one class; name it with --class (got {})",
            if a.class.is_empty() {
                "none".to_string()
            } else {
                a.class.join(", ")
            }
        )));
    }
    if a.workers.as_ref().is_some_and(|w| w.0.len() > 1) {
        return conflict("a --workers sweep", "give one worker count");
    }
    let policies = if a.router.trim() == "all" {
        Policy::ALL.to_vec()
    } else {
        a.router
            .split(',')
            .map(|p| p.parse::<Policy>().map_err(|e| usage(anyhow!("--router: {e}"))))
            .collect::<Result<Vec<_>, _>>()?
    };
    let haproxy = match a.balancer.as_str() {
        "haproxy" => Some(crate::driver::haproxy::find().ok_or_else(|| {
            usage(anyhow!(
                "--balancer haproxy: no haproxy on PATH (Debian/Ubuntu: apt-get install haproxy)"
            ))
        })?),
        _ => None,
    };
    let policies = if haproxy.is_some() && a.router.trim() == "all" {
        policies
            .into_iter()
            .filter(|p| crate::driver::haproxy::balance(*p).is_some())
            .collect()
    } else {
        policies
    };
    if haproxy.is_some()
        && let Some(p) = policies
            .iter()
            .find(|p| crate::driver::haproxy::balance(**p).is_none())
    {
        return Err(usage(anyhow!(
            "--balancer haproxy has no {p} policy; use random, round-robin, least-connections or power-of-two-choices"
        )));
    }
    let utils = a.util.points();
    if let Some(u) = utils.iter().find(|u| !(**u > 0.0 && **u <= 150.0)) {
        return Err(usage(anyhow!(
            "--util {u}% is outside 0 < util <= 150 (percent of the formation's measured capacity)"
        )));
    }
    if utils.len() * policies.len() > 200 {
        return Err(usage(anyhow!(
            "--router × --util makes {} points; keep it at most 200",
            utils.len() * policies.len()
        )));
    }
    Ok(Some(FormationSpec {
        dynos,
        policies,
        utils,
        routers: a.routers,
        max_in_flight: a.router_max_in_flight,
        backlog: a.router_backlog,
        router_timeout: a.router_timeout,
        calibration_calls: 100,
        haproxy,
    }))
}
