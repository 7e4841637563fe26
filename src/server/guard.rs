//! What a deployed endpoint refuses, since anyone can reach it: `/work` and `/stats`
//! without its token (`DYNOBENCH_TOKEN`, sent as `Authorization: Bearer …`) get 401, while
//! `/health` stays open for the platform's checks; and io waits beyond a cap (by default
//! the platform router's 30 s, after which it would answer 503 anyway) get 400, so a
//! stranger cannot hold the workers for minutes per call.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// The platform router's timeout, ms: the default cap of `io_ms`.
pub const ROUTER_TIMEOUT_MS: u64 = 30_000;

/// The guard of one server.
#[derive(Clone, PartialEq, Eq)]
pub struct Guard {
    /// Calls to `/work` and `/stats` must carry this token (none: open).
    pub token: Option<String>,
    /// The longest `io_ms` a call may ask for.
    pub max_io_ms: u64,
}

impl Default for Guard {
    fn default() -> Guard {
        Guard {
            token: None,
            max_io_ms: ROUTER_TIMEOUT_MS,
        }
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("max_io_ms", &self.max_io_ms)
            .finish()
    }
}

impl Guard {
    /// Why a call asking for `io_ms` is refused, if it is.
    pub fn io_refusal(&self, io_ms: Option<u64>) -> Option<String> {
        io_ms.filter(|&ms| ms > self.max_io_ms).map(|ms| {
            format!(
                "io_ms {ms} is above this server's cap of {} ms (a platform router gives up after 30 s); start serve with --max-io-ms to raise it",
                self.max_io_ms
            )
        })
    }

    fn admits(&self, req: &Request) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compared without an early exit, so timing does not tell how much matched.
        given.len() == token.len()
            && given
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// Middleware: 401 for a call without the token.
pub async fn require_token(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    if guard.admits(&req) {
        return next.run(req).await;
    }
    let mut resp = super::json_error(
        StatusCode::UNAUTHORIZED,
        "this endpoint needs its token: send Authorization: Bearer $DYNOBENCH_TOKEN (dynobench run --token, or the DYNOBENCH_TOKEN variable)",
    );
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}
