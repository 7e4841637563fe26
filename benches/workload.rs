//! Workload throughput in MB/s of payload: each stage (parse, transform, serialize), the
//! whole unit of work, and a whole `GET /work` request through the in-process server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynobench::server::{self, ServeConfig};
use dynobench::workload::{self, Payload, orders};

fn stages(c: &mut Criterion) {
    let payload = Payload::bundled();
    let bytes = payload.bytes();
    let doc = workload::parse(bytes).unwrap();
    let report = orders::transform(&doc);
    let mut g = c.benchmark_group("workload");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(6));
    g.bench_function("parse", |b| b.iter(|| workload::parse(bytes).unwrap()));
    g.bench_function("transform", |b| b.iter(|| orders::transform(&doc)));
    g.bench_function("serialize", |b| b.iter(|| serde_json::to_vec(&report).unwrap()));
    g.bench_function("run", |b| b.iter(|| workload::run(bytes).unwrap()));
    // The decrypt profile's extra work: authenticated decryption of the payload (what it
    // adds to `run`; the tests only check that it happens, this measures what it costs).
    let sealed = workload::profile::seal(bytes);
    g.bench_function("decrypt", |b| {
        b.iter(|| workload::profile::open(&sealed).unwrap())
    });
    g.finish();
}

/// One keep-alive `GET /work` and its body.
fn get_work(stream: &mut BufReader<TcpStream>) -> usize {
    stream
        .get_mut()
        .write_all(b"GET /work HTTP/1.1\r\nHost: bench\r\n\r\n")
        .unwrap();
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).unwrap();
    len
}

fn request(c: &mut Criterion) {
    let payload = Payload::bundled();
    let n = payload.bytes().len() as u64;
    let srv = server::start(ServeConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        workers: 1,
        backlog: 16,
        payload,
        ballast_mb: 0,
        timeouts: Default::default(),
        guard: Default::default(),
    })
    .unwrap();
    let mut stream = BufReader::new(TcpStream::connect(srv.addr).unwrap());
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes(n));
    g.sample_size(20).measurement_time(Duration::from_secs(6));
    g.bench_function("GET /work", |b| b.iter(|| get_work(&mut stream)));
    g.finish();
    drop(stream);
    srv.stop().unwrap();
}

criterion_group!(benches, stages, request);
criterion_main!(benches);
