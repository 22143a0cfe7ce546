//! The WebSocket layer (`reverb-ws`) over the echo, driven by the deterministic harness and
//! tungstenite's client in memory: each message echoed as one message of its type, the
//! close handshake, every protocol error with its code, and the same echo whatever the
//! frame and read boundaries.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use reverb_core::{
    Chunk, CloseReason, Config, Echo, EchoConfig, FaultConfig, Faults, Framing, Input, Instant,
    Layer, PeerError, ProtocolClose, StreamConfig, Timer,
};
use reverb_tests::{client_frame, model, Sim, TlsPeer, WsPeer, UPGRADE_REQUEST};
use reverb_tls::{ServerTls, Tls};
use reverb_ws::{Ws, WsConfig, HANDSHAKE_TIMEOUT};
use tungstenite::Message;

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CONTINUE: u8 = 0;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const KEY: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

fn ws_sim(config: Config, ws: WsConfig) -> Sim<Ws<Echo>> {
    Sim::over(config, |config| {
        Ws::new(&ws, Instant::ZERO, Echo::new(config.clone(), Instant::ZERO))
    })
}

fn line(prefix: &str) -> Config {
    Config {
        echo: EchoConfig {
            prefix: prefix.as_bytes().to_vec(),
            ..EchoConfig::default()
        },
        ..Config::default()
    }
}

/// A sim and a client whose handshake is done.
fn connected(config: Config, ws: WsConfig) -> (Sim<Ws<Echo>>, WsPeer) {
    let mut sim = ws_sim(config, ws);
    let mut client = WsPeer::new("/");
    client.exchange(&mut sim);
    assert!(client.is_open(), "handshake: {client:?}");
    (sim, client)
}

fn text(s: &str) -> (bool, Vec<u8>) {
    (true, s.as_bytes().to_vec())
}

fn websocket_close(reason: CloseReason) -> ProtocolClose {
    match reason {
        CloseReason::Protocol(p) => {
            assert_eq!(p.layer, "websocket");
            p
        }
        other => panic!("not a websocket close: {other:?}"),
    }
}

/// A client that sends `frames` raw after the handshake, then closes its side: the
/// server's close code and the connection's release reason.
fn after_raw(config: Config, ws: WsConfig, frames: &[u8]) -> (WsPeer, CloseReason) {
    let (mut sim, mut client) = connected(config, ws);
    client.send_raw(frames);
    client.exchange(&mut sim);
    assert!(sim.fin, "closed after its close frame: {client:?}");
    sim.close_client();
    let reason = sim.run_to_release();
    (client, reason)
}

#[test]
fn each_message_is_echoed_as_one_message_of_its_type() {
    let (mut sim, mut client) = connected(line("> "), WsConfig::default());
    client.send(Message::text("hello"));
    client.send(Message::binary(vec![0u8, 1, 2, b'\n']));
    client.exchange(&mut sim);
    assert_eq!(
        client.payloads(),
        [text("> hello"), (false, b"> \0\x01\x02\n".to_vec())]
    );
}

#[test]
fn lines_inside_a_message_are_echoed_and_its_end_ends_an_unfinished_line() {
    let (mut sim, mut client) = connected(line("> "), WsConfig::default());
    client.send(Message::text("a\nb\r\nc"));
    client.send(Message::text("abc"));
    client.send(Message::text("def\n"));
    client.exchange(&mut sim);
    assert_eq!(
        client.payloads(),
        [text("> a\n> b\r\n> c"), text("> abc"), text("> def\n")]
    );
}

#[test]
fn an_empty_message_is_answered_with_an_empty_one_and_collect_holds_until_the_quit_word() {
    let (mut sim, mut client) = connected(line("> "), WsConfig::default());
    client.send(Message::binary(Vec::new()));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [(false, Vec::new())]);

    let collect = Config {
        echo: EchoConfig {
            framing: Framing::Collect,
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let (mut sim, mut client) = connected(collect, WsConfig::default());
    client.send(Message::text("one\ntwo"));
    client.send(Message::text("three"));
    client.exchange(&mut sim);
    assert!(client.messages.is_empty(), "nothing before the quit word");
    client.send(Message::binary(b"quit".to_vec()));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [(false, b"one\ntwothreequit".to_vec())]);
    assert_eq!(client.close_code(), Some(1000));
}

