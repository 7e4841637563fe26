//! Unit tests of the service-time distributions: sampling, parsing, and the heavy-tailed
//! ones against their closed forms.

use super::*;
use rand::SeedableRng;

#[test]
fn empirical_sampling_matches_weights() {
    let e = Empirical::from_pairs(vec![(0.001, 1), (0.002, 3), (0.010, 6)]).unwrap();
    assert!((e.mean - (0.001 + 0.006 + 0.060) / 10.0).abs() < 1e-12);
    assert_eq!(e.quantile(0.1), 0.001);
    assert_eq!(e.quantile(0.11), 0.002);
    assert_eq!(e.quantile(0.99), 0.010);
    assert!((e.share_above(0.002) - 0.6).abs() < 1e-12);
    let mut rng = crate::simulate::SimRng::seed_from_u64(3);
    let mut c = [0u32; 3];
    for _ in 0..100_000 {
        let v = e.sample(&mut rng);
        c[if v < 0.0015 {
            0
        } else if v < 0.005 {
            1
        } else {
            2
        }] += 1;
    }
    assert!((c[0] as f64 / 1e5 - 0.1).abs() < 0.005, "{c:?}");
    assert!((c[2] as f64 / 1e5 - 0.6).abs() < 0.005, "{c:?}");
    assert!(Empirical::from_pairs(vec![(0.1, 0)]).is_none());
}

#[test]
fn parametric_specs() {
    let d = parse_parametric("exponential:100ms").unwrap().unwrap();
    assert!((d.mean() - 0.1).abs() < 1e-12);
    assert!((d.quantile(0.5) - 0.1 * 2f64.ln()).abs() < 1e-12);
    let l = parse_parametric("lognormal:100ms:0.5").unwrap().unwrap();
    assert!((l.mean() - 0.1).abs() < 1e-12);
    // The median of a lognormal is exp(mu).
    assert!((l.quantile(0.5) - (0.1f64.ln() - 0.125).exp()).abs() < 1e-9);
    assert!((l.share_above(l.quantile(0.9)) - 0.1).abs() < 1e-6);
    assert!(parse_parametric("deterministic:fast").unwrap().is_err());
    assert!(parse_parametric("results/x/y").is_none());
    assert!((probit(0.975) - 1.959_963_985).abs() < 1e-8);
}

/// Draws `n` values of `d` with a fixed seed, sorted.
fn draws(d: &ServiceDist, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = crate::simulate::SimRng::seed_from_u64(seed);
    let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The share of `sorted` strictly above `t`.
fn share_above(sorted: &[f64], t: f64) -> f64 {
    (sorted.len() - sorted.partition_point(|&x| x <= t)) as f64 / sorted.len() as f64
}

/// Checks the sampled tail against the closed-form quantiles: the share of draws above the
/// true q-quantile is binomial(n, 1 − q), so it must be within 5 standard errors of 1 − q;
/// and `share_above` must invert `quantile`.
fn check_tail(d: &ServiceDist, v: &[f64]) {
    let n = v.len() as f64;
    for q in [0.5, 0.9, 0.99, 0.999] {
        let t = d.quantile(q);
        let p = 1.0 - q;
        let se = (p * (1.0 - p) / n).sqrt();
        let got = share_above(v, t);
        assert!(
            (got - p).abs() < 5.0 * se,
            "{d:?} q{q}: {got} above {t}, expected {p} ± {}",
            5.0 * se
        );
        assert!(
            (d.share_above(t) - p).abs() < 1e-9,
            "{d:?}: share_above(quantile({q}))"
        );
    }
}

#[test]
fn weibull_matches_its_closed_forms() {
    // Shape 0.5: mean = λ Γ(3) = 2λ, variance = λ² (Γ(5) − Γ(3)²) = 20 λ², p99 = λ ln(100)².
    let d = parse_parametric("weibull:300ms:0.5").unwrap().unwrap();
    let lambda = 0.15;
    assert!((d.mean() - 0.3).abs() < 1e-12);
    assert!((d.quantile(0.99) - lambda * 100f64.ln().powi(2)).abs() < 1e-9);
    assert!((d.quantile(0.5) - lambda * 2f64.ln().powi(2)).abs() < 1e-9);
    let n = 400_000;
    let v = draws(&d, n, 7);
    let mean = v.iter().sum::<f64>() / n as f64;
    let se = (20.0 * lambda * lambda / n as f64).sqrt();
    assert!((mean - 0.3).abs() < 5.0 * se, "weibull mean {mean}, se {se}");
    check_tail(&d, &v);
    // Shape 1 is the exponential.
    let e = parse_parametric("weibull:100ms:1").unwrap().unwrap();
    assert!((e.quantile(0.9) - ServiceDist::Exponential(0.1).quantile(0.9)).abs() < 1e-9);
    assert!(d.max().is_infinite());
}

#[test]
fn pareto_matches_its_closed_forms() {
    // alpha 3: xm = mean × 2/3, variance = xm² α / ((α − 1)² (α − 2)), q-quantile xm (1 − q)^(−1/α).
    let d = parse_parametric("pareto:300ms:3").unwrap().unwrap();
    let xm = 0.2;
    assert!((d.quantile(0.99) - xm * 100f64.powf(1.0 / 3.0)).abs() < 1e-9);
    assert_eq!(d.share_above(0.1), 1.0);
    let n = 400_000;
    let v = draws(&d, n, 11);
    assert!(v[0] >= xm - 1e-12, "below the scale: {}", v[0]);
    let mean = v.iter().sum::<f64>() / n as f64;
    let se = (xm * xm * 3.0 / (4.0 * 1.0) / n as f64).sqrt();
    assert!((mean - 0.3).abs() < 5.0 * se, "pareto mean {mean}, se {se}");
    check_tail(&d, &v);
    // alpha 1.5 has infinite variance: the mean is not checked by a CLT, the tail still is.
    let heavy = parse_parametric("pareto:300ms:1.5").unwrap().unwrap();
    check_tail(&heavy, &draws(&heavy, n, 13));
}

#[test]
fn heavy_tailed_specs_name_what_is_wrong() {
    let err = |s: &str| parse_parametric(s).unwrap().unwrap_err();
    assert!(
        err("weibull:300ms").contains("weibull:MEAN:SHAPE"),
        "{}",
        err("weibull:300ms")
    );
    assert!(err("weibull:300ms:x").contains("not a number"));
    assert!(err("weibull:300ms:0").contains("(0.1, 10]"));
    assert!(
        err("pareto:300ms:1").contains("alpha must be in (1, 100]"),
        "{}",
        err("pareto:300ms:1")
    );
    assert!(err("pareto:fast:2").contains("fast"));
    assert!(err("lognormal:100ms:9").contains("sigma"));
}
