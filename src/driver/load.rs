//! Load models. Closed loop: C callers, each sending its next call when the previous one
//! completes (the classic "100 calls"). Open loop: calls scheduled at a target rate
//! (constant or Poisson); each is timed from its intended send time, so a stalled server
//! cannot hide its stall by delaying the sends (coordinated omission, as wrk2 corrects it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use super::arrivals::{ArrivalTimes, schedule};
use super::client::{CallOutcome, Caller, Target};
use crate::record::{Arrivals, Phase, RequestRecord};

/// How load is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadModel {
    /// `concurrency` callers back to back.
    Closed {
        /// Concurrent callers.
        concurrency: u32,
    },
    /// Calls at `rate` per second over up to `connections` keep-alive connections.
    Open {
        /// Target rate, req/s.
        rate: f64,
        /// Spacing of arrivals.
        arrivals: Arrivals,
        /// Connections (callers) available to send scheduled calls.
        connections: u32,
    },
}

impl LoadModel {
    /// The model's name (`closed` or `open`), target rate and arrival process, as reports
    /// record them.
    pub fn shape(&self) -> (&'static str, Option<f64>, Option<String>) {
        match *self {
            LoadModel::Closed { .. } => ("closed", None, None),
            LoadModel::Open { rate, arrivals, .. } => ("open", Some(rate), Some(arrivals.name().to_string())),
        }
    }

    /// Callers/connections used.
    pub fn concurrency(&self) -> u32 {
        match *self {
            LoadModel::Closed { concurrency } => concurrency,
            LoadModel::Open { connections, .. } => connections,
        }
    }
}

/// One class's load.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The model.
    pub model: LoadModel,
    /// Warm-up calls, closed loop.
    pub warmup: u32,
    /// Callers during warm-up: at least the server's workers, so that every worker has
    /// served (and warmed its memory) before the measurement, as on a long-running dyno.
    pub warmup_callers: u32,
    /// Open loop: leading calls of the schedule that are warm-up (the queue settles at the
    /// rate before the measurement starts); 0 in closed loop.
    pub open_warmup: u32,
    /// Measured calls.
    pub calls: u32,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Path (and query) to call.
    pub path: String,
    /// Seed of Poisson arrivals.
    pub seed: u64,
    /// A barrier (shards of one run): the measured calls start at this wall-clock time, once
    /// warm-up is done and every caller is connected (at once if it has passed).
    pub start_at: Option<std::time::SystemTime>,
    /// The first measured call's delay after the start (interleaves shards' constant
    /// arrivals).
    pub offset: Duration,
    /// Raised when the measurement has what it needs (`--precision`): callers take no new
    /// call, and calls in flight finish and are recorded as usual (unlike a stop, nothing
    /// is abandoned).
    pub enough: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Open loop: where the measured sends' lateness and connection waits are noted (the
    /// driver-bottleneck rule reads them).
    pub sends: Option<Arc<SendStats>>,
}

/// What the driver notes about its own open-loop sends of measured calls.
#[derive(Debug)]
pub struct SendStats {
    /// Measured calls sent on the schedule.
    pub scheduled: AtomicU64,
    /// Of those, calls whose intended send time passed while every connection was busy
    /// (by more than [`CONNECTION_WAIT_SLACK`]): they waited for a free connection.
    pub connection_waits: AtomicU64,
    /// Lateness (actual − intended send, µs) of the calls that found a free connection:
    /// the timer's and the driver's own delay.
    pub lateness: std::sync::Mutex<crate::record::histogram::Hist>,
}

/// A call claimed this long after its intended time waited for a connection (the
/// recorder's late-send threshold).
pub const CONNECTION_WAIT_SLACK: Duration = Duration::from_millis(1);

impl Default for SendStats {
    fn default() -> SendStats {
        SendStats {
            scheduled: AtomicU64::new(0),
            connection_waits: AtomicU64::new(0),
            lateness: std::sync::Mutex::new(crate::record::histogram::new_hist()),
        }
    }
}

impl SendStats {
    fn note(&self, waited: bool, late: Duration) {
        self.scheduled.fetch_add(1, Ordering::Relaxed);
        if waited {
            self.connection_waits.fetch_add(1, Ordering::Relaxed);
        } else if let Ok(mut h) = self.lateness.lock() {
            crate::record::histogram::record(&mut h, late.as_micros() as u64);
        }
    }
}

/// What the load sends its observer.
#[derive(Debug)]
pub enum Event {
    /// The measured phase starts now (µs since the load started): warm-up is over and every
    /// measured caller is connected.
    Measuring(u64),
    /// A call finished.
    Call(Box<RequestRecord>),
    /// The load stopped early and this many measured calls were still unanswered after
    /// [`STOP_GRACE`]: they count as attempted and abandoned.
    Abandoned(u64),
}

