//! THE one reader of results: a results directory's `run.json` (version-checked, every
//! error naming the file, and the field where one is wrong) and HdrHistogram interval logs
//! (`.hlog`). `compare`, `plan` and `simulate --service` all read through here.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use thiserror::Error;

use crate::record::histogram::{Hist, decode};
use crate::record::intervals::IntervalSeries;
use crate::record::{ClassResult, RunReport, SCHEMA_VERSION};

/// Why a results file cannot be read (all are input errors: exit 2).
#[derive(Debug, Error)]
pub enum ReadError {
    /// No run.json where one was expected.
    #[error(
        "no run.json at {}: expected a results directory such as results/20261124-101500-local, or its run.json",
        path.display()
    )]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// A file that exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not JSON, or not the shape of a run.json.
    #[error("{} is not a readable dynobench run.json: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong: the field path, line and column.
        message: String,
    },
    /// Another major version of the format.
    #[error(
        "{}: schema version \"{found}\" is not readable by this dynobench (it reads {}.x)",
        path.display(), major(SCHEMA_VERSION)
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version it declares.
        found: String,
    },
    /// Parsed, but a value is not usable.
    #[error("{}: {field}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `classes[2].name`.
        field: String,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// An interval log that does not parse or decode.
    #[error("{} is not a readable HdrHistogram interval log: {reason}", path.display())]
    BadHlog {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn major(v: &str) -> &str {
    v.split('.').next().unwrap_or("")
}

/// A run read from disk.
#[derive(Debug, Clone)]
pub struct RunFile {
    /// The run.json that was read.
    pub path: PathBuf,
    /// Its content.
    pub report: RunReport,
}

impl RunFile {
    /// The directory holding the run.json.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The class names, in file order.
    pub fn class_names(&self) -> Vec<String> {
        self.report.classes.iter().map(|c| c.name.clone()).collect()
    }

    /// The class called `name`.
    pub fn class(&self, name: &str) -> Option<&ClassResult> {
        self.report.class(name)
    }
}

#[derive(serde::Deserialize)]
struct VersionProbe {
    #[serde(default)]
    schema_version: Option<String>,
    #[serde(default)]
    classes: Option<Vec<serde::de::IgnoredAny>>,
}

/// The newest run under `dir` (results directories are named by their start time, so the
/// greatest name with a run.json), or an error saying there is none.
pub fn latest_run(dir: &Path) -> Result<PathBuf, ReadError> {
    let entries = std::fs::read_dir(dir).map_err(|_| ReadError::Missing {
        path: dir.to_path_buf(),
    })?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("run.json").is_file())
        .max_by(|a, b| a.file_name().cmp(&b.file_name()))
        .ok_or_else(|| ReadError::Missing {
            path: dir.to_path_buf(),
        })
}

/// Reads `path`: a results directory or its run.json. Within a major version, fields a file
/// lacks (it was written by an older or a newer 1.x) take their defaults; `schema_version`
/// and at least one class are required.
pub fn read_run(path: &Path) -> Result<RunFile, ReadError> {
    let file = if path.is_dir() {
        path.join("run.json")
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        return Err(ReadError::Missing {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(&file).map_err(|source| ReadError::Unreadable {
        path: file.clone(),
        source,
    })?;
    let corrupt = |message: String| ReadError::Corrupt {
        path: file.clone(),
        message,
    };
    // A driver's log (`run --json` in a pod) may hold lines around the report: keep the
    // object from a line "{" to the last line "}".
    let text = if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
        embedded_object(&text).unwrap_or(text)
    } else {
        text
    };
    let probe: VersionProbe = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    if let Some(v) = &probe.schema_version
        && major(v) != major(SCHEMA_VERSION)
    {
        return Err(ReadError::Version {
            path: file,
            found: v.clone(),
        });
    }
    // What every run.json has: its format's version and at least one class. An empty object
    // (a corrupt or truncated baseline) must not read as a run that measured nothing.
    for (field, present) in [
        (
            "schema_version",
            probe
                .schema_version
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty()),
        ),
        ("classes", probe.classes.as_ref().is_some_and(|c| !c.is_empty())),
    ] {
        if !present {
            return Err(ReadError::Invalid {
                path: file,
                field: field.into(),
                reason: if field == "classes" {
                    "a run needs at least one class; this file has none (an empty or truncated run.json?)"
                        .into()
                } else {
                    "missing or empty: not a run.json written by dynobench run or merge".into()
                },
            });
        }
    }
    let de = &mut serde_json::Deserializer::from_str(&text);
    let report: RunReport = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        corrupt(format!("field {field}: {}", e.into_inner()))
    })?;
    for (i, c) in report.classes.iter().enumerate() {
        if c.name.trim().is_empty() {
            return Err(ReadError::Invalid {
                path: file,
                field: format!("classes[{i}].name"),
                reason: "every class needs a name".into(),
            });
        }
    }
    Ok(RunFile { path: file, report })
}

