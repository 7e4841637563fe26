//! cgroup v2 on a real kernel: boots this machine's Linux kernel under qemu with an
//! initramfs of busybox and the dynobench binary, whose init mounts cgroup2, enables the
//! cpu, cpuset and memory controllers and runs dynobench — calibrate (quota, period, burst),
//! runs of a quota class, a shared class and a burst-balance class — then lists what is left
//! in the cgroup tree. This host binds the cpu controller to v1, so this is where the
//! cgroup2 backend meets a real `cpu.max` and `cpu.max.burst`. Says SKIPPED, with the
//! reason, where qemu, a kernel image, a static busybox or cpio is missing. Runs under
//! software emulation (TCG), about a minute.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What booting the VM needs from this machine.
struct Vm {
    qemu: PathBuf,
    kernel: PathBuf,
    busybox: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// The VM's prerequisites, or why it cannot boot here.
fn prerequisites() -> Result<Vm, String> {
    let qemu = on_path("qemu-system-x86_64")
        .ok_or("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")?;
    on_path("cpio").ok_or("cpio is not installed")?;
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map_err(|e| format!("/boot: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .filter(|p| std::fs::File::open(p).is_ok())
        .collect();
    kernels.sort();
    let kernel = kernels
        .pop()
        .ok_or("no readable /boot/vmlinuz-* (Debian: linux-image-amd64)")?;
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            p.is_file()
                && Command::new("ldd").arg(p).output().is_ok_and(|o| {
                    !o.status.success() || String::from_utf8_lossy(&o.stdout).contains("not a dynamic")
                })
        })
        .ok_or("no statically linked busybox (Debian: busybox-static)")?;
    Ok(Vm {
        qemu,
        kernel,
        busybox,
    })
}

/// Copies `from` to `root` + `to`, making the directories.
fn put(root: &Path, from: &Path, to: &str) {
    let dest = root.join(to.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest)
        .unwrap_or_else(|e| panic!("copy {} → {}: {e}", from.display(), dest.display()));
}

/// The shared libraries `ldd` names for `binary` (absolute paths).
fn libraries(binary: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// The init script: mount, enable controllers, run each section with its output between
/// markers on the second serial port, list the leftovers, power off.
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t cgroup2 none /sys/fs/cgroup
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
echo "+cpu +cpuset +memory" > /sys/fs/cgroup/cgroup.subtree_control
exec 3>/dev/ttyS1
echo "@@KERNEL $(uname -r) controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)" >&3
section() {
    name=$1; shift
    echo "@@BEGIN $name" >&3
    "$@" >&3 2>/tmp/err
    rc=$?
    echo "@@END $name $rc" >&3
    echo "@@STDERR $name" >&3
    tail -n 20 /tmp/err >&3
    echo "@@ENDSTDERR $name" >&3
}
# A Fly class (80-ms period) with a what-if burst of 100% of its quota, run in the
# background while its server group's cpu.max and cpu.max.burst are read back from the
# kernel; the run's JSON is left in /tmp/fly.json.
fly_applied() {
    dynobench run --limiter cgroup2 --classes fly --class shared-cpu-1x-256mb --cfs-burst 100% \
        --calls 20 --warmup 2 --payload /tmp/p.json --json --no-save > /tmp/fly.json 2>/tmp/fly.err &
    pid=$!
    i=0
    while [ $i -lt 600 ]; do
        f=$(find /sys/fs/cgroup -path '*dynobench*' -name cpu.max 2>/dev/null | head -n 1)
        if [ -n "$f" ]; then
            echo "cpu.max=$(cat "$f") cpu.max.burst=$(cat "$f.burst")"
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    wait $pid
    rc=$?
    cat /tmp/fly.err >&2
    return $rc
}
cd /tmp
dynobench payload --size 256KiB -o /tmp/p.json
section run dynobench run --limiter cgroup2 --class eco --class performance-m --calls 20 --warmup 2 --payload /tmp/p.json --json --no-save
section applied fly_applied
section fly cat /tmp/fly.json
section calibrate dynobench calibrate --limiter cgroup2 --quotas 0.25,0.5,1.0 --seconds 3 --stall-periods 80ms,20ms --burst-seconds 8 --json
echo "@@BEGIN left" >&3
find /sys/fs/cgroup -mindepth 1 -type d >&3
ps -o pid,comm 2>/dev/null | grep dynobench | grep -v grep >&3
echo "@@END left 0" >&3
sync
poweroff -f
"#;

/// One section's stdout, exit code and stderr, from the data port's text.
struct Section {
    out: String,
    rc: i32,
    err: String,
}

fn section(data: &str, name: &str) -> Section {
    let between = |open: &str, close: &str| -> Option<String> {
        let a = data.find(open)? + open.len();
        let b = a + data[a..].find(close)?;
        Some(data[a..b].trim().to_string())
    };
    let out = between(&format!("@@BEGIN {name}\n"), &format!("@@END {name} "))
        .unwrap_or_else(|| panic!("section {name} did not finish; data port:\n{data}"));
    let rc = between(&format!("@@END {name} "), "\n")
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let err = between(&format!("@@STDERR {name}\n"), &format!("@@ENDSTDERR {name}")).unwrap_or_default();
    Section { out, rc, err }
}

/// Boots the VM and returns what its data port received.
fn boot(vm: &Vm, dir: &Path) -> String {
    let root = dir.join("root");
    put(&root, &vm.busybox, "/bin/busybox");
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_dynobench"));
    // Stripped: the release binary carries debug sections the VM does not need.
    let stripped = dir.join("dynobench");
    let strip = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&binary)
        .status();
    let copied = if strip.is_ok_and(|s| s.success()) {
        &stripped
    } else {
        &binary
    };
    put(&root, copied, "/bin/dynobench");
    for lib in libraries(&binary) {
        put(&root, &lib, &lib.to_string_lossy());
    }
    let init = root.join("init");
    std::fs::write(&init, INIT).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
    let initrd = dir.join("initrd.cpio");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd '{}' && find . | cpio -o -H newc --quiet > '{}'",
            root.display(),
            initrd.display()
        ))
        .status()
        .expect("cpio runs");
    assert!(status.success(), "building the initramfs failed");
    let (console, data) = (dir.join("console.log"), dir.join("data.log"));
    // Software emulation always: on this project's CI machines /dev/kvm exists but a KVM
    // guest never printed a line in five minutes (a nested-virtualisation host), while TCG
    // boots and finishes in about a minute. The guest's clock follows the host's, so quota,
    // period and burst act in real time as they would on hardware, only on slower CPUs.
    let accel = "tcg,thread=multi";
    let mut child = Command::new(&vm.qemu)
        .args([
            "-accel",
            accel,
            "-smp",
            "2",
            "-m",
            "1536",
            "-display",
            "none",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(&vm.kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 panic=-1 quiet loglevel=3"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-serial")
        .arg(format!("file:{}", data.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("qemu starts");
    // A guard against a VM that never powers off, not a timing assertion.
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if child.try_wait().expect("qemu status").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the VM did not power off within 15 minutes; console:\n{}",
                std::fs::read_to_string(&console).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&data)
        .unwrap_or_default()
        .replace("\r\n", "\n");
    assert!(
        text.contains("@@END left"),
        "the VM stopped before finishing; data port:\n{text}\nconsole:\n{}",
        std::fs::read_to_string(&console).unwrap_or_default()
    );
    text
}

#[test]
fn cgroup_v2_on_a_real_kernel() {
    let vm = match prerequisites() {
        Ok(vm) => vm,
        Err(why) => {
            eprintln!("SKIPPED cgroup_v2_on_a_real_kernel: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let data = boot(&vm, dir.path());
    eprintln!("{}", data.lines().next().unwrap_or_default());

    // A quota class and a dedicated one, measured on cgroup2.
    let run = section(&data, "run");
    assert_eq!(run.rc, 0, "run: {}", run.err);
    let run: Value = serde_json::from_str(&run.out).expect("run --json");
    for c in run["classes"].as_array().expect("classes") {
        assert_eq!(c["status"], "ok", "run: {} {}", c["name"], c["failure"]);
        assert_eq!(c["limits"]["backend"], "cgroup2", "{}", c["limits"]);
        assert!(c["calls"]["ok"].as_u64().unwrap_or(0) >= 20, "{}", c["calls"]);
        eprintln!(
            "run: {} p50 {} µs",
            c["name"], c["latency"]["percentiles"][0]["value_us"]
        );
    }

    // A Fly burst-balance class at its 80-ms period with a 100% burst: the kernel's own
    // cpu.max and cpu.max.burst say so, and so do the run's applied limits.
    let applied = section(&data, "applied");
    assert_eq!(applied.rc, 0, "applied: {}\n{}", applied.out, applied.err);
    eprintln!("fly class on the kernel: {}", applied.out);
    let field = |name: &str| -> Vec<u64> {
        applied
            .out
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")).map(str::to_string))
            .map(|v| v.split(' ').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_default()
    };
    let cpu_max: Vec<u64> = applied
        .out
        .split("cpu.max=")
        .nth(1)
        .and_then(|r| r.split(" cpu.max.burst=").next())
        .map(|v| v.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    assert_eq!(cpu_max.len(), 2, "cpu.max as read: {}", applied.out);
    assert_eq!(cpu_max[1], 80_000, "the kernel's period: {}", applied.out);
    let burst = field("cpu.max.burst");
    assert!(
        burst.first().is_some_and(|b| *b > 0),
        "cpu.max.burst as read: {}",
        applied.out
    );
    let fly: Value = serde_json::from_str(&section(&data, "fly").out).expect("fly run --json");
    for c in fly["classes"].as_array().expect("classes") {
        assert_eq!(c["status"], "ok", "fly: {} {}", c["name"], c["failure"]);
        assert_eq!(c["limits"]["backend"], "cgroup2", "{}", c["limits"]);
        assert_eq!(c["limits"]["period_us"], 80_000, "{}", c["limits"]);
        assert!(
            c["limits"]["burst_us"].as_u64().unwrap_or(0) > 0,
            "{}",
            c["limits"]
        );
    }

    // calibrate on cgroup2: quotas within ±5%, the stall shrinking with the period, and a
    // burst budget cutting the p99 of bunched 5-ms items at least in half.
    let cal = section(&data, "calibrate");
    let report: Value = serde_json::from_str(&cal.out)
        .unwrap_or_else(|e| panic!("calibrate --json ({e}): {}\n{}", cal.out, cal.err));
    let quotas = report["quotas"].as_array().expect("quotas");
    assert_eq!(quotas.len(), 3, "{report}");
    for q in quotas {
        assert_eq!(q["backend"], "cgroup2", "{q}");
        let (asked, got) = (
            q["requested_cores"].as_f64().unwrap(),
            q["achieved_cores"].as_f64().unwrap(),
        );
        eprintln!(
            "cgroup2 quota {asked:.2} core → {got:.3} ({:+.1}%), throttled in {:.0}% of periods",
            (got / asked - 1.0) * 100.0,
            q["throttled_ratio"].as_f64().unwrap_or(f64::NAN) * 100.0
        );
        assert!(
            (got / asked - 1.0).abs() <= 0.05,
            "cgroup2 quota {asked} achieved {got}"
        );
    }
    let stall = |period: f64| -> f64 {
        report["stalls"]
            .as_array()
            .expect("stalls")
            .iter()
            .find(|s| s["period_ms"].as_f64() == Some(period))
            .and_then(|s| s["longest_stall_ms"].as_f64())
            .unwrap_or_else(|| panic!("no stall at {period} ms: {report}"))
    };
    let (s80, s20) = (stall(80.0), stall(20.0));
    eprintln!(
        "26-ms items at 0.6 core: longest stall {s80:.1} ms at an 80-ms period, {s20:.1} ms at 20 ms (expected 32 and 8)"
    );
    assert!(
        s80 > s20,
        "the stall does not follow the period: {s80} ms at 80 ms, {s20} ms at 20 ms"
    );
    let b = &report["bursts"].as_array().expect("bursts")[0];
    let (plain, with) = (
        b["p99_plain_ms"].as_f64().unwrap(),
        b["p99_burst_ms"].as_f64().unwrap(),
    );
    eprintln!(
        "Poisson 5-ms items at 60% of 0.5 core: p99 {plain:.1} ms plain, {with:.1} ms with a 100% burst"
    );
    assert!(b["applied_burst_ms"].as_f64().unwrap_or(0.0) > 0.0, "{b}");
    assert!(with <= plain / 2.0, "burst did not halve p99: {plain} → {with}");

    // Nothing left: no dynobench group under the cgroup2 root, no dynobench process.
    let left = section(&data, "left").out;
    assert!(!left.contains("dynobench"), "left behind in the VM:\n{left}");
}
