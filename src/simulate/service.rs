//! Service-time distributions (deterministic, exponential, lognormal, empirical) and the one
//! piece of I/O in the simulator: loading a measured histogram from a results directory's
//! `run.json` or from an HdrHistogram interval log (`.hlog`). Times are in seconds here;
//! histograms on disk are in microseconds.

use std::fmt;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use rand::RngExt;
use rand_distr::{Exp1, StandardNormal};
use thiserror::Error;

/// A service-time distribution (seconds).
#[derive(Debug, Clone)]
pub enum ServiceDist {
    /// Always the same time.
    Deterministic(f64),
    /// Exponential with this mean (memoryless: the M/M/1 textbook case).
    Exponential(f64),
    /// Lognormal with this mean and shape `sigma` (the log's standard deviation).
    LogNormal {
        /// Mean (seconds).
        mean: f64,
        /// Standard deviation of ln(service time).
        sigma: f64,
    },
    /// Drawn from a measured histogram.
    Empirical(Empirical),
}

impl ServiceDist {
    /// The mean service time (seconds).
    pub fn mean(&self) -> f64 {
        match self {
            ServiceDist::Deterministic(s) | ServiceDist::Exponential(s) => *s,
            ServiceDist::LogNormal { mean, .. } => *mean,
            ServiceDist::Empirical(e) => e.mean,
        }
    }

    /// The `q` quantile (0 < q < 1) of the service time (seconds).
    pub fn quantile(&self, q: f64) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => *s,
            ServiceDist::Exponential(m) => -m * (1.0 - q).ln(),
            ServiceDist::LogNormal { mean, sigma } => {
                let mu = mean.ln() - sigma * sigma / 2.0;
                (mu + sigma * probit(q)).exp()
            }
            ServiceDist::Empirical(e) => e.quantile(q),
        }
    }

    /// The largest service time (seconds; infinite for unbounded distributions).
    pub fn max(&self) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => *s,
            ServiceDist::Exponential(_) | ServiceDist::LogNormal { .. } => f64::INFINITY,
            ServiceDist::Empirical(e) => e.values.last().copied().unwrap_or(0.0),
        }
    }

    /// The share of service times above `t` seconds.
    pub fn share_above(&self, t: f64) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => f64::from(u8::from(*s > t)),
            ServiceDist::Exponential(m) => (-t / m).exp(),
            ServiceDist::LogNormal { mean, sigma } => {
                let mu = mean.ln() - sigma * sigma / 2.0;
                1.0 - normal_cdf((t.ln() - mu) / sigma)
            }
            ServiceDist::Empirical(e) => e.share_above(t),
        }
    }

    /// Draws one service time.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            ServiceDist::Deterministic(s) => *s,
            ServiceDist::Exponential(m) => {
                let e: f64 = rng.sample(Exp1);
                m * e
            }
            ServiceDist::LogNormal { mean, sigma } => {
                let z: f64 = rng.sample(StandardNormal);
                (mean.ln() - sigma * sigma / 2.0 + sigma * z).exp()
            }
            ServiceDist::Empirical(e) => e.sample(rng),
        }
    }

    /// A short description: kind, mean and p99.
    pub fn describe(&self) -> String {
        let kind = match self {
            ServiceDist::Deterministic(_) => "deterministic".to_string(),
            ServiceDist::Exponential(_) => "exponential".to_string(),
            ServiceDist::LogNormal { sigma, .. } => format!("lognormal (sigma {sigma})"),
            ServiceDist::Empirical(e) => format!("empirical ({} samples)", e.total),
        };
        format!(
            "{kind}, mean {}, p99 {}",
            fmt_secs(self.mean()),
            fmt_secs(self.quantile(0.99))
        )
    }
}

