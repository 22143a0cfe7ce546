//! `ws://` and `wss://` listeners, tried with clients no one here wrote — Python's
//! `websockets` package and headless Chromium's `new WebSocket()` — and with raw bytes
//! for the bad inputs a real client would never send. A missing client is skipped with a
//! message.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::chromium::in_chromium;
use crate::support::{output_within, run, Client, Server, LIMIT};

/// A file name for this test's certificate, unique to the process and the test.
fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("reverb-e2e-ws-{}-{name}", std::process::id()))
}

/// Whether Python and its `websockets` package are here (`scripts/test-all.sh` installs
/// the package).
fn have_websockets() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import websockets.sync.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: python3 with the websockets package is not installed");
    }
    found
}

/// Python's `websockets` (its synchronous client) against `url`: a text message with
/// lines, a binary one, an empty one, a ping, a large message, then a close with 4000.
/// Prints one JSON document of what came back.
fn python_websockets(url: &str, cafile: Option<&Path>) -> serde_json::Value {
    let script = r#"
import json, ssl, sys
from websockets.sync.client import connect
url = sys.argv[1]
ctx = ssl.create_default_context(cafile=sys.argv[2]) if len(sys.argv) > 2 else None
out = {}
with connect(url, ssl=ctx, open_timeout=10, close_timeout=10, max_size=None) as ws:
    ws.send("hello\nwörld")
    out["text"] = ws.recv(timeout=10)
    ws.send(b"\x00\x01\xffbin")
    out["binary"] = list(ws.recv(timeout=10))
    ws.send("")
    out["empty"] = ws.recv(timeout=10)
    out["pong"] = ws.ping(b"are you there").wait(10)
    ws.send("0123456789abcdef0123456789abcdef0123456789abcdef012345678\n" * 8000)
    out["large"] = len(ws.recv(timeout=10))
    ws.close(4000, "done")
    out["close"] = [ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason]
print(json.dumps(out))
"#;
    let mut command = Command::new("python3");
    command.args(["-c", script, url]);
    if let Some(cafile) = cafile {
        command.arg(cafile);
    }
    let out = output_within(command, LIMIT);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn assert_python_echo(got: &serde_json::Value) {
    assert_eq!(got["text"], "> hello\n> wörld");
    assert_eq!(
        got["binary"],
        serde_json::json!([b'>', b' ', 0, 1, 255, b'b', b'i', b'n'])
    );
    assert_eq!(
        got["empty"], "",
        "an empty message is answered with an empty one"
    );
    assert_eq!(got["pong"], true, "the ping was answered");
    assert_eq!(
        got["large"],
        8000 * 60,
        "every line of a 464 KB message, with its prefix"
    );
    assert_eq!(
        got["close"],
        serde_json::json!([4000, ""]),
        "its close code echoed"
    );
}

#[test]
fn pythons_websockets_gets_every_message_echoed_and_its_close_answered() {
    if !have_websockets() {
        return;
    }
    let server = Server::start(&["-l", "ws://127.0.0.1:0", "--prefix", "> "]);
    let url = format!("ws://{}/any/path?x=1", server.ws[0]);
    assert_python_echo(&python_websockets(&url, None));
    let line = server.await_log(&[
        "connection closed",
        "reason=websocket: closed by the client",
    ]);
    assert!(line.contains("(4000)"), "{line}");
}

#[test]
fn pythons_websockets_over_wss_trusts_the_written_certificate() {
    if !have_websockets() {
        return;
    }
    let cert = temp_file("python.pem");
    let server = Server::start(&[
        "-l",
        "wss://127.0.0.1:0/echo",
        "--tls-write-cert",
        cert.to_str().unwrap(),
        "--prefix",
        "> ",
    ]);
    let listening = server.await_stdout("listening on wss://");
    assert!(listening.contains("websocket on /echo"), "{listening}");
    server.await_stdout("reverb: tls certificate");
    let url = format!("wss://{}/echo", server.wss[0]);
    assert_python_echo(&python_websockets(&url, Some(&cert)));
    let _ = std::fs::remove_file(cert);
}

/// Headless Chromium's own `WebSocket`: the page sends a text and a binary message to
/// each URL, then closes with 4000, and reports what came back.
fn chromium_websocket(urls: &[String]) -> Option<serde_json::Value> {
    let page_fn = r#"async (urls) => {
  const results = [];
  for (const url of urls) {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const events = [];
    let wake = () => {};
    ws.onmessage = (e) => { events.push(e.data); wake(); };
    const next = () => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5000);
      wake = () => { clearTimeout(timer); resolve(events.shift()); };
      if (events.length) wake();
    });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('could not connect to ' + url));
    });
    ws.send('from a browser\nline two');
    const text = await next();
    ws.send(new Uint8Array([0, 1, 2, 255]));
    const binary = Array.from(new Uint8Array(await next()));
    const closed = new Promise((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean });
    });
    ws.close(4000, 'bye');
    results.push({ text, binary, close: await closed });
  }
  return results;
}"#;
    in_chromium(None, page_fn, &serde_json::json!(urls))
}