#[test]
fn a_ping_is_answered_by_a_pong_with_its_payload_even_between_fragments() {
    let (mut sim, mut client) = connected(line(""), WsConfig::default());
    let mut frames = client_frame(TEXT, false, b"hel", KEY, false);
    frames.extend(client_frame(PING, true, b"are you there", KEY, false));
    frames.extend(client_frame(CONTINUE, false, b"lo\nwor", KEY, false));
    frames.extend(client_frame(CONTINUE, false, b"", KEY, false));
    frames.extend(client_frame(CONTINUE, true, b"ld", KEY, false));
    client.send_raw(&frames);
    client.exchange(&mut sim);
    assert_eq!(client.pongs, [b"are you there".to_vec()]);
    assert_eq!(client.payloads(), [text("hello\nworld")]);
}

#[test]
fn the_clients_close_is_answered_with_its_code_after_the_echo() {
    let (mut sim, mut client) = connected(line(""), WsConfig::default());
    client.send(Message::text("last words"));
    client.close(4000);
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [text("last words")]);
    assert_eq!(client.close_code(), Some(4000));
    assert!(sim.fin, "then the server's FIN");
    sim.close_client();
    let close = websocket_close(sim.run_to_release());
    assert_eq!((close.code, close.text), (4000, "closed by the client"));
    assert!(!close.graceful, "4000 is the client's own reason");

    let (client, reason) = after_raw(
        Config::default(),
        WsConfig::default(),
        &client_frame(CLOSE, true, &1000u16.to_be_bytes(), KEY, false),
    );
    assert_eq!(client.close_code(), Some(1000));
    assert!(reason.is_graceful(), "{reason:?}");
    let (client, reason) = after_raw(
        Config::default(),
        WsConfig::default(),
        &client_frame(CLOSE, true, b"", KEY, false),
    );
    assert_eq!(
        client.close,
        Some(None),
        "an empty close answers an empty close"
    );
    assert_eq!(websocket_close(reason).code, 1005);
}

#[test]
fn the_quit_word_ends_with_the_echo_owed_then_a_close_1000() {
    let (mut sim, mut client) = connected(Config::default(), WsConfig::default());
    client.send(Message::text("a\nquit\nb"));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [text("a\n")]);
    assert_eq!(client.close_code(), Some(1000));
    let frame = client.close.clone().flatten().unwrap();
    assert_eq!(frame.reason.as_str(), "quit word");
    assert!(sim.fin);
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::Quit);
}

