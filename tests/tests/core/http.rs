//! The HTTP echo (`reverb-http`), driven by the deterministic harness: every request
//! answered with itself, in order, whatever the read boundaries; the limits and their
//! statuses; keep-alive, chunked bodies, `100 Continue`, `HEAD`; the request timer;
//! backpressure; and the same inside TLS.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use reverb_core::{CloseReason, Config, EchoConfig, Instant, Layer, StreamConfig, Timer};
use reverb_http::{Format, Http, HttpConfig, Peer};
use reverb_tests::http::{responses, responses_with, Response};
use reverb_tests::{Sim, TlsPeer};
use reverb_tls::{ServerTls, Tls};

fn http_sim(http: HttpConfig, config: Config) -> Sim<Http> {
    Sim::over(config, |config| {
        Http::new(&http, config, Instant::ZERO, Peer::default())
    })
}

fn raw() -> Sim<Http> {
    http_sim(HttpConfig::default(), Config::default())
}

fn json() -> Sim<Http> {
    let http = HttpConfig {
        format: Format::Json,
        ..HttpConfig::default()
    };
    http_sim(http, Config::default())
}

const GET: &[u8] = b"GET /a?b=1 HTTP/1.1\r\nHost: example\r\nX-Case: MiXeD\r\n\r\n";
const POST: &[u8] = b"POST /up HTTP/1.1\r\nHost: example\r\nContent-Length: 11\r\n\r\nhello world";
const CHUNKED: &[u8] = b"PUT /c HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n\
    4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n";
const CONTINUE: &[u8] = b"POST /e HTTP/1.1\r\nHost: example\r\nExpect: 100-continue\r\n\
    Content-Length: 3\r\n\r\nabc";
const HEAD: &[u8] = b"HEAD /h HTTP/1.1\r\nHost: example\r\n\r\n";

fn reason(sim: &mut Sim<Http>) -> CloseReason {
    sim.run_to_release()
}

fn http_close(reason: CloseReason) -> (u16, &'static str) {
    match reason {
        CloseReason::Protocol(p) if p.layer == "http" => (p.code, p.text),
        other => panic!("not an http close: {other:?}"),
    }
}

#[test]
fn every_request_is_answered_200_with_its_own_bytes_in_order() {
    let mut sim = raw();
    sim.send(GET).send(POST).send(CHUNKED).run();
    let answers = responses(&sim.echoed);
    let bodies: Vec<&[u8]> = answers.iter().map(|r| &r.body[..]).collect();
    assert_eq!(bodies, [GET, POST, CHUNKED]);
    for answer in &answers {
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), Some("message/http"));
        assert_eq!(answer.header("connection"), None, "kept alive");
    }
    assert!(!sim.fin, "keep-alive: the connection stays open");
    assert_eq!(sim.conn.counters().frames, 3, "a request is a frame");
}

#[test]
fn the_json_answer_describes_the_request_with_its_body_decoded() {
    let mut sim = json();
    sim.send(CHUNKED).send(POST).run();
    let answers = responses(&sim.echoed);
    assert_eq!(answers[0].header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&answers[0].body).unwrap();
    assert_eq!(doc["method"], "PUT");
    assert_eq!(doc["path"], "/c");
    assert_eq!(doc["body"], "wikipedia");
    assert_eq!(doc["chunked"], true);
    assert_eq!(doc["trailers"], serde_json::json!([["X-Trailer", "t"]]));
    assert_eq!(
        doc["headers"][1],
        serde_json::json!(["Transfer-Encoding", "chunked"])
    );
    let doc: serde_json::Value = serde_json::from_slice(&answers[1].body).unwrap();
    assert_eq!(
        (doc["body"].clone(), doc["body_length"].clone()),
        ("hello world".into(), 11.into())
    );
}

#[test]
fn a_head_request_gets_the_headers_of_a_get_and_no_body() {
    let mut sim = raw();
    sim.send(HEAD).send(GET).run();
    let (answers, used) = responses_with(&sim.echoed, &[0]);
    assert_eq!(used, sim.echoed.len(), "nothing but two answers");
    assert_eq!(
        answers[0].header("content-length"),
        Some(&*HEAD.len().to_string())
    );
    assert!(answers[0].body.is_empty());
    assert_eq!(answers[1].body, GET);
}

