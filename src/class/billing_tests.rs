//! Unit tests of the bills: every billing model against hand arithmetic.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn monthly_is_prorated_over_the_platforms_month() {
    let b = Billing::Monthly {
        hours_per_month: 720.0,
    };
    // Three dynos of $25 for the whole month: $75.
    let u = Usage {
        instances: 3.0,
        hours: 720.0,
        rate_rps: 10.0,
        busy_fraction: 0.2,
        cores_used: 0.1,
        memory_used_mb: None,
    };
    assert!(close(bill(&b, 25.0, 1.0, 512.0, &u).usd, 75.0));
    // One hour: $25 / 720.
    let one = Usage::one_hour(10.0, 0.5, None);
    assert!(close(bill(&b, 25.0, 1.0, 512.0, &one).usd, 25.0 / 720.0));
}

#[test]
fn fargate_bills_provisioned_vcpu_and_gb_hours_with_a_minimum() {
    let b = Billing::PerSecond {
        usd_per_vcpu_hour: Some(0.04048),
        usd_per_gb_hour: Some(0.004445),
        basis: UsageBasis::Provisioned,
        hours_per_month: 730.0,
        minimum_s: 60.0,
    };
    // 2 tasks of 1 vCPU / 2 GB for 730 h: 2 × 730 × (0.04048 + 2 × 0.004445) = 72.0804.
    let u = Usage {
        instances: 2.0,
        hours: 730.0,
        rate_rps: 1.0,
        busy_fraction: 0.1,
        cores_used: 0.05,
        memory_used_mb: Some(100.0),
    };
    let got = bill(&b, 36.0, 1.0, 2048.0, &u).usd;
    assert!(close(got, 2.0 * 730.0 * (0.04048 + 2.0 * 0.004445)), "{got}");
    // A task that lived 10 s is billed its 60-s minimum: 60/3600 × (0.04048 + 2 × 0.004445).
    let short = Usage {
        hours: 10.0 / 3600.0,
        instances: 1.0,
        ..u
    };
    let got = bill(&b, 36.0, 1.0, 2048.0, &short).usd;
    assert!(close(got, 60.0 / 3600.0 * (0.04048 + 2.0 * 0.004445)), "{got}");
    assert!(close(
        b.rate_per_hour(1.0, 2048.0).unwrap(),
        0.04048 + 2.0 * 0.004445
    ));
}

#[test]
fn used_basis_bills_what_the_app_uses() {
    // Railway-like: $20 per vCPU-month and $10 per GB-month over 730 h.
    let b = Billing::PerSecond {
        usd_per_vcpu_hour: Some(20.0 / 730.0),
        usd_per_gb_hour: Some(10.0 / 730.0),
        basis: UsageBasis::Used,
        hours_per_month: 730.0,
        minimum_s: 0.0,
    };
    // Half a core and 256 MB used all month on an 8-vCPU / 8 GB limit: $10 + $2.50.
    let u = Usage {
        instances: 1.0,
        hours: 730.0,
        rate_rps: 5.0,
        busy_fraction: 1.0,
        cores_used: 0.5,
        memory_used_mb: Some(256.0),
    };
    let got = bill(&b, 240.0, 8.0, 8192.0, &u).usd;
    assert!(close(got, 12.5), "{got}");
}

#[test]
fn cloud_run_bills_only_while_serving_plus_a_fee() {
    let b = Billing::Request {
        usd_per_vcpu_s: 0.000024,
        usd_per_gib_s: 0.0000025,
        usd_per_million_requests: 0.40,
        max_concurrency: 80,
        rounding_ms: 100.0,
        hours_per_month: 730.0,
    };
    // 1 vCPU, 0.5 GiB, busy 30% of a 730-h month at 5 req/s:
    // 0.3 × 2 628 000 s = 788 400 s × (0.000024 + 0.5 × 0.0000025) = 19.9071
    // plus 13 140 000 requests × $0.40/M = 5.256.
    let u = Usage {
        instances: 1.0,
        hours: 730.0,
        rate_rps: 5.0,
        busy_fraction: 0.3,
        cores_used: 0.3,
        memory_used_mb: None,
    };
    let got = bill(&b, 66.36, 1.0, 512.0, &u);
    let want = 788_400.0 * (0.000024 + 0.5 * 0.0000025) + 13_140_000.0 / 1e6 * 0.40;
    assert!(close(got.usd, want), "{} vs {want}", got.usd);
    assert_eq!(got.parts.len(), 3);
}

#[test]
fn surplus_cpu_is_billed_above_the_baseline() {
    let b = Billing::BurstSurplus {
        baseline_cores: 0.4,
        usd_per_vcpu_hour: 0.05,
        hours_per_month: 730.0,
    };
    // t3.small-like: $15.184/month, 2 vCPUs at 20% baseline; using 1.4 cores for 730 h:
    // 15.184 + (1.4 − 0.4) × 730 × 0.05 = 15.184 + 36.5.
    let u = Usage {
        instances: 1.0,
        hours: 730.0,
        rate_rps: 5.0,
        busy_fraction: 1.0,
        cores_used: 1.4,
        memory_used_mb: None,
    };
    assert!(close(bill(&b, 15.184, 2.0, 2048.0, &u).usd, 15.184 + 36.5));
    // Below the baseline: the price alone.
    let idle = Usage { cores_used: 0.1, ..u };
    assert!(close(bill(&b, 15.184, 2.0, 2048.0, &idle).usd, 15.184));
}

#[test]
fn busy_fraction_follows_load_and_rounding() {
    assert_eq!(busy_fraction(0.0, 0.1, 0.1), 0.0);
    // λT = 0.5: 1 − e^−0.5 = 0.3935 busy; stretches start at 5 e^−0.5 = 3.03/s, each
    // rounded up by 50 ms on average: + 0.152.
    let f = busy_fraction(5.0, 0.1, 0.1);
    let want = (1.0 - (-0.5f64).exp()) + 5.0 * (-0.5f64).exp() * 0.05;
    assert!(close(f, want), "{f}");
    // Saturated: always busy.
    assert_eq!(busy_fraction(1000.0, 0.1, 0.1), 1.0);
    // More load, more busy time.
    assert!(busy_fraction(2.0, 0.1, 0.0) < busy_fraction(4.0, 0.1, 0.0));
}
