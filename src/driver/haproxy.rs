//! HAProxy in front of the formation's dynos, to cross-check our router with a well-known
//! balancer (`--balancer haproxy`): a generated configuration with `balance random(1)`,
//! `random(2)`, `leastconn` or `roundrobin` and the per-dyno limit as each server's
//! `maxconn`; the process runs in the foreground and is stopped (and its configuration file
//! removed) when dropped.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::simulate::Policy;

/// The `haproxy` executable on PATH, if any.
pub fn find() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("haproxy"))
            .find(|p| p.is_file())
    })
}

/// HAProxy's `balance` line for a policy, or `None` when it has no equivalent.
pub fn balance(policy: Policy) -> Option<&'static str> {
    match policy {
        // HAProxy's plain `random` draws twice (power of two) since 2.0; one draw is random.
        Policy::Random => Some("random(1)"),
        Policy::PowerOfTwoChoices => Some("random(2)"),
        Policy::LeastConnections => Some("leastconn"),
        Policy::RoundRobin => Some("roundrobin"),
        Policy::PerRouterLeastConnections => None,
    }
}

/// The configuration text.
pub fn config(
    port: u16,
    dynos: &[SocketAddr],
    policy: Policy,
    max_in_flight: u32,
    timeout: Duration,
) -> String {
    let mut s = format!(
        "global\n    maxconn 4096\n\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 120s\n    timeout server {}ms\n    timeout queue {}ms\n    option http-keep-alive\n\n\
         frontend formation\n    bind 127.0.0.1:{port}\n    default_backend dynos\n\nbackend dynos\n    balance {}\n",
        timeout.as_millis(),
        timeout.as_millis(),
        balance(policy).unwrap_or("random")
    );
    for (i, d) in dynos.iter().enumerate() {
        // The largest weight: `random` hashes onto a consistent-hash ring with points in
        // proportion to the weight, and a fine ring shares requests evenly.
        let _ = writeln!(
            s,
            "    server web{} {d} maxconn {max_in_flight} weight 256",
            i + 1
        );
    }
    s
}

/// A running HAProxy.
pub struct Haproxy {
    /// Where clients send requests.
    pub addr: SocketAddr,
    child: Child,
    cfg: PathBuf,
}

impl Haproxy {
    /// Writes the configuration, starts `exe -db -f CFG` and waits until it accepts
    /// connections.
    pub fn start(
        exe: &std::path::Path,
        dynos: &[SocketAddr],
        policy: Policy,
        max_in_flight: u32,
        timeout: Duration,
    ) -> Result<Haproxy, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let cfg = std::env::temp_dir().join(format!("dynobench-haproxy-{}-{port}.cfg", std::process::id()));
        std::fs::write(&cfg, config(port, dynos, policy, max_in_flight, timeout))
            .map_err(|e| format!("writing {}: {e}", cfg.display()))?;
        let mut cmd = Command::new(exe);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls between fork and exec: die with dynobench
        // (PDEATHSIG) and leave the terminal's process group (Ctrl-C reaches dynobench,
        // which stops HAProxy in order).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let child = cmd
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                let _ = std::fs::remove_file(&cfg);
                format!("starting {}: {e}", exe.display())
            })?;
        let mut h = Haproxy {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            cfg,
        };
        let t = Instant::now();
        while TcpStream::connect_timeout(&h.addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(st)) = h.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = h.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(format!("haproxy exited at start ({st}): {}", err.trim()));
            }
            if t.elapsed() > Duration::from_secs(10) {
                return Err("haproxy did not accept connections within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(h)
    }

    /// The installed version line (`HAProxy version 2.6.12-1 …`).
    pub fn version(exe: &std::path::Path) -> String {
        Command::new(exe)
            .arg("-v")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_string))
            .unwrap_or_else(|| "haproxy (version unknown)".into())
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let t = Instant::now();
        while !matches!(self.child.try_wait(), Ok(Some(_))) && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_names_every_dyno_and_the_policy() {
        let dynos = [
            SocketAddr::from(([127, 0, 0, 1], 4001)),
            SocketAddr::from(([127, 0, 0, 1], 4002)),
        ];
        let c = config(
            9000,
            &dynos,
            Policy::PowerOfTwoChoices,
            50,
            Duration::from_secs(30),
        );
        assert!(c.contains("bind 127.0.0.1:9000"));
        assert!(c.contains("balance random(2)"));
        assert!(c.contains("server web2 127.0.0.1:4002 maxconn 50 weight 256"));
        assert!(c.contains("timeout server 30000ms"));
        assert_eq!(balance(Policy::PerRouterLeastConnections), None);
    }
}