#[test]
fn chromiums_websocket_gets_its_messages_echoed_over_ws_and_wss() {
    let server = Server::start(&[
        "-l",
        "ws://127.0.0.1:0",
        "-l",
        "wss://127.0.0.1:0",
        "--prefix",
        "< ",
    ]);
    let urls = [
        format!("ws://{}/", server.ws[0]),
        format!("wss://{}/", server.wss[0]),
    ];
    let Some(results) = chromium_websocket(&urls) else {
        return;
    };
    for result in results.as_array().unwrap() {
        assert_eq!(result["text"], "< from a browser\n< line two", "{results}");
        assert_eq!(
            result["binary"],
            serde_json::json!([b'<', b' ', 0, 1, 2, 255]),
            "{results}"
        );
        assert_eq!(
            result["close"],
            serde_json::json!({ "code": 4000, "clean": true }),
            "its close code echoed, the closing handshake clean: {results}"
        );
    }
    server.await_log(&["connection closed", "closed by the client (4000)"]);
}

// ---- bad input, in raw bytes --------------------------------------------------------

const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A client frame, masked unless `masked` is false.
fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![
        0x80 | opcode,
        payload.len() as u8 | if masked { 0x80 } else { 0 },
    ];
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Connects and completes the handshake.
fn upgraded(addr: SocketAddr) -> Client {
    let mut client = Client::connect(addr);
    client.send(UPGRADE);
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.extend(client.recv(1));
    }
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    client
}

/// The server's frames up to its close: each (opcode, payload).
fn frames_until_closed(client: &mut Client) -> Vec<(u8, Vec<u8>)> {
    let bytes = client.read_until_closed();
    let mut frames = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 2 {
        assert_eq!(rest[1] & 0x80, 0, "a server frame is never masked");
        let (len, at) = match rest[1] & 0x7f {
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 => panic!("no frame here is that large"),
            n => (n as usize, 2),
        };
        frames.push((rest[0] & 0x0f, rest[at..at + len].to_vec()));
        rest = &rest[at + len..];
    }
    assert!(rest.is_empty(), "a whole number of frames");
    frames
}

/// Sends `bytes` after the handshake: the server's close code and the log line of the
/// connection's end, which must name `reason`.
fn closes_with(server: &Server, bytes: &[u8], code: u16, reason: &str) {
    let mut client = upgraded(server.ws[0]);
    client.send(bytes);
    let frames = frames_until_closed(&mut client);
    let (opcode, payload) = frames.last().expect("a close frame").clone();
    assert_eq!(opcode, 8, "{frames:?}");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code);
    assert_eq!(String::from_utf8_lossy(&payload[2..]), reason);
    server.await_log(&[
        "connection closed",
        &format!("reason=websocket: {reason} ({code})"),
    ]);
}

