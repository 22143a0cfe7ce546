//! HTTP answers read back from the bytes a server sent: for tests of the HTTP echo,
//! in memory or over a socket.

/// One HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Its status code.
    pub status: u16,
    /// Its header fields, in order.
    pub headers: Vec<(String, String)>,
    /// Its body (`Content-Length` bytes; none for an interim `1xx`).
    pub body: Vec<u8>,
}

impl Response {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    ///
    /// # Panics
    /// If it is not UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a text body")
    }
}

/// Every whole response at the start of `bytes`, in order, and how many bytes they took.
/// Answers to `HEAD` requests have no body: `head_requests` says which responses (by
/// index, interim ones not counted) answer one.
///
/// # Panics
/// If the bytes are not HTTP responses.
pub fn responses_with(bytes: &[u8], head_requests: &[usize]) -> (Vec<Response>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    let mut finals = 0;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut fields);
        let len = match response.parse(&bytes[at..]).expect("an HTTP response") {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => return (out, at),
        };
        let status = response.code.expect("a status");
        let headers: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let interim = (100..200).contains(&status);
        let length = if interim || head_requests.contains(&finals) {
            0
        } else {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse::<usize>().expect("a length"))
        };
        if bytes.len() < at + len + length {
            return (out, at);
        }
        let body = bytes[at + len..at + len + length].to_vec();
        at += len + length;
        if !interim {
            finals += 1;
        }
        out.push(Response {
            status,
            headers,
            body,
        });
    }
}

/// Every whole response at the start of `bytes` (none answering a `HEAD`).
///
/// # Panics
/// If the bytes are not HTTP responses.
pub fn responses(bytes: &[u8]) -> Vec<Response> {
    responses_with(bytes, &[]).0
}