/// When a load is stopped early, how long calls in flight get to finish (and be recorded)
/// before they are abandoned.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

fn to_record(
    phase: Phase,
    base: Instant,
    intended: Option<Instant>,
    sent: Instant,
    out: CallOutcome,
) -> RequestRecord {
    let us = |t: Instant| t.saturating_duration_since(base).as_micros() as u64;
    // The client's own span when the call got an answer (request out → last byte in);
    // else from the send to now.
    let (sent, done) = out
        .span
        .map(|(a, b)| (Instant::from_std(a), Instant::from_std(b)))
        .unwrap_or_else(|| (sent, Instant::now()));
    RequestRecord {
        phase,
        intended_us: intended.map(us),
        sent_us: us(sent),
        done_us: us(done),
        connect_us: out.connect_us,
        status: out.status,
        error: out.error,
        server: out.server,
        bytes: out.bytes,
        done_unix_us: crate::units::unix_now_us(),
        reconnects: out.reconnects,
    }
}

/// Runs warm-up and measured calls against `target`, sending every record to `tx`.
/// Returns early (abandoning calls in flight) when `stop` becomes true.
pub async fn drive(
    target: Arc<Target>,
    tls: Option<Arc<rustls::ClientConfig>>,
    spec: LoadSpec,
    tx: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let base = Instant::now();
    let spec = Arc::new(spec);
    let Some(mut callers) = warm_up(&target, &tls, &spec, base, &tx, &mut stop).await else {
        return;
    };
    let (sched, warm) = match spec.model {
        LoadModel::Open { rate, arrivals, .. } => (
            Some(ArrivalTimes::new(rate, arrivals, spec.seed)),
            spec.open_warmup,
        ),
        LoadModel::Closed { .. } => (None, 0),
    };
    if let Some(at) = spec.start_at {
        let wait = at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Ok(_) = stop.wait_for(|s| *s) => return,
        }
    }
    let start = Instant::now() + spec.offset;
    // The measured phase starts at the first measured call's intended time.
    let measuring_at = sched
        .as_ref()
        .and_then(|s| s.clone().nth(warm as usize))
        .map_or(start, |d| start + d);
    let mut marker = {
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(measuring_at).await;
            let _ = tx.send(Event::Measuring(
                measuring_at.saturating_duration_since(base).as_micros() as u64,
            ));
        })
    };
    if warm == 0 {
        // Closed loop (and open loop without warm-up): measuring starts now, before any call.
        let _ = (&mut marker).await;
    }
    // Measured calls: on a stop, callers take no new call, and calls in flight get
    // STOP_GRACE to finish; those still unanswered then are counted as abandoned.
    let claims = Arc::new(Claims {
        next: AtomicU32::new(0),
        sched: std::sync::Mutex::new(sched),
        start,
        base,
        warm,
        total: warm + spec.calls,
        halt: AtomicBool::new(false),
        in_flight: AtomicU64::new(0),
    });
    let mut set = JoinSet::new();
    for caller in callers.drain(..) {
        set.spawn(measured_calls(caller, claims.clone(), spec.clone(), tx.clone()));
    }
    let mut done = Vec::new();
    if !join_or_stop(&mut set, &mut stop, &mut done, Some(&claims.halt)).await {
        let left = claims.in_flight.load(Ordering::Relaxed);
        if left > 0 {
            let _ = tx.send(Event::Abandoned(left));
        }
    }
    marker.abort();
}

/// Warm-up, closed loop; then the measured callers (the warmed-up connections kept, more
/// added as needed), every one connected. `None` when stopped.
async fn warm_up(
    target: &Arc<Target>,
    tls: &Option<Arc<rustls::ClientConfig>>,
    spec: &Arc<LoadSpec>,
    base: Instant,
    tx: &mpsc::UnboundedSender<Event>,
    stop: &mut watch::Receiver<bool>,
) -> Option<Vec<Caller>> {
    let warm_callers = match spec.model {
        LoadModel::Closed { concurrency } => concurrency.max(spec.warmup_callers),
        LoadModel::Open { .. } => spec.warmup_callers.max(1),
    };
    let mut callers: Vec<Caller> = Vec::new();
    let next = Arc::new(AtomicU32::new(0));
    let mut set = JoinSet::new();
    for _ in 0..warm_callers.min(spec.warmup.max(1)) {
        let (next, spec, tx) = (next.clone(), spec.clone(), tx.clone());
        let mut caller = Caller::new(target.clone(), tls.clone());
        set.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < spec.warmup {
                let sent = Instant::now();
                let out = caller.call(&spec.path, spec.timeout).await;
                let _ = tx.send(Event::Call(Box::new(to_record(
                    Phase::Warmup,
                    base,
                    None,
                    sent,
                    out,
                ))));
            }
            caller
        });
    }
    if !join_or_stop(&mut set, stop, &mut callers, None).await {
        return None;
    }
    let n = spec.model.concurrency() as usize;
    while callers.len() < n {
        callers.push(Caller::new(target.clone(), tls.clone()));
    }
    callers.truncate(n);
    // Connect every measured caller first, so no measured call pays for a connection the
    // warm-up did not open (a failed connect is retried, and counted, by the call itself).
    let mut connecting = JoinSet::new();
    for mut c in callers.drain(..) {
        connecting.spawn(async move {
            c.connect_now().await;
            c
        });
    }
    join_or_stop(&mut connecting, stop, &mut callers, None)
        .await
        .then_some(callers)
}

