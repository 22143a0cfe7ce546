//! The HTTP client side of `reverb bench` over `http://` and `https://`: each load message
//! is the body of one `POST`, pipelined as the load's messages are, on one kept-alive
//! connection. reverb's HTTP echo (`--http-format raw`) answers each request `200` with
//! the request as it came: so an answer's body must be this client's request head, checked
//! here byte for byte, then the message, handed to `LoadConn` to check as every echo is.
//! Sans-IO like the other layers: bytes in and out, no socket.

/// The longest answer head taken: reverb's is under 100 bytes.
const MAX_ANSWER_HEAD: usize = 16 * 1024;

/// The end of a head.
const BLANK_LINE: &[u8; 4] = b"\r\n\r\n";

/// One connection's HTTP client.
#[derive(Debug)]
pub(crate) struct HttpClient {
    /// The request head, the same for every message.
    request: Vec<u8>,
    /// Requests not yet written.
    out: Vec<u8>,
    out_head: usize,
    /// Bytes per message: every request's body.
    size: usize,
    /// Where the answer under way is.
    answer: Answer,
    /// An answer head cut across reads, until its blank line.
    head: Vec<u8>,
    /// Bytes of the blank line seen at the end of `head`.
    blank: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Reading the head.
    Head,
    /// Reading the body's copy of our request head: this many bytes to go.
    Request(usize),
    /// Reading the body's copy of the message: this many bytes to go.
    Message(usize),
}

impl HttpClient {
    /// A client that posts each message of `size` bytes to `path` on `host_port`.
    pub(crate) fn new(host_port: &str, path: &str, size: usize) -> Self {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
        )
        .into_bytes();
        HttpClient {
            request,
            out: Vec::new(),
            out_head: 0,
            size,
            answer: Answer::Head,
            head: Vec::new(),
            blank: 0,
        }
    }

    /// Queues one request with `message` as its body.
    pub(crate) fn send(&mut self, message: &[u8]) {
        debug_assert_eq!(message.len(), self.size, "one message per request");
        if self.out_head == self.out.len() {
            self.out.clear();
            self.out_head = 0;
        }
        self.out.extend_from_slice(&self.request);
        self.out.extend_from_slice(message);
    }

    /// Bytes to write.
    pub(crate) fn transmit(&self) -> &[u8] {
        &self.out[self.out_head..]
    }

    /// `n` bytes of [`transmit`](Self::transmit) were written.
    pub(crate) fn transmitted(&mut self, n: usize) {
        self.out_head += n;
    }

    /// Reads answers from `input`, consuming it, until a stretch of message bytes (the
    /// echo, for `LoadConn` to check) or the end of the input (`None`). An answer that is
    /// not this client's request sent back whole is an error, in words.
    pub(crate) fn receive<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<&'a [u8]>, String> {
        loop {
            if input.is_empty() {
                return Ok(None);
            }
            match self.answer {
                Answer::Head => self.read_head(input)?,
                Answer::Request(left) => {
                    let n = left.min(input.len());
                    let at = self.request.len() - left;
                    if input[..n] != self.request[at..at + n] {
                        return Err(format!(
                            "http: the answer's body is not the request sent (byte {} of its head differs)",
                            at + first_difference(&input[..n], &self.request[at..at + n])
                        ));
                    }
                    *input = &input[n..];
                    self.answer = match left - n {
                        0 => Answer::Message(self.size),
                        rest => Answer::Request(rest),
                    };
                }
                Answer::Message(left) => {
                    let n = left.min(input.len());
                    let (data, rest) = input.split_at(n);
                    *input = rest;
                    self.answer = match left - n {
                        0 => Answer::Head,
                        rest => Answer::Message(rest),
                    };
                    return Ok(Some(data));
                }
            }
        }
    }

    /// Takes head bytes from `input` up to the blank line, then checks the head.
    fn read_head(&mut self, input: &mut &[u8]) -> Result<(), String> {
        let mut end = None;
        for (i, &b) in input.iter().enumerate() {
            self.blank = if b == BLANK_LINE[self.blank] {
                self.blank + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            if self.blank == BLANK_LINE.len() {
                end = Some(i + 1);
                break;
            }
        }
        let take = end.unwrap_or(input.len());
        self.head.extend_from_slice(&input[..take]);
        *input = &input[take..];
        if self.head.len() > MAX_ANSWER_HEAD {
            return Err(format!("http: an answer head over {MAX_ANSWER_HEAD} bytes"));
        }
        if end.is_none() {
            return Ok(());
        }
        self.blank = 0;
        let length = self.check_head()?;
        self.head.clear();
        let expected = self.request.len() + self.size;
        if length != expected {
            return Err(format!(
                "http: an answer of {length} bytes to a request of {expected} (is the listener's format raw?)"
            ));
        }
        self.answer = Answer::Request(self.request.len());
        Ok(())
    }

    /// The whole answer head: `200`, with its body's `Content-Length`.
    fn check_head(&self) -> Result<usize, String> {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut answer = httparse::Response::new(&mut fields);
        match answer.parse(&self.head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => unreachable!("the head ends in its blank line"),
            Err(e) => return Err(format!("http: an answer head that does not parse: {e}")),
        }
        if answer.code != Some(200) {
            return Err(format!(
                "http: answered {} {}",
                answer.code.unwrap_or(0),
                answer.reason.unwrap_or("")
            ));
        }
        let length = answer
            .headers
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("content-length"))
            .and_then(|f| std::str::from_utf8(f.value).ok()?.trim().parse().ok());
        length.ok_or_else(|| "http: an answer without a Content-Length".to_owned())
    }
}

