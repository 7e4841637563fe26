//! The worker pool: `WEB_CONCURRENCY` OS threads, each working one request at a time like a
//! Unicorn/Gunicorn worker. Requests beyond that wait in a bounded backlog; the time a
//! request waits there is its `queue_us`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use super::WorkResponse;
use super::timing::ThreadClocks;
use crate::workload::{self, Payload};

/// A request handed to the pool.
struct Job {
    enqueued: Instant,
    reply: oneshot::Sender<Result<WorkResponse, String>>,
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
}

impl WorkerPool {
    /// Starts `workers` threads over `payload`, with room for `backlog` waiting requests.
    pub fn start(workers: usize, backlog: usize, payload: Payload) -> std::io::Result<WorkerPool> {
        let (tx, rx) = bounded::<Job>(backlog);
        let served = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::with_capacity(workers);
        for worker in 0..workers {
            let rx = rx.clone();
            let payload = payload.clone();
            let served = served.clone();
            let pid = std::process::id();
            let h = std::thread::Builder::new()
                .name(format!("worker-{worker}"))
                .spawn(move || {
                    for job in rx.iter() {
                        let queue_us = job.enqueued.elapsed().as_micros() as u64;
                        let clocks = ThreadClocks::start();
                        let out = workload::run(payload.bytes());
                        let t = clocks.elapsed();
                        served.fetch_add(1, Ordering::Relaxed);
                        let reply = out
                            .map(|o| WorkResponse {
                                wall_us: t.wall_us,
                                cpu_us: t.cpu_us,
                                wait_us: t.wait_us,
                                queue_us,
                                worker,
                                digest: o.digest,
                                bytes: o.in_bytes as u64,
                                out_bytes: o.out_bytes as u64,
                                kind: format!("{:?}", o.kind).to_lowercase(),
                                pid,
                                note: t.note,
                            })
                            .map_err(|e| format!("workload failed: {e}"));
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
        })
    }

    /// Queues a job; the receiver yields its result once a worker has run it.
    pub fn submit(&self) -> Result<oneshot::Receiver<Result<WorkResponse, String>>, SubmitError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            enqueued: Instant::now(),
            reply,
        };
        match self.tx.as_ref().ok_or(SubmitError::Closed)?.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(SubmitError::BacklogFull),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// Requests completed so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.handles.len()
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        // Closing the channel lets every worker finish its current job and exit.
        self.tx.take();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