/// The pretty-printed JSON object inside other lines: from the first line that is `{` to
/// the last line that is `}`.
fn embedded_object(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == "{")?;
    let end = lines.iter().rposition(|l| l.trim_end() == "}")?;
    (end > start).then(|| lines[start..=end].join("\n"))
}

/// Reads an HdrHistogram interval log (values in µs) and merges all its intervals; `None`
/// when it holds no recorded values.
pub fn read_hlog(path: &Path) -> Result<Option<Histogram<u64>>, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| ReadError::BadHlog {
        path: path.to_path_buf(),
        reason,
    };
    let mut merged: Option<Histogram<u64>> = None;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| bad(format!("{e:?}")))?;
        if let LogEntry::Interval(iv) = entry {
            let h = decode(iv.encoded_histogram())
                .map_err(|e| bad(format!("interval at {:?}: {e}", iv.start_timestamp())))?;
            match &mut merged {
                None => {
                    let mut m = Histogram::<u64>::new_from(&h);
                    m.auto(true);
                    m.add(&h).map_err(|e| bad(format!("{e:?}")))?;
                    merged = Some(m);
                }
                Some(m) => m.add(&h).map_err(|e| bad(format!("{e:?}")))?,
            }
        }
    }
    Ok(merged.filter(|h| !h.is_empty()))
}

/// The per-second intervals of a class's `<class>.hlog` next to the run's run.json, each
/// as its values (µs) in ascending order; `None` when there is no such file.
pub fn read_intervals(run: &RunFile, class: &str) -> Result<Option<Vec<Vec<u64>>>, ReadError> {
    Ok(read_interval_histograms(run, class)?
        .map(|s| s.iter().map(|h| crate::compare::stats::values_of(&h)).collect()))
}

/// The class's intervals from its .hlog, in order, at the log's interval width (`None`
/// without one).
pub fn read_interval_histograms(run: &RunFile, class: &str) -> Result<Option<IntervalSeries>, ReadError> {
    let path = run
        .dir()
        .join(format!("{}.hlog", super::writer::file_stem(class)));
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|source| ReadError::Unreadable {
        path: path.clone(),
        source,
    })?;
    let bad = |reason: String| ReadError::BadHlog {
        path: path.clone(),
        reason,
    };
    let mut out: Vec<Hist> = Vec::new();
    let mut width_us = crate::record::recorder::INTERVAL_US;
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(iv) = entry.map_err(|e| bad(format!("{e:?}")))? {
            let h = decode(iv.encoded_histogram())
                .map_err(|e| bad(format!("interval at {:?}: {e}", iv.start_timestamp())))?;
            width_us = (iv.duration().as_micros() as u64).max(1);
            // Empty intervals are not logged: place each by its start.
            let k = (iv.start_timestamp().as_micros() as u64 / width_us) as usize;
            if k > out.len() + crate::record::intervals::MAX_INTERVALS * 16 {
                return Err(bad(format!(
                    "interval at {:?} is far beyond the previous one (timestamps must be relative to the log's start)",
                    iv.start_timestamp()
                )));
            }
            while out.len() < k {
                out.push(crate::record::histogram::new_hist());
            }
            out.push(h);
        }
    }
    Ok(Some(IntervalSeries::from_hists(width_us, out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("run.json");
        std::fs::write(
            &f,
            r#"{"schema_version":"1.0","classes":[{"name":"a","workers":"many"}]}"#,
        )
        .unwrap();
        let e = read_run(dir.path()).unwrap_err().to_string();
        assert!(e.contains("run.json") && e.contains("classes[0].workers"), "{e}");
        std::fs::write(&f, r#"{"schema_version":"7.1","classes":[]}"#).unwrap();
        assert!(read_run(&f).unwrap_err().to_string().contains("\"7.1\""));
        std::fs::write(&f, r#"{"schema_version":"1.9","classes":[{"name":""}]}"#).unwrap();
        assert!(read_run(&f).unwrap_err().to_string().contains("classes[0].name"));
        std::fs::write(
            &f,
            r#"{"schema_version":"1.9","future":1,"classes":[{"name":"a","status":"ok"}]}"#,
        )
        .unwrap();
        let r = read_run(&f).unwrap();
        assert_eq!(r.class_names(), vec!["a"]);
        assert!(matches!(
            read_run(&dir.path().join("nope")).unwrap_err(),
            ReadError::Missing { .. }
        ));
    }
}