/// A duration in seconds, written with a fitting unit (`850 µs`, `12.3 ms`, `1.50 s`).
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "∞".into()
    } else if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 0.1 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        let t = format!("{s:.2}");
        format!("{} s", t.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// A measured distribution: the distinct values of a histogram with their counts, sampled in
/// O(1) with Walker's alias method.
#[derive(Debug, Clone)]
pub struct Empirical {
    values: Vec<f64>,
    cum: Vec<u64>,
    prob: Vec<f64>,
    alias: Vec<u32>,
    total: u64,
    mean: f64,
}

impl Empirical {
    /// From a histogram of microseconds; `None` when it holds no values.
    pub fn from_histogram_us(h: &Histogram<u64>) -> Option<Empirical> {
        let mut pairs: Vec<(f64, u64)> = Vec::new();
        for v in h.iter_recorded() {
            let c = v.count_at_value();
            if c > 0 {
                let us = h.median_equivalent(v.value_iterated_to());
                pairs.push((us as f64 / 1e6, c));
            }
        }
        Empirical::from_pairs(pairs)
    }

    /// From (seconds, count) pairs; `None` when the counts add up to zero.
    pub fn from_pairs(mut pairs: Vec<(f64, u64)>) -> Option<Empirical> {
        pairs.retain(|&(v, c)| c > 0 && v.is_finite() && v >= 0.0);
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = pairs.iter().map(|p| p.1).sum();
        if total == 0 {
            return None;
        }
        let n = pairs.len();
        let values: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0u64;
        let mut sum = 0.0;
        for &(v, c) in &pairs {
            acc += c;
            cum.push(acc);
            sum += v * c as f64;
        }
        // Vose's alias tables.
        let mut prob: Vec<f64> = pairs
            .iter()
            .map(|p| p.1 as f64 * n as f64 / total as f64)
            .collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| prob[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            prob[l] -= 1.0 - prob[s];
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in large.into_iter().chain(small) {
            prob[i] = 1.0;
        }
        Some(Empirical {
            values,
            cum,
            prob,
            alias,
            total,
            mean: sum / total as f64,
        })
    }

    /// How many measurements it holds.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (seconds): the smallest value with at least `q` of the mass at or below.
    pub fn quantile(&self, q: f64) -> f64 {
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let i = self.cum.partition_point(|&c| c < rank);
        self.values[i.min(self.values.len() - 1)]
    }

    /// The share of the mass strictly above `t` seconds.
    pub fn share_above(&self, t: f64) -> f64 {
        let i = self.values.partition_point(|&v| v <= t);
        let below = if i == 0 { 0 } else { self.cum[i - 1] };
        (self.total - below) as f64 / self.total as f64
    }

    /// Draws one value.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let i = rng.random_range(0..self.values.len());
        let u: f64 = rng.random();
        if u < self.prob[i] {
            self.values[i]
        } else {
            self.values[self.alias[i] as usize]
        }
    }
}

/// The standard normal CDF (Abramowitz–Stegun 7.1.26 through erf; error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    0.5 * (1.0 + if z >= 0.0 { erf } else { -erf })
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

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
    /// A file that could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A run.json that is not the JSON this build reads.
    #[error("{} is not a readable run.json: {reason}", path.display())]
    BadRun {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A directory or path that holds no run.json.
    #[error(
        "no run.json at {}: expected a results directory (results/RUN), a class inside one \
         (results/RUN/CLASS), results/RUN/run.json#CLASS, or a .hlog file",
        path.display()
    )]
    NoRun {
        /// Where run.json was expected.
        path: PathBuf,
    },
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
    /// An interval log that does not parse or decode.
    #[error("{} is not a readable HdrHistogram interval log: {reason}", path.display())]
    BadHlog {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
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

impl fmt::Display for HistSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HistSource::ServerWall => "server_wall",
            HistSource::ClientLatency => "client_latency (server_wall absent or empty)",
            HistSource::IntervalLog => "interval log",
        })
    }
}

/// One class of a run.json, as far as this module reads it (other fields are ignored).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RunClass {
    /// Class name.
    pub name: String,
    /// `ok` or `failed`.
    #[serde(default = "ok_status")]
    pub status: String,
    /// WEB_CONCURRENCY used for the class.
    #[serde(default)]
    pub workers: Option<u32>,
    /// Price in USD per month.
    #[serde(default)]
    pub price_usd_month: Option<f64>,
    /// How the class was loaded (for the concurrency its service times were measured at).
    #[serde(default)]
    pub load: Option<RunLoad>,
    #[serde(default)]
    histograms: RunHistograms,
}

/// The load a class was measured under, as far as planning needs it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RunLoad {
    /// Concurrent callers (closed loop) or connections (open loop).
    #[serde(default)]
    pub concurrency: u32,
}

