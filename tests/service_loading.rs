//! Loading measured service times for `simulate` and `plan`: from a class path, a
//! `#`-path and an .hlog, and the committed plan fixture run (tests/fixtures/plan-run)
//! kept in step with the code that generates it.

mod common;

use common::rel_err;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use dynobench::report::service::{self, ServiceError};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};

// ---------------------------------------------------------------- results loader

fn hist_us(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for v in values {
        h.record(v).unwrap();
    }
    h
}

fn b64(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut buf).unwrap();
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// `n` lognormal service times in µs with this median and sigma (seeded).
fn lognormal_us(seed: u64, n: usize, median_ms: f64, sigma: f64) -> Histogram<u64> {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let d = LogNormal::new((median_ms * 1000.0).ln(), sigma).unwrap();
    hist_us((0..n).map(|_| d.sample(&mut rng).round().max(1.0) as u64))
}

fn class_json(
    name: &str,
    status: &str,
    workers: u32,
    price: f64,
    wall: Option<&Histogram<u64>>,
    client: Option<&Histogram<u64>>,
) -> serde_json::Value {
    let mut h = serde_json::Map::new();
    if let Some(w) = wall {
        h.insert("server_wall".into(), b64(w).into());
    }
    if let Some(c) = client {
        h.insert("client_latency".into(), b64(c).into());
    }
    serde_json::json!({
        "name": name, "status": status, "workers": workers, "price_usd_month": price,
        "histograms": h, "some_future_field": {"ignored": true}
    })
}

/// The reference-like run used by the plan fixture: several classes, one failed, one with
/// only client latency, one too slow for a 300 ms p99.
fn plan_fixture_json() -> String {
    let classes = vec![
        class_json("eco", "failed", 1, 5.0, None, None),
        class_json(
            "basic",
            "ok",
            1,
            7.0,
            Some(&lognormal_us(1, 3000, 180.0, 0.6)),
            None,
        ),
        class_json(
            "standard-1x",
            "ok",
            2,
            25.0,
            Some(&lognormal_us(2, 3000, 60.0, 0.5)),
            None,
        ),
        class_json(
            "standard-2x",
            "ok",
            4,
            50.0,
            Some(&lognormal_us(3, 3000, 45.0, 0.4)),
            None,
        ),
        class_json(
            "performance-m",
            "ok",
            8,
            250.0,
            Some(&lognormal_us(4, 3000, 30.0, 0.3)),
            None,
        ),
        class_json(
            "performance-l",
            "ok",
            16,
            500.0,
            None,
            Some(&lognormal_us(5, 3000, 28.0, 0.3)),
        ),
    ];
    let run = serde_json::json!({"schema_version": "1.0", "label": "fixture", "classes": classes});
    serde_json::to_string_pretty(&run).unwrap() + "\n"
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-run")
}

/// Regenerates tests/fixtures/plan-run/run.json (run with --ignored after changing it).
#[test]
#[ignore]
fn regenerate_plan_fixture() {
    std::fs::create_dir_all(fixture_dir()).unwrap();
    std::fs::write(fixture_dir().join("run.json"), plan_fixture_json()).unwrap();
}

#[test]
fn committed_plan_fixture_is_current() {
    let committed = std::fs::read_to_string(fixture_dir().join("run.json")).unwrap();
    assert!(
        committed == plan_fixture_json(),
        "run `cargo test --test service_loading -- --ignored regenerate`"
    );
}

#[test]
fn service_loads_from_a_class_path_a_hash_path_and_an_hlog() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("RUN");
    std::fs::create_dir(&run).unwrap();
    let wall = hist_us([10_000, 20_000, 30_000]);
    let client = hist_us([50_000; 4]);
    let empty = hist_us([]);
    let classes = vec![
        class_json("a", "ok", 3, 25.0, Some(&wall), Some(&client)),
        class_json("client-only", "ok", 1, 25.0, Some(&empty), Some(&client)),
        class_json("nothing", "ok", 1, 25.0, Some(&empty), None),
    ];
    std::fs::write(
        run.join("run.json"),
        serde_json::json!({"schema_version": "1.0", "classes": classes}).to_string(),
    )
    .unwrap();

    let s = service::load_service(run.join("a").to_str().unwrap()).unwrap();
    assert!(rel_err(s.dist.mean(), 0.020) < 0.002, "{}", s.dist.mean());
    assert_eq!(s.workers, Some(3));
    assert!(s.label.contains("server_wall"), "{}", s.label);
    let s = service::load_service(&format!("{}#client-only", run.join("run.json").display())).unwrap();
    assert!(rel_err(s.dist.mean(), 0.050) < 0.002);
    assert!(
        s.label.contains("client_latency"),
        "says which histogram: {}",
        s.label
    );

    let e = service::load_service(run.join("zzz").to_str().unwrap()).unwrap_err();
    assert!(matches!(e, ServiceError::MissingClass { .. }));
    assert!(e.to_string().contains("a, client-only, nothing"), "{e}");
    let e = service::load_service(run.join("nothing").to_str().unwrap()).unwrap_err();
    assert!(matches!(e, ServiceError::EmptyClass { .. }), "{e}");
    let e = service::load_service(run.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("CLASS"), "{e}");

    // An interval log: all intervals merged.
    let mut log = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut log, &mut ser)
            .unwrap();
        let d = std::time::Duration::from_secs(1);
        w.write_histogram(&hist_us([1000; 3]), std::time::Duration::ZERO, d, None)
            .unwrap();
        w.write_histogram(&hist_us([4000]), d, d, None).unwrap();
    }
    let hlog = dir.path().join("x.hlog");
    std::fs::write(&hlog, &log).unwrap();
    let s = service::load_service(hlog.to_str().unwrap()).unwrap();
    assert!(rel_err(s.dist.mean(), 0.00175) < 0.002, "{}", s.dist.mean());

    let emptylog = dir.path().join("empty.hlog");
    std::fs::write(&emptylog, "#[Comment only]\n").unwrap();
    assert!(matches!(
        service::load_service(emptylog.to_str().unwrap()).unwrap_err(),
        ServiceError::EmptyHlog { .. }
    ));
    let corrupt = dir.path().join("bad.json");
    std::fs::write(
        &corrupt,
        r#"{"schema_version":"1.3","classes":[{"name":"a","histograms":{"server_wall":"!!notbase64"}}]}"#,
    )
    .unwrap();
    let e = service::load_service(&format!("{}#a", corrupt.display())).unwrap_err();
    assert!(
        matches!(e, ServiceError::BadHistogram { .. }) && e.to_string().contains("server_wall"),
        "{e}"
    );
}