#[test]
fn an_over_long_line_gets_its_error_line_then_a_close() {
    let config = Config {
        echo: EchoConfig {
            max_line: 8,
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let (mut sim, mut client) = connected(config, WsConfig::default());
    client.send(Message::text("ok\n0123456789"));
    client.exchange(&mut sim);
    assert_eq!(
        client.payloads(),
        [text("ok\nerror: line exceeds 8 bytes\n")]
    );
    assert_eq!(client.close_code(), Some(1000));
    sim.close_client();
    assert_eq!(
        sim.run_to_release(),
        CloseReason::PeerError(PeerError::LineTooLong { limit: 8 })
    );
}

#[test]
fn the_fault_word_aborts_without_a_close_frame() {
    let config = Config {
        echo: EchoConfig {
            fault_word: Some(b"boom".to_vec()),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let (mut sim, mut client) = connected(config, WsConfig::default());
    client.send(Message::text("boom"));
    client.exchange(&mut sim);
    assert_eq!(client.close, None);
    assert_eq!(
        sim.released,
        Some(CloseReason::PeerError(PeerError::FaultInjected))
    );
}

#[test]
fn a_message_over_max_message_closes_with_1009() {
    let ws = WsConfig {
        max_message: 10,
        ..WsConfig::default()
    };
    // Two frames: the limit is for the whole message.
    let mut frames = client_frame(TEXT, false, b"123456", KEY, false);
    frames.extend(client_frame(CONTINUE, true, b"789ab", KEY, false));
    let (client, reason) = after_raw(Config::default(), ws.clone(), &frames);
    assert!(client.messages.is_empty());
    assert_eq!(client.close_code(), Some(1009));
    assert_eq!(websocket_close(reason).code, 1009);
    // Exactly the limit is fine.
    let (mut sim, mut client) = connected(Config::default(), ws);
    client.send(Message::text("0123456789"));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [text("0123456789")]);
}

#[test]
fn invalid_utf8_in_a_text_message_closes_with_1007_after_the_valid_lines() {
    let (client, reason) = after_raw(
        Config::default(),
        WsConfig::default(),
        &client_frame(TEXT, true, b"fine\nbad \xff\n", KEY, false),
    );
    assert_eq!(client.close_code(), Some(1007));
    assert_eq!(client.payloads(), [text("fine\n")]);
    let close = websocket_close(reason);
    assert_eq!(
        (close.code, close.text),
        (1007, "invalid utf-8 in a text message")
    );
    // A character cut by the message's end can never be completed.
    let (client, _) = after_raw(
        Config::default(),
        WsConfig::default(),
        &client_frame(TEXT, true, &"é".as_bytes()[..1], KEY, false),
    );
    assert_eq!(client.close_code(), Some(1007));
    // The same bytes in a binary message are fine.
    let (mut sim, mut client) = connected(Config::default(), WsConfig::default());
    client.send_raw(&client_frame(BINARY, true, b"bad \xff", KEY, false));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [(false, b"bad \xff".to_vec())]);
}

#[test]
fn protocol_violations_close_with_1002_and_name_what_happened() {
    let cases: [(Vec<u8>, &str); 6] = [
        (
            client_frame(TEXT, true, b"hi", None, false),
            "an unmasked frame from the client",
        ),
        (
            client_frame(TEXT, true, b"hi", KEY, true),
            "reserved bits set (no extension was agreed)",
        ),
        (
            client_frame(3, true, b"hi", KEY, false),
            "a reserved opcode",
        ),
        (
            client_frame(PING, false, b"hi", KEY, false),
            "a fragmented control frame",
        ),
        (
            client_frame(CONTINUE, true, b"hi", KEY, false),
            "a continuation with no message to continue",
        ),
        (
            client_frame(CLOSE, true, &1005u16.to_be_bytes(), KEY, false),
            "a close code that may not be sent",
        ),
    ];
    for (frames, text) in cases {
        let (client, reason) = after_raw(Config::default(), WsConfig::default(), &frames);
        assert_eq!(client.close_code(), Some(1002), "{text}");
        assert_eq!(
            client.close.clone().flatten().unwrap().reason.as_str(),
            text
        );
        let close = websocket_close(reason);
        assert_eq!((close.code, close.text), (1002, text));
    }
    let mut two = client_frame(TEXT, false, b"a", KEY, false);
    two.extend(client_frame(TEXT, true, b"b", KEY, false));
    let (client, _) = after_raw(Config::default(), WsConfig::default(), &two);
    assert_eq!(client.close_code(), Some(1002));
    let long_ping = client_frame(PING, true, &[b'x'; 126], KEY, false);
    let (client, _) = after_raw(Config::default(), WsConfig::default(), &long_ping);
    assert_eq!(client.close_code(), Some(1002));
}

/// Sends `request` raw and returns the HTTP answer and the release reason.
fn refused(request: &[u8], ws: WsConfig) -> (String, CloseReason) {
    let mut sim = ws_sim(Config::default(), ws);
    sim.send(request).run();
    assert!(sim.fin, "closed after the answer");
    sim.close_client();
    let reason = sim.run_to_release();
    (String::from_utf8(sim.echoed.clone()).unwrap(), reason)
}

#[test]
fn a_bad_handshake_is_answered_with_an_http_status_and_closed() {
    let (answer, reason) = refused(
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        WsConfig::default(),
    );
    assert!(
        answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\nnot a websocket upgrade request\n"),
        "{answer}"
    );
    let close = websocket_close(reason);
    assert_eq!(
        (close.code, close.text),
        (426, "not a websocket upgrade request")
    );

    let ws = WsConfig {
        path: Some("/echo".into()),
        ..WsConfig::default()
    };
    let (answer, reason) = refused(UPGRADE_REQUEST, ws.clone());
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
    assert_eq!(websocket_close(reason).code, 404);
    let (answer, _) = refused(b"hello\r\n\r\n", WsConfig::default());
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    let (answer, _) = refused(&[b'x'; 9000], WsConfig::default());
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    // The right path is accepted, with a query.
    let mut sim = ws_sim(Config::default(), ws);
    let mut client = WsPeer::new("/echo?room=1");
    client.exchange(&mut sim);
    assert!(client.is_open(), "{client:?}");
}

#[test]
fn frames_sent_with_the_request_are_read_after_it() {
    let mut sim = ws_sim(line(""), WsConfig::default());
    let mut bytes = UPGRADE_REQUEST.to_vec();
    bytes.extend(client_frame(TEXT, true, b"early", KEY, false));
    sim.send(&bytes).run();
    let answer = String::from_utf8_lossy(&sim.echoed).to_string();
    assert!(
        answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{answer}"
    );
    assert!(sim.echoed.ends_with(b"\x81\x05early"), "{answer}");
}

#[test]
fn a_silent_client_is_cut_at_the_handshake_timeout() {
    let mut sim = ws_sim(Config::default(), WsConfig::default());
    assert_eq!(
        sim.snapshot().deadlines.get(Timer::Handshake),
        Some(Instant::ZERO + HANDSHAKE_TIMEOUT)
    );
    sim.send(b"GET / HTTP/1.1\r\n").run();
    let reason = sim.run_to_release();
    assert_eq!(reason, CloseReason::TimedOut(Timer::Handshake));
    assert_eq!(sim.now, Instant::ZERO + HANDSHAKE_TIMEOUT);
}

#[test]
fn the_stream_timers_end_a_websocket_with_a_close_frame() {
    let idle = Config {
        stream: StreamConfig {
            idle_timeout: Some(Duration::from_secs(5)),
            ..StreamConfig::default()
        },
        ..Config::default()
    };
    let (mut sim, mut client) = connected(idle, WsConfig::default());
    client.send(Message::text("hi"));
    client.exchange(&mut sim);
    sim.advance(Duration::from_secs(5));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [text("hi")]);
    assert_eq!(client.close_code(), Some(1000));
    assert_eq!(
        client.close.clone().flatten().unwrap().reason.as_str(),
        "idle timeout"
    );

    // The frame timer measures a line started inside a message that does not end.
    let slow = Config {
        echo: EchoConfig {
            frame_timeout: Some(Duration::from_secs(2)),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let (mut sim, mut client) = connected(slow, WsConfig::default());
    client.send_raw(&client_frame(TEXT, false, b"done\nstarted", KEY, false));
    client.exchange(&mut sim);
    sim.advance(Duration::from_secs(2));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [text("done\n")]);
    assert_eq!(client.close_code(), Some(1000));
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::TimedOut(Timer::Frame));

    // A shutdown is "going away".
    let (mut sim, mut client) = connected(Config::default(), WsConfig::default());
    sim.input(Input::Shutdown);
    client.exchange(&mut sim);
    assert_eq!(client.close_code(), Some(1001));
}

#[test]
fn raw_mode_wraps_whole_characters_so_a_text_echo_stays_valid_utf8() {
    let raw = Config {
        echo: EchoConfig {
            framing: Framing::Raw,
            prefix: b"[".to_vec(),
            suffix: b"]".to_vec(),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = ws_sim(raw, WsConfig::default()).with_reads(&[1]);
    let mut client = WsPeer::new("/");
    client.exchange(&mut sim);
    // "é€" split byte by byte by the reads, and between two frames mid-character.
    let bytes = "é€".as_bytes();
    let mut frames = client_frame(TEXT, false, &bytes[..3], KEY, false);
    frames.extend(client_frame(CONTINUE, true, &bytes[3..], KEY, false));
    client.send_raw(&frames);
    client.exchange(&mut sim);
    assert_eq!(client.error, None, "the client found the echo valid");
    assert_eq!(client.payloads(), [text("[é][€]")]);
}

#[test]
fn a_large_message_streams_through_as_one_message() {
    let (mut sim, mut client) = connected(line("> "), WsConfig::default());
    let line = "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n";
    let message = line.repeat(5000);
    client.send(Message::text(message.as_str()));
    client.exchange(&mut sim);
    let expected = format!("> {}", line).repeat(5000);
    assert_eq!(client.payloads(), [text(&expected)]);
    assert!(sim.offered.len() > 1, "sent in several frames and writes");
}

#[test]
fn a_client_that_does_not_read_meets_backpressure_not_an_unbounded_buffer() {
    let (mut sim, mut client) = connected(line(""), WsConfig::default());
    sim.client_reading = false;
    let line = "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n";
    for _ in 0..2000 {
        client.send(Message::text(line.repeat(20)));
    }
    client.exchange(&mut sim);
    assert!(
        sim.unread() > 1_000_000,
        "most of 2.3 MB stayed unread below"
    );
    let (input, output) = sim.conn.stack().held();
    assert!(input <= 64 * 1024, "{input}");
    assert!(output <= 256 * 1024, "{output}");
    sim.client_reading = true;
    client.exchange(&mut sim);
    assert_eq!(client.messages.len(), 2000, "then every echo came");
    assert!(client
        .payloads()
        .iter()
        .all(|(_, p)| p.len() == line.len() * 20));
}

#[test]
fn faults_between_the_echo_and_websocket_fragment_and_delay_the_replies() {
    let config = Config {
        faults: FaultConfig {
            chunk: Some(Chunk { min: 1, max: 3 }),
            delay: Some(Duration::from_millis(200)),
            seed: 7,
            ..FaultConfig::default()
        },
        ..line("> ")
    };
    let mut sim = Sim::over(config, |config| {
        let echo = Echo::new(config.clone(), Instant::ZERO);
        let faults = Faults::new(&config.faults, 1, Instant::ZERO, echo);
        Ws::new(&WsConfig::default(), Instant::ZERO, faults)
    });
    let mut client = WsPeer::new("/");
    client.exchange(&mut sim);
    client.send(Message::text("one\ntwo"));
    client.send(Message::binary(b"three".to_vec()));
    client.exchange(&mut sim);
    assert!(client.messages.is_empty(), "held for the delay");
    sim.advance(Duration::from_millis(200));
    client.exchange(&mut sim);
    assert_eq!(
        client.payloads(),
        [text("> one\n> two"), (false, b"> three".to_vec())],
        "whole messages, each reassembled from frames of 1-3 bytes"
    );
    // Count the frames after the handshake's answer: each chunk became one.
    let start = client
        .raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let (mut rest, mut sizes) = (&client.raw[start..], Vec::new());
    while rest.len() >= 2 {
        let len = usize::from(rest[1] & 0x7f);
        sizes.push(len);
        rest = &rest[2 + len..];
    }
    assert!(sizes.len() >= 18 / 3, "{sizes:?}");
    assert!(
        sizes.iter().all(|&n| n <= 3),
        "frames of 1-3 bytes: {sizes:?}"
    );
}

#[test]
fn a_quiet_connection_gives_back_what_a_burst_made_it_grow() {
    let (mut sim, mut client) = connected(line(""), WsConfig::default());
    let idle = sim.conn.allocated();
    client.send(Message::text("x\n".repeat(50_000)));
    client.exchange(&mut sim);
    assert_eq!(client.messages.len(), 1);
    assert!(
        sim.conn.allocated() > idle + 16 * 1024,
        "grown by the burst"
    );
    sim.advance(Duration::from_secs(1));
    assert!(
        sim.conn.allocated() <= idle.max(4096) + 3 * 4096,
        "{} bytes held after a quiet second (idle: {idle})",
        sim.conn.allocated()
    );
    assert!(sim
        .events
        .iter()
        .any(|e| matches!(e, reverb_core::Event::BuffersReleased { .. })));
}

#[test]
fn a_fault_layers_close_after_ends_the_reply_where_it_cut_it_then_closes() {
    let config = Config {
        faults: FaultConfig {
            close_after: Some(5),
            ..FaultConfig::default()
        },
        ..line("")
    };
    let mut sim = Sim::over(config, |config| {
        let echo = Echo::new(config.clone(), Instant::ZERO);
        let faults = Faults::new(&config.faults, 1, Instant::ZERO, echo);
        Ws::new(&WsConfig::default(), Instant::ZERO, faults)
    });
    let mut client = WsPeer::new("/");
    client.exchange(&mut sim);
    client.send(Message::text("hello world"));
    client.exchange(&mut sim);
    assert_eq!(client.payloads(), [text("hello")]);
    assert_eq!(client.close_code(), Some(1000));
    assert!(sim.fin, "not stuck: closed");
}

/// One certificate for the TLS tests: generating a key pair costs milliseconds.
fn server_tls() -> &'static ServerTls {
    static TLS: OnceLock<ServerTls> = OnceLock::new();
    TLS.get_or_init(|| ServerTls::self_signed(&["localhost".into()]).unwrap())
}

#[test]
fn inside_tls_it_is_the_same_echo() {
    let mut sim = Sim::over(line("> "), |config| {
        Tls::new(
            server_tls(),
            Instant::ZERO,
            Ws::new(
                &WsConfig::default(),
                Instant::ZERO,
                Echo::new(config.clone(), Instant::ZERO),
            ),
        )
    })
    .with_reads(&[7, 300])
    .with_writes(&[5, 1000]);
    let mut tls = TlsPeer::new(server_tls());
    let mut client = WsPeer::new("/");
    client.exchange_tls(&mut tls, &mut sim);
    assert!(client.is_open(), "{client:?}");
    client.send(Message::text("secure\nline"));
    client.send(Message::binary(vec![9u8; 3]));
    client.close(1000);
    client.exchange_tls(&mut tls, &mut sim);
    assert_eq!(
        client.payloads(),
        [
            text("> secure\n> line"),
            (false, b"> \x09\x09\x09".to_vec())
        ]
    );
    assert_eq!(client.close_code(), Some(1000));
    assert!(tls.closed, "then the TLS close_notify");
}

/// A message as the client sends it: text or binary, and its payload.
fn messages() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    let text = proptest::collection::vec(
        prop_oneof![
            6 => "[a-e]",
            1 => Just("\n".to_owned()),
            1 => Just("\r\n".to_owned()),
            1 => Just("é".to_owned()),
            1 => Just("€".to_owned()),
            1 => Just("😀".to_owned()),
        ],
        0..200,
    )
    .prop_map(|pieces| (true, pieces.concat().into_bytes()));
    let binary = proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| (false, b));
    proptest::collection::vec(prop_oneof![3 => text, 1 => binary], 1..8)
}