#[test]
fn expect_100_continue_is_answered_as_soon_as_the_head_is_read() {
    let mut sim = raw();
    let head_len = CONTINUE.len() - 3;
    sim.send(&CONTINUE[..head_len]).run();
    assert_eq!(sim.echoed, b"HTTP/1.1 100 Continue\r\n\r\n");
    sim.send(&CONTINUE[head_len..]).run();
    let answers = responses(&sim.echoed);
    assert_eq!(
        answers.iter().map(|r| r.status).collect::<Vec<_>>(),
        [100, 200]
    );
    assert_eq!(answers[1].body, CONTINUE);
}

#[test]
fn connection_close_and_http_1_0_end_the_connection_after_their_answer() {
    let mut sim = raw();
    sim.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n");
    let why = reason(&mut sim);
    let answers = responses(&sim.echoed);
    assert_eq!(answers.len(), 1, "nothing after the close is answered");
    assert_eq!(answers[0].header("connection"), Some("close"));
    assert_eq!(http_close(why), (200, "the client asked to close"));
    assert!(why.is_graceful());

    let mut sim = raw();
    sim.send(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(http_close(reason(&mut sim)).0, 200);
    let mut sim = raw();
    sim.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .run();
    assert_eq!(
        responses(&sim.echoed)[0].header("connection"),
        Some("keep-alive")
    );
    assert!(!sim.fin);
}

#[test]
fn max_frames_counts_requests_and_the_last_answer_says_close() {
    let config = Config {
        echo: EchoConfig {
            max_frames: Some(2),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = http_sim(HttpConfig::default(), config);
    sim.send(GET).send(GET).send(GET);
    assert_eq!(reason(&mut sim), CloseReason::FrameLimit);
    let answers = responses(&sim.echoed);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1].header("connection"), Some("close"));
}

/// The status a request gets, the connection's close, and whether the FIN came.
fn refused(request: &[u8], http: HttpConfig) -> (Response, CloseReason) {
    let mut sim = http_sim(http, Config::default());
    sim.send(request);
    let why = reason(&mut sim);
    assert!(sim.fin, "an error answer ends with a FIN, not a reset");
    let answers = responses(&sim.echoed);
    assert_eq!(answers.len(), 1, "{:?}", sim.echoed_str());
    assert_eq!(answers[0].header("connection"), Some("close"));
    (answers[0].clone(), why)
}

#[test]
fn limits_and_malformed_requests_get_their_status_and_a_close() {
    let small = HttpConfig {
        max_header: 1024,
        max_body: 100,
        ..HttpConfig::default()
    };
    let long_head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(1100)
    );
    let (answer, why) = refused(long_head.as_bytes(), small);
    assert_eq!(answer.status, 431);
    assert_eq!(
        http_close(why),
        (431, "request header fields over the size limit")
    );
    let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(1100));
    assert_eq!(refused(long_line.as_bytes(), small).0.status, 414);
    let big = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n";
    let (answer, _) = refused(big, small);
    assert_eq!(
        (answer.status, answer.text()),
        (413, "a body over the size limit\n")
    );
    let big_chunks = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n";
    assert_eq!(refused(big_chunks, small).0.status, 413);
    for bad in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"hello\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
    ] {
        let (answer, why) = refused(bad, HttpConfig::default());
        assert_eq!(answer.status, 400, "{}", String::from_utf8_lossy(bad));
        assert!(!why.is_graceful());
    }
    assert_eq!(
        refused(b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", HttpConfig::default())
            .0
            .status,
        505
    );
}

#[test]
fn whole_requests_before_a_bad_one_are_answered_first() {
    let mut sim = raw();
    sim.send(GET).send(b"BROKEN\r\n\r\n").send(GET);
    reason(&mut sim);
    let statuses: Vec<u16> = responses(&sim.echoed).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 400]);
}

#[test]
fn a_half_close_after_pipelined_requests_answers_them_all_then_closes() {
    let mut sim = raw();
    sim.send(GET)
        .send(POST)
        .send(b"GET /unfinished HTTP/1.1\r\n")
        .close_client();
    assert_eq!(reason(&mut sim), CloseReason::PeerClosed);
    assert_eq!(responses(&sim.echoed).len(), 2);
    assert!(sim.fin);
}

