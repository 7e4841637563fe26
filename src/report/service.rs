//! Service-time sources for `simulate --service` and `plan`: a parametric distribution
//! (`exponential:100ms`), a class of a results directory (`results/RUN/CLASS`,
//! `results/RUN/run.json#CLASS`) read through the one reader, or an interval log (`.hlog`).

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::reader::{ReadError, RunFile, read_hlog, read_run};
use crate::record::ClassResult;
use crate::record::histogram::decode;
use crate::simulate::cpu::{Demand, DemandDist};
use crate::simulate::service::{Empirical, ServiceDist, parse_parametric};

/// Why a service-time source could not be used (all are input errors: exit 2).
#[derive(Debug, Error)]
pub enum ServiceError {
    /// A `kind:params` spec that does not parse.
    #[error("--service '{spec}': {reason}")]
    BadSpec {
        /// The spec as written.
        spec: String,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// The results file could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A class name that the run does not hold.
    #[error("{} has no class '{class}'; it has: {}", path.display(), list(available))]
    MissingClass {
        /// The run.json.
        path: PathBuf,
        /// The class asked for.
        class: String,
        /// The classes that exist.
        available: Vec<String>,
    },
    /// A run was named where a class is needed.
    #[error(
        "{} names a whole run; name one class: {}/CLASS or {}#CLASS (classes: {})",
        path.display(), dir.display(), path.display(), list(available)
    )]
    NeedClass {
        /// The run.json.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
        /// The classes that exist.
        available: Vec<String>,
    },
    /// A histogram field that does not decode.
    #[error("{}: class '{class}': histograms.{field} is not a base64 HdrHistogram V2 ({reason})", path.display())]
    BadHistogram {
        /// The run.json.
        path: PathBuf,
        /// The class.
        class: String,
        /// `server_wall` or `client_latency`.
        field: String,
        /// The decoding error.
        reason: String,
    },
    /// A class whose histograms are absent or hold no values.
    #[error(
        "{}: class '{class}' (status {status}) has no service times: histograms.server_wall and \
         histograms.client_latency are both absent or empty",
        path.display()
    )]
    EmptyClass {
        /// The run.json.
        path: PathBuf,
        /// The class.
        class: String,
        /// The class's status in the run.
        status: String,
    },
    /// A file of service times that could not be read.
    #[error("--service {}: cannot read it: {reason}", path.display())]
    ValuesIo {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// A line of a file of service times that is not a duration.
    #[error(
        "--service {} line {line}: '{text}' is not a service time ({reason}); write one value per \
         line in milliseconds (12.5) or with a unit (12.5ms, 0.3s); blank lines and # comments are skipped",
        path.display()
    )]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A file of service times holding no positive value.
    #[error("--service {}: no service times in it (one value per line, ms; the mean must be above 0)", path.display())]
    NoValues {
        /// The file.
        path: PathBuf,
    },
    /// An interval log with no recorded values.
    #[error("{} holds no recorded values (an empty histogram cannot give service times)", path.display())]
    EmptyHlog {
        /// The file.
        path: PathBuf,
    },
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// Which measured histogram gave the service times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistSource {
    /// Server-side wall time of the handler (what a worker spends per request).
    ServerWall,
    /// Client-observed latency (used when server_wall is absent or empty; includes the network
    /// and any server-side queueing, so it overstates service time).
    ClientLatency,
    /// All intervals of an interval log.
    IntervalLog,
}

impl HistSource {
    /// The short name (`server_wall`, `client_latency`, `interval_log`).
    pub fn name(self) -> &'static str {
        match self {
            HistSource::ServerWall => "server_wall",
            HistSource::ClientLatency => "client_latency",
            HistSource::IntervalLog => "interval_log",
        }
    }
}

impl fmt::Display for HistSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HistSource::ServerWall => "server_wall",
            HistSource::ClientLatency => "client_latency (server_wall absent or empty)",
            HistSource::IntervalLog => "interval log",
        })
    }
}

/// A class's service times, decoded.
#[derive(Debug, Clone)]
pub struct ClassService {
    /// The distribution (seconds).
    pub dist: ServiceDist,
    /// Which histogram it came from.
    pub source: HistSource,
}