/// What the measured callers share: calls are claimed in order (the index, and in open
/// loop its intended time from the schedule), and a stop halts them.
struct Claims {
    next: AtomicU32,
    sched: std::sync::Mutex<Option<ArrivalTimes>>,
    /// When the schedule starts.
    start: Instant,
    /// When the load started (records are timed from it).
    base: Instant,
    /// Leading calls that are warm-up (open loop).
    warm: u32,
    /// Warm-up and measured calls.
    total: u32,
    /// Raised on a stop: take no new call.
    halt: AtomicBool,
    /// Measured calls sent and not yet answered.
    in_flight: AtomicU64,
}

/// One measured caller: claims calls until they run out, the load halts or `--precision`
/// has enough; returns the caller.
async fn measured_calls(
    mut caller: Caller,
    c: Arc<Claims>,
    spec: Arc<LoadSpec>,
    tx: mpsc::UnboundedSender<Event>,
) -> Caller {
    let enough = || spec.enough.as_ref().is_some_and(|e| e.load(Ordering::Relaxed));
    loop {
        if c.halt.load(Ordering::Relaxed) || enough() {
            break;
        }
        let (i, offset) = {
            let mut g = c.sched.lock().expect("no caller panics holding it");
            (
                c.next.fetch_add(1, Ordering::Relaxed),
                g.as_mut().and_then(Iterator::next),
            )
        };
        if i >= c.total {
            break;
        }
        let phase = if i < c.warm {
            Phase::Warmup
        } else {
            Phase::Measured
        };
        let intended = offset.map(|d| c.start + d);
        // Claimed after its intended time: every connection was busy until now.
        let waited =
            intended.is_some_and(|at| Instant::now().saturating_duration_since(at) > CONNECTION_WAIT_SLACK);
        if let Some(at) = intended {
            tokio::time::sleep_until(at).await;
            if c.halt.load(Ordering::Relaxed) || enough() {
                break;
            }
        }
        let sent = Instant::now();
        let measured = phase == Phase::Measured;
        if measured {
            c.in_flight.fetch_add(1, Ordering::Relaxed);
            if let (Some(at), Some(st)) = (intended, spec.sends.as_ref()) {
                st.note(waited, sent.saturating_duration_since(at));
            }
        }
        let out = caller.call(&spec.path, spec.timeout).await;
        if measured {
            c.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        let _ = tx.send(Event::Call(Box::new(to_record(
            phase, c.base, intended, sent, out,
        ))));
    }
    caller
}

/// Waits for every task, or stops them when `stop` turns true: at once, or with `halt`, by
/// raising it and giving them [`STOP_GRACE`] to finish their calls. Returns whether all
/// finished on their own.
async fn join_or_stop(
    set: &mut JoinSet<Caller>,
    stop: &mut watch::Receiver<bool>,
    out: &mut Vec<Caller>,
    halt: Option<&AtomicBool>,
) -> bool {
    loop {
        if *stop.borrow() {
            if let Some(h) = halt {
                h.store(true, Ordering::Relaxed);
                let _ = tokio::time::timeout(STOP_GRACE, async {
                    while let Some(j) = set.join_next().await {
                        if let Ok(c) = j {
                            out.push(c);
                        }
                    }
                })
                .await;
            }
            set.abort_all();
            return false;
        }
        tokio::select! {
            joined = set.join_next() => match joined {
                Some(Ok(c)) => out.push(c),
                Some(Err(_)) => {}
                None => return true,
            },
            changed = stop.changed() => {
                if changed.is_err() {
                    // The controller went away: finish what is running.
                    while let Some(j) = set.join_next().await {
                        if let Ok(c) = j { out.push(c); }
                    }
                    return true;
                }
            }
        }
    }
}
