//! What one load phase watches while its calls run: the measured phase's boundary (kernel
//! counters, steal, the driver's CPU, the clock), every call into the recorder, `--precision`
//! checks off the driving thread, the user's app's group readings, and the server's health
//! (exits and OOM kills, a server that stopped answering, an interrupt).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::load::{Event, LoadSpec, drive};
use super::observer::Observer;
use super::phase::{Endpoint, unix_now};
use super::plan::Phase;
use super::selfcpu::CpuReading;
use crate::limit::{Sandbox, describe_exit};
use crate::procfs::cpu_jiffies;
use crate::record::group::GroupReading;
use crate::record::precision::PrecisionRule;
use crate::record::verdict::PercentileInterval;
use crate::record::{ClassRecorder, Counters, LimiterKind, RequestRecord};

/// A local endpoint's sandbox, borrowed for one look (`None`: a remote endpoint).
pub(crate) type Watched<'s> = Option<(&'s mut Sandbox, LimiterKind)>;

/// The endpoint's sandbox, borrowed again for one look.
pub(crate) fn look<'s>(sandbox: &'s mut Option<(&mut Sandbox, LimiterKind)>) -> Watched<'s> {
    sandbox.as_mut().map(|(s, k)| (&mut **s, *k))
}

/// A `--precision` check computing on another thread: its snapshot's calls and interval.
type PendingCheck = std::sync::mpsc::Receiver<(u64, PercentileInterval)>;

/// What a phase gathers while its calls run.
pub(crate) struct Watch {
    /// Every call, as recorded.
    pub(crate) rec: ClassRecorder,
    /// The first measured response's digest.
    pub(crate) digest: Option<String>,
    /// Kernel counters at the measured phase's start (`None`: it never started).
    pub(crate) before: Option<Counters>,
    /// Steal jiffies at the measured phase's start.
    pub(crate) steal0: Option<(u64, u64)>,
    /// The driver's own CPU at the measured phase's start.
    pub(crate) driver_cpu0: Option<CpuReading>,
    /// Wall clock at the measured phase's start, s since the epoch (0: it never started).
    pub(crate) measured_start: f64,
    /// Why the phase failed, if the server did.
    pub(crate) failure: Option<String>,
    /// The user interrupted the phase.
    pub(crate) interrupted: bool,
    /// The user's app: its group's readings since the measured phase started.
    pub(crate) readings: Vec<GroupReading>,
    /// `--precision`: the rule, and the flag that ends the measurement once it is met.
    pub(crate) precision: Option<(PrecisionRule, Arc<AtomicBool>)>,
    /// A precision check under way on another thread.
    checking: Option<PendingCheck>,
    /// When the measured phase started (for group readings).
    measuring_at: Option<Instant>,
    /// Whether the server's group is read (it reports nothing of its own).
    read_group: bool,
    /// Timeouts in a row after which nothing is coming back.
    stuck_after: u64,
    /// The server's hard memory limit, bytes (names OOM kills).
    hard: Option<u64>,
    /// Per-call timeout.
    timeout: Duration,
}

impl Watch {
    /// A watch for `phase` against a server with `workers` and a hard memory limit of `hard`.
    pub(crate) fn new(phase: &Phase, workers: u32, hard: Option<u64>, read_group: bool) -> Watch {
        Watch {
            rec: ClassRecorder::new(phase.is_open(), phase.timeout.as_micros() as u64),
            digest: None,
            before: None,
            steal0: None,
            driver_cpu0: None,
            measured_start: 0.0,
            failure: None,
            interrupted: false,
            readings: Vec::new(),
            precision: phase
                .precision
                .map(|p| (PrecisionRule::new(p), Arc::new(AtomicBool::new(false)))),
            checking: None,
            measuring_at: None,
            read_group,
            // Every caller (warm-up uses at least one per worker).
            stuck_after: u64::from(phase.load.concurrency().max(workers).max(1)),
            hard,
            timeout: phase.timeout,
        }
    }

    /// The flag `--precision` raises when the measurement has what it needs.
    pub(crate) fn enough(&self) -> Option<Arc<AtomicBool>> {
        self.precision.as_ref().map(|(_, e)| e.clone())
    }

