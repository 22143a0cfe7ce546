//! The opening handshake (RFC 6455 §4.2): an HTTP/1.1 upgrade request in, a `101
//! Switching Protocols` or an HTTP error status out.
//!
//! tungstenite does the HTTP work: `Request::try_parse` (httparse underneath) reads the
//! request from memory, and `create_response` checks the method, the version, the
//! `Connection: Upgrade`, `Upgrade: websocket` and `Sec-WebSocket-Version: 13` headers and
//! the key, and derives `Sec-WebSocket-Accept`. What is ours: the path, the `Host` header
//! RFC 6455 requires, the size limit, and which status each refusal gets.

use tungstenite::error::{CapacityError, Error, ProtocolError};
use tungstenite::handshake::machine::TryParse;
use tungstenite::handshake::server::{create_response, write_response, Request};

/// Most bytes an upgrade request may take, headers included: nginx's default header
/// buffer. Browsers send well under 1 KiB; a request that fills this is refused with 431.
pub const MAX_REQUEST: usize = 8 * 1024;

/// What to answer a request with, once it can be told.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The request is not complete yet.
    Incomplete,
    /// Upgrade: the request took `consumed` bytes; send `response`, then frames.
    Accept { consumed: usize, response: Vec<u8> },
    /// Refuse with an HTTP error status, then close.
    Refuse(Refusal),
}

/// An HTTP error answer to a handshake, in the words a log line and the response body
/// give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The HTTP status.
    pub(crate) status: u16,
    /// Why, in a few lowercase words.
    pub(crate) text: &'static str,
    /// Header lines the status calls for (each ending in CRLF).
    headers: &'static str,
}

impl Refusal {
    const fn new(status: u16, text: &'static str) -> Self {
        Refusal {
            status,
            text,
            headers: "",
        }
    }

    /// A request that filled [`MAX_REQUEST`] without ending.
    pub(crate) const TOO_LARGE: Refusal = Refusal::new(431, "request headers larger than 8 KiB");

    /// The whole HTTP response: status line, headers, and the reason as a text body.
    pub(crate) fn response(&self) -> Vec<u8> {
        let body = format!("{}\n", self.text);
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\n{}\r\n{body}",
            self.status,
            phrase(self.status),
            body.len(),
            if self.headers.is_empty() {
                "Connection: close\r\n"
            } else {
                self.headers
            },
        )
        .into_bytes()
    }
}

fn phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// The answer to the request at the start of `buf`, accepted only on `path` when one is
/// set.
pub(crate) fn answer(buf: &[u8], path: Option<&str>) -> Answer {
    let (consumed, request) = match Request::try_parse(buf) {
        Ok(None) => return Answer::Incomplete,
        Ok(Some(parsed)) => parsed,
        Err(error) => return Answer::Refuse(refusal(&error)),
    };
    if path.is_some_and(|path| request.uri().path() != path) {
        return Answer::Refuse(Refusal::new(404, "no websocket at this path"));
    }
    // RFC 6455 §4.1: the request must name the host; tungstenite does not check it.
    if !request.headers().contains_key("host") {
        return Answer::Refuse(Refusal::new(400, "no Host header"));
    }
    let response = match create_response(&request) {
        Ok(response) => response,
        Err(error) => return Answer::Refuse(refusal(&error)),
    };
    let mut bytes = Vec::with_capacity(160);
    match write_response(&mut bytes, &response) {
        Ok(()) => Answer::Accept {
            consumed,
            response: bytes,
        },
        Err(error) => Answer::Refuse(refusal(&error)),
    }
}

/// The status for each way a request can fail tungstenite's checks.
fn refusal(error: &Error) -> Refusal {
    use ProtocolError as P;
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade, close\r\n";
    match error {
        Error::Protocol(P::WrongHttpMethod) => Refusal {
            headers: "Allow: GET\r\nConnection: close\r\n",
            ..Refusal::new(405, "not a GET request")
        },
        Error::Protocol(P::WrongHttpVersion) => Refusal::new(505, "not HTTP/1.1"),
        // A plain HTTP request: this resource speaks only WebSocket.
        Error::Protocol(P::MissingConnectionUpgradeHeader | P::MissingUpgradeWebSocketHeader) => {
            Refusal {
                headers: upgrade,
                ..Refusal::new(426, "not a websocket upgrade request")
            }
        }
        // RFC 6455 §4.4: name the version we speak.
        Error::Protocol(P::MissingSecWebSocketVersionHeader) => Refusal {
            headers: "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n",
            ..Refusal::new(426, "websocket version 13 is required")
        },
        Error::Protocol(P::MissingSecWebSocketKey | P::InvalidSecWebSocketKey) => {
            Refusal::new(400, "no valid Sec-WebSocket-Key")
        }
        Error::Capacity(CapacityError::TooManyHeaders) => {
            Refusal::new(431, "more than 124 request headers")
        }
        _ => Refusal::new(400, "malformed HTTP request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "GET /chat?x=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                           Connection: keep-alive, Upgrade\r\n\
                           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                           Sec-WebSocket-Version: 13\r\n\r\n";

    fn status(request: &str, path: Option<&str>) -> u16 {
        match answer(request.as_bytes(), path) {
            Answer::Accept { .. } => 101,
            Answer::Refuse(r) => r.status,
            Answer::Incomplete => 0,
        }
    }

    #[test]
    fn the_rfcs_sample_key_gets_the_rfcs_accept_key() {
        let Answer::Accept { consumed, response } = answer(UPGRADE.as_bytes(), None) else {
            panic!("refused");
        };
        assert_eq!(consumed, UPGRADE.len());
        let response = String::from_utf8(response).unwrap().to_lowercase();
        assert!(response.starts_with("http/1.1 101 switching protocols\r\n"));
        assert!(response.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"));
        assert!(response.ends_with("\r\n\r\n"));
    }

    #[test]
    fn each_refusal_has_its_status() {
        assert_eq!(status(UPGRADE, Some("/chat")), 101);
        assert_eq!(status(UPGRADE, Some("/other")), 404);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\n\r\n", None), 426);
        assert_eq!(status(&UPGRADE.replace("GET", "POST"), None), 405);
        assert_eq!(status(&UPGRADE.replace("HTTP/1.1", "HTTP/1.0"), None), 505);
        assert_eq!(
            status(&UPGRADE.replace("Host: localhost\r\n", ""), None),
            400
        );
        assert_eq!(
            status(&UPGRADE.replace("Version: 13", "Version: 8"), None),
            426
        );
        assert_eq!(status(&UPGRADE.replace("dGhl", "x"), None), 400);
        assert_eq!(status("hello\r\n\r\n", None), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\n", None), 0);
    }

    #[test]
    fn a_refusal_is_a_complete_http_response() {
        let Answer::Refuse(r) = answer(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None) else {
            panic!("accepted");
        };
        let text = String::from_utf8(r.response()).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{text}"
        );
        assert!(text.contains("Upgrade: websocket\r\n"), "{text}");
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert_eq!(body, "not a websocket upgrade request\n");
    }
}
