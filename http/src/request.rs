//! A request head: parsed by httparse, then read for what the layer must know — how the
//! body is framed, whether the connection stays open, whether the client waits for a
//! `100 Continue` — or refused with the status that says why (RFC 9110, RFC 9112).

use crate::config::HttpConfig;

/// Most header fields in one head (the array httparse fills lives on the stack); more
/// are answered 431. Browsers send about 15, a proxy adds a handful.
pub(crate) const MAX_HEADERS: usize = 128;

/// How the request's body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(usize),
    /// `Transfer-Encoding: …, chunked`: chunks up to a zero-size one, then trailers.
    Chunked,
}

/// What the layer needs from a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Bytes of the head, the blank line included (and any empty lines before it).
    pub(crate) len: usize,
    /// A `HEAD` request: its answer has the headers of a `GET`'s and no body.
    pub(crate) head_only: bool,
    /// Whether the client keeps the connection open after the answer: HTTP/1.1 unless it
    /// says `Connection: close`, HTTP/1.0 only if it says `Connection: keep-alive`.
    pub(crate) keep_alive: bool,
    /// HTTP/1.0 (else 1.1): an answer that keeps the connection says so.
    pub(crate) http10: bool,
    pub(crate) body: Body,
    /// `Expect: 100-continue` on an HTTP/1.1 request with a body: the client waits for a
    /// `100 Continue` before sending it.
    pub(crate) expect_continue: bool,
}

/// An HTTP error answer, and a few words for the body and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) text: &'static str,
}

impl Refusal {
    pub(crate) const fn new(status: u16, text: &'static str) -> Self {
        Refusal { status, text }
    }
}

/// Where the head at the start of a buffer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Partial,
    Complete(Head),
    Refused(Refusal),
}

/// Reads the head at the start of `buf`. A partial head that fills `max_header` is
/// refused: 414 while its request line has not ended, 431 after.
pub(crate) fn read_head(buf: &[u8], config: &HttpConfig) -> Status {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= config.max_header => len,
        Ok(httparse::Status::Complete(_)) => return Status::Refused(too_long(buf, config)),
        Ok(httparse::Status::Partial) if buf.len() >= config.max_header => {
            return Status::Refused(too_long(buf, config))
        }
        Ok(httparse::Status::Partial) => return Status::Partial,
        Err(httparse::Error::Version) => {
            return Status::Refused(Refusal::new(505, "not HTTP/1.0 or HTTP/1.1"))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Status::Refused(Refusal::new(431, "more than 128 header fields"))
        }
        Err(_) => return Status::Refused(Refusal::new(400, "malformed request")),
    };
    match check(&request, config) {
        Ok(mut head) => {
            head.len = len;
            Status::Complete(head)
        }
        Err(refusal) => Status::Refused(refusal),
    }
}

/// 414 when the request line alone fills the limit, else 431.
fn too_long(buf: &[u8], config: &HttpConfig) -> Refusal {
    let line_end = buf
        .iter()
        .skip_while(|&&b| b == b'\r' || b == b'\n')
        .position(|&b| b == b'\n');
    match line_end {
        Some(end) if end < config.max_header => {
            Refusal::new(431, "request header fields over the size limit")
        }
        _ => Refusal::new(414, "request line over the size limit"),
    }
}