/// The class named `name` of a run, or an error listing the ones that exist.
pub fn class_of<'a>(run: &'a RunFile, name: &str) -> Result<&'a ClassResult, ServiceError> {
    run.class(name).ok_or_else(|| ServiceError::MissingClass {
        path: run.path.clone(),
        class: name.to_string(),
        available: run.class_names(),
    })
}

/// A class's service times: server_wall, or client_latency when that is absent or empty.
pub fn class_service(run: &RunFile, class: &ClassResult) -> Result<ClassService, ServiceError> {
    let fields = [
        (
            "server_wall",
            class.histograms.server_wall.as_deref(),
            HistSource::ServerWall,
        ),
        (
            "client_latency",
            Some(class.histograms.client_latency.as_str()),
            HistSource::ClientLatency,
        ),
    ];
    for (field, value, source) in fields {
        let Some(b64) = value.filter(|s| !s.trim().is_empty()) else {
            continue;
        };
        let h = decode(b64).map_err(|reason| ServiceError::BadHistogram {
            path: run.path.clone(),
            class: class.name.clone(),
            field: field.into(),
            reason,
        })?;
        if let Some(e) = Empirical::from_histogram_us(&h) {
            return Ok(ClassService {
                dist: ServiceDist::Empirical(e),
                source,
            });
        }
    }
    Err(ServiceError::EmptyClass {
        path: run.path.clone(),
        class: class.name.clone(),
        status: class.status.name().to_string(),
    })
}

/// A class's per-request demand for the CPU model: the measured (CPU, non-CPU) pairs, or
/// the server CPU histogram with the non-CPU part at its mean; `None` when the run holds no
/// CPU figures for the class (then the planner models workers as independent servers).
pub fn class_demand(
    run: &RunFile,
    class: &ClassResult,
) -> Result<Option<(DemandDist, String)>, ServiceError> {
    let d = &class.demand;
    if !d.cpu_us.is_empty() && d.cpu_us.len() == d.other_us.len() {
        let pairs: Vec<Demand> = d
            .cpu_us
            .iter()
            .zip(&d.other_us)
            .map(|(&c, &o)| Demand {
                cpu: f64::from(c) / 1e6,
                other: f64::from(o) / 1e6,
            })
            .collect();
        return Ok(Some((
            DemandDist::Pairs(pairs),
            format!("{} measured (CPU, non-CPU) pairs", d.cpu_us.len()),
        )));
    }
    let Some(b64) = class
        .histograms
        .server_cpu
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    else {
        return Ok(None);
    };
    let h = decode(b64).map_err(|reason| ServiceError::BadHistogram {
        path: run.path.clone(),
        class: class.name.clone(),
        field: "server_cpu".into(),
        reason,
    })?;
    let Some(cpu) = Empirical::from_histogram_us(&h) else {
        return Ok(None);
    };
    let mean = |s: &Option<crate::record::summary::Summary>| s.as_ref().map_or(0.0, |s| s.mean_us);
    let other_us = (mean(&class.server_wall) - mean(&class.server_cpu) - mean(&class.cpu_wait)).max(0.0);
    Ok(Some((
        DemandDist::Independent {
            cpu: ServiceDist::Empirical(cpu),
            other: ServiceDist::Deterministic(other_us / 1e6),
        },
        "server_cpu histogram, non-CPU part at its mean".into(),
    )))
}

/// One line of a file of service times: milliseconds, or a duration with a unit; seconds.
fn parse_value_line(t: &str) -> Result<f64, String> {
    let ms = match t.parse::<f64>() {
        Ok(v) => v,
        Err(_) => crate::units::parse_duration_us(t)? / 1e3,
    };
    if !ms.is_finite() || ms < 0.0 {
        return Err("a service time is a finite number of ms, at least 0".into());
    }
    Ok(ms / 1e3)
}

