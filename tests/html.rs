//! index.html and the other pages: structure checked with an HTML parser (always), and the
//! reference run's page rendered by headless Chromium where it is installed (else the test
//! says SKIPPED and why).

mod common;

use common::{dynobench, succeeded as ok};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::page::{run_page, sel, self_contained, text};
use dynobench::record::verdict::SloOutcome;
use dynobench::record::{ClassStatus, RunReport, SloVerdict};
use dynobench::report::reader::read_run;
use dynobench::report::writer::ResultsWriter;

/// A copy of the committed reference run in `dir` (its index.html removed, if any).
fn reference_copy(dir: &Path, name: &str) -> PathBuf {
    let src = common::reference_runs()
        .into_iter()
        .next()
        .expect("a committed reference run");
    let dst = dir.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        if e.file_name() != "index.html" {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    dst
}

#[test]
fn report_writes_a_self_contained_page_for_the_reference_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reference_copy(tmp.path(), "ref");
    let out = ok(&dynobench(&["report", dir.to_str().unwrap()]));
    let page = dir.join("index.html");
    assert!(out.contains(&format!("page: {}", page.display())), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    let doc = self_contained(&html, Some(&dir));
    let r = read_run(&dir).unwrap().report;
    run_page(&doc, &r);
    // Every raw file of the directory is linked.
    let links: Vec<&str> = doc
        .select(&sel("#files a"))
        .filter_map(|a| a.value().attr("href"))
        .collect();
    for f in [
        "run.json",
        "summary.md",
        "summary.csv",
        "latency.svg",
        "cost.svg",
        "eco.hgrm",
        "eco.hlog",
    ] {
        assert!(links.contains(&f), "{f} is linked: {links:?}");
    }
    // The cost chart says where each bar's capacity comes from, on the bars (figures as a
    // run today computes them: the reference run may predate capacity points).
    let mut r = r;
    dynobench::record::apply_value(&mut r.classes);
    let cost = dynobench::report::export::svg::cost_svg(&r).unwrap();
    let labelled = r
        .classes
        .iter()
        .filter(|c| {
            c.cost
                .capacity
                .iter()
                .any(|p| p.usd_per_million_requests.is_some())
        })
        .count();
    let marks = cost
        .lines()
        .filter(|l| l.split('/').all(|t| ["meas.", "extrap.", "est."].contains(&t)))
        .count();
    assert!(labelled > 0);
    assert_eq!(marks, labelled, "one origin label per cost bar");
    // Whole milliseconds are labelled as such.
    let latency = dynobench::report::export::svg::latency_svg(&r).unwrap();
    for svg in [&cost, &latency] {
        assert!(
            svg.contains(">\n100\n<") && !svg.contains(".0\n</text>"),
            "integer ticks: {svg}"
        );
    }
}

#[test]
fn a_written_run_links_failures_slos_and_notes() {
    let src = read_run(&common::reference_runs()[0]).unwrap().report;
    let mut r: RunReport = src.clone();
    dynobench::record::apply_value(&mut r.classes);
    r.run_id = "20260101-000000-variant".into();
    r.classes[1].status = ClassStatus::Failed;
    r.classes[1].failure = Some("server <exited> & was not restarted".into());
    r.classes[2].same_as = Some(r.classes[0].name.clone());
    r.slo = vec![
        SloVerdict {
            class: r.classes[0].name.clone(),
            slo: "p99<=300ms".into(),
            outcome: SloOutcome::Breaks,
            line: "eco: p99 543.7 ms breaks p99<=300ms".into(),
            ..SloVerdict::default()
        },
        SloVerdict {
            class: r.classes[3].name.clone(),
            slo: "p99<=300ms".into(),
            outcome: SloOutcome::Inconclusive,
            line: "standard-2x: p99 inconclusive".into(),
            ..SloVerdict::default()
        },
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut w = ResultsWriter::create(tmp.path(), &r.run_id).unwrap();
    w.write(&r).unwrap();
    let html = std::fs::read_to_string(w.dir().join("index.html")).unwrap();
    let doc = self_contained(&html, Some(w.dir()));
    run_page(&doc, &r);
    assert!(
        html.contains("server &lt;exited&gt; &amp; was not restarted"),
        "escaped failure text"
    );
    let verdicts: Vec<String> = doc.select(&sel("#verdicts li")).map(text).collect();
    assert!(
        verdicts.iter().any(|v| v.starts_with("breaks eco")),
        "{verdicts:?}"
    );
    assert!(
        verdicts.iter().any(|v| v.starts_with("inconclusive standard-2x")),
        "{verdicts:?}"
    );
    // Each class's capacity figures, each with its origin.
    let eco = doc.select(&sel("article[id=\"class-eco\"]")).next().unwrap();
    let origins: Vec<String> = eco.select(&sel("td .badge")).map(text).collect();
    assert!(!origins.is_empty(), "eco's capacity figures");
    assert!(
        origins
            .iter()
            .all(|o| ["measured", "extrapolated", "estimated"].contains(&o.as_str())),
        "{origins:?}"
    );
    let notes = text(doc.select(&sel("#notes")).next().unwrap());
    assert!(
        notes.contains("failed")
            && notes.contains(&format!("emulated here exactly as {}", r.classes[0].name)),
        "{notes}"
    );
}

#[test]
fn several_runs_side_by_side_with_their_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    let a = reference_copy(tmp.path(), "a");
    let b = reference_copy(tmp.path(), "b");
    let side = tmp.path().join("pages/side.html");
    let out = ok(&dynobench(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--compare",
        "--out",
        side.to_str().unwrap(),
    ]));
    assert!(
        out.contains("side by side:") && a.join("index.html").exists() && b.join("index.html").exists(),
        "{out}"
    );
    let html = std::fs::read_to_string(&side).unwrap();
    let doc = self_contained(&html, side.parent());
    let r = read_run(&a).unwrap().report;
    let rows = doc.select(&sel("#side tbody tr")).count();
    assert_eq!(rows, 2 * r.classes.len(), "each class once per run");
    let compare = text(doc.select(&sel("#compare")).next().expect("the comparison"));
    assert!(compare.contains("No regression"), "{compare}");
    assert_eq!(
        doc.select(&sel("#side figure svg")).count(),
        2,
        "both latency charts inline"
    );

    // compare --html writes the same kind of page; --compare needs two runs.
    let page = tmp.path().join("cmp.html");
    ok(&dynobench(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]));
    let doc = self_contained(&std::fs::read_to_string(&page).unwrap(), Some(tmp.path()));
    assert!(doc.select(&sel("#compare table")).next().is_some());
    let o = dynobench(&["report", a.to_str().unwrap(), "--compare"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--compare"));
}

#[test]
fn plan_writes_its_page() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("plan.html");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-run");
    let out = ok(&dynobench(&[
        "plan",
        "--rate",
        "20",
        "--slo",
        "p99<=2s",
        "--requests",
        "5000",
        "--samples",
        "2",
        "--results",
        fixture.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]));
    assert!(out.contains(&format!("page: {}", page.display())), "{out}");
    let doc = self_contained(&std::fs::read_to_string(&page).unwrap(), Some(tmp.path()));
    let rows = doc.select(&sel("#plan tbody tr")).count();
    assert!(rows >= 1, "one row per class and CPU situation");
    let conclusions = text(doc.select(&sel("#plan")).next().unwrap());
    assert!(
        conclusions.contains("Cheapest") || conclusions.contains("No class meets"),
        "{conclusions}"
    );
}

