//! `dynobench serve`: the minimal web endpoint. `GET /health`, `GET /work` (the workload,
//! with its server-side timings) and `GET /stats`, on hyper + axum, with the work done by a
//! pool of `WEB_CONCURRENCY` worker threads and a graceful shutdown on SIGTERM/SIGINT.

pub mod conn;
pub mod guard;
mod pool;
mod process;
pub mod timing;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use conn::ConnTimeouts;
pub use guard::Guard;
pub use pool::{SubmitError, WorkerPool};
pub use process::{ProcessStats, process_stats};

use crate::endpoint::{StatsResponse, listening_line};
use crate::workload::Payload;
use crate::workload::profile::Profile;

/// Longest request head (request line + headers) accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest request body accepted, in bytes (the endpoint takes no bodies).
pub const MAX_BODY_BYTES: u64 = 1024;
/// How long in-flight requests get to finish after SIGTERM (the platform allows 30 s).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Worker threads (`WEB_CONCURRENCY`).
    pub workers: usize,
    /// Requests allowed to wait for a worker before 503.
    pub backlog: usize,
    /// The payload to work on.
    pub payload: Payload,
    /// Extra memory each worker keeps, MB (models an app's per-worker footprint).
    pub ballast_mb: u64,
    /// Connection timeouts: a request head, and an idle kept-alive connection.
    pub timeouts: ConnTimeouts,
    /// What the endpoint refuses: calls without its token, io waits beyond the cap.
    pub guard: Guard,
}

/// Shared state of the handlers.
pub struct AppState {
    pool: WorkerPool,
    started: Instant,
    payload_name: String,
    payload_bytes: usize,
    guard: Arc<Guard>,
}

/// Builds the router over a started worker pool; `/work` and `/stats` behind `guard`.
pub fn app(pool: WorkerPool, payload: &Payload, guard: Guard) -> Router {
    let guard = Arc::new(guard);
    let state = Arc::new(AppState {
        pool,
        started: Instant::now(),
        payload_name: payload.name().to_string(),
        payload_bytes: payload.bytes().len(),
        guard: guard.clone(),
    });
    Router::new()
        .route("/work", get(work))
        .route("/stats", get(stats))
        .route_layer(middleware::from_fn_with_state(guard, guard::require_token))
        .route("/health", get(health))
        .fallback(not_found)
        .layer(middleware::from_fn(limit_body))
        .with_state(state)
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": message.into(), "status": status.as_u16() })),
    )
        .into_response()
}

async fn limit_body(req: Request, next: Next) -> Response {
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES);
    if too_big || req.headers().contains_key(header::TRANSFER_ENCODING) {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes; the endpoint takes none"),
        );
    }
    next.run(req).await
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found(req: Request) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        format!(
            "no route for {} {}; try GET /health, /work or /stats",
            req.method(),
            req.uri().path()
        ),
    )
}

/// Query parameters of `/work` (unknown ones are refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkQuery {
    /// Workload profile: cpu (default), decrypt, io, mixed.
    pub profile: Option<String>,
    /// io and mixed: the simulated downstream wait, ms (default 50).
    pub io_ms: Option<u64>,
    /// mixed: the share of io calls, 0..1 (default 0.5).
    pub io_share: Option<f64>,
}

async fn work(
    State(state): State<Arc<AppState>>,
    query: Result<Query<WorkQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, format!("bad query: {}", e.body_text())),
    };
    if let Some(why) = state.guard.io_refusal(q.io_ms) {
        return json_error(StatusCode::BAD_REQUEST, format!("bad query: {why}"));
    }
    let profile = match Profile::new(q.profile.as_deref().unwrap_or("cpu"), q.io_ms, q.io_share) {
        Ok(p) => p,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, format!("bad query: {e}")),
    };
    let rx = match state.pool.submit(profile) {
        Ok(rx) => rx,
        Err(SubmitError::BacklogFull) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "backlog full: every worker is busy and the queue is at its limit",
            );
        }
        Err(SubmitError::Closed) => return json_error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    };
    match rx.await {
        Ok(Ok(resp)) => Json(resp).into_response(),
        Ok(Err(msg)) if msg == pool::SHUTTING_DOWN => json_error(StatusCode::SERVICE_UNAVAILABLE, msg),
        Ok(Err(msg)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, msg),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "worker went away"),
    }
}

