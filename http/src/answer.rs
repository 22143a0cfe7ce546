//! The answers: `200 OK` with the request as received (its bytes, or JSON describing it),
//! `100 Continue`, and the error statuses.

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;

use crate::config::{Format, Peer};
use crate::request::{Head, Refusal, MAX_HEADERS};

/// What the answer's `Connection` field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connection {
    /// Nothing: HTTP/1.1 keeps the connection by default.
    Default,
    /// `keep-alive`: an HTTP/1.0 client asked to keep it.
    KeepAlive,
    /// `close`: the server closes after this answer.
    Close,
}

impl Connection {
    fn field(self) -> &'static str {
        match self {
            Connection::Default => "",
            Connection::KeepAlive => "Connection: keep-alive\r\n",
            Connection::Close => "Connection: close\r\n",
        }
    }
}

pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// Appends a response head: status line, type, length, connection, blank line.
fn head(out: &mut Vec<u8>, status: u16, kind: &str, length: usize, connection: Connection) {
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Type: {kind}\r\nContent-Length: {length}\r\n{}\r\n",
        reason_phrase(status),
        connection.field()
    );
}

/// An error status with its reason as a text body, and `Connection: close`: every error
/// ends the connection, as what follows a refused request cannot be trusted to be the
/// start of the next one.
pub(crate) fn error(out: &mut Vec<u8>, refusal: Refusal, head_only: bool) {
    let text = refusal.text;
    head(
        out,
        refusal.status,
        "text/plain; charset=utf-8",
        text.len() + 1,
        Connection::Close,
    );
    if !head_only {
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
}

/// What a `200` describes: one whole request.
pub(crate) struct Request<'a> {
    /// Its bytes as received: head, then body (chunk framing and trailers included).
    pub(crate) wire: &'a [u8],
    pub(crate) head: &'a Head,
    /// The body's data (chunked decoding undone).
    pub(crate) body: &'a [u8],
    /// The trailer section of a chunked body (fields, then the blank line).
    pub(crate) trailers: Option<&'a [u8]>,
}

/// The `200` answer to `request`, in `format`.
pub(crate) fn ok(
    out: &mut Vec<u8>,
    format: Format,
    request: &Request<'_>,
    peer: &Peer,
    connection: Connection,
) {
    match format {
        Format::Raw => {
            head(out, 200, "message/http", request.wire.len(), connection);
            if !request.head.head_only {
                out.extend_from_slice(request.wire);
            }
        }
        Format::Json => {
            let json = describe(request, peer);
            head(out, 200, "application/json", json.len() + 1, connection);
            if !request.head.head_only {
                out.extend_from_slice(json.as_bytes());
                out.push(b'\n');
            }
        }
    }
}

/// The JSON document of `--http-format json`.
#[derive(Serialize)]
struct Described<'a> {
    method: &'a str,
    /// The request target as sent: `/path?query`, or a proxy's absolute form.
    target: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    version: &'static str,
    /// Every field in order, its name in the case sent: `[name, value]`.
    headers: Vec<[Cow<'a, str>; 2]>,
    /// The body's data as text, or base64 when it is not text (`body_encoding`).
    body: Cow<'a, str>,
    body_encoding: &'static str,
    body_length: usize,
    chunked: bool,
    trailers: Vec<[Cow<'a, str>; 2]>,
    /// The socket's peer: the client, or a proxy in front of it.
    peer: Option<String>,
    /// The client: the PROXY header's source when one named it, else the peer.
    client: Option<String>,
    /// The PROXY header, when the listener takes one.
    proxy: Option<Proxied>,
    /// The listener's address the connection came in on.
    local: Option<String>,
}

#[derive(Serialize)]
struct Proxied {
    version: u8,
    source: Option<String>,
    destination: Option<String>,
}

fn fields<'a>(fields: &[httparse::Header<'a>]) -> Vec<[Cow<'a, str>; 2]> {
    fields
        .iter()
        .take_while(|f| !f.name.is_empty())
        .map(|f| [Cow::Borrowed(f.name), String::from_utf8_lossy(f.value)])
        .collect()
}

