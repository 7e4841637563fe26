//! Subcommand entry points: turn raw flags into a validated plan, run it, print.

mod run;

pub(crate) use run::plan as run_plan;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, anyhow};

use crate::class::Catalog;
use crate::cli::{CalibrateArgs, ClassesArgs, Command, CompareArgs, PayloadArgs, ServeArgs};
use crate::error::{CliError, Outcome, failed, usage};
use crate::limit::calibrate::{self, CalibrateConfig};
use crate::limit::{Detection, LimiterChoice, LimiterKind};
use crate::server::{self, ServeConfig};
use crate::workload::{Payload, generate};

pub(crate) fn dispatch(cmd: Command) -> Result<Outcome, CliError> {
    match cmd {
        Command::Serve(a) => serve(a),
        Command::Payload(a) => payload(a),
        Command::Classes(a) => classes(a),
        Command::Calibrate(a) => calibrate(a),
        Command::Neighbour(a) => crate::limit::helpers::run_neighbour(crate::limit::helpers::NeighbourLoad {
            pattern: a.pattern,
            phase_ms: a.phase_ms,
            seed: a.seed,
        }),
        Command::Burn(a) => {
            if !(a.seconds >= 0.0 && a.seconds <= 3600.0 && a.item_ms >= 0.0 && a.item_ms <= 1000.0) {
                return Err(usage(anyhow!(
                    "burn: --seconds must be in [0, 3600] and --item-ms in [0, 1000]"
                )));
            }
            let r = crate::limit::helpers::burn(crate::limit::helpers::BurnSpec {
                seconds: a.seconds,
                threads: a.threads,
                item_ms: a.item_ms,
                alloc_mb: a.alloc_mb,
            });
            println!("{}", serde_json::to_string(&r).map_err(failed)?);
            Ok(Outcome::Ok)
        }
        Command::Run(a) => run::run(*a),
        Command::Compare(a) => compare(a),
        Command::Schema => {
            print!("{}", crate::report::export::json::schema());
            Ok(Outcome::Ok)
        }
        Command::Simulate(a) => crate::simulate::command::simulate(a),
        Command::Plan(a) => crate::simulate::command::plan(a),
    }
}

/// Where `serve` binds: `--port` on 127.0.0.1, else `$PORT` on 0.0.0.0, else 127.0.0.1:5000.
pub(crate) fn serve_addr(
    port: Option<u16>,
    host: Option<IpAddr>,
    env_port: Option<String>,
) -> Result<SocketAddr, CliError> {
    let (default_host, port) = match (port, env_port) {
        (Some(p), _) => (IpAddr::V4(Ipv4Addr::LOCALHOST), p),
        (None, Some(s)) => {
            let p = s
                .trim()
                .parse::<u16>()
                .map_err(|_| usage(anyhow!("$PORT is '{s}', which is not a port number (0-65535)")))?;
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), p)
        }
        (None, None) => (IpAddr::V4(Ipv4Addr::LOCALHOST), 5000),
    };
    Ok(SocketAddr::new(host.unwrap_or(default_host), port))
}

fn serve(a: ServeArgs) -> Result<Outcome, CliError> {
    let addr = serve_addr(
        a.port,
        a.host,
        std::env::var("PORT").ok().filter(|s| !s.is_empty()),
    )?;
    let payload = Payload::load(a.payload.as_deref()).map_err(usage)?;
    let cfg = ServeConfig {
        addr,
        workers: usize::from(a.workers),
        backlog: a.backlog as usize,
        payload,
        ballast_mb: a.ballast_mb,
    };
    server::run_foreground(cfg)
        .with_context(|| format!("serving on {addr}"))
        .map_err(failed)?;
    Ok(Outcome::Ok)
}

fn payload(a: PayloadArgs) -> Result<Outcome, CliError> {
    let bytes = generate::generate_orders(a.seed, a.size);
    match a.out {
        Some(path) => std::fs::write(&path, &bytes)
            .with_context(|| format!("writing {}", path.display()))
            .map_err(failed)?,
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .context("writing to stdout")
            .map_err(failed)?,
    }
    Ok(Outcome::Ok)
}