#[test]
fn the_frame_timeout_is_the_request_timeout_answered_408() {
    let config = Config {
        echo: EchoConfig {
            frame_timeout: Some(Duration::from_secs(5)),
            ..EchoConfig::default()
        },
        stream: StreamConfig {
            linger: None,
            ..StreamConfig::default()
        },
        ..Config::default()
    };
    let mut sim = http_sim(HttpConfig::default(), config);
    sim.send(GET).run();
    sim.advance(Duration::from_secs(60));
    assert!(
        sim.released.is_none(),
        "an idle keep-alive connection is no slow request"
    );
    sim.send(b"GET / HTTP/1.1\r\nHo").run();
    sim.advance(Duration::from_secs(4));
    sim.send(b"st: x\r\n").run();
    assert!(sim.released.is_none());
    assert_eq!(reason(&mut sim), CloseReason::TimedOut(Timer::Frame));
    assert_eq!(
        sim.now,
        Instant::ZERO + Duration::from_secs(65),
        "5 s after its first byte"
    );
    let answers = responses(&sim.echoed);
    assert_eq!(answers.last().unwrap().status, 408);
}

#[test]
fn a_client_that_does_not_read_stops_the_server_reading_and_buffers_stay_bounded() {
    let mut sim = raw();
    sim.client_reading = false;
    let pipeline: Vec<u8> = POST.repeat(20_000);
    sim.send(&pipeline).run();
    assert_eq!(sim.conn.receive_capacity(), 0, "paused");
    assert!(sim.unread() > 0, "the rest waits in the kernel");
    let held = sim.conn.stack().transmit().len();
    assert!(held < 64 * 1024 + 1024, "answers held: {held}");
    sim.client_reading = true;
    sim.run();
    assert_eq!(sim.unread(), 0);
    let answers = responses(&sim.echoed);
    assert_eq!(answers.len(), 20_000);
    assert!(answers.iter().all(|a| a.body == POST));
}

fn server_tls() -> &'static ServerTls {
    static TLS: OnceLock<ServerTls> = OnceLock::new();
    TLS.get_or_init(|| ServerTls::self_signed(&["localhost".into()]).unwrap())
}

#[test]
fn inside_tls_the_answers_are_the_same() {
    let mut sim = Sim::over(Config::default(), |config| {
        let http = Http::new(
            &HttpConfig::default(),
            config,
            Instant::ZERO,
            Peer::default(),
        );
        Tls::new(server_tls(), Instant::ZERO, http)
    });
    let mut client = TlsPeer::new(server_tls());
    client.write(GET);
    client.write(CHUNKED);
    client.exchange(&mut sim);
    let bodies: Vec<Vec<u8>> = responses(&client.received)
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies, [GET.to_vec(), CHUNKED.to_vec()]);
}

/// The answers to a pipeline read whole, as the reference.
fn whole(pipeline: &[u8], format: Format) -> Vec<u8> {
    let http = HttpConfig {
        format,
        ..HttpConfig::default()
    };
    let mut sim = http_sim(http, Config::default());
    sim.send(pipeline).close_client().run_to_release();
    sim.echoed
}

#[test]
fn a_pipeline_read_a_byte_at_a_time_gets_the_same_answers() {
    let pipeline = [GET, POST, CHUNKED, CONTINUE, HEAD, GET].concat();
    for format in [Format::Raw, Format::Json] {
        let http = HttpConfig {
            format,
            ..HttpConfig::default()
        };
        let mut sim = http_sim(http, Config::default()).with_reads(&[1]);
        sim.send(&pipeline).close_client().run_to_release();
        assert_eq!(sim.echoed, whole(&pipeline, format));
    }
}

proptest! {
    /// Any split of a pipeline of requests into reads, and of the answers into writes,
    /// gives the same answers.
    #[test]
    fn any_split_of_a_pipeline_into_reads_gives_the_same_answers(
        picks in prop::collection::vec(0usize..5, 1..8),
        reads in prop::collection::vec(1usize..200, 1..12),
        writes in prop::collection::vec(1usize..300, 1..6),
        json_format in any::<bool>(),
    ) {
        let requests = [GET, POST, CHUNKED, CONTINUE, HEAD];
        let pipeline: Vec<u8> = picks.iter().flat_map(|&i| requests[i].to_vec()).collect();
        let format = if json_format { Format::Json } else { Format::Raw };
        let http = HttpConfig { format, ..HttpConfig::default() };
        let mut sim = http_sim(http, Config::default()).with_reads(&reads).with_writes(&writes);
        sim.send(&pipeline).close_client().run_to_release();
        prop_assert_eq!(sim.echoed, whole(&pipeline, format));
    }
}