/// Whether a comma-separated field value holds `token` (case-insensitive).
pub(crate) fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// The checks RFC 9112 asks of a server, on a parsed head.
fn check(request: &httparse::Request<'_, '_>, config: &HttpConfig) -> Result<Head, Refusal> {
    let method = request.method.unwrap_or_default();
    let http10 = request.version == Some(0);
    if method == "CONNECT" {
        // A 2xx to CONNECT turns the connection into a tunnel: this server echoes, it does
        // not tunnel.
        return Err(Refusal::new(405, "CONNECT is not served: this is an echo"));
    }
    let mut hosts = 0;
    let mut close = false;
    let mut keep = false;
    let mut length: Option<&[u8]> = None;
    let mut codings = 0usize;
    let mut chunked_last = false;
    let mut chunked_count = 0;
    let mut expect_continue = false;
    for field in request.headers.iter() {
        let name = field.name;
        let value = field.value.trim_ascii();
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= has_token(value, "close");
            keep |= has_token(value, "keep-alive");
        } else if name.eq_ignore_ascii_case("content-length") {
            // Several fields (or a list) must all say the same number (RFC 9110 §8.6).
            for one in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if !one.iter().all(u8::is_ascii_digit) || one.is_empty() {
                    return Err(Refusal::new(400, "an invalid Content-Length"));
                }
                if length.is_some_and(|seen| seen != one) {
                    return Err(Refusal::new(400, "conflicting Content-Length values"));
                }
                length = Some(one);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if coding.is_empty() {
                    continue;
                }
                codings += 1;
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                chunked_count += usize::from(chunked_last);
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(Refusal::new(417, "an expectation other than 100-continue"));
            }
            expect_continue = true;
        }
    }
    // RFC 9112 §3.2: an HTTP/1.1 request names exactly one host.
    if hosts > 1 || (hosts == 0 && !http10) {
        return Err(Refusal::new(400, "not exactly one Host header"));
    }
    let body = if codings > 0 {
        // RFC 9112 §6.1 and §6.3: chunked must be the final coding, once; a message
        // with both framings may be smuggling one request inside another; HTTP/1.0 has
        // no transfer codings, so its framing is faulty.
        if http10 {
            return Err(Refusal::new(
                400,
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if length.is_some() {
            return Err(Refusal::new(
                400,
                "both Transfer-Encoding and Content-Length",
            ));
        }
        if !chunked_last || chunked_count != 1 {
            return Err(Refusal::new(
                400,
                "a Transfer-Encoding that does not end in chunked",
            ));
        }
        Body::Chunked
    } else {
        match length {
            None => Body::None,
            Some(digits) => {
                // Digits only, so the only failure is overflow: beyond any limit.
                let n = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                if n > config.max_body as u64 {
                    return Err(Refusal::new(413, "a body over the size limit"));
                }
                match n {
                    0 => Body::None,
                    n => Body::Length(n as usize),
                }
            }
        }
    };
    Ok(Head {
        len: 0,
        head_only: method == "HEAD",
        keep_alive: if http10 { keep && !close } else { !close },
        http10,
        body,
        expect_continue: expect_continue && !http10 && body != Body::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(request: &str) -> u16 {
        match read_head(request.as_bytes(), &HttpConfig::default()) {
            Status::Complete(_) => 200,
            Status::Refused(r) => r.status,
            Status::Partial => 0,
        }
    }

    fn head(request: &str) -> Head {
        match read_head(request.as_bytes(), &HttpConfig::default()) {
            Status::Complete(head) => head,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_head_says_how_its_body_is_framed_and_whether_the_connection_stays() {
        let h = head("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest");
        assert_eq!((h.len, h.body, h.keep_alive), (27, Body::None, true));
        let h =
            head("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
        assert_eq!((h.body, h.keep_alive), (Body::Length(5), false));
        let h = head("PUT / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, Chunked\r\nExpect: 100-Continue\r\n\r\n");
        assert_eq!((h.body, h.expect_continue), (Body::Chunked, true));
        let h = head("GET / HTTP/1.0\r\n\r\n");
        assert!(h.http10 && !h.keep_alive);
        let h = head("HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(h.keep_alive && h.head_only);
        assert_eq!(head("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").len, 29);
    }

    #[test]
    fn each_refusal_has_its_status() {
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\n"), 0);
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"), 400);
        assert_eq!(status("hello\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
        assert_eq!(status("CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n"), 405);
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n"),
            417
        );
        let body = |fields: &str| status(&format!("POST / HTTP/1.1\r\nHost: x\r\n{fields}\r\n"));
        assert_eq!(body("Content-Length: 1048577\r\n"), 413);
        assert_eq!(body("Content-Length: 99999999999999999999999\r\n"), 413);
        assert_eq!(body("Content-Length: 1048576\r\n"), 200);
        assert_eq!(body("Content-Length: 5, 5\r\nContent-Length: 5\r\n"), 200);
        assert_eq!(body("Content-Length: 5\r\nContent-Length: 6\r\n"), 400);
        assert_eq!(body("Content-Length: -1\r\n"), 400);
        assert_eq!(
            body("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
            400
        );
        assert_eq!(body("Transfer-Encoding: chunked, gzip\r\n"), 400);
        assert_eq!(body("Transfer-Encoding: chunked, chunked\r\n"), 400);
        assert_eq!(
            status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        let many: String = (0..129).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n")),
            431
        );
    }

    #[test]
    fn a_head_over_the_limit_is_431_or_414_for_a_long_request_line() {
        let config = HttpConfig {
            max_header: 256,
            ..HttpConfig::default()
        };
        let long_field = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "a".repeat(300));
        let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(300));
        let refused = |text: &str| match read_head(text.as_bytes(), &config) {
            Status::Refused(r) => r.status,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(&long_field), 431);
        assert_eq!(refused(&long_line), 414);
        assert_eq!(refused(&format!("{long_field}\r\n\r\n")), 431);
    }
}
