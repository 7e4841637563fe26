//! The formation's router: an HTTP/1 proxy of ours in front of N local dynos. It routes each
//! request by a policy (random per request, the platform's; or round-robin, least-connections,
//! per-router least-connections, power-of-two-choices) through the same
//! [`Chooser`] the simulator uses, and applies the platform's limits: at most
//! `max_in_flight` requests on one dyno at once, a per-dyno backlog of requests waiting in
//! the router beyond that (full: 503, code H11), and the router timeout (503, code H12).
//! Every request leaves an entry for the router log. It runs on a runtime of its own (one
//! thread), apart from the driver's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::phase::unix_now;
use crate::simulate::Policy;
use crate::simulate::policy::Chooser;

/// How the router behaves.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// The dynos' addresses; dyno `i` is `web.{i+1}` in the log.
    pub dynos: Vec<SocketAddr>,
    /// How a dyno is picked.
    pub policy: Policy,
    /// Independent routers (per-router least-connections).
    pub routers: u32,
    /// Requests one dyno is sent at once; more wait in the router's backlog for that dyno.
    pub max_in_flight: u32,
    /// Requests allowed to wait in the router for one dyno; beyond that: 503 (H11).
    pub backlog: u32,
    /// Router timeout: a longer request gets a 503 (H12) and the router lets it go.
    pub timeout: Duration,
    /// Seed of the router's random choices.
    pub seed: u64,
}

/// What happened to one request at the router.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterEntry {
    /// When the response left the router (Unix seconds).
    pub done_unix_s: f64,
    /// The request id (counts from 1 per router start).
    pub id: u64,
    /// Path and query.
    pub path: String,
    /// The dyno picked (index).
    pub dyno: u32,
    /// The router (per-router policy; 0 otherwise).
    pub router: u32,
    /// Time waiting in the router's backlog for the dyno (µs).
    pub queued_us: u64,
    /// Time from arrival to the response (µs).
    pub service_us: u64,
    /// Status sent to the client.
    pub status: u16,
    /// Platform error code (H11 backlog too deep, H12 timeout, H13 connection closed).
    pub code: Option<&'static str>,
    /// Body bytes sent to the client.
    pub bytes: u64,
}

impl RouterEntry {
    /// The router-log line (without timestamp), in the platform's format.
    pub fn line(&self, host: &str) -> String {
        let common = format!(
            "method=GET path=\"{}\" host={host} request_id={} fwd=\"127.0.0.1\" dyno=web.{} connect=0ms service={}ms status={} bytes={} protocol=http",
            self.path,
            self.id,
            self.dyno + 1,
            self.service_us / 1000,
            self.status,
            self.bytes
        );
        match self.code {
            None => format!("heroku[router]: at=info {common}"),
            Some(code) => {
                let desc = match code {
                    "H11" => "Backlog too deep",
                    "H12" => "Request timeout",
                    _ => "Connection closed without response",
                };
                format!("heroku[router]: at=error code={code} desc=\"{desc}\" {common}")
            }
        }
    }
}

/// Everything the router saw between start and stop.
#[derive(Debug, Clone, Default)]
pub struct RouterLog {
    /// One entry per request, in completion order.
    pub entries: Vec<RouterEntry>,
    /// Requests sent to each dyno.
    pub routed: Vec<u64>,
    /// 503s for a full backlog.
    pub h11: u64,
    /// 503s for the router timeout.
    pub h12: u64,
    /// 503s for a dyno that closed the connection or could not be reached.
    pub h13: u64,
}

struct State {
    chooser: Chooser,
    rng: ChaCha8Rng,
    waiting: Vec<u32>,
    log: RouterLog,
}

struct Shared {
    cfg: RouterConfig,
    state: Mutex<State>,
    slots: Vec<Arc<Semaphore>>,
    client: Client<HttpConnector, Empty<Bytes>>,
    next_id: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Takes a request off a dyno's router backlog when it gets a slot or is abandoned.
struct Waiting<'a> {
    shared: &'a Shared,
    dyno: usize,
    done: bool,
}