/// Reads a file of service times: one value per line (ms, or with a unit), blank lines and
/// `#` comments skipped; an error names the file and the first bad line.
pub fn read_values_file(path: &Path) -> Result<Empirical, ServiceError> {
    let text = std::fs::read_to_string(path).map_err(|e| ServiceError::ValuesIo {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut values = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        let v = parse_value_line(t).map_err(|reason| ServiceError::BadValue {
            path: path.to_path_buf(),
            line: i + 1,
            text: raw.trim().to_string(),
            reason,
        })?;
        values.push(v);
    }
    Empirical::from_values(&values)
        .filter(|e| e.quantile(1.0) > 0.0)
        .ok_or_else(|| ServiceError::NoValues {
            path: path.to_path_buf(),
        })
}

/// A `--service` source, resolved.
#[derive(Debug, Clone)]
pub struct LoadedService {
    /// The distribution (seconds).
    pub dist: ServiceDist,
    /// Workers (WEB_CONCURRENCY) of the measured class, when the source is a run.json class.
    pub workers: Option<u32>,
    /// Where the numbers came from, for the report header.
    pub label: String,
}

/// Resolves a `--service` value: a parametric spec (`deterministic:100ms`,
/// `exponential:100ms`, `lognormal:100ms[:SIGMA]`, `weibull:300ms:0.5`, `pareto:300ms:1.5`),
/// a file of service times (`empirical:FILE`, or any other existing file: one value per
/// line, ms), `results/RUN/CLASS`, `results/RUN/run.json#CLASS`, or a `.hlog` file.
pub fn load_service(spec: &str) -> Result<LoadedService, ServiceError> {
    let values_file = |path: &Path| -> Result<LoadedService, ServiceError> {
        let dist = ServiceDist::Empirical(read_values_file(path)?);
        Ok(LoadedService {
            label: format!("{} (values file), {}", path.display(), dist.describe()),
            dist,
            workers: None,
        })
    };
    if let Some(file) = spec.strip_prefix("empirical:") {
        return values_file(Path::new(file));
    }
    if let Some(d) = parse_parametric(spec) {
        let dist = d.map_err(|reason| ServiceError::BadSpec {
            spec: spec.into(),
            reason,
        })?;
        return Ok(LoadedService {
            label: dist.describe(),
            dist,
            workers: None,
        });
    }
    if let Some((file, class)) = spec.rsplit_once('#') {
        let run = read_run(Path::new(file))?;
        return from_class(&run, class);
    }
    let path = Path::new(spec);
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("hlog")) {
        let empty = || ServiceError::EmptyHlog {
            path: path.to_path_buf(),
        };
        let h = read_hlog(path)?.ok_or_else(empty)?;
        let dist = ServiceDist::Empirical(Empirical::from_histogram_us(&h).ok_or_else(empty)?);
        return Ok(LoadedService {
            label: format!(
                "{} ({}), {}",
                path.display(),
                HistSource::IntervalLog,
                dist.describe()
            ),
            dist,
            workers: None,
        });
    }
    // Any other existing file is a list of values (a run's own files are not).
    let run_file = path.extension().is_some_and(|e| {
        ["json", "hgrm", "svg", "html", "csv"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    });
    if path.is_file() && !run_file {
        return values_file(path);
    }
    if path.is_dir() || path.file_name().is_some_and(|f| f == "run.json") {
        let run = read_run(path)?;
        return Err(ServiceError::NeedClass {
            dir: run.dir().to_path_buf(),
            path: run.path.clone(),
            available: run.class_names(),
        });
    }
    if !spec.contains('/') && !spec.contains('\\') && !path.exists() {
        return Err(ServiceError::BadSpec {
            spec: spec.into(),
            reason: "not a distribution nor a path; use deterministic:100ms, exponential:100ms, \
                     lognormal:100ms[:SIGMA], weibull:MEAN:SHAPE, pareto:MEAN:ALPHA, empirical:FILE \
                     (one value per line, ms), results/RUN/CLASS, results/RUN/run.json#CLASS or FILE.hlog"
                .into(),
        });
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let class = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let run = read_run(parent)?;
    from_class(&run, &class)
}

fn from_class(run: &RunFile, class: &str) -> Result<LoadedService, ServiceError> {
    let c = class_of(run, class)?;
    let s = class_service(run, c)?;
    Ok(LoadedService {
        label: format!(
            "{}#{} ({}{}), {}",
            run.path.display(),
            c.name,
            s.source,
            if c.is_ok() {
                String::new()
            } else {
                format!("; class status {}", c.status.name())
            },
            s.dist.describe()
        ),
        dist: s.dist,
        workers: Some(c.workers).filter(|&w| w > 0),
    })
}