/// The first of these on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
    .find(|p| p.is_file())
}

/// Chromium's headless render of `page`: (screenshot PNG, DOM dump, its log on stderr).
fn render(chrome: &Path, page: &Path, png: &Path, size: (u32, u32)) -> (Vec<u8>, String, String) {
    let profile = tempfile::tempdir().unwrap();
    // Files, not pipes: a DOM dump larger than a pipe would block Chromium.
    let (dom_file, log_file) = (profile.path().join("dom.html"), profile.path().join("log.txt"));
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Nothing can be fetched: the page must render from the file alone.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::from(std::fs::File::create(&dom_file).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&log_file).unwrap()))
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("Chromium did not finish rendering {} in 90 s", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let log = String::from_utf8_lossy(&std::fs::read(&log_file).unwrap()).to_string();
    assert!(status.success(), "Chromium failed on {}: {log}", page.display());
    let bytes = std::fs::read(png).unwrap_or_else(|e| panic!("no screenshot ({e}): {log}"));
    let dom = String::from_utf8_lossy(&std::fs::read(&dom_file).unwrap()).to_string();
    (bytes, dom, log)
}

/// Console messages in Chromium's log (the page has no script: any is a fault).
fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[test]
fn the_reference_page_renders_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        println!(
            "SKIPPED: no Chromium on PATH (apt-get install chromium); the page's structure is still checked by the parser tests"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // The console check must catch a console error, or it checks nothing.
    let probe = tmp.path().join("probe.html");
    std::fs::write(
        &probe,
        "<!DOCTYPE html><p>probe</p><script>console.error('probe-error')</script>",
    )
    .unwrap();
    let (_, _, log) = render(&chrome, &probe, &tmp.path().join("probe.png"), (400, 300));
    assert!(
        console_lines(&log).iter().any(|l| l.contains("probe-error")),
        "Chromium's log format changed: console errors are not seen in:\n{log}"
    );

    let dir = reference_copy(tmp.path(), "ref");
    ok(&dynobench(&["report", dir.to_str().unwrap()]));
    let r = read_run(&dir).unwrap().report;
    let (bytes, dom, log) = render(
        &chrome,
        &dir.join("index.html"),
        &tmp.path().join("page.png"),
        (1280, 2400),
    );
    assert!(
        console_lines(&log).is_empty(),
        "console messages: {:?}",
        console_lines(&log)
    );
    // The DOM Chromium built holds the table and its text.
    let doc = scraper::Html::parse_document(&dom);
    let table = text(
        doc.select(&sel("#summary table"))
            .next()
            .expect("the table in Chromium's DOM"),
    );
    for c in &r.classes {
        assert!(table.contains(&c.name), "{} in the table: {table}", c.name);
    }
    assert!(table.contains("p99 ms [95% CI]"), "{table}");
    // The screenshot is the page, not a blank window: many colours, much ink.
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2400));
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let inked = pixels.iter().filter(|p| p[..3].iter().any(|&v| v < 200)).count();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().step_by(7).copied().collect();
    assert!(
        inked * 100 > pixels.len() * 2,
        "only {inked} of {} pixels are inked",
        pixels.len()
    );
    assert!(colours.len() > 50, "only {} colours", colours.len());
}

#[test]
fn the_checker_refuses_pages_that_load_things() {
    for bad in [
        "<img src=\"https://example.com/x.png\">",
        "<a href=\"//cdn.example.com/x\">x</a>",
        "<div style=\"background: url(http://x/y.png)\"></div>",
        "<style>@import 'https://fonts.example/x.css';</style>",
        "<script>1</script>",
        "<a href=\"#nowhere\">x</a>",
        "<a href=\"missing.json\">x</a>",
    ] {
        let html = format!("<!DOCTYPE html><html><head><title>t</title></head><body>{bad}</body></html>");
        let dir = tempfile::tempdir().unwrap();
        let caught = std::panic::catch_unwind(|| self_contained(&html, Some(dir.path())));
        assert!(caught.is_err(), "not refused: {bad}");
    }
}
