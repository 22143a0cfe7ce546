//! What an `http://` listener gives each of its connections: the answer's format and the
//! limits on a request.

use std::net::SocketAddr;

use reverb_proxy::Announce;

/// The default `max_header`: 16 KiB, within the range servers use (nginx 8 KiB per line
/// and 32 KiB in all, Node 16 KiB, Go 1 MiB) and far beyond what browsers, curl or a
/// proxy adding its headers send.
pub const DEFAULT_MAX_HEADER: usize = 16 * 1024;

/// The default `max_body`: 1 MiB, nginx's `client_max_body_size`. The layer holds one
/// request whole before answering it (crate docs: why), so this bounds its memory.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// The smallest `max_header`: a request line and a `Host` header must fit.
pub const MIN_MAX_HEADER: usize = 256;

/// The largest `max_header` or `max_body`: 1 GiB. Far beyond any test's need, and keeps
/// the bounds derived from them (the answer to a request is a few times its size)
/// within any platform's `usize`.
pub const MAX_LIMIT: usize = 1 << 30;

/// What every answer is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// The request's bytes exactly as received (`Content-Type: message/http`).
    #[default]
    Raw,
    /// The request described as a JSON document (`Content-Type: application/json`).
    Json,
}

impl Format {
    /// The name used on command lines.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Json => "json",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = HttpConfigError;

    fn from_str(s: &str) -> Result<Self, HttpConfigError> {
        match s {
            "raw" => Ok(Format::Raw),
            "json" => Ok(Format::Json),
            other => Err(HttpConfigError::Format(other.to_owned())),
        }
    }
}

/// An HTTP listener's settings, shared by its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// What every answer is.
    pub format: Format,
    /// Most bytes of a request head (request line and header fields, with the blank line
    /// that ends them); a larger one is answered 431 (414 when the request line alone
    /// is too long). Also the most bytes of a chunked body's framing (size lines,
    /// extensions, trailer fields), answered 413 beyond.
    pub max_header: usize,
    /// Most bytes of a request's body (after chunked decoding); a larger one is answered
    /// 413 without being read.
    pub max_body: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            format: Format::Raw,
            max_header: DEFAULT_MAX_HEADER,
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// A setting that could never work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpConfigError {
    /// Not `raw` or `json`.
    #[error("unknown http format {0:?} (use raw or json)")]
    Format(String),
    /// A head limit no request could meet.
    #[error("max header must be between {MIN_MAX_HEADER} bytes and 1GiB, not {0}")]
    MaxHeader(usize),
    /// A body limit beyond [`MAX_LIMIT`].
    #[error("max body must be at most 1GiB, not {0}")]
    MaxBody(usize),
}

impl HttpConfig {
    /// Checks that every setting can work.
    pub fn check(&self) -> Result<(), HttpConfigError> {
        if !(MIN_MAX_HEADER..=MAX_LIMIT).contains(&self.max_header) {
            return Err(HttpConfigError::MaxHeader(self.max_header));
        }
        if self.max_body > MAX_LIMIT {
            return Err(HttpConfigError::MaxBody(self.max_body));
        }
        Ok(())
    }

    /// Most bytes of input the layer holds: one whole request (its head, its body and a
    /// chunked body's framing). Pipelined requests behind it wait within the same bound.
    pub fn input_limit(&self) -> usize {
        self.max_header * 2 + self.max_body
    }

    /// Most bytes one answer takes: a raw answer is the request and a head of a few
    /// hundred bytes; a JSON one escapes the head's text (at most three bytes for one,
    /// for a byte that is not UTF-8, and its target appears three times) and a text body
    /// (at most two for one, as control characters send a body to base64, at four for
    /// three).
    pub fn answer_bound(&self) -> usize {
        1024 + self.max_header * 12 + self.max_body * 2
    }
}

/// What the layer knows of the connection beyond its bytes, for the JSON answer.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The socket's peer (the client, or the proxy in front of it).
    pub addr: Option<SocketAddr>,
    /// The listener's address the connection came in on.
    pub local: Option<SocketAddr>,
    /// Where a PROXY layer below sets the client it names, for listeners that expect one.
    pub proxy: Option<Announce>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_named() {
        assert_eq!(HttpConfig::default().check(), Ok(()));
        let tiny = HttpConfig {
            max_header: 10,
            ..HttpConfig::default()
        };
        assert_eq!(tiny.check(), Err(HttpConfigError::MaxHeader(10)));
        let huge = HttpConfig {
            max_body: MAX_LIMIT + 1,
            ..HttpConfig::default()
        };
        assert!(huge.check().is_err());
        assert_eq!("json".parse(), Ok(Format::Json));
        assert!("xml".parse::<Format>().is_err());
    }
}
