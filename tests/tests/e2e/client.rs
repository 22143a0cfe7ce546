//! `reverb client` over WebSocket (`ws://`, `wss://`) and with a PROXY header first
//! (`--send-proxy`), against the real `reverb serve` and an in-test listener. TCP and TLS
//! are in `modes` and `tls`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;

use crate::bench::{expected_header, proxy_listener};
use crate::support::{binary, run, Server, LIMIT};

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("reverb-e2e-client-{}-{name}", std::process::id()))
}

/// Runs `reverb client` with `args`, writes `input`, and keeps its stdin open until it
/// exits (the server must end it): its status, stdout as bytes, and stderr. Killed after
/// `LIMIT`, a safety net that fails the test.
fn client_until_the_server_closes(args: &[&str], input: &[u8]) -> (ExitStatus, Vec<u8>, String) {
    let mut child = Command::new(binary())
        .arg("client")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn reverb client");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    let pid = child.id();
    let (done, exited) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if exited.recv_timeout(LIMIT).is_err() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    drop(stdin);
    (
        out.status,
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn each_line_is_one_text_message_and_each_message_one_printed_line() {
    let server = Server::start(&["-l", "ws://127.0.0.1:0", "--prefix", "> "]);
    let url = format!("ws://{}/", server.ws[0]);
    let (status, out, err) = run(&["client", &url], b"hello\r\nworld\na\n");
    assert!(status.success(), "{err}");
    assert_eq!(out, "> hello\n> world\n> a\n");
    // The end of input is the close handshake, not a dropped connection.
    server.await_log(&["closed by the client (1000)"]);
}

#[test]
fn wss_trusting_the_written_certificate_and_a_line_that_is_not_utf8() {
    let cert = temp_file("wss.pem");
    let server = Server::start(&[
        "-l",
        "wss://127.0.0.1:0/echo",
        "--tls-write-cert",
        cert.to_str().unwrap(),
        "--prefix",
        "> ",
        "--quit-word",
        "bye",
    ]);
    let url = format!("wss://localhost:{}/echo", server.wss[0].port());
    let (status, out, err) = run(
        &["client", &url, "--ca", cert.to_str().unwrap()],
        "hé\nça va\n".as_bytes(),
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, "> hé\n> ça va\n");
    // A line that is not UTF-8 goes as a binary message, and comes back as one (a text
    // message would have been closed with 1007).
    let (status, out, err) =
        client_until_the_server_closes(&[&url, "--ca", cert.to_str().unwrap()], b"\xff\xfe\nbye\n");
    assert!(status.success(), "{err}");
    assert_eq!(out, b"> \xff\xfe\n");
    assert!(err.contains("(1000 quit word)"), "{err}");
    // Another path is refused by the server's answer to the upgrade.
    let other = format!("wss://localhost:{}/other", server.wss[0].port());
    let (status, _, err) = run(&["client", &other, "--insecure"], b"x\n");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("HTTP 404"), "{err}");
    let _ = std::fs::remove_file(cert);
}

#[test]
fn the_servers_close_frame_ends_the_client_and_says_why() {
    let server = Server::start(&["-l", "ws://127.0.0.1:0", "--quit-word", "bye"]);
    let url = format!("ws://{}", server.ws[0]);
    // Stdin stays open: the server's close frame is what ends the client.
    let (status, out, err) = client_until_the_server_closes(&[&url], b"a\nbye\nb\n");
    assert!(status.success(), "{err}");
    assert_eq!(out, b"a\n");
    assert!(
        err.contains("the server closed the websocket (1000 quit word)"),
        "{err}"
    );
}

#[test]
fn send_proxy_sends_the_exact_header_first() {
    for version in ["v1", "v2"] {
        let (addr, headers) = proxy_listener(None);
        let (status, out, err) = run(
            &["client", &addr.to_string(), "--send-proxy", version],
            b"one\ntwo\n",
        );
        assert!(status.success(), "{err}");
        assert_eq!(out, "one\ntwo\n", "the header is not part of the echo");
        let (header, client, listener) = headers.recv_timeout(LIMIT).unwrap();
        assert_eq!(
            header,
            expected_header(version, client, listener),
            "{version}"
        );
    }
}

#[test]
fn send_proxy_reaches_reverb_serves_proxy_protocol_before_websocket() {
    let server = Server::start(&["-l", "ws://127.0.0.1:0?proxy=1"]);
    let url = format!("ws://{}", server.ws[0]);
    let (status, out, err) = run(&["client", &url, "--send-proxy", "v2"], b"hi\n");
    assert!(status.success(), "{err}");
    assert_eq!(out, "hi\n");
    server.await_log(&["proxy header", "version=2"]);
}