/// The frames of `messages`, each payload cut where `cuts` say (fractions of its length),
/// with a ping between some frames.
fn frames(messages: &[(bool, Vec<u8>)], cuts: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cut = cuts.iter().cycle();
    for (i, (is_text, payload)) in messages.iter().enumerate() {
        let mut points: Vec<usize> = (0..(i % 3))
            .map(|_| *cut.next().unwrap() as usize * payload.len() / u16::MAX as usize)
            .collect();
        points.sort_unstable();
        points.push(payload.len());
        let mut start = 0;
        for (k, &end) in points.iter().enumerate() {
            let opcode = match (k, is_text) {
                (0, true) => TEXT,
                (0, false) => BINARY,
                _ => CONTINUE,
            };
            let key = [i as u8, k as u8, 0x5a, 0xa5];
            let fin = k + 1 == points.len();
            out.extend(client_frame(
                opcode,
                fin,
                &payload[start..end],
                Some(key),
                false,
            ));
            if k == 0 && i % 2 == 1 {
                out.extend(client_frame(PING, true, b"p", Some(key), false));
            }
            start = end;
        }
    }
    out
}

/// What each message's echo must be: the model's echo of its payload as a whole stream
/// (an unfinished line ends with the message), and an empty message for an empty one.
fn expected(config: &Config, messages: &[(bool, Vec<u8>)]) -> Vec<(bool, Vec<u8>)> {
    messages
        .iter()
        .filter_map(|(is_text, payload)| {
            let (echo, _) = model::echo(config, payload);
            (payload.is_empty() || !echo.is_empty()).then_some((*is_text, echo))
        })
        .collect()
}

