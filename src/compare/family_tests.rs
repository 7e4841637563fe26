//! Unit tests of the family-wise machinery: Holm's levels, Welch on rounds, and the
//! bootstrap family's simultaneous intervals widening with the run-to-run term.

use super::*;

#[test]
fn holm_steps_down_and_stops_at_the_first_acceptance() {
    let r = holm(&[0.001, 0.04, 0.012, 0.3], 0.05);
    // Sorted: 0.001 (α/4 = 0.0125, rejected), 0.012 (α/3 = 0.0167, rejected),
    // 0.04 (α/2 = 0.025, kept: stop), 0.3 (α, kept).
    assert_eq!(r[0], (0.0125, true));
    assert!((r[2].0 - 0.05 / 3.0).abs() < 1e-12 && r[2].1);
    assert_eq!(r[1], (0.025, false));
    assert_eq!(r[3], (0.05, false));
    // Once one is kept, none after it is rejected, even below its own level.
    let r = holm(&[0.02, 0.021], 0.05);
    assert_eq!(r, vec![(0.025, true), (0.05, true)]);
    let r = holm(&[0.03, 0.031], 0.05);
    assert_eq!(r, vec![(0.025, false), (0.05, false)]);
}

#[test]
fn welch_on_log_rounds() {
    let a: Vec<f64> = [100.0f64, 102.0, 98.0].iter().map(|v| v.ln()).collect();
    let b: Vec<f64> = [150.0f64, 153.0, 147.0].iter().map(|v| v.ln()).collect();
    let c = welch(&a, &b).unwrap();
    assert!((c.center - 1.5f64.ln()).abs() < 0.01 && c.df > 3.0, "{c:?}");
    assert!(welch(&a[..1], &b).is_none());
}

fn boot(rr: f64) -> Family {
    // Replicates of a 3% change with a 0.6% standard error, four independent percentiles.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let reps: Vec<Vec<f64>> = (0..4)
        .map(|_| {
            (0..2000)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    0.03 + 0.006 * z
                })
                .collect()
        })
        .collect();
    Family::Bootstrap {
        center: vec![Some(0.03); 4],
        reps,
        run_to_run: vec![rr; 4],
        seed: 1,
    }
}

#[test]
fn the_run_to_run_term_widens_one_round_intervals() {
    let narrow = boot(0.0);
    let wide = boot(0.05);
    let (n, w) = (narrow.intervals(), wide.intervals());
    let (qn, qw) = (
        narrow.critical(0.05, &n.changes)[0],
        wide.critical(0.05, &w.changes)[0],
    );
    let cn = n.changes[0].unwrap().change(qn);
    let cw = w.changes[0].unwrap().change(qw);
    // Without the term a 3% change is clear; with a 5% spread per run it is not.
    assert!(cn.lo > 0.0, "{cn:?}");
    assert!(cw.lo < 0.0 && cw.hi > 0.1, "{cw:?}");
    assert!(
        n.p_value < 0.01 && w.p_value > 0.05,
        "{} {}",
        n.p_value,
        w.p_value
    );
    // Simultaneous over four independent percentiles: about the 98.7th normal percentile
    // (1 − 0.05/4 two-sided: 2.50), wider than one at a time (1.96).
    assert!(qn > 2.3 && qn < 2.7, "{qn}");
}
