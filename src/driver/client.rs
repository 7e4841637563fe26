//! The driver's HTTP client: one keep-alive HTTP/1.1 connection per caller on hyper (TLS by
//! rustls for https targets), reconnecting after any failure, timing connection set-up
//! apart from the call, and classifying every failure by kind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::endpoint::WorkResponse;
use crate::record::ErrorKind;

pub use super::call::CallShape;

/// A bearer token sent with every call (`DYNOBENCH_TOKEN`); never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token; `None` for an empty one.
    pub fn new(token: &str) -> Option<Token> {
        let t = token.trim();
        (!t.is_empty()).then(|| Token(t.to_string()))
    }

    /// The `Authorization` header value.
    fn header(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Where calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https` or not.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path prefix of the URL (no trailing slash), prepended to call paths.
    pub base_path: String,
    /// Sent as `Authorization: Bearer …` with every call, when set.
    pub token: Option<Token>,
    /// How measured calls are made (method, headers, body); health and stats checks are
    /// plain GETs.
    pub call: CallShape,
}

impl Target {
    /// Parses `http://host[:port][/prefix]` or `https://…`.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("'{url}' is not a URL ({e}); use e.g. https://my-app.herokuapp.com"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("'{url}' must start with http:// or https://")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{url}' has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if uri.query().is_some() {
            return Err(format!(
                "'{url}' has a query string; give the path with --path instead"
            ));
        }
        Ok(Target {
            tls,
            port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            host,
            base_path: uri.path().trim_end_matches('/').to_string(),
            token: None,
            call: CallShape::default(),
        })
    }

    /// A plain-HTTP target on a local address.
    pub fn local(addr: std::net::SocketAddr) -> Target {
        Target {
            tls: false,
            host: addr.ip().to_string(),
            port: addr.port(),
            base_path: String::new(),
            token: None,
            call: CallShape::default(),
        }
    }

    /// The same target, making measured calls as `call` says.
    pub fn with_call(mut self, call: CallShape) -> Target {
        self.call = call;
        self
    }

    /// The same target, calling with `token`.
    pub fn with_token(mut self, token: Option<Token>) -> Target {
        self.token = token;
        self
    }

    /// A request for `path` under the target's prefix, with its Host (and token): a plain
    /// GET, or with `shaped` the measured call's method, headers and body.
    fn request(
        &self,
        authority: &str,
        path: &str,
        shaped: bool,
    ) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
        let method = if shaped {
            self.call.method.clone()
        } else {
            hyper::Method::GET
        };
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base_path))
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("dynobench/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(t) = &self.token {
            req = req.header(hyper::header::AUTHORIZATION, t.header());
        }
        if !shaped {
            return req.body(Full::new(Bytes::new()));
        }
        for (n, v) in &self.call.headers {
            req = req.header(n.as_str(), v.as_str());
        }
        req.body(Full::new(self.call.body.clone()))
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The URL, for reports.
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            if self.tls { "https" } else { "http" },
            self.authority(),
            self.base_path
        )
    }
}

/// TLS configuration with the bundled Mozilla roots.
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(cfg)
}

/// What one call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Failure kind, if it failed.
    pub error: Option<ErrorKind>,
    /// Connection set-up time if this call had to connect, µs.
    pub connect_us: Option<u64>,
    /// The `/work` body with the server-side timings, if it carried them.
    pub server: Option<WorkResponse>,
    /// Body bytes.
    pub bytes: u64,
    /// Kept-alive connections found closed by the server (idle timeout) and replaced during
    /// this call; a request lost that way was sent again.
    pub reconnects: u32,
    /// The timed span: from just before the request went out (or its connection was
    /// opened) to the response's last byte, when the call got that far. Request building
    /// and the body's parsing fall outside it.
    pub span: Option<(Instant, Instant)>,
}

/// A caller's connection slot: connects on first use and after any failure.
pub struct Caller {
    target: Arc<Target>,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<SendRequest<Full<Bytes>>>,
    authority: String,
}

impl Caller {
    /// A caller for `target` (not yet connected).
    pub fn new(target: Arc<Target>, tls: Option<Arc<rustls::ClientConfig>>) -> Caller {
        let authority = target.authority();
        Caller {
            target,
            tls,
            conn: None,
            authority,
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ErrorKind> {
        let tcp = TcpStream::connect((self.target.host.as_str(), self.target.port))
            .await
            .map_err(|_| ErrorKind::Connect)?;
        let _ = tcp.set_nodelay(true);
        if let Some(cfg) = &self.tls {
            let name = rustls::pki_types::ServerName::try_from(self.target.host.clone())
                .map_err(|_| ErrorKind::Connect)?;
            let stream = tokio_rustls::TlsConnector::from(cfg.clone())
                .connect(name, tcp)
                .await
                .map_err(|_| ErrorKind::Connect)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|_| ErrorKind::Connect)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|_| ErrorKind::Connect)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(sender)
        }
    }