/// Where two slices of the same length first differ.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// reverb's raw answer to `request`.
    fn answer(request: &[u8]) -> Vec<u8> {
        let mut a = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: {}\r\n\r\n",
            request.len()
        )
        .into_bytes();
        a.extend_from_slice(request);
        a
    }

    /// Everything `input` yields, read in pieces of `cut` bytes.
    fn messages(client: &mut HttpClient, input: &[u8], cut: usize) -> Result<Vec<u8>, String> {
        let mut got = Vec::new();
        for mut piece in input.chunks(cut) {
            while let Some(data) = client.receive(&mut piece)? {
                got.extend_from_slice(data);
            }
        }
        Ok(got)
    }

    #[test]
    fn pipelined_answers_cut_anywhere_yield_exactly_the_messages() {
        for cut in [1, 2, 3, 5, 64, 1000] {
            let mut client = HttpClient::new("127.0.0.1:80", "/", 8);
            client.send(b"abcdefgh");
            client.send(b"ijklmnop");
            let sent = client.transmit().to_vec();
            client.transmitted(sent.len());
            let (first, second) = sent.split_at(sent.len() / 2);
            let mut wire = answer(first);
            wire.extend(answer(second));
            let got = messages(&mut client, &wire, cut).unwrap();
            assert_eq!(got, b"abcdefghijklmnop", "cut {cut}");
        }
    }

    #[test]
    fn an_error_status_or_a_json_answer_is_named() {
        let mut client = HttpClient::new("h:1", "/", 4);
        client.send(b"abcd");
        let wire = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n";
        let e = messages(&mut client, wire, 7).unwrap_err();
        assert_eq!(e, "http: answered 413 Content Too Large");
        let mut client = HttpClient::new("h:1", "/", 4);
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n{";
        let e = messages(&mut client, wire, 100).unwrap_err();
        assert!(e.contains("is the listener's format raw?"), "{e}");
    }

    #[test]
    fn a_body_that_is_not_the_request_is_caught_in_its_head() {
        let mut client = HttpClient::new("h:1", "/", 4);
        client.send(b"abcd");
        let mut sent = client.transmit().to_vec();
        sent[0] = b'G';
        let e = messages(&mut client, &answer(&sent), 9).unwrap_err();
        assert!(e.contains("byte 0 of its head differs"), "{e}");
    }
}
