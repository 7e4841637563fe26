//! Payload loading: the bundled orders document embedded in the binary, or a file given
//! with `--payload`, validated once at start-up so a bad file is refused with its position.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

/// How the bundled payload is named in reports and timings.
pub const BUNDLED_NAME: &str = "bundled:orders.json";

/// The bundled payload, embedded so a deployed binary needs no files.
static BUNDLED: &[u8] = include_bytes!("../../payloads/orders.json");

/// A payload refused at load time.
#[derive(Debug, Error)]
pub enum PayloadError {
    /// The file could not be read.
    #[error("cannot read payload {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is empty (or only whitespace).
    #[error("payload {path} is empty; give a JSON document (object or array)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid JSON.
    #[error("payload {path} is not valid JSON: {message} at line {line}, column {column}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description, without its position suffix.
        message: String,
    },
}

/// A validated payload: its bytes and where they came from.
#[derive(Debug, Clone)]
pub struct Payload {
    name: String,
    bytes: Arc<Cow<'static, [u8]>>,
}

impl Payload {
    /// The bundled orders payload.
    pub fn bundled() -> Payload {
        Payload {
            name: BUNDLED_NAME.to_string(),
            bytes: Arc::new(Cow::Borrowed(BUNDLED)),
        }
    }

    /// Loads and validates a payload file.
    pub fn from_file(path: &Path) -> Result<Payload, PayloadError> {
        let bytes = std::fs::read(path).map_err(|source| PayloadError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Payload::from_bytes(path.display().to_string(), bytes)
    }

    /// Validates bytes as a payload named `name` (used for files and tests).
    pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<Payload, PayloadError> {
        let path = PathBuf::from(&name);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(PayloadError::Empty { path });
        }
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            let full = e.to_string();
            let message = full
                .rsplit_once(" at line ")
                .map(|(m, _)| m.to_string())
                .unwrap_or(full);
            return Err(PayloadError::Invalid {
                path,
                line: e.line(),
                column: e.column(),
                message,
            });
        }
        Ok(Payload {
            name,
            bytes: Arc::new(Cow::Owned(bytes)),
        })
    }

    /// Either the file at `path` or the bundled payload.
    pub fn load(path: Option<&Path>) -> Result<Payload, PayloadError> {
        match path {
            Some(p) => Payload::from_file(p),
            None => Ok(Payload::bundled()),
        }
    }

    /// Where the payload came from (`bundled:orders.json` or the file path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The payload bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_and_invalid() {
        assert!(matches!(
            Payload::from_bytes("x.json".into(), b"  \n".to_vec()),
            Err(PayloadError::Empty { .. })
        ));
        match Payload::from_bytes("x.json".into(), b"{\n  \"a\": [1, 2,\n}".to_vec()) {
            Err(PayloadError::Invalid { line, column, .. }) => {
                assert_eq!(line, 3);
                assert_eq!(column, 1);
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn bundled_is_large_and_valid() {
        let p = Payload::bundled();
        assert!(p.bytes().len() >= 4 * 1024 * 1024);
        assert!(Payload::from_bytes("copy".into(), p.bytes().to_vec()).is_ok());
    }
}