#[test]
fn bad_frames_close_with_their_code_and_are_logged_with_the_reason() {
    let server = Server::start(&["-l", "ws://127.0.0.1:0", "--max-message", "16"]);
    closes_with(
        &server,
        &frame(1, b"hello", false),
        1002,
        "an unmasked frame from the client",
    );
    closes_with(
        &server,
        &frame(2, &[7; 17], true),
        1009,
        "a message over the size limit",
    );
    closes_with(
        &server,
        &frame(1, b"ok\nbad \xc3\x28", true),
        1007,
        "invalid utf-8 in a text message",
    );
    // The valid line before the bad byte was echoed first.
    let mut client = upgraded(server.ws[0]);
    client.send(&frame(1, b"ok\nbad \xc3\x28", true));
    let frames = frames_until_closed(&mut client);
    assert_eq!(frames[0], (1, b"ok\n".to_vec()), "{frames:?}");
    // Each bad connection was its own: the listener carries on.
    let mut client = upgraded(server.ws[0]);
    client.send(&frame(1, b"still here", true));
    client.send(&frame(8, &1000u16.to_be_bytes(), true));
    let frames = frames_until_closed(&mut client);
    assert_eq!(
        frames,
        [
            (1, b"still here".to_vec()),
            (8, 1000u16.to_be_bytes().to_vec())
        ]
    );
}

#[test]
fn a_plain_http_request_gets_426_and_a_wrong_path_404() {
    let server = Server::start(&["-l", "ws://127.0.0.1:0", "-l", "ws://127.0.0.1:0/echo"]);
    let mut client = Client::connect(server.ws[0]);
    client.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let answer = String::from_utf8(client.read_until_closed()).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nUpgrade: websocket\r\n"), "{answer}");
    server.await_log(&[
        "connection closed",
        "reason=websocket: not a websocket upgrade request (426)",
    ]);
    let mut client = Client::connect(server.ws[1]);
    client.send(UPGRADE);
    let answer = String::from_utf8(client.read_until_closed()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
    server.await_log(&["reason=websocket: no websocket at this path (404)"]);
    // curl speaks HTTP: what it gets is a plain answer, not a hang.
    if Command::new("curl").arg("--version").output().is_ok() {
        let out = Command::new("curl")
            .args(["-s", "-i", "--max-time", "10"])
            .arg(format!("http://{}/", server.ws[0]))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("HTTP/1.1 426"), "{text}");
    }
}

#[test]
fn each_websocket_listener_has_its_own_echo_options_and_mistakes_are_usage_errors() {
    let server = Server::start(&["-l", "ws://127.0.0.1:0?mode=raw&prefix=[&suffix=]"]);
    let line = server.await_stdout("listening on ws://");
    assert!(line.contains("(raw mode, "), "{line}");
    let mut client = upgraded(server.ws[0]);
    client.send(&frame(1, b"a\nb", true));
    client.send(&frame(8, &[], true));
    let frames = frames_until_closed(&mut client);
    assert_eq!(frames, [(1, b"[a\nb]".to_vec()), (8, Vec::new())]);

    let usage = |args: &[&str], needle: &str| {
        let mut argv = vec!["serve"];
        argv.extend_from_slice(args);
        let (status, _, err) = run(&argv, b"");
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    usage(
        &["-l", "127.0.0.1:0", "--ws-path", "/x"],
        "need a ws:// or wss:// listener",
    );
    usage(
        &["-l", "ws://127.0.0.1:0", "--ws-path", "x"],
        "websocket path \"x\" must start with /",
    );
    usage(
        &["-l", "ws://127.0.0.1:0", "--prefix", r"\xff"],
        "the prefix must be UTF-8 over WebSocket",
    );
    usage(
        &["-l", "tcp://127.0.0.1:0/echo"],
        "a path is for ws:// and wss:// listeners",
    );
    usage(
        &["-l", "ws://127.0.0.1:0", "--max-message", "0"],
        "at least 1 byte",
    );
}
