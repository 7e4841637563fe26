//! Simulator speed: the classic full sweep of the tick engine (100 dynos, utilization 0..110,
//! 10 samples, 500 ticks; goal well under a second on 2 cores), the same sweep for every
//! policy (what `dynobench simulate` runs by default), and the event engine's throughput in
//! simulated requests per second, per policy, on one core and on all cores.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dynobench::simulate::event::{self, EventConfig};
use dynobench::simulate::service::ServiceDist;
use dynobench::simulate::tick::{self, TickConfig};
use dynobench::simulate::{Policy, UtilRange};

fn tick_sweeps(c: &mut Criterion) {
    let cfg = TickConfig::default();
    let utils = UtilRange::new(0.0, 110.0, 1.0).unwrap().points();
    let mut g = c.benchmark_group("tick");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("classic_full_sweep_random", |b| {
        b.iter(|| tick::sweep(&cfg, Policy::Random, &utils).unwrap())
    });
    g.bench_function("full_sweep_all_policies", |b| {
        b.iter(|| {
            Policy::ALL
                .iter()
                .map(|&p| tick::sweep(&cfg, p, &utils).unwrap().len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn event_throughput(c: &mut Criterion) {
    let svc = ServiceDist::Exponential(0.1);
    let mut g = c.benchmark_group("event");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for (cores, samples) in [("1core", 1u32), ("all_cores", 8)] {
        let cfg = EventConfig {
            dynos: 100,
            requests: 1_000_000,
            samples,
            ..EventConfig::default()
        };
        g.throughput(Throughput::Elements(cfg.requests * u64::from(samples)));
        for p in Policy::ALL {
            g.bench_with_input(
                BenchmarkId::new(format!("{cores}_util80"), p.name()),
                &p,
                |b, &p| b.iter(|| event::run_point(&cfg, p, &svc, 80.0).unwrap()),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, tick_sweeps, event_throughput);
criterion_main!(benches);