    /// Drives `spec` against the endpoint until it ends or is stopped, watching it.
    pub(crate) fn run(&mut self, ep: &mut Endpoint, spec: LoadSpec, obs: &mut dyn Observer) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let (stop_tx, stop_rx) = watch::channel(false);
        let (target, tls) = (ep.target.clone(), ep.tls.clone());
        let sandbox = &mut ep.sandbox;
        ep.rt.block_on(async {
            let load = tokio::spawn(drive(target, tls, spec, tx, stop_rx));
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tokio::select! {
                    got = rx.recv() => match got {
                        None => break,
                        Some(Event::Measuring(at_us)) => self.measuring(at_us, look(sandbox)),
                        Some(Event::Call(r)) => self.call(&r, obs, &stop_tx),
                        Some(Event::Abandoned(n)) => self.rec.abandoned(n),
                    },
                    _ = tick.tick() => self.tick(look(sandbox), &stop_tx),
                }
            }
            let _ = load.await;
        });
    }

    /// The boundary of the measured phase: counters, steal and clock.
    fn measuring(&mut self, at_us: u64, mut sb: Watched) {
        self.before = Some(sb.as_mut().map(|(s, _)| s.counters()).unwrap_or_default());
        self.steal0 = cpu_jiffies();
        self.driver_cpu0 = Some(CpuReading::now());
        self.measured_start = unix_now();
        self.rec.measuring_from(at_us);
        if self.read_group
            && let Some((s, _)) = sb
        {
            self.measuring_at = Some(Instant::now());
            self.readings.push(super::app::read_group(s, 0.0, 0));
        }
    }

    /// One finished call.
    fn call(&mut self, r: &RequestRecord, obs: &mut dyn Observer, stop: &watch::Sender<bool>) {
        let measured = r.phase == crate::record::Phase::Measured;
        if self.digest.is_none()
            && measured
            && let Some(s) = r.server.as_ref().filter(|s| !s.digest.is_empty())
        {
            self.digest = Some(s.digest.clone());
        }
        obs.call_done(measured, r.error.is_none());
        self.rec.record(r);
        if measured {
            self.check_precision();
        }
        self.precision_judged();
        // Every caller timed out with no response in between: nothing is coming back.
        if self.failure.is_none() && self.rec.timeouts_in_a_row() >= self.stuck_after {
            self.failure = Some(format!(
                "the server stopped answering: {} call(s) in a row got no response within the {} timeout (hung, stopped, or overloaded beyond the timeout)",
                self.rec.timeouts_in_a_row(),
                crate::units::fmt_secs(self.timeout.as_secs_f64())
            ));
            let _ = stop.send(true);
        }
    }

    /// Starts a precision check when one is due and none is under way: off this thread, as
    /// the interval expands the whole run's intervals, and this thread times the calls.
    fn check_precision(&mut self) {
        let Some((rule, _)) = self.precision.as_ref() else {
            return;
        };
        if self.checking.is_none() && rule.due(self.rec.attempted()) {
            let snap = rule.snapshot(&self.rec);
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = done_tx.send((snap.calls(), snap.interval()));
            });
            self.checking = Some(done_rx);
        }
    }

    /// Judges a finished precision check, if one is, and raises `enough` when the target is met.
    fn precision_judged(&mut self) {
        let (Some((rule, enough)), Some(rx)) = (self.precision.as_mut(), self.checking.as_ref()) else {
            return;
        };
        match rx.try_recv() {
            Ok((calls, iv)) => {
                self.checking = None;
                if rule.judge(calls, &iv) {
                    enough.store(true, Ordering::Relaxed);
                }
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.checking = None,
        }
    }

    /// Every 50 ms: precision, the group, an interrupt, the server's health.
    fn tick(&mut self, mut sb: Watched, stop: &watch::Sender<bool>) {
        self.precision_judged();
        if let (Some(t0), Some((s, _))) = (self.measuring_at, sb.as_mut())
            && self
                .readings
                .last()
                .is_some_and(|r| t0.elapsed().as_secs_f64() - r.t_s >= super::app::GROUP_READ_S)
        {
            self.readings.push(super::app::read_group(
                s,
                t0.elapsed().as_secs_f64(),
                self.rec.ok(),
            ));
        }
        if crate::interrupt::requested() {
            self.interrupted = true;
            let _ = stop.send(true);
        }
        if self.failure.is_none()
            && let Some((s, k)) = sb
            && let Some(f) = server_failure(s, k, self.hard, self.rec.attempted())
        {
            self.failure = Some(f);
            let _ = stop.send(true);
        }
    }

    /// After the calls: calls can fail faster than the watch notices a dead server, so look
    /// once more, giving a just-killed process a moment to be reaped, so the cause is named;
    /// and read the group a last time.
    pub(crate) fn last_look(&mut self, mut sb: Watched) {
        if self.failure.is_none()
            && self.rec.ok() < self.rec.attempted()
            && let Some((s, k)) = sb.as_mut()
        {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(500) && self.rec.ok() == 0 {
                self.failure = server_failure(s, *k, self.hard, self.rec.attempted());
                if self.failure.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if let (Some(t0), Some((s, _))) = (self.measuring_at, sb) {
            self.readings.push(super::app::read_group(
                s,
                t0.elapsed().as_secs_f64(),
                self.rec.ok(),
            ));
        }
    }
}

/// If the server has exited, why (naming OOM kills), after `calls` measured calls.
fn server_failure(s: &mut Sandbox, kind: LimiterKind, hard: Option<u64>, calls: u64) -> Option<String> {
    let st = s.server_exited()?;
    let c = s.counters();
    Some(format!(
        "the server {} after {calls} measured calls",
        describe_exit(st, c.oom_kills, hard, kind)
    ))
}
