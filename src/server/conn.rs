//! One client connection and its two clocks, kept apart as platform routers keep them: a
//! request head must arrive within the head timeout from its first byte (slow-loris
//! defence), while a kept-alive connection may sit idle between requests for the much longer
//! idle timeout (the platform keeps idle connections ~55–90 s). hyper has one timer for
//! both, so each connection's bytes and requests are watched here, and a connection is
//! served by [`connection`] until the client leaves, a clock runs out or the server stops.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The connection timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnTimeouts {
    /// From a request's first byte to its complete head.
    pub head: Duration,
    /// A kept-alive connection with no request in progress.
    pub idle: Duration,
}

impl Default for ConnTimeouts {
    /// 30 s for a head, 90 s idle.
    fn default() -> ConnTimeouts {
        ConnTimeouts {
            head: Duration::from_secs(30),
            idle: Duration::from_secs(90),
        }
    }
}

const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// What a connection is doing, and since when (µs since it opened).
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    state: AtomicU8,
    since_us: AtomicU64,
}

/// Why a connection is closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A request head took longer than the head timeout.
    Head,
    /// No request for longer than the idle timeout.
    Idle,
}

impl Activity {
    /// A new connection: idle since now.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            state: AtomicU8::new(IDLE),
            since_us: AtomicU64::new(0),
        })
    }

    fn set(&self, state: u8) {
        self.since_us
            .store(self.opened.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.state.store(state, Ordering::Release);
    }

    /// Bytes arrived: an idle connection is now reading a head.
    fn bytes_arrived(&self) {
        if self
            .state
            .compare_exchange(IDLE, HEAD, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.set(HEAD);
        }
    }

    /// A complete request reached the service.
    pub fn request_started(&self) {
        self.set(BUSY);
    }

    /// Its response is ready: the connection is idle until the next request's bytes.
    pub fn request_done(&self) {
        self.set(IDLE);
    }

    /// Whether a timeout has passed.
    pub fn expired(&self, t: &ConnTimeouts) -> Option<Expired> {
        let now = self.opened.elapsed().as_micros() as u64;
        let for_us = now.saturating_sub(self.since_us.load(Ordering::Relaxed));
        match self.state.load(Ordering::Acquire) {
            HEAD if for_us > t.head.as_micros() as u64 => Some(Expired::Head),
            IDLE if for_us > t.idle.as_micros() as u64 => Some(Expired::Idle),
            _ => None,
        }
    }
}

/// A stream that tells its [`Activity`] when bytes arrive.
pub struct TrackedIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> TrackedIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> TrackedIo<T> {
        TrackedIo { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How often a connection's clocks are checked: often enough for the shorter timeout.
pub fn check_period(t: &ConnTimeouts) -> Duration {
    (t.head.min(t.idle) / 8).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

/// One connection until the client closes it, a timeout passes or the server shuts down
/// (then the request in progress, if any, is finished first).
pub(crate) async fn connection(
    stream: tokio::net::TcpStream,
    router: axum::Router,
    timeouts: ConnTimeouts,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let activity = Activity::new();
    let inner = hyper_util::service::TowerToHyperService::new(router);
    let act = activity.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        act.request_started();
        let fut = hyper::service::Service::call(&inner, req);
        let act = act.clone();
        async move {
            let r = fut.await;
            act.request_done();
            r
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(super::MAX_HEAD_BYTES)
        .serve_connection(
            hyper_util::rt::TokioIo::new(TrackedIo::new(stream, activity.clone())),
            svc,
        );
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(check_period(&timeouts));
    let mut shutting = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            Ok(()) = closing.changed(), if !shutting => {
                shutting = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick(), if !shutting => {
                // Nothing is in progress on an expired connection: drop it.
                if activity.expired(&timeouts).is_some() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_idle_clocks_are_separate() {
        let t = ConnTimeouts {
            head: Duration::from_millis(20),
            idle: Duration::from_millis(200),
        };
        let a = Activity::new();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(a.expired(&t), None, "idle for less than the idle timeout");
        a.bytes_arrived();
        assert_eq!(a.expired(&t), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(a.expired(&t), Some(Expired::Head), "a head trickling in");
        a.request_started();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(a.expired(&t), None, "a request being worked on never expires");
        a.request_done();
        a.bytes_arrived();
        a.request_started();
        a.request_done();
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(a.expired(&t), Some(Expired::Idle));
    }
}