/// Text when the body is UTF-8 without control characters other than tab and line ends,
/// so that it reads as itself in the JSON and costs at most two bytes per byte escaped;
/// base64 otherwise.
fn body_text(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let plain = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'));
    plain.then_some(text)
}

fn describe(request: &Request<'_>, peer: &Peer) -> String {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut storage);
    // It parsed when it arrived; the same bytes parse the same.
    let _ = parsed.parse(&request.wire[..request.head.len]);
    let target = parsed.path.unwrap_or_default();
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut trailer_storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let trailers = match request.trailers {
        Some(bytes) => match httparse::parse_headers(bytes, &mut trailer_storage) {
            Ok(httparse::Status::Complete((_, found))) => fields(found),
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    let (body, body_encoding) = match body_text(request.body) {
        Some(text) => (Cow::Borrowed(text), "text"),
        None => (
            Cow::Owned(data_encoding::BASE64.encode(request.body)),
            "base64",
        ),
    };
    let proxy = peer.proxy.as_ref().and_then(|slot| slot.get());
    let described = Described {
        method: parsed.method.unwrap_or_default(),
        target,
        path,
        query,
        version: if request.head.http10 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        },
        headers: fields(parsed.headers),
        body,
        body_encoding,
        body_length: request.body.len(),
        chunked: request.trailers.is_some(),
        trailers,
        peer: peer.addr.map(|a| a.to_string()),
        client: proxy
            .and_then(|p| p.source)
            .or(peer.addr)
            .map(|a| a.to_string()),
        proxy: proxy.map(|p| Proxied {
            version: p.version,
            source: p.source.map(|a| a.to_string()),
            destination: p.destination.map(|a| a.to_string()),
        }),
        local: peer.local.map(|a| a.to_string()),
    };
    serde_json::to_string(&described).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{read_head, Status};

    fn head_of(wire: &[u8]) -> Head {
        match read_head(wire, &crate::HttpConfig::default()) {
            Status::Complete(head) => head,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_raw_answer_is_the_request_as_received() {
        let wire = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Odd:  spaced \r\n\r\n";
        let head = head_of(wire);
        let request = Request {
            wire,
            head: &head,
            body: b"",
            trailers: None,
        };
        let mut out = Vec::new();
        ok(
            &mut out,
            Format::Raw,
            &request,
            &Peer::default(),
            Connection::Close,
        );
        let text = String::from_utf8(out).unwrap();
        let (answer_head, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body.as_bytes(), wire);
        assert!(answer_head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(answer_head.contains(&format!("Content-Length: {}", wire.len())));
        assert!(answer_head.contains("Connection: close"));
        assert!(answer_head.contains("Content-Type: message/http"));
    }

    #[test]
    fn the_json_answer_describes_the_request() {
        let wire = b"POST /p?q=1&r HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 3\r\n\r\n\0\x01\x02";
        let head = head_of(wire);
        let request = Request {
            wire,
            head: &head,
            body: b"\0\x01\x02",
            trailers: None,
        };
        let peer = Peer {
            addr: Some("127.0.0.1:5000".parse().unwrap()),
            ..Peer::default()
        };
        let mut out = Vec::new();
        ok(&mut out, Format::Json, &request, &peer, Connection::Default);
        let text = String::from_utf8(out).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["method"], "POST");
        assert_eq!(json["path"], "/p");
        assert_eq!(json["query"], "q=1&r");
        assert_eq!(
            json["headers"][1],
            serde_json::json!(["X-A", "1"]),
            "in order, in the case sent"
        );
        assert_eq!(json["body"], "AAEC");
        assert_eq!(json["body_encoding"], "base64");
        assert_eq!(json["peer"], "127.0.0.1:5000");
        assert_eq!(json["client"], "127.0.0.1:5000");
        assert_eq!(json["proxy"], serde_json::Value::Null);
    }

    #[test]
    fn an_error_says_why_and_closes() {
        let mut out = Vec::new();
        error(&mut out, Refusal::new(431, "too big"), false);
        assert_eq!(
            out,
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; \
              charset=utf-8\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n"
        );
    }
}
