//! Capacity planning in process: a class whose own service time breaks the SLO is reported
//! as such at any rate, without searching.

mod common;

use dynobench::simulate::Policy;
use dynobench::simulate::event::EventConfig;
use dynobench::simulate::plan::{self, DynoModel, PlanClass, PlanConfig, PlanOutcome};
use dynobench::simulate::service::ServiceDist;

// ---------------------------------------------------------------- plan

/// More dynos do not make requests faster: a class whose service time alone breaks the SLO
/// is reported as such, at any rate, without searching.
#[test]
fn plan_says_when_no_size_can_meet_the_slo() {
    let cfg = PlanConfig {
        rate: 1.0,
        slo: "p99<=300ms".parse().unwrap(),
        policy: Policy::Random,
        sim: EventConfig {
            requests: 20_000,
            samples: 2,
            ..EventConfig::default()
        },
        max_dynos: 1000,
    };
    let slow = PlanClass {
        name: "slow".into(),
        class: dynobench::class::DynoClass::priced(7.0),
        model: DynoModel::Servers {
            workers: 1,
            service: ServiceDist::LogNormal {
                mean: 0.2,
                sigma: 0.8,
            },
        },
        source: "server_wall".into(),
    };
    let fast = PlanClass {
        name: "fast".into(),
        class: dynobench::class::DynoClass::priced(25.0),
        model: DynoModel::Servers {
            workers: 2,
            service: ServiceDist::LogNormal {
                mean: 0.05,
                sigma: 0.5,
            },
        },
        source: "server_wall".into(),
    };
    let plans = plan::plan(&cfg, &[slow, fast]).unwrap();
    match plans[0].outcome {
        PlanOutcome::ServiceTooSlow { service_value } => assert!(service_value > 300_000.0),
        ref o => panic!("{o:?}"),
    }
    let PlanOutcome::Meets { dynos, achieved, .. } = plans[1].outcome else {
        panic!("{:?}", plans[1])
    };
    assert!(achieved <= 300_000.0 && dynos >= 1);
    assert_eq!(plan::cheapest(&plans), Some(1));
}
