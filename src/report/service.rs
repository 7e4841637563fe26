//! Reads the service-time sources of `simulate --service` and `plan --service`: a
//! parametric distribution (`exponential:100ms`), a file of values, a class of a results
//! directory (`results/RUN/CLASS`, `results/RUN/run.json#CLASS`) read through the one reader
//! and converted by `simulate::measured`, or an interval log (`.hlog`).

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::reader::{ReadError, RunFile, read_hlog, read_run};
use crate::record::ClassResult;
use crate::simulate::measured::{HistSource, MeasuredError, model_input};
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

/// The class named `name` of a run, or an error listing the ones that exist.
pub fn class_of<'a>(run: &'a RunFile, name: &str) -> Result<&'a ClassResult, ServiceError> {
    run.class(name).ok_or_else(|| ServiceError::MissingClass {
        path: run.path.clone(),
        class: name.to_string(),
        available: run.class_names(),
    })
}

impl ServiceError {
    /// A measured class's error, at the run.json it came from.
    pub fn measured(path: &Path, e: MeasuredError) -> ServiceError {
        match e {
            MeasuredError::BadHistogram { class, field, reason } => ServiceError::BadHistogram {
                path: path.to_path_buf(),
                class,
                field,
                reason,
            },
            MeasuredError::EmptyClass { class, status } => ServiceError::EmptyClass {
                path: path.to_path_buf(),
                class,
                status,
            },
        }
    }
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
    let s = model_input(c)
        .service
        .map_err(|e| ServiceError::measured(&run.path, e))?;
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
