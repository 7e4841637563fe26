//! `run --server CMD` / `--procfile FILE` and the shape of the measured calls (`--method`,
//! `--header`, `--body @FILE`), checked into the plan's [`AppSpec`] and [`CallShape`].

use std::path::Path;

use anyhow::anyhow;
use bytes::Bytes;

use crate::cli::RunArgs;
use crate::driver::{AppSpec, CallShape};
use crate::error::{CliError, usage};

/// The `web:` command of a Procfile's text, or why there is none.
pub(crate) fn procfile_web(text: &str) -> Result<String, String> {
    let mut types = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, cmd)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "web" {
            let cmd = cmd.trim();
            if cmd.is_empty() {
                return Err("its web: line has no command".into());
            }
            return Ok(cmd.to_string());
        }
        types.push(name.to_string());
    }
    Err(if types.is_empty() {
        "it has no process lines (expected e.g. `web: bundle exec puma -p $PORT`)".into()
    } else {
        format!(
            "it has no web: line (found {}); the web process is the one that serves HTTP",
            types.join(", ")
        )
    })
}

/// The user's server from `--server` or `--procfile`, if either was given.
pub(crate) fn app_spec(a: &RunArgs) -> Result<Option<AppSpec>, CliError> {
    if !a.health_path.starts_with('/') {
        return Err(usage(anyhow!(
            "--health-path must start with '/', got '{}'",
            a.health_path
        )));
    }
    let spec = match (&a.server, &a.procfile) {
        (Some(cmd), _) => {
            if cmd.trim().is_empty() {
                return Err(usage(anyhow!(
                    "--server needs a command, e.g. --server 'gunicorn -b 0.0.0.0:$PORT app:app'"
                )));
            }
            AppSpec {
                command: cmd.trim().to_string(),
                source: "--server".into(),
                dir: None,
                health_path: a.health_path.clone(),
            }
        }
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| usage(anyhow!("--procfile {}: {e}", file.display())))?;
            let command =
                procfile_web(&text).map_err(|e| usage(anyhow!("--procfile {}: {e}", file.display())))?;
            let dir = file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let dir = dir
                .canonicalize()
                .map_err(|e| usage(anyhow!("--procfile {}: its directory: {e}", file.display())))?;
            AppSpec {
                command,
                source: format!("{} web:", file.display()),
                dir: Some(dir),
                health_path: a.health_path.clone(),
            }
        }
        (None, None) => return Ok(None),
    };
    let flag_for_ours = [
        (a.payload.is_some(), "--payload"),
        (a.worker_ballast_mb > 0, "--worker-ballast-mb"),
        (a.profile != "cpu", "--profile"),
    ];
    if let Some((_, flag)) = flag_for_ours.iter().find(|(set, _)| *set) {
        return Err(usage(anyhow!(
            "{flag} configures dynobench's own endpoint; with --server/--procfile your app serves its own routes (choose one with --path, --method, --body)"
        )));
    }
    Ok(Some(spec))
}

/// The measured calls' method, headers and body.
pub(crate) fn call_shape(a: &RunArgs) -> Result<CallShape, CliError> {
    let body = match &a.body {
        None => None,
        Some(b) => match b.strip_prefix('@') {
            Some(file) => Some(Bytes::from(
                std::fs::read(file).map_err(|e| usage(anyhow!("--body @{file}: {e}")))?,
            )),
            None => Some(Bytes::from(b.clone().into_bytes())),
        },
    };
    CallShape::parse(&a.method, &a.header, body).map_err(|e| usage(anyhow!(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procfile_web_line() {
        let t = "# app\nworker: rake jobs\nweb: gunicorn -b 0.0.0.0:$PORT app:app\n";
        assert_eq!(procfile_web(t).unwrap(), "gunicorn -b 0.0.0.0:$PORT app:app");
        assert!(procfile_web("worker: x\n").unwrap_err().contains("found worker"));
        assert!(procfile_web("\n").unwrap_err().contains("no process lines"));
        assert!(procfile_web("web:   \n").unwrap_err().contains("no command"));
    }

    #[test]
    fn call_shapes() {
        let s = CallShape::parse("post", &["Content-Type: application/json".into()], None).unwrap();
        assert_eq!(s.method, hyper::Method::POST);
        assert_eq!(s.headers[0].1, "application/json");
        assert!(
            CallShape::parse("GET", &["nocolon".into()], None)
                .unwrap_err()
                .contains("NAME: VALUE")
        );
        assert!(
            CallShape::parse("G ET", &[], None)
                .unwrap_err()
                .contains("--method")
        );
        assert!(CallShape::parse("GET", &[], None).unwrap().is_plain());
    }
}
