//! `dynobench soak`: the driver's endurance, measured. An open-loop run of `--duration` at
//! a modest rate against a local `dynobench serve` (io profile: the server's CPU stays out
//! of the way) with this process's RSS sampled every few seconds; a closed-loop run of
//! `--closed-calls` at concurrency 64 with its p50 over time; and the server's RSS with
//! `--idle-connections` kept-alive connections open. Prints measured against the goals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Parser;

use super::common::own_exe;
use crate::cli::{Cli, SoakArgs};
use crate::driver::{self, Silent};
use crate::error::{CliError, Outcome, failed, usage};
use crate::record::ClassResult;
use crate::report::soak::{RssSample, SoakReport, render};

/// A `dynobench serve` child, killed on drop.
struct ServerChild(Child, String);

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> Result<ServerChild, CliError> {
    let mut child = Command::new(own_exe()?)
        .args(["serve", "--port", "0", "--workers", "16", "--backlog", "4096"])
        .env_remove("DYNOBENCH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(anyhow!("starting dynobench serve: {e}")))?;
    let mut line = String::new();
    let out = child.stdout.take().expect("piped");
    BufReader::new(out)
        .read_line(&mut line)
        .map_err(|e| failed(anyhow!("reading the server's address: {e}")))?;
    let addr = crate::endpoint::listening_addr(&line)
        .ok_or_else(|| {
            failed(anyhow!(
                "the server did not say where it listens: '{}'",
                line.trim()
            ))
        })?
        .to_string();
    Ok(ServerChild(child, format!("http://{addr}")))
}

/// This process's resident set, bytes.
fn own_rss() -> u64 {
    crate::procfs::status_bytes("self", "VmRSS").unwrap_or(0)
}

/// One class measured with `run`'s flags, this process's RSS sampled meanwhile.
fn measure(url: &str, flags: &[String], every: Duration) -> Result<(ClassResult, Vec<RssSample>), CliError> {
    let mut argv: Vec<String> = [
        "dynobench",
        "run",
        "--url",
        url,
        "--class",
        "standard-1x",
        "--profile",
        "io",
        "--io-ms",
        "20",
        "--no-save",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(flags.iter().cloned());
    let cli = Cli::try_parse_from(&argv).map_err(|e| usage(anyhow!("{e}")))?;
    let crate::cli::Command::Run(args) = cli.command else {
        unreachable!("a run command line")
    };
    let plan = super::run_plan(&args, own_exe()?)?;
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let sampler = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut out = vec![RssSample {
            t_s: 0.0,
            rss_bytes: own_rss(),
        }];
        while !d.load(Ordering::Relaxed) {
            let next = Duration::from_secs_f64(out.len() as f64 * every.as_secs_f64());
            while t0.elapsed() < next && !d.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if d.load(Ordering::Relaxed) {
                break;
            }
            out.push(RssSample {
                t_s: t0.elapsed().as_secs_f64(),
                rss_bytes: own_rss(),
            });
        }
        out
    });
    let report = driver::run(&plan, &crate::limit::Detection::unprobed(), &mut Silent);
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap_or_default();
    let report = report.map_err(|e| failed(anyhow!("{e}")))?;
    let c = report
        .classes
        .into_iter()
        .next()
        .ok_or_else(|| failed(anyhow!("the run measured nothing")))?;
    Ok((c, samples))
}

/// The server's RSS (from /stats) with no connection open, then with `n` kept-alive idle
/// connections (each has made one request), bytes.
fn idle_connections(url: &str, n: usize) -> Result<(u64, u64, usize), CliError> {
    let addr = url.trim_start_matches("http://").to_string();
    let stats = |addr: &str| -> Result<u64, CliError> {
        let mut s = std::net::TcpStream::connect(addr).map_err(|e| failed(anyhow!("{e}")))?;
        use std::io::{Read, Write};
        s.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .map_err(|e| failed(anyhow!("{e}")))?;
        let mut body = String::new();
        s.read_to_string(&mut body).map_err(|e| failed(anyhow!("{e}")))?;
        let json = body.split("\r\n\r\n").nth(1).unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| failed(anyhow!("/stats: {e}")))?;
        Ok(v["rss_bytes"].as_u64().unwrap_or(0))
    };
    // Room for the sockets: raise the soft file limit to the hard one.
    let _ =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).and_then(|(_, hard)| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)
        });
    let before = stats(&addr)?;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            break;
        };
        let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        conns.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = stats(&addr)?;
    Ok((before, after, conns.len()))
}

pub(crate) fn soak(a: SoakArgs) -> Result<Outcome, CliError> {
    crate::interrupt::install();
    let server = start_server()?;
    let url = server.1.clone();
    let calls = (a.rate * a.duration.as_secs_f64()).round().max(1.0) as u64;
    eprintln!(
        "soak: open loop at {} req/s for {} ({calls} calls) against {url}, then {} calls at concurrency 64, then {} idle connections",
        a.rate,
        crate::units::fmt_secs(a.duration.as_secs_f64()),
        a.closed_calls,
        a.idle_connections
    );
    let open_flags: Vec<String> = vec![
        "--rate".into(),
        a.rate.to_string(),
        "--calls".into(),
        calls.to_string(),
        "--warmup".into(),
        "0".into(),
    ];
    let (open, rss) = measure(&url, &open_flags, a.sample_every)?;
    let closed_flags: Vec<String> = vec![
        "--concurrency".into(),
        "64".into(),
        "--calls".into(),
        a.closed_calls.to_string(),
    ];
    let (closed, _) = measure(&url, &closed_flags, Duration::from_secs(3600))?;
    let (idle_before, idle_after, opened) = idle_connections(&url, a.idle_connections as usize)?;
    let report = SoakReport::new(&open, rss, &closed, (idle_before, idle_after, opened));
    print!("{}", render(&report));
    Ok(
        if report
            .rss_growth_pct()
            .is_some_and(|g| g >= crate::report::soak::RSS_GROWTH_GOAL_PCT)
        {
            Outcome::ThresholdFailed
        } else {
            Outcome::Ok
        },
    )
}
