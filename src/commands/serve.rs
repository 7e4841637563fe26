//! `dynobench serve`: where to bind (`--port`, else `$PORT` on 0.0.0.0 as platforms
//! expect, else 127.0.0.1:5000), the payload, the token and io cap a deployed endpoint
//! needs, and the server in the foreground.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, anyhow};

use crate::cli::ServeArgs;
use crate::error::{CliError, Outcome, failed, usage};
use crate::server::{self, ServeConfig};
use crate::workload::Payload;

/// Where `serve` binds: `--port` on 127.0.0.1, else `$PORT` on 0.0.0.0, else 127.0.0.1:5000.
pub(crate) fn serve_addr(
    port: Option<u16>,
    host: Option<IpAddr>,
    env_port: Option<String>,
) -> Result<SocketAddr, CliError> {
    let (default_host, port) = match (port, env_port) {
        (Some(p), _) => (IpAddr::V4(Ipv4Addr::LOCALHOST), p),
        (None, Some(s)) => {
            let p = s
                .trim()
                .parse::<u16>()
                .map_err(|_| usage(anyhow!("$PORT is '{s}', which is not a port number (0-65535)")))?;
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), p)
        }
        (None, None) => (IpAddr::V4(Ipv4Addr::LOCALHOST), 5000),
    };
    Ok(SocketAddr::new(host.unwrap_or(default_host), port))
}

pub(crate) fn serve(a: ServeArgs) -> Result<Outcome, CliError> {
    let addr = serve_addr(
        a.port,
        a.host,
        std::env::var("PORT").ok().filter(|s| !s.is_empty()),
    )?;
    let payload = Payload::load(a.payload.as_deref()).map_err(usage)?;
    let cfg = ServeConfig {
        addr,
        workers: usize::from(a.workers),
        backlog: a.backlog as usize,
        payload,
        ballast_mb: a.ballast_mb,
        timeouts: server::ConnTimeouts {
            head: a.head_timeout,
            idle: a.idle_timeout,
        },
        guard: server::Guard {
            token: a
                .token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from),
            max_io_ms: a.max_io_ms,
        },
    };
    server::run_foreground(cfg)
        .with_context(|| format!("serving on {addr}"))
        .map_err(failed)?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_address_rules() {
        assert_eq!(
            serve_addr(None, None, None).unwrap().to_string(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            serve_addr(None, None, Some("8080".into())).unwrap().to_string(),
            "0.0.0.0:8080"
        );
        assert_eq!(
            serve_addr(Some(0), None, Some("8080".into()))
                .unwrap()
                .to_string(),
            "127.0.0.1:0"
        );
        assert!(serve_addr(None, None, Some("http".into())).is_err());
    }
}
