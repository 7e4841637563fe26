//! Faults in the middle of a run, and what the user sees: a server that stops answering
//! (SIGSTOP) fails its class by name while the next class runs; a driver killed outright
//! (SIGKILL) leaves groups the next run removes; results that cannot be written (a file-size
//! limit standing in for a full disk) give a clear error while the classes saved before it
//! stay on disk and every class is printed. Nothing (process, cgroup, finished class) is lost.

mod common;

use common::results::only_dir;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dynobench::record::RunReport;
use dynobench::report::reader::read_run;

fn report(dir: &Path) -> RunReport {
    read_run(dir).unwrap().report
}

/// Pids of `dynobench serve` processes whose parent is `parent`.
fn servers_of(parent: u32) -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if cmd.contains("dynobench serve") && ppid == Some(parent) {
            v.push(pid);
        }
    }
    v
}

#[test]
fn a_server_that_stops_answering_fails_its_class_and_the_next_class_runs() {
    let _s = common::serial();
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::bin())
        .args([
            "run",
            "--class",
            "performance-m",
            "--class",
            "performance-l",
            "--calls",
            "60",
            "--timeout",
            "2s",
            "--workers",
            "2",
            "--neighbours",
            "none",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Once the first class's server has been up a moment, stop it (it hangs, as a wedged
    // app would).
    let t = Instant::now();
    let server = loop {
        if let Some(p) = servers_of(pid).first() {
            break *p;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no server appeared");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "one class measured: success ({err})");
    let r = report(&only_dir(out.path()));
    let first = &r.classes[0];
    assert_eq!(format!("{:?}", first.status), "Failed");
    let why = first.failure.as_deref().unwrap_or("");
    assert!(why.contains("the server stopped answering"), "{why}");
    assert!(
        first.calls.errors.get("timeout").copied().unwrap_or(0) >= 1,
        "{:?}",
        first.calls.errors
    );
    assert!(
        r.classes[1].is_ok(),
        "the next class ran: {:?}",
        r.classes[1].failure
    );
    assert!(r.complete);
    assert!(
        common::dynobench_children().is_empty(),
        "{:?}",
        common::dynobench_children()
    );
    assert!(
        common::leftover_groups(pid).is_empty(),
        "{:?}",
        common::leftover_groups(pid)
    );
}

#[test]
fn a_killed_driver_leaves_groups_the_next_run_removes() {
    let _s = common::serial();
    let mut child = Command::new(common::bin())
        .args([
            "run",
            "--class",
            "performance-m",
            "--calls",
            "1000",
            "--neighbours",
            "none",
            "--no-save",
            "--quiet",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let t = Instant::now();
    while servers_of(pid).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(60), "no server appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap(); // SIGKILL: no handler runs.
    child.wait().unwrap();
    // The server dies with its parent (PR_SET_PDEATHSIG).
    let t = Instant::now();
    while !common::dynobench_children().is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        common::dynobench_children().is_empty(),
        "{:?}",
        common::dynobench_children()
    );
    let stale = common::leftover_groups(pid);
    if stale.is_empty() {
        // The dutycycle fallback creates no groups: nothing for the next run to remove.
        eprintln!("no cgroup backend here: only the processes were checked");
        return;
    }
    let next = Command::new(common::bin())
        .args([
            "run",
            "--class",
            "performance-m",
            "--calls",
            "3",
            "--warmup",
            "0",
            "--no-save",
        ])
        .output()
        .unwrap();
    assert!(next.status.success(), "{}", String::from_utf8_lossy(&next.stderr));
    assert!(
        String::from_utf8_lossy(&next.stderr).contains("removed a stale group"),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert!(
        common::leftover_groups(pid).is_empty(),
        "{:?}",
        common::leftover_groups(pid)
    );
}

/// `dynobench run` with a limit on the size of any file it writes (as a full disk would
/// stop it), SIGXFSZ ignored so that the write fails with EFBIG instead of killing it.
fn run_with_file_limit(args: &[String], limit: Option<u64>) -> std::process::Output {
    let mut cmd = Command::new(common::bin());
    cmd.args(args);
    if let Some(limit) = limit {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let r = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.output().unwrap()
}

#[test]
fn results_that_cannot_be_written_give_a_clear_error_and_keep_what_was_saved() {
    let s = dynobench::server::start(dynobench::server::ServeConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        workers: 2,
        backlog: 64,
        payload: dynobench::workload::Payload::bundled(),
        ballast_mb: 0,
        timeouts: Default::default(),
        guard: Default::default(),
    })
    .unwrap();
    let url = format!("http://{}", s.addr);
    let tmp = tempfile::tempdir().unwrap();
    let args = |classes: &[&str], out: &Path| -> Vec<String> {
        let mut v: Vec<String> = [
            "run",
            "--url",
            &url,
            "--calls",
            "20",
            "--profile",
            "io",
            "--io-ms",
            "1",
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for c in classes {
            v.extend(["--class".to_string(), c.to_string()]);
        }
        v.extend(["--out".to_string(), out.display().to_string()]);
        v
    };
    // How big a two-class results directory's largest file is (run.json grows by a class's
    // histograms with every class; the plots hardly grow).
    let two = tmp.path().join("two");
    assert!(
        run_with_file_limit(&args(&["standard-1x", "standard-2x"], &two), None)
            .status
            .success()
    );
    let largest = std::fs::read_dir(only_dir(&two))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap();
    // Room for two classes' files, not for three classes' run.json.
    let three = tmp.path().join("three");
    let o = run_with_file_limit(
        &args(&["standard-1x", "standard-2x", "performance-m"], &three),
        Some(largest * 115 / 100),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("the results could not be saved") && err.contains("File too large"),
        "{err}"
    );
    assert!(err.contains("holds the 2 class(es) saved before that"), "{err}");
    // Nothing measured is lost: every class is printed, the first two are on disk.
    assert!(
        stdout.contains("standard-2x") && stdout.contains("performance-m"),
        "{stdout}"
    );
    let kept = report(&only_dir(&three));
    assert_eq!(kept.classes.len(), 2);
    assert!(kept.classes.iter().all(|c| c.is_ok()) && !kept.complete);
    s.stop().unwrap();
}

#[test]
fn calls_in_flight_at_a_stop_are_awaited_then_counted_as_abandoned() {
    use dynobench::driver::load::{Event, LoadModel, LoadSpec, STOP_GRACE, drive};
    // A server that answers the first call at once and then takes far longer than the grace.
    let addr = common::fixed_server(Duration::from_secs(30), Some((0, Duration::from_millis(1))));
    let target = std::sync::Arc::new(dynobench::driver::Target::parse(&format!("http://{addr}")).unwrap());
    let spec = LoadSpec {
        model: LoadModel::Closed { concurrency: 2 },
        warmup: 0,
        warmup_callers: 1,
        open_warmup: 0,
        calls: 10,
        timeout: Duration::from_secs(60),
        path: "/work".into(),
        seed: 1,
        start_at: None,
        offset: Duration::ZERO,
        enough: None,
        sends: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ok, abandoned, took) = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let load = tokio::spawn(drive(target, None, spec, tx, stop_rx));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        stop_tx.send(true).unwrap();
        let (mut ok, mut abandoned) = (0, 0);
        while let Some(e) = rx.recv().await {
            match e {
                Event::Call(r) if r.error.is_none() => ok += 1,
                Event::Abandoned(n) => abandoned += n,
                _ => {}
            }
        }
        load.await.unwrap();
        (ok, abandoned, t.elapsed())
    });
    assert_eq!(ok, 1, "the answered call is recorded");
    assert_eq!(abandoned, 2, "both callers' calls were in flight at the stop");
    assert!(
        took >= STOP_GRACE && took < STOP_GRACE * 3,
        "waited the grace, not the timeout: {took:?}"
    );
}
