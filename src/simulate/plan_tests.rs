//! Unit tests of the planner.

use super::*;
use crate::simulate::Policy;

fn cfg(slo: &str, rate: f64) -> PlanConfig {
    PlanConfig {
        rate,
        slo: slo.parse().unwrap(),
        policy: Policy::Random,
        sim: EventConfig {
            requests: 20_000,
            samples: 2,
            ..EventConfig::default()
        },
        max_dynos: 200,
    }
}

fn servers(svc: ServiceDist, workers: u32) -> PlanClass {
    PlanClass {
        name: "c".into(),
        class: crate::class::DynoClass::priced(25.0),
        model: DynoModel::Servers {
            workers,
            service: svc,
        },
        source: "test".into(),
    }
}

#[test]
fn too_slow_service_is_never_searched() {
    let p = plan_class(
        &cfg("p99<=300ms", 100.0),
        &servers(ServiceDist::Deterministic(0.4), 1),
    )
    .unwrap();
    assert!(matches!(p.outcome, PlanOutcome::ServiceTooSlow { service_value } if service_value == 400_000.0));
    assert_eq!(p.evaluations, 0);
}

#[test]
fn finds_a_minimal_size() {
    let c = cfg("p99<=120ms", 100.0);
    let cl = servers(ServiceDist::Deterministic(0.05), 1);
    let p = plan_class(&c, &cl).unwrap();
    let PlanOutcome::Meets {
        dynos, monthly_usd, ..
    } = p.outcome
    else {
        panic!("{p:?}")
    };
    assert!(dynos > 5 && dynos < 200, "{dynos}");
    assert_eq!(monthly_usd, f64::from(dynos) * 25.0);
    assert_eq!(p.min_dynos_for_rate, 6);
    let fewer = PlanConfig {
        max_dynos: dynos - 1,
        ..c
    };
    assert!(matches!(
        plan_class(&fewer, &cl).unwrap().outcome,
        PlanOutcome::NotWithin { .. }
    ));
    assert_eq!(cheapest(std::slice::from_ref(&p)), Some(0));
}

#[test]
fn shared_classes_are_planned_at_floor_and_burst() {
    let s = scenarios_of(&crate::class::CpuModel::Shared {
        floor_cores: 0.25,
        burst_cores: 1.0,
        burst_us: 0,
    });
    assert_eq!(s.len(), 2);
    assert!(s[0].cpu.limit() < s[1].cpu.limit());
    assert_eq!(s[1].cpu.quota, Some(1.0));
    let io = DemandDist::Independent {
        cpu: ServiceDist::Deterministic(0.01),
        other: ServiceDist::Deterministic(0.09),
    };
    assert_eq!(max_workers(1.0, &io), 20);
}