    /// `GET path` with a deadline covering connect, request and body. Any failure drops the
    /// connection so the next call starts clean.
    pub async fn get(&mut self, path: &str, timeout: Duration) -> CallOutcome {
        self.send(path, timeout, false).await
    }

    /// A measured call of `path`, shaped as the target's [`CallShape`] says.
    pub async fn call(&mut self, path: &str, timeout: Duration) -> CallOutcome {
        self.send(path, timeout, true).await
    }

    async fn send(&mut self, path: &str, timeout: Duration, shaped: bool) -> CallOutcome {
        let mut out = CallOutcome {
            status: None,
            error: None,
            connect_us: None,
            server: None,
            bytes: 0,
            reconnects: 0,
            span: None,
        };
        let result = tokio::time::timeout(timeout, self.get_inner(path, shaped, &mut out)).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(kind)) => {
                out.error = Some(kind);
                self.conn = None;
            }
            Err(_) => {
                out.error = Some(ErrorKind::Timeout);
                self.conn = None;
            }
        }
        out
    }

    /// Opens the connection now if there is none (errors are left for the next call).
    pub async fn connect_now(&mut self) {
        if self.conn.is_none() {
            self.conn = self.connect().await.ok();
        }
    }

    /// `GET path` returning the body of a 200 response (for `/stats`), or `None`.
    pub async fn get_body(&mut self, path: &str, timeout: Duration) -> Option<Bytes> {
        let fut = async {
            if self.conn.is_none() {
                self.conn = Some(self.connect().await.ok()?);
            }
            let sender = self.conn.as_mut()?;
            sender.ready().await.ok()?;
            let req = self.target.request(&self.authority, path, false).ok()?;
            let resp = sender.send_request(req).await.ok()?;
            if resp.status() != 200 {
                return None;
            }
            Some(resp.into_body().collect().await.ok()?.to_bytes())
        };
        tokio::time::timeout(timeout, fut).await.ok().flatten()
    }

    async fn get_inner(&mut self, path: &str, shaped: bool, out: &mut CallOutcome) -> Result<(), ErrorKind> {
        let mut attempt = 0;
        let mut started = Instant::now();
        let resp = loop {
            attempt += 1;
            if let Some(c) = &mut self.conn
                && c.ready().await.is_err()
            {
                // The server closed the kept-alive connection while it was idle.
                self.conn = None;
                out.reconnects += 1;
            }
            let reused = self.conn.is_some();
            let req = self
                .target
                .request(&self.authority, path, shaped)
                .map_err(|_| ErrorKind::Http)?;
            if attempt == 1 {
                started = Instant::now();
            }
            if self.conn.is_none() {
                let t = Instant::now();
                self.conn = Some(self.connect().await?);
                out.connect_us = Some(out.connect_us.unwrap_or(0) + t.elapsed().as_micros() as u64);
            }
            let sender = self.conn.as_mut().expect("connected above");
            match sender.send_request(req).await {
                Ok(r) => break r,
                // A kept-alive connection the server closed as the request went out (its
                // idle timeout): nothing was answered, and a GET may be sent again, once,
                // on a new connection.
                Err(e)
                    if reused
                        && attempt == 1
                        && (e.is_incomplete_message() || e.is_closed() || e.is_canceled()) =>
                {
                    self.conn = None;
                    out.reconnects += 1;
                }
                Err(_) => return Err(ErrorKind::Http),
            }
        };
        let status = resp.status().as_u16();
        out.status = Some(status);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|_| ErrorKind::Http)?
            .to_bytes();
        out.span = Some((started, Instant::now()));
        out.bytes = body.len() as u64;
        if !(200..300).contains(&status) {
            return Err(ErrorKind::Status);
        }
        // Anything serving /work may answer; timings are used when the body carries them.
        out.server = serde_json::from_slice::<WorkResponse>(&body).ok();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("https://my-app.herokuapp.com").unwrap();
        assert!(t.tls);
        assert_eq!(
            (t.host.as_str(), t.port, t.base_path.as_str()),
            ("my-app.herokuapp.com", 443, "")
        );
        assert_eq!(t.authority(), "my-app.herokuapp.com");
        let t = Target::parse("http://127.0.0.1:5000/api/").unwrap();
        assert_eq!((t.port, t.base_path.as_str()), (5000, "/api"));
        assert_eq!(t.authority(), "127.0.0.1:5000");
        assert_eq!(t.url(), "http://127.0.0.1:5000/api");
        assert!(Target::parse("ftp://x").unwrap_err().contains("http://"));
        assert!(Target::parse("not a url").is_err());
        assert!(Target::parse("http://x/work?a=1").unwrap_err().contains("--path"));
        let v6 = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.authority(), "[::1]:8080");
    }

    #[test]
    fn tls_config_builds() {
        let _ = tls_config();
    }
}
