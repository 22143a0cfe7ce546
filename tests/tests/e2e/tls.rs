//! `tls://` listeners, tried with clients no one here wrote: Python's `ssl` module and
//! `openssl s_client`. Each is skipped with a message where it is missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{run, Server};

/// A file name for this test's certificate, unique to the process and the test.
fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("reverb-e2e-{}-{name}", std::process::id()))
}

fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(program)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    if !found {
        eprintln!("skipped: {program} is not installed");
    }
    found
}

/// A TLS listener with its certificate written where clients can trust it.
fn tls_server(extra: &[&str], cert: &Path) -> Server {
    let mut args = vec![
        "-l",
        "tls://127.0.0.1:0",
        "--tls-write-cert",
        cert.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Sends `input` with Python's `ssl` module (verifying the certificate for `localhost`),
/// half-closes with a close_notify, and returns everything the server sent.
fn python_tls(addr: std::net::SocketAddr, cert: &Path, input: &[u8]) -> Vec<u8> {
    let script = r#"
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
data = sys.stdin.buffer.read()
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(data)
        out = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            out += chunk
        sys.stdout.buffer.write(out)
"#;
    let mut child = Command::new("python3")
        .args([
            "-c",
            script,
            &addr.port().to_string(),
            cert.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn pythons_ssl_gets_the_same_echo_as_tcp() {
    if !have("python3") {
        return;
    }
    let cert = temp_file("python.pem");
    let server = tls_server(&["--prefix", "> ", "-l", "127.0.0.1:0"], &cert);
    let echoed = python_tls(server.tls[0], &cert, b"hello\r\nworld\nquit\n");
    assert_eq!(echoed, b"> hello\r\n> world\n");
    let mut tcp = server.connect();
    tcp.send(b"hello\r\nworld\nquit\n");
    assert_eq!(
        tcp.read_to_end().unwrap(),
        echoed,
        "the same bytes over TCP"
    );
    let _ = std::fs::remove_file(cert);
}

#[test]
fn openssl_s_client_speaks_to_it_and_its_fingerprint_matches() {
    if !have("openssl") {
        return;
    }
    let cert = temp_file("openssl.pem");
    let server = tls_server(&[], &cert);
    let line = server.await_stdout("reverb: tls certificate");
    let fingerprint = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&fingerprint.stdout);
    let theirs = theirs.trim().split('=').nth(1).unwrap();
    assert!(line.ends_with(theirs), "{line} vs {theirs}");
    let mut client = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-servername",
            "localhost",
            "-verify_return_error",
        ])
        .arg("-connect")
        .arg(server.tls[0].to_string())
        .arg("-CAfile")
        .arg(&cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"over openssl\nquit\n")
        .unwrap();
    let out = client.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over openssl\n");
    server.await_log(&["connection closed", "reason=quit word"]);
    let _ = std::fs::remove_file(cert);
}

#[test]
fn plain_text_on_a_tls_port_is_answered_with_an_alert_and_logged() {
    let cert = temp_file("plain.pem");
    let server = tls_server(&[], &cert);
    let mut client = crate::support::Client::connect(server.tls[0]);
    client.send(b"GET / HTTP/1.1\r\n\r\n");
    let reply = client.read_until_closed();
    assert_eq!(reply.first(), Some(&21), "a TLS alert record: {reply:?}");
    let line = server.await_log(&["connection closed", "reason=tls:"]);
    assert!(line.contains("not a TLS record"), "{line}");
    // The listener carries on.
    assert!(python_tls(server.tls[0], &cert, b"after\nquit\n") == b"after\n" || !have("python3"));
    let _ = std::fs::remove_file(cert);
}

#[test]
fn each_listener_has_its_own_protocol_and_echo_options() {
    let cert = temp_file("mixed.pem");
    let server = Server::start(&[
        "-l",
        "tcp://127.0.0.1:0?mode=raw&prefix=[",
        "-l",
        "tls://127.0.0.1:0?mode=line",
        "--tls-write-cert",
        cert.to_str().unwrap(),
    ]);
    let raw = server.await_stdout("raw mode");
    assert!(
        raw.starts_with("reverb: listening on tcp://127.0.0.1:"),
        "{raw}"
    );
    let line = server.await_stdout("line mode");
    assert!(
        line.starts_with("reverb: listening on tls://127.0.0.1:"),
        "{line}"
    );
    server.connect().roundtrip(b"ab", b"[ab");
    if have("python3") {
        assert_eq!(python_tls(server.tls[0], &cert, b"x\nquit\n"), b"x\n");
    }
    let _ = std::fs::remove_file(cert);
}

#[test]
fn tls_mistakes_are_clear_usage_errors() {
    let (status, _, err) = run(
        &["serve", "-l", "127.0.0.1:0", "--tls-write-cert", "/tmp/x"],
        b"",
    );
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("need a tls:// listener"), "{err}");
    let (status, _, err) = run(
        &[
            "serve",
            "-l",
            "tls://127.0.0.1:0",
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
        b"",
    );
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
    let (status, _, err) = run(&["serve", "-l", "tls://127.0.0.1:0?mode=lines"], b"");
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("-l tls://127.0.0.1:0: unknown framing"),
        "{err}"
    );
}

#[test]
fn reverb_client_speaks_tls_trusting_the_written_certificate() {
    let cert = temp_file("client.pem");
    let server = tls_server(&["--prefix", "tls> "], &cert);
    let url = format!("tls://localhost:{}", server.tls[0].port());
    let (status, out, err) = run(
        &["client", &url, "--ca", cert.to_str().unwrap()],
        b"one\ntwo\n",
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, "tls> one\ntls> two\n");
    // Without a way to trust the server, the client says what it needs.
    let (status, _, err) = run(&["client", &url], b"x\n");
    assert_eq!(status.code(), Some(1));
    assert!(
        err.contains("--ca FILE") && err.contains("--insecure"),
        "{err}"
    );
    // With --insecure, any certificate is accepted.
    let (status, out, _) = run(&["client", &url, "--insecure"], b"three\nquit\n");
    assert!(status.success());
    assert_eq!(out, "tls> three\n");
    let _ = std::fs::remove_file(cert);
}
