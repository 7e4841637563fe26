//! The shape of the measured calls (`--method`, `--header`, `--body @FILE`), checked.

use bytes::Bytes;

/// The shape of a measured call: `--method`, `--header`, `--body @FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallShape {
    /// HTTP method (GET by default).
    pub method: hyper::Method,
    /// Extra request headers, in order.
    pub headers: Vec<(String, String)>,
    /// The request body (empty for none).
    pub body: Bytes,
}

impl Default for CallShape {
    fn default() -> Self {
        CallShape {
            method: hyper::Method::GET,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

impl CallShape {
    /// Checks `--method`, `--header NAME: VALUE` and the body's bytes into a call shape.
    pub fn parse(method: &str, headers: &[String], body: Option<Bytes>) -> Result<CallShape, String> {
        let m = hyper::Method::from_bytes(method.trim().to_ascii_uppercase().as_bytes()).map_err(|_| {
            format!("--method '{method}' is not an HTTP method (GET, POST, PUT, PATCH, DELETE…)")
        })?;
        let mut hs = Vec::new();
        for h in headers {
            let (n, v) = h.split_once(':').ok_or_else(|| {
                format!("--header '{h}' must be NAME: VALUE, e.g. 'Content-Type: application/json'")
            })?;
            let (n, v) = (n.trim(), v.trim());
            hyper::header::HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("--header '{h}': '{n}' is not a valid header name"))?;
            hyper::header::HeaderValue::from_str(v)
                .map_err(|_| format!("--header '{h}': the value is not a valid header value"))?;
            hs.push((n.to_string(), v.to_string()));
        }
        Ok(CallShape {
            method: m,
            headers: hs,
            body: body.unwrap_or_default(),
        })
    }

    /// Whether this is the plain GET with no extra headers or body.
    pub fn is_plain(&self) -> bool {
        *self == CallShape::default()
    }
}
