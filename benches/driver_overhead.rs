//! The driver's own overhead: `dynobench run --url` against one `dynobench serve` at
//! concurrency 1, alternated with an independent load generator (blocking std sockets,
//! HTTP/1.1 keep-alive, timed from the request's first byte written to the response's last
//! byte read) against the same server. Prints each round's p50s and the driver's excess
//! over the generator (each round runs driver, generator, generator, driver, so a drift of
//! the host's speed cancels); goal: within 1%. `OVERHEAD_CALLS` (default 100 per block) and
//! `OVERHEAD_ROUNDS` (default 5) override the sizes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dynobench");

/// The server, killed on every path out of the bench.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start_server() -> Result<(Server, String), String> {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {BIN} serve: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.map_err(|e| format!("reading serve's output: {e}"))?;
        if let Some(addr) = dynobench::endpoint::listening_addr(&line) {
            let addr = addr.to_string();
            // Keep draining its stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Ok((server, addr));
        }
    }
    Err("serve exited before it was listening".into())
}

/// One keep-alive connection, one call at a time.
struct Generator {
    stream: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl Generator {
    fn connect(addr: &str) -> Result<Generator, String> {
        let tcp = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Generator {
            stream: BufReader::new(tcp),
            request: format!("GET /work HTTP/1.1\r\nhost: {addr}\r\n\r\n").into_bytes(),
        })
    }

    /// One call: request's first byte written → response's last byte read.
    fn call(&mut self) -> Result<Duration, String> {
        let t = Instant::now();
        self.stream
            .get_mut()
            .write_all(&self.request)
            .map_err(|e| e.to_string())?;
        let mut length = None;
        let mut status = String::new();
        self.stream.read_line(&mut status).map_err(|e| e.to_string())?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(format!("unexpected status line {status:?}"));
        }
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).map_err(|e| e.to_string())?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or("the response has no content-length")?;
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).map_err(|e| e.to_string())?;
        Ok(t.elapsed())
    }
}

fn median_us(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e6
}

fn generator_p50(addr: &str, calls: usize) -> Result<f64, String> {
    let mut g = Generator::connect(addr)?;
    for _ in 0..10 {
        g.call()?;
    }
    let times = (0..calls).map(|_| g.call()).collect::<Result<Vec<_>, _>>()?;
    Ok(median_us(times))
}

fn driver_p50(addr: &str, calls: usize) -> Result<f64, String> {
    let out = Command::new(BIN)
        .args([
            "run",
            "--url",
            &format!("http://{addr}"),
            "--calls",
            &calls.to_string(),
        ])
        .args(["--warmup", "10", "--no-save", "--json", "--quiet"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {BIN} run: {e}"))?;
    if !out.status.success() && out.stdout.is_empty() {
        return Err(format!("dynobench run failed ({})", out.status));
    }
    let run: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("run --json output: {e}"))?;
    run["classes"][0]["latency"]["percentiles"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["p"].as_f64() == Some(50.0)))
        .and_then(|p| p["value_us"].as_f64())
        .ok_or_else(|| "run.json has no p50".to_string())
}

fn main() {
    if let Err(e) = bench() {
        eprintln!("driver_overhead: {e}");
        std::process::exit(1);
    }
}

fn bench() -> Result<(), String> {
    let calls = env_or("OVERHEAD_CALLS", 100);
    let rounds = env_or("OVERHEAD_ROUNDS", 5);
    let (_server, addr) = start_server()?;
    println!(
        "driver overhead: `dynobench run --url` vs an independent blocking generator, concurrency 1, \
         GET /work on one `dynobench serve --workers 1`, {calls} calls per block, {rounds} rounds of driver, generator, generator, driver"
    );
    println!("| round | driver p50 ms (mean of 2) | generator p50 ms (mean of 2) | driver excess |");
    println!("|---|---|---|---|");
    let mut excess = Vec::new();
    for round in 1..=rounds {
        // Driver, generator, generator, driver: a drift of the host's speed within the round
        // weighs on both sides alike.
        let d1 = driver_p50(&addr, calls)?;
        let g1 = generator_p50(&addr, calls)?;
        let g2 = generator_p50(&addr, calls)?;
        let d2 = driver_p50(&addr, calls)?;
        let (d, g) = ((d1 + d2) / 2.0, (g1 + g2) / 2.0);
        let e = d / g - 1.0;
        excess.push(e);
        println!(
            "| {round} | {:.2} | {:.2} | {:+.2}% |",
            d / 1e3,
            g / 1e3,
            e * 100.0
        );
    }
    excess.sort_by(f64::total_cmp);
    let median = excess[excess.len() / 2];
    println!(
        "median excess {:+.2}% (goal: within ±1%): {}",
        median * 100.0,
        if median.abs() <= 0.01 { "met" } else { "NOT met" }
    );
    Ok(())
}