fn ok_status() -> String {
    "ok".into()
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct RunHistograms {
    #[serde(default)]
    server_wall: Option<String>,
    #[serde(default)]
    client_latency: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct RunJson {
    #[serde(default)]
    schema_version: Option<String>,
    classes: Vec<RunClass>,
}

/// A results directory's run.json.
#[derive(Debug, Clone)]
pub struct RunFile {
    /// The run.json read.
    pub path: PathBuf,
    /// Its classes, in file order.
    pub classes: Vec<RunClass>,
}

/// A class's service times, decoded.
#[derive(Debug, Clone)]
pub struct ClassService {
    /// The distribution (seconds).
    pub dist: ServiceDist,
    /// Which histogram it came from.
    pub source: HistSource,
}

/// Decodes one base64 (standard alphabet) HdrHistogram V2 or V2+deflate serialization.
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, String> {
    crate::record::histogram::decode(b64)
}

impl RunFile {
    /// Reads `path`: a run.json or a results directory holding one.
    pub fn load(path: &Path) -> Result<RunFile, ServiceError> {
        let file = if path.is_dir() {
            path.join("run.json")
        } else {
            path.to_path_buf()
        };
        if !file.exists() {
            return Err(ServiceError::NoRun {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(&file).map_err(|source| ServiceError::Unreadable {
            path: file.clone(),
            source,
        })?;
        let run: RunJson = serde_json::from_str(&text).map_err(|e| ServiceError::BadRun {
            path: file.clone(),
            reason: e.to_string(),
        })?;
        let ours = crate::report::model::SCHEMA_VERSION
            .split('.')
            .next()
            .unwrap_or("");
        if let Some(v) = &run.schema_version
            && v.split('.').next() != Some(ours)
        {
            return Err(ServiceError::BadRun {
                path: file,
                reason: format!("schema_version {v} is not supported (this build reads {ours}.x)"),
            });
        }
        Ok(RunFile {
            path: file,
            classes: run.classes,
        })
    }

    /// The class names, in file order.
    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }

    /// The class named `name`, or an error listing the ones that exist.
    pub fn class(&self, name: &str) -> Result<&RunClass, ServiceError> {
        self.classes
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ServiceError::MissingClass {
                path: self.path.clone(),
                class: name.to_string(),
                available: self.class_names(),
            })
    }

    /// A class's service times: server_wall, or client_latency when that is absent or empty.
    pub fn service(&self, class: &RunClass) -> Result<ClassService, ServiceError> {
        let fields = [
            (
                "server_wall",
                &class.histograms.server_wall,
                HistSource::ServerWall,
            ),
            (
                "client_latency",
                &class.histograms.client_latency,
                HistSource::ClientLatency,
            ),
        ];
        for (field, value, source) in fields {
            let Some(b64) = value.as_deref().filter(|s| !s.trim().is_empty()) else {
                continue;
            };
            let h = decode_histogram(b64).map_err(|reason| ServiceError::BadHistogram {
                path: self.path.clone(),
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
            path: self.path.clone(),
            class: class.name.clone(),
            status: class.status.clone(),
        })
    }
}

/// Reads an HdrHistogram interval log (values in µs) and merges all its intervals.
pub fn load_hlog(path: &Path) -> Result<Histogram<u64>, ServiceError> {
    let bytes = std::fs::read(path).map_err(|source| ServiceError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| ServiceError::BadHlog {
        path: path.to_path_buf(),
        reason,
    };
    let mut merged: Option<Histogram<u64>> = None;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| bad(format!("{e:?}")))?;
        if let LogEntry::Interval(iv) = entry {
            let h = decode_histogram(iv.encoded_histogram())
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
    match merged {
        Some(h) if !h.is_empty() => Ok(h),
        _ => Err(ServiceError::EmptyHlog {
            path: path.to_path_buf(),
        }),
    }
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

fn parse_secs(spec: &str, s: &str) -> Result<f64, ServiceError> {
    let us = crate::slo::parse_duration_us(s).map_err(|reason| ServiceError::BadSpec {
        spec: spec.into(),
        reason,
    })?;
    if us.is_finite() && us > 0.0 {
        Ok(us / 1e6)
    } else {
        Err(ServiceError::BadSpec {
            spec: spec.into(),
            reason: "the mean service time must be positive".into(),
        })
    }
}

/// Parses a parametric spec: `deterministic:100ms`, `exponential:100ms` (mean),
/// `lognormal:100ms` or `lognormal:100ms:1.2` (mean and sigma, default 1). `None` when `spec`
/// is not of that form (then it names a file).
pub fn parse_parametric(spec: &str) -> Option<Result<ServiceDist, ServiceError>> {
    let (kind, rest) = spec.split_once(':')?;
    let kind = kind.trim().to_ascii_lowercase();
    let dist = match kind.as_str() {
        "deterministic" | "det" | "const" | "constant" => {
            parse_secs(spec, rest).map(ServiceDist::Deterministic)
        }
        "exponential" | "exp" => parse_secs(spec, rest).map(ServiceDist::Exponential),
        "lognormal" => {
            let (m, sigma) = match rest.split_once(':') {
                Some((m, s)) => (m, Some(s)),
                None => (rest, None),
            };
            parse_secs(spec, m).and_then(|mean| {
                let sigma = match sigma {
                    None => 1.0,
                    Some(s) => s.trim().parse::<f64>().map_err(|_| ServiceError::BadSpec {
                        spec: spec.into(),
                        reason: format!("sigma '{s}' is not a number; write lognormal:MEAN:SIGMA"),
                    })?,
                };
                if !(sigma > 0.0 && sigma <= 5.0) {
                    return Err(ServiceError::BadSpec {
                        spec: spec.into(),
                        reason: format!("sigma must be in (0, 5] (got {sigma})"),
                    });
                }
                Ok(ServiceDist::LogNormal { mean, sigma })
            })
        }
        _ => return None,
    };
    Some(dist)
}

/// Resolves a `--service` value: a parametric spec (see [`parse_parametric`]),
/// `results/RUN/CLASS`, `results/RUN/run.json#CLASS`, or a `.hlog` file.
pub fn load_service(spec: &str) -> Result<LoadedService, ServiceError> {
    if let Some(d) = parse_parametric(spec) {
        let dist = d?;
        return Ok(LoadedService {
            label: dist.describe(),
            dist,
            workers: None,
        });
    }
    if let Some((file, class)) = spec.rsplit_once('#') {
        let run = RunFile::load(Path::new(file))?;
        return from_class(&run, class);
    }
    let path = Path::new(spec);
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("hlog")) {
        let h = load_hlog(path)?;
        let e = Empirical::from_histogram_us(&h).ok_or_else(|| ServiceError::EmptyHlog {
            path: path.to_path_buf(),
        })?;
        let dist = ServiceDist::Empirical(e);
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
    if path.is_dir() || path.file_name().is_some_and(|f| f == "run.json") {
        let run = RunFile::load(path)?;
        return Err(ServiceError::NeedClass {
            dir: run.path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            path: run.path.clone(),
            available: run.class_names(),
        });
    }
    if !spec.contains('/') && !spec.contains('\\') && !path.exists() {
        return Err(ServiceError::BadSpec {
            spec: spec.into(),
            reason: "not a distribution nor a path; use deterministic:100ms, exponential:100ms, \
                     lognormal:100ms[:SIGMA], results/RUN/CLASS, results/RUN/run.json#CLASS or FILE.hlog"
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
    let run = RunFile::load(parent)?;
    from_class(&run, &class)
}

fn from_class(run: &RunFile, class: &str) -> Result<LoadedService, ServiceError> {
    let c = run.class(class)?;
    let s = run.service(c)?;
    Ok(LoadedService {
        label: format!(
            "{}#{} ({}{}), {}",
            run.path.display(),
            c.name,
            s.source,
            if c.status == "ok" {
                String::new()
            } else {
                format!("; class status {}", c.status)
            },
            s.dist.describe()
        ),
        dist: s.dist,
        workers: c.workers.filter(|&w| w > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn empirical_sampling_matches_weights() {
        let e = Empirical::from_pairs(vec![(0.001, 1), (0.002, 3), (0.010, 6)]).unwrap();
        assert!((e.mean - (0.001 + 0.006 + 0.060) / 10.0).abs() < 1e-12);
        assert_eq!(e.quantile(0.1), 0.001);
        assert_eq!(e.quantile(0.11), 0.002);
        assert_eq!(e.quantile(0.99), 0.010);
        assert!((e.share_above(0.002) - 0.6).abs() < 1e-12);
        let mut rng = crate::simulate::SimRng::seed_from_u64(3);
        let mut c = [0u32; 3];
        for _ in 0..100_000 {
            let v = e.sample(&mut rng);
            c[if v < 0.0015 {
                0
            } else if v < 0.005 {
                1
            } else {
                2
            }] += 1;
        }
        assert!((c[0] as f64 / 1e5 - 0.1).abs() < 0.005, "{c:?}");
        assert!((c[2] as f64 / 1e5 - 0.6).abs() < 0.005, "{c:?}");
        assert!(Empirical::from_pairs(vec![(0.1, 0)]).is_none());
    }

    #[test]
    fn parametric_specs() {
        let d = parse_parametric("exponential:100ms").unwrap().unwrap();
        assert!((d.mean() - 0.1).abs() < 1e-12);
        assert!((d.quantile(0.5) - 0.1 * 2f64.ln()).abs() < 1e-12);
        let l = parse_parametric("lognormal:100ms:0.5").unwrap().unwrap();
        assert!((l.mean() - 0.1).abs() < 1e-12);
        // The median of a lognormal is exp(mu).
        assert!((l.quantile(0.5) - (0.1f64.ln() - 0.125).exp()).abs() < 1e-9);
        assert!((l.share_above(l.quantile(0.9)) - 0.1).abs() < 1e-6);
        assert!(parse_parametric("deterministic:fast").unwrap().is_err());
        assert!(parse_parametric("results/x/y").is_none());
        assert!((probit(0.975) - 1.959_963_985).abs() < 1e-8);
    }
}