/// Bytes that are sometimes valid frames and sometimes not.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (
            0u8..16,
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..130)
        )
            .prop_map(|(opcode, fin, payload)| client_frame(opcode, fin, &payload, KEY, false)),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever a client sends, before or after the handshake, the server never panics,
    /// keeps its bounds (the harness checks them after every input) and ends the
    /// connection once the client is done.
    #[test]
    fn any_bytes_end_in_an_echo_or_a_close_never_a_panic(
        handshake in any::<bool>(),
        bytes in hostile(),
        reads in proptest::collection::vec(1usize..64, 1..4),
    ) {
        let mut sim = ws_sim(line("> "), WsConfig { max_message: 200, ..WsConfig::default() })
            .with_reads(&reads);
        if handshake {
            sim.send(UPGRADE_REQUEST);
        }
        sim.send(&bytes).close_client();
        let reason = sim.run_to_release();
        prop_assert!(sim.fin || !reason.is_graceful(), "{reason:?}");
    }

    /// Frames split at any byte, both ways, messages cut into any frames, the echo paused
    /// by backpressure anywhere: every message's echo is the model's, as one message of
    /// its type.
    #[test]
    fn any_fragmentation_of_the_websocket_stream_gives_the_same_echo(
        messages in messages(),
        cuts in proptest::collection::vec(any::<u16>(), 1..6),
        reads in proptest::collection::vec(1usize..200, 1..4),
        writes in proptest::collection::vec(1usize..200, 1..4),
        raw in any::<bool>(),
        high_watermark in prop_oneof![Just(64 * 1024), 2usize..300],
    ) {
        let config = Config {
            echo: EchoConfig {
                framing: if raw { Framing::Raw } else { Framing::Line },
                prefix: if raw { Vec::new() } else { b"> ".to_vec() },
                suffix: if raw { Vec::new() } else { "«".as_bytes().to_vec() },
                quit_word: None,
                // Small watermarks pause the echo inside messages and at their ends.
                high_watermark,
                low_watermark: high_watermark / 2,
                ..EchoConfig::default()
            },
            ..Config::default()
        };
        let mut sim = ws_sim(config.clone(), WsConfig::default())
            .with_reads(&reads)
            .with_writes(&writes);
        let mut client = WsPeer::new("/");
        client.exchange(&mut sim);
        prop_assert!(client.is_open());
        client.send_raw(&frames(&messages, &cuts));
        client.close(1000);
        client.exchange(&mut sim);
        prop_assert_eq!(&client.error, &None);
        prop_assert_eq!(client.payloads(), expected(&config, &messages));
        prop_assert_eq!(client.close_code(), Some(1000));
        prop_assert!(sim.fin);
    }
}
