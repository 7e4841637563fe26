//! Planner speed and range on the committed reference run: `plan --rate 50 --slo
//! 'p99<=500ms'` for every ok class (the search from an analytic start, then the bootstrap
//! range over resamples of the measured pairs). Prints each class's dynos and range once,
//! then times the whole plan.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dynobench::report::reader::read_run;
use dynobench::simulate::Policy;
use dynobench::simulate::event::EventConfig;
use dynobench::simulate::measured::model_input;
use dynobench::simulate::plan::{self, DynoModel, PlanClass, PlanConfig, PlanOutcome, Workers};

const RUN: &str = "results/20261205-070835-local";

fn classes() -> Vec<PlanClass> {
    let run = read_run(Path::new(RUN)).expect("the committed reference run");
    run.report
        .classes
        .iter()
        .filter(|c| c.is_ok())
        .filter_map(|c| {
            let (demand, source) = model_input(c).demand.ok()?.map(|d| (d.dist, d.source))?;
            let scenarios = plan::scenarios_of(&c.class.cpu);
            let top = scenarios.iter().map(|s| s.cpu.limit()).fold(0.0, f64::max);
            let mut class = c.class.clone();
            class.price_usd_month = c.price_usd_month;
            Some(PlanClass {
                name: c.name.clone(),
                model: DynoModel::Cpu {
                    workers: Workers::Search {
                        max: plan::max_workers(top, &demand),
                        measured_at: Some(c.load.concurrency.max(1)),
                    },
                    scenarios,
                    demand,
                },
                class,
                source,
            })
        })
        .collect()
}

fn plan_reference(c: &mut Criterion) {
    let cfg = PlanConfig {
        rate: 50.0,
        slo: "p99<=500ms".parse().unwrap(),
        policy: Policy::Random,
        sim: EventConfig {
            samples: 4,
            ..EventConfig::default()
        },
        max_dynos: 1000,
    };
    let classes = classes();
    let plans = plan::plan(&cfg, &classes).unwrap();
    for p in &plans {
        for s in &p.scenarios {
            let dynos = match s.outcome {
                PlanOutcome::Meets { dynos, .. } => dynos.to_string(),
                _ => "never".into(),
            };
            let range = s.range.as_ref().map_or("-".into(), |r| {
                format!("{}-{:?} (point {})", r.low, r.high, r.point)
            });
            println!(
                "{:<14} {:<20} workers {:>2} dynos {:>5} range {range} ({} simulations)",
                p.class, s.label, s.workers, dynos, s.evaluations
            );
        }
    }
    let mut g = c.benchmark_group("plan");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function("reference_run_rate50_p99_500ms", |b| {
        b.iter(|| plan::plan(&cfg, &classes).unwrap().len())
    });
    g.finish();
}

criterion_group!(benches, plan_reference);
criterion_main!(benches);