async fn stats(State(state): State<Arc<AppState>>) -> Json<StatsResponse> {
    let p = process_stats();
    Json(StatsResponse {
        pid: std::process::id(),
        rss_bytes: p.rss_bytes,
        max_rss_bytes: p.max_rss_bytes,
        cpu_us: p.cpu_us,
        uptime_s: state.started.elapsed().as_secs_f64(),
        requests_served: state.pool.served(),
        in_flight: state.pool.in_flight(),
        requests_abandoned: state.pool.skipped(),
        workers: state.pool.workers(),
        available_parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
        payload: state.payload_name.clone(),
        payload_bytes: state.payload_bytes,
    })
}

/// Most connections open at once; beyond it new ones are closed at once (memory stays
/// bounded whatever clients do).
pub const MAX_CONNECTIONS: usize = 10_000;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, closes
/// idle connections and gives in-flight requests up to [`SHUTDOWN_GRACE`] to finish. Each
/// connection is closed after `timeouts.head` if a request head trickles in, and after
/// `timeouts.idle` without a request.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: ConnTimeouts,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(x) => x,
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
                };
                while conns.try_join_next().is_some() {}
                if conns.len() >= MAX_CONNECTIONS {
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                conns.spawn(conn::connection(stream, router.clone(), timeouts, closing_rx.clone()));
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// Resolves on the first SIGTERM or SIGINT.
pub async fn termination_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// A server running on its own thread (for tests and in-process use).
pub struct ServerHandle {
    /// The bound address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// Stops the server gracefully and waits for it.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    // One I/O thread is plenty: the work happens on the pool's threads.
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Starts a server on a background thread and returns once it is listening.
pub fn start(cfg: ServeConfig) -> std::io::Result<ServerHandle> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("dynobench-serve".into())
        .spawn(move || {
            let rt = runtime()?;
            rt.block_on(async move {
                let bound = async {
                    let listener = TcpListener::bind(cfg.addr).await?;
                    let pool =
                        WorkerPool::start(cfg.workers, cfg.backlog, cfg.payload.clone(), cfg.ballast_mb)?;
                    Ok::<_, std::io::Error>((listener, pool))
                }
                .await;
                let (listener, pool) = match bound {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = ready_tx.send(Err(std::io::Error::new(e.kind(), e.to_string())));
                        return Err(e);
                    }
                };
                let _ = ready_tx.send(Ok(listener.local_addr()?));
                let router = app(pool, &cfg.payload, cfg.guard.clone());
                serve(listener, router, cfg.timeouts, async {
                    let _ = stop_rx.await;
                })
                .await
            })
        })?;
    let addr = ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("server thread exited before listening"))??;
    Ok(ServerHandle {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// Runs `dynobench serve` in the foreground until SIGTERM/SIGINT. Prints one line
/// `listening on ADDR` to stdout once bound (the driver reads it to find the port).
pub fn run_foreground(cfg: ServeConfig) -> std::io::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(cfg.addr).await?;
        let addr = listener.local_addr()?;
        let pool = WorkerPool::start(cfg.workers, cfg.backlog, cfg.payload.clone(), cfg.ballast_mb)?;
        let about = format!(
            "workers {}, backlog {}, payload {} {} bytes, pid {}",
            cfg.workers,
            cfg.backlog,
            cfg.payload.name(),
            cfg.payload.bytes().len(),
            std::process::id()
        );
        println!("{}", listening_line(addr, &about));
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let router = app(pool, &cfg.payload, cfg.guard.clone());
        serve(listener, router, cfg.timeouts, termination_signal()).await?;
        eprintln!("dynobench serve: shut down gracefully");
        Ok::<(), std::io::Error>(())
    })
}