impl Waiting<'_> {
    fn leave(&mut self) {
        if !self.done {
            self.done = true;
            self.shared.lock().waiting[self.dyno] -= 1;
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let t0 = Instant::now();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let cfg = &shared.cfg;
    let picked = {
        let mut st = shared.lock();
        let st = &mut *st;
        let (d, r) = st.chooser.pick(&mut st.rng);
        if shared.slots[d].available_permits() == 0 && st.waiting[d] >= cfg.backlog {
            Err((d, r))
        } else {
            st.chooser.sent(d, r);
            st.waiting[d] += 1;
            st.log.routed[d] += 1;
            Ok((d, r))
        }
    };
    let entry = |d: usize, r: u32, queued_us: u64, status: u16, code, bytes| RouterEntry {
        done_unix_s: unix_now(),
        id,
        path: path.clone(),
        dyno: d as u32,
        router: r,
        queued_us,
        service_us: t0.elapsed().as_micros() as u64,
        status,
        code,
        bytes,
    };
    let (d, r) = match picked {
        Ok(p) => p,
        Err((d, r)) => {
            let e = entry(d, r, 0, 503, Some("H11"), 0);
            let mut st = shared.lock();
            st.log.h11 += 1;
            st.log.entries.push(e);
            return Ok(text(StatusCode::SERVICE_UNAVAILABLE, "H11 backlog too deep\n"));
        }
    };
    let mut queued_us = 0;
    let forwarded = tokio::time::timeout(cfg.timeout, async {
        let mut waiting = Waiting {
            shared: &shared,
            dyno: d,
            done: false,
        };
        let _slot = shared.slots[d].clone().acquire_owned().await;
        waiting.leave();
        queued_us = t0.elapsed().as_micros() as u64;
        let uri = format!("http://{}{path}", cfg.dynos[d]);
        let upstream = Request::get(uri).body(Empty::<Bytes>::new()).map_err(|_| ())?;
        let resp = shared.client.request(upstream).await.map_err(|_| ())?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|_| ())?.to_bytes();
        Ok::<_, ()>((parts, body))
    })
    .await;
    let (response, e) = match forwarded {
        Ok(Ok((parts, body))) => {
            let e = entry(d, r, queued_us, parts.status.as_u16(), None, body.len() as u64);
            (Response::from_parts(parts, Full::new(body)), e)
        }
        Ok(Err(())) => (
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "H13 connection closed without response\n",
            ),
            entry(d, r, queued_us, 503, Some("H13"), 0),
        ),
        Err(_) => (
            text(StatusCode::SERVICE_UNAVAILABLE, "H12 request timeout\n"),
            entry(d, r, queued_us, 503, Some("H12"), 0),
        ),
    };
    let mut st = shared.lock();
    st.chooser.dyno_done(d);
    st.chooser.router_done(d, r);
    match e.code {
        Some("H12") => st.log.h12 += 1,
        Some("H13") => st.log.h13 += 1,
        _ => {}
    }
    st.log.entries.push(e);
    Ok(response)
}

/// A running router.
pub struct Router {
    /// Where clients send requests.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    rt: tokio::runtime::Runtime,
}

impl Router {
    /// Starts the router on 127.0.0.1 (a free port), on its own one-thread runtime.
    pub fn start(cfg: RouterConfig) -> std::io::Result<Router> {
        if cfg.dynos.is_empty() {
            return Err(std::io::Error::other("a router needs at least one dyno"));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dynobench-router")
            .enable_all()
            .build()?;
        let n = cfg.dynos.len();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = {
            let _guard = rt.enter();
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(connector)
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                chooser: Chooser::new(cfg.policy, n, cfg.routers),
                rng: ChaCha8Rng::seed_from_u64(cfg.seed),
                waiting: vec![0; n],
                log: RouterLog {
                    routed: vec![0; n],
                    ..RouterLog::default()
                },
            }),
            slots: (0..n)
                .map(|_| Arc::new(Semaphore::new(cfg.max_in_flight.max(1) as usize)))
                .collect(),
            client,
            next_id: AtomicU64::new(0),
            cfg,
        });
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let sh = shared.clone();
        rt.spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        let _ = tcp.set_nodelay(true);
                        let sh = sh.clone();
                        let mut stopped = stopped.clone();
                        tokio::spawn(async move {
                            let svc = hyper::service::service_fn(move |req| handle(sh.clone(), req));
                            let conn = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tcp), svc);
                            tokio::select! {
                                _ = conn => {}
                                _ = stopped.changed() => {}
                            }
                        });
                    }
                    _ = stopped.changed() => break,
                }
            }
        });
        Ok(Router {
            addr,
            shared,
            stop,
            rt,
        })
    }

    /// Requests currently inside the router (waiting or forwarded).
    pub fn in_flight(&self) -> u32 {
        let st = self.shared.lock();
        (0..st.waiting.len()).map(|d| st.chooser.in_system(d)).sum()
    }

    /// Stops accepting, closes client connections and returns what the router saw.
    pub fn stop(self) -> RouterLog {
        let _ = self.stop.send(true);
        self.rt.shutdown_timeout(Duration::from_secs(2));
        std::mem::take(&mut self.shared.lock().log)
    }
}
