//! The user's own server (`run --server`, `--procfile`): its command line with `$PORT` and
//! `$WEB_CONCURRENCY`, and why it did not become ready (exited, never answered, or listens
//! on another port than `$PORT`), in words that name the class and the command.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::plan::AppSpec;
use crate::limit::{Sandbox, group};
use crate::record::LimiterKind;
use crate::record::group::GroupReading;

/// A port that was free a moment ago on 127.0.0.1.
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Where the app answers once it listens on `port`.
pub(crate) fn app_addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// `sh -c CMD` with the platform's environment: `PORT`, `WEB_CONCURRENCY`, and the class's
/// memory as `DYNO_RAM` / `MEMORY_AVAILABLE` (MB), run in the app's directory.
pub(crate) fn app_command(app: &AppSpec, port: u16, workers: u32, memory_mb: u64) -> Command {
    let mut cmd = Command::new("sh");
    // SIGTERM goes to the whole process group (as the platform does), so the shell need
    // not exec the server.
    cmd.arg("-c")
        .arg(&app.command)
        .env("PORT", port.to_string())
        .env("WEB_CONCURRENCY", workers.to_string())
        .env("DYNO_RAM", memory_mb.to_string())
        .env("MEMORY_AVAILABLE", memory_mb.to_string())
        .env_remove("DYNOBENCH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = &app.dir {
        cmd.current_dir(d);
    }
    cmd
}

/// The app, for messages: its command and where it came from.
pub(crate) fn describe(app: &AppSpec) -> String {
    format!("`{}` ({})", app.command, app.source)
}

/// Why the app is not ready after `waited`, given whether it exited (and how), the ports
/// its processes listen on, and the tail of its output.
pub(crate) fn not_ready(
    class: &str,
    app: &AppSpec,
    port: u16,
    exited: Option<String>,
    listening: &[u16],
    waited: Duration,
    output: &str,
) -> String {
    let who = format!("class {class}: your server {}", describe(app));
    match exited {
        Some(how) => format!("{who} {how} during start-up; its output: {output}"),
        None if !listening.is_empty() && !listening.contains(&port) => format!(
            "{who} ignores $PORT: it listens on port {} but $PORT was {port}; make it bind $PORT (e.g. `-p $PORT`, `-b 0.0.0.0:$PORT`, `process.env.PORT`); its output: {output}",
            listening
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!(
            "{who} did not answer GET {} on $PORT={port} within --startup-timeout {} (listening: {}); its output: {output}",
            app.health_path,
            crate::units::fmt_secs(waited.as_secs_f64()),
            if listening.contains(&port) {
                "yes, but the health path never answered below 500"
            } else {
                "no"
            }
        ),
    }
}

/// One reading of the server's whole group: the sandbox's counters, the run delay of its
/// threads, its CPU pressure (v2) and how many processes it has.
pub(crate) fn read_group(sb: &mut Sandbox, t_s: f64, ok: u64) -> GroupReading {
    let counters = sb.counters();
    let members = sb.members();
    let pressure = sb.group_dir().and_then(group::cpu_pressure);
    GroupReading {
        t_s,
        ok,
        counters,
        run_delay_us: group::run_delay_ns(&members).map(|ns| ns / 1000),
        pressure_some_us: pressure.map(|p| p.some_us),
        pressure_full_us: pressure.filter(|p| p.full_us > 0).map(|p| p.full_us),
        processes: members.len(),
    }
}

/// Where the group's figures come from, for the report.
pub(crate) fn group_source(sb: &Sandbox, kind: LimiterKind) -> String {
    match (kind, sb.group_dir()) {
        (LimiterKind::Cgroup2, Some(d)) => format!(
            "cgroup v2 group {} (cpu.stat, cpu.pressure, memory.peak)",
            d.display()
        ),
        (LimiterKind::Cgroup1, Some(d)) => format!(
            "cgroup v1 group {} (cpuacct.usage, cpu.stat, memory.max_usage_in_bytes)",
            d.display()
        ),
        _ => format!(
            "the server's process group ({} limiter: its processes' CPU clocks and RSS)",
            kind.name()
        ),
    }
}

/// Seconds between group readings during the measured calls, and the window of the series.
pub(crate) const GROUP_READ_S: f64 = 0.1;
/// The window of the per-window series, seconds.
pub(crate) const GROUP_WINDOW_S: f64 = 1.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppSpec {
        AppSpec {
            command: "python3 app.py".into(),
            source: "--server".into(),
            dir: None,
            health_path: "/".into(),
        }
    }

    #[test]
    fn causes_name_class_command_and_port() {
        let t = Duration::from_secs(5);
        let e = not_ready(
            "standard-1x",
            &app(),
            4000,
            Some("exited with code 3".into()),
            &[],
            t,
            "boom",
        );
        assert!(
            e.contains("standard-1x") && e.contains("python3 app.py") && e.contains("code 3"),
            "{e}"
        );
        let e = not_ready("standard-1x", &app(), 4000, None, &[8000], t, "");
        assert!(
            e.contains("ignores $PORT") && e.contains("8000") && e.contains("4000"),
            "{e}"
        );
        let e = not_ready("performance-m", &app(), 4000, None, &[], t, "");
        assert!(
            e.contains("did not answer GET /") && e.contains("performance-m"),
            "{e}"
        );
        assert!(free_port().unwrap() > 0);
    }
}
