//! The worker pool: `WEB_CONCURRENCY` OS threads, each working one request at a time like a
//! Unicorn/Gunicorn worker. Requests beyond that wait in a bounded backlog; the time a
//! request waits there is its `queue_us`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use super::timing::ThreadClocks;
use crate::endpoint::WorkResponse;
use crate::workload::profile::{self, Profile};
use crate::workload::{self, Payload, TransformKind, WorkOutput};

/// The error a queued job gets when the pool shuts down.
pub const SHUTTING_DOWN: &str = "shutting down";

/// A request handed to the pool.
struct Job {
    enqueued: Instant,
    profile: Profile,
    reply: oneshot::Sender<Result<WorkResponse, String>>,
}

/// What a worker keeps for itself, like a forked Unicorn/Gunicorn worker's copy of the app.
struct WorkerState {
    /// The payload parsed once at worker start: each worker's own resident working set, so
    /// memory grows with the number of workers.
    working_set: serde_json::Value,
    /// Orders by customer in the working set (the io profile's lookup index).
    index: std::collections::HashMap<String, Vec<usize>>,
    /// Extra resident memory modelling the app's own footprint (touched, then kept).
    _ballast: Vec<u8>,
}

/// Runs one job's profile; returns what ran, its output and the time spent in the
/// simulated downstream call.
fn run_profile(
    p: Profile,
    n: u64,
    payload: &Payload,
    sealed: &[u8],
    state: &WorkerState,
) -> (&'static str, Result<WorkOutput, String>, u64) {
    let cpu = || workload::run(payload.bytes()).map_err(|e| format!("workload failed: {e}"));
    let io = |wait: std::time::Duration| {
        let t = Instant::now();
        std::thread::sleep(wait);
        let io_us = t.elapsed().as_micros() as u64;
        let text = profile::small_transform(&state.working_set, &state.index, 0);
        let out = WorkOutput {
            kind: TransformKind::Orders,
            digest: workload::digest(text.as_bytes()),
            in_bytes: 0,
            out_bytes: text.len(),
        };
        ("io", Ok(out), io_us)
    };
    match p {
        Profile::Cpu => ("cpu", cpu(), 0),
        Profile::Decrypt => {
            let out = profile::open(sealed)
                .and_then(|plain| workload::run(&plain).map_err(|e| format!("workload failed: {e}")));
            ("decrypt", out, 0)
        }
        Profile::Io { wait } => io(wait),
        Profile::Mixed { io_share, wait } => {
            if profile::mixed_is_io(n, io_share) {
                io(wait)
            } else {
                ("cpu", cpu(), 0)
            }
        }
    }
}

/// Why a job could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The backlog is full (the platform would answer 503 here).
    BacklogFull,
    /// The pool is shutting down.
    Closed,
}

/// A fixed pool of worker threads sharing one backlog.
pub struct WorkerPool {
    tx: Option<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
    served: Arc<AtomicU64>,
    skipped: Arc<AtomicU64>,
    submitted: Arc<AtomicU64>,
    closing: Arc<std::sync::atomic::AtomicBool>,
}

impl WorkerPool {
    /// Starts `workers` threads over `payload`, with room for `backlog` waiting requests.
    pub fn start(
        workers: usize,
        backlog: usize,
        payload: Payload,
        ballast_mb: u64,
    ) -> std::io::Result<WorkerPool> {
        let (tx, rx) = bounded::<Job>(backlog);
        let served = Arc::new(AtomicU64::new(0));
        let skipped = Arc::new(AtomicU64::new(0));
        let submitted = Arc::new(AtomicU64::new(0));
        let closing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The decrypt profile's blob, encrypted once (shared read-only, like the app binary).
        let sealed: Arc<Vec<u8>> = Arc::new(profile::seal(payload.bytes()));
        let mut handles = Vec::with_capacity(workers);
        for worker in 0..workers {
            let rx = rx.clone();
            let payload = payload.clone();
            let served = served.clone();
            let skipped = skipped.clone();
            let closing = closing.clone();
            let sealed = sealed.clone();
            let pid = std::process::id();
            let h = std::thread::Builder::new()
                .name(format!("worker-{worker}"))
                .spawn(move || {
                    // Each worker builds its own working set before taking requests; requests
                    // that arrive meanwhile wait in the backlog (like a booting worker).
                    let working_set = workload::parse(payload.bytes()).unwrap_or(serde_json::Value::Null);
                    let state = WorkerState {
                        index: profile::orders_by_customer(&working_set),
                        working_set,
                        _ballast: vec![1u8; (ballast_mb as usize) << 20],
                    };
                    for (n, job) in rx.iter().enumerate() {
                        if closing.load(Ordering::Relaxed) {
                            // Shutting down past the grace period: answer what is still queued
                            // at once instead of working through it.
                            let _ = job.reply.send(Err(SHUTTING_DOWN.into()));
                            skipped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        if job.reply.is_closed() {
                            // The client gave up (timed out, disconnected) while the job
                            // waited: working on it would only delay the next caller.
                            skipped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        let queue_us = job.enqueued.elapsed().as_micros() as u64;
                        let clocks = ThreadClocks::start();
                        let seq = (worker as u64) << 32 | n as u64;
                        let (ran, out, io_us) = run_profile(job.profile, seq, &payload, &sealed, &state);
                        let t = clocks.elapsed();
                        served.fetch_add(1, Ordering::Relaxed);
                        let reply = out.map(|o| WorkResponse {
                            wall_us: t.wall_us,
                            cpu_us: t.cpu_us,
                            wait_us: t.wait_us,
                            queue_us,
                            io_us,
                            steal_us: t.steal_us,
                            major_faults: t.major_faults,
                            voluntary_switches: t.voluntary_switches,
                            worker,
                            digest: o.digest,
                            bytes: o.in_bytes as u64,
                            out_bytes: o.out_bytes as u64,
                            kind: format!("{:?}", o.kind).to_lowercase(),
                            profile: ran.to_string(),
                            pid,
                            at_unix_us: crate::units::unix_now_us(),
                            note: t.note,
                        });
                        // The client may have gone away; that is not the worker's problem.
                        let _ = job.reply.send(reply);
                    }
                })?;
            handles.push(h);
        }
        Ok(WorkerPool {
            tx: Some(tx),
            handles,
            served,
            skipped,
            submitted,
            closing,
        })
    }

    /// Queues a job; the receiver yields its result once a worker has run it.
    pub fn submit(
        &self,
        profile: Profile,
    ) -> Result<oneshot::Receiver<Result<WorkResponse, String>>, SubmitError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            enqueued: Instant::now(),
            profile,
            reply,
        };
        match self.tx.as_ref().ok_or(SubmitError::Closed)?.try_send(job) {
            Ok(()) => {
                self.submitted.fetch_add(1, Ordering::Relaxed);
                Ok(rx)
            }
            Err(TrySendError::Full(_)) => Err(SubmitError::BacklogFull),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// Requests completed so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Jobs skipped because their client had gone away (or answered at shutdown).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Jobs queued or being worked on now.
    pub fn in_flight(&self) -> u64 {
        let done = self.served() + self.skipped();
        self.submitted.load(Ordering::Relaxed).saturating_sub(done)
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.handles.len()
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        // Closing the channel lets every worker finish its current job and exit; jobs still
        // queued are answered "shutting down" rather than worked through.
        self.closing.store(true, Ordering::Relaxed);
        self.tx.take();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