fn classes(a: ClassesArgs) -> Result<Outcome, CliError> {
    let catalog = Catalog::load(&a.classes).map_err(usage)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&catalog).map_err(failed)?);
    } else {
        print!("{}", crate::report::classes_table(&catalog));
    }
    Ok(Outcome::Ok)
}

/// The dynobench binary for helper processes: this executable.
pub(crate) fn own_exe() -> Result<std::path::PathBuf, CliError> {
    std::env::current_exe()
        .context("locating the dynobench executable")
        .map_err(failed)
}

fn calibrate(a: CalibrateArgs) -> Result<Outcome, CliError> {
    if !(a.seconds > 0.0 && a.seconds <= 600.0) {
        return Err(usage(anyhow!("--seconds must be in (0, 600], got {}", a.seconds)));
    }
    if !(a.item_ms > 0.0 && a.item_ms <= 1000.0) {
        return Err(usage(anyhow!(
            "--item-ms must be in (0, 1000], got {}",
            a.item_ms
        )));
    }
    if let Some(q) = a.quotas.iter().find(|q| !(**q > 0.0 && **q <= 1024.0)) {
        return Err(usage(anyhow!("--quotas must be positive core counts, got {q}")));
    }
    let detection = Detection::probe();
    detection.remove_stale_groups();
    let mut backends = Vec::new();
    for l in &a.limiter {
        match l.as_str() {
            "all" => backends.extend([LimiterKind::Cgroup2, LimiterKind::Cgroup1, LimiterKind::Dutycycle]),
            other => match other
                .parse::<LimiterChoice>()
                .map_err(|e| usage(anyhow!("--limiter: {e}, or all")))?
            {
                LimiterChoice::Auto => backends.push(detection.choose(LimiterChoice::Auto).map_err(usage)?),
                LimiterChoice::Exactly(k) => {
                    detection
                        .available(k)
                        .map_err(|why| usage(anyhow!("--limiter {k}: not available here: {why}")))?;
                    backends.push(k)
                }
            },
        }
    }
    let mut seen = Vec::new();
    backends.retain(|k| {
        let first = !seen.contains(k);
        seen.push(*k);
        first
    });
    crate::interrupt::install();
    let cfg = CalibrateConfig {
        backends,
        quotas: a.quotas.clone(),
        seconds: a.seconds,
        item_ms: a.item_ms,
        exe: own_exe()?,
    };
    let report =
        calibrate::calibrate(&detection, &cfg, |line| eprintln!("calibrate: {line}")).map_err(failed)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(failed)?);
    } else {
        print!("{}", calibrate::render(&report));
    }
    if report.interrupted {
        return Err(failed(anyhow!("interrupted")));
    }
    Ok(if report.all_within_target() {
        Outcome::Ok
    } else {
        Outcome::ThresholdFailed
    })
}

fn compare(a: CompareArgs) -> Result<Outcome, CliError> {
    let ra = crate::compare::load_run(&a.a).map_err(usage)?;
    let rb = crate::compare::load_run(&a.b).map_err(usage)?;
    crate::compare::check_compatible(&ra, &rb).map_err(usage)?;
    let c = crate::compare::compare(&ra, &rb, a.threshold);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c).map_err(failed)?);
    } else {
        print!("{}", crate::compare::render_markdown(&c));
    }
    Ok(if c.regressed {
        Outcome::ThresholdFailed
    } else {
        Outcome::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_address_rules() {
        assert_eq!(
            serve_addr(None, None, None).unwrap().to_string(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            serve_addr(None, None, Some("8080".into())).unwrap().to_string(),
            "0.0.0.0:8080"
        );
        assert_eq!(
            serve_addr(Some(0), None, Some("8080".into()))
                .unwrap()
                .to_string(),
            "127.0.0.1:0"
        );
        assert!(serve_addr(None, None, Some("http".into())).is_err());
    }
}
