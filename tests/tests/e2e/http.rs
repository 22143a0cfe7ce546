//! `http://` and `https://` listeners, tried with clients no one here wrote — curl and
//! Python's `http.client` — and with raw bytes for pipelining and the limits. A missing
//! client is skipped with a message.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use reverb_tests::http::{responses, responses_with};

use crate::chromium::in_chromium;
use crate::support::{have, run, run_program, Client, Server, LIMIT};

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("reverb-e2e-http-{}-{name}", std::process::id()))
}

fn curl(args: &[&str], stdin: &[u8]) -> String {
    let mut command = Command::new("curl");
    command.args(["-sS", "--max-time", "10"]).args(args);
    let (status, out, err) = run_program(command, stdin, LIMIT);
    assert!(status.success(), "curl {args:?} failed: {err}");
    out
}

#[test]
fn curl_gets_its_request_back_byte_for_byte_and_as_json() {
    if !have("curl") {
        return;
    }
    let server = Server::start(&[
        "-l",
        "http://127.0.0.1:0",
        "-l",
        "http://127.0.0.1:0?format=json",
    ]);
    let (raw, json) = (server.http[0], server.http[1]);
    let line = server.await_stdout(&format!("listening on http://{raw}"));
    assert!(line.contains("http echo, raw answers"), "{line}");

    let out = curl(
        &[
            "-i",
            "-H",
            "X-Test: Some Value",
            &format!("http://{raw}/p/q?x=1"),
        ],
        b"",
    );
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Type: message/http"), "{head}");
    assert!(body.starts_with("GET /p/q?x=1 HTTP/1.1\r\n"), "{body}");
    assert!(body.contains("\r\nX-Test: Some Value\r\n"), "{body}");
    assert!(body.ends_with("\r\n\r\n"), "{body:?}");

    // A chunked upload that waits for 100 Continue, as curl sends one from a pipe.
    let out = curl(
        &[
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "@-",
            &format!("http://{json}/upload"),
        ],
        b"line one\nline two\n",
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["method"], "POST");
    assert_eq!(doc["body"], "line one\nline two\n");
    assert_eq!(doc["chunked"], true);
    assert_eq!(
        doc["peer"].as_str().unwrap().split(':').next(),
        Some("127.0.0.1")
    );

    let head = curl(&["-I", &format!("http://{raw}/h")], b"");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Length: "), "{head}");
}

#[test]
fn chromiums_fetch_gets_its_request_back_as_the_browser_sent_it() {
    // The page is loaded from the JSON listener itself, so its fetch is same-origin: the
    // browser sends its own headers (User-Agent, Origin on a POST) and reads the answer.
    let server = Server::start(&["-l", "http://127.0.0.1:0?format=json"]);
    let origin = format!("http://{}/start", server.http[0]);
    let page_fn = r#"async (body) => {
  const answer = await fetch('/echo?x=1', {
    method: 'POST',
    headers: { 'X-From-Page': 'yes', 'Content-Type': 'text/plain' },
    body,
  });
  return { status: answer.status, type: answer.headers.get('content-type'),
           doc: await answer.json() };
}"#;
    let Some(result) = in_chromium(Some(&origin), page_fn, &serde_json::json!("hello\nfetch"))
    else {
        return;
    };
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["type"], "application/json", "{result}");
    let doc = &result["doc"];
    assert_eq!(doc["method"], "POST", "{result}");
    assert_eq!(doc["path"], "/echo", "{result}");
    assert_eq!(doc["query"], "x=1", "{result}");
    assert_eq!(doc["body"], "hello\nfetch", "{result}");
    let headers = doc["headers"].as_array().unwrap();
    let value = |name: &str| {
        headers
            .iter()
            .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h[1].as_str().unwrap().to_owned())
    };
    assert_eq!(value("x-from-page").as_deref(), Some("yes"), "{result}");
    assert!(value("user-agent").unwrap().contains("Chrome"), "{result}");
    assert_eq!(value("origin"), Some(format!("http://{}", server.http[0])));
}

#[test]
fn curl_over_https_trusts_the_written_certificate() {
    if !have("curl") {
        return;
    }
    let cert = temp_file("cert.pem");
    let server = Server::start(&[
        "-l",
        "https://127.0.0.1:0",
        "--tls-write-cert",
        cert.to_str().unwrap(),
        "--http-format",
        "json",
    ]);
    server.await_stdout("reverb: tls certificate");
    let url = format!("https://localhost:{}/secure", server.https[0].port());
    let resolve = format!("localhost:{}:127.0.0.1", server.https[0].port());
    let out = curl(
        &[
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &resolve,
            "-d",
            "x=1",
            &url,
        ],
        b"",
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (doc["path"].clone(), doc["body"].clone()),
        ("/secure".into(), "x=1".into())
    );
    let _ = std::fs::remove_file(cert);
}

#[test]
fn pythons_http_client_keeps_one_connection_for_several_requests() {
    if !have("python3") {
        return;
    }
    let server = Server::start(&["-l", "http://127.0.0.1:0?format=json"]);
    let script = r#"
import http.client, json, sys
host, port = sys.argv[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=10)
out = []
conn.request("GET", "/first?a=1", headers={"X-One": "1"})
out.append(json.loads(conn.getresponse().read()))
conn.request("POST", "/second", body=iter([b"chunk-a,", b"chunk-b"]), encode_chunked=True)
out.append(json.loads(conn.getresponse().read()))
conn.request("PUT", "/third", body=b"\x00\xff")
out.append(json.loads(conn.getresponse().read()))
conn.close()
print(json.dumps(out))
"#;
    let mut command = Command::new("python3");
    command.args(["-c", script, &server.http[0].to_string()]);
    let (status, out, err) = run_program(command, b"", LIMIT);
    assert!(status.success(), "{err}");
    let docs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(docs[0]["query"], "a=1");
    assert!(
        docs[0]["headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["X-One", "1"])),
        "{docs}"
    );
    assert_eq!(docs[1]["body"], "chunk-a,chunk-b");
    assert_eq!(docs[1]["chunked"], true);
    assert_eq!(docs[2]["body"], "AP8=");
    assert_eq!(docs[2]["body_encoding"], "base64");
    assert_eq!(
        docs[0]["peer"], docs[2]["peer"],
        "one connection for all three"
    );
    let closed = server.await_log(&["connection closed"]);
    assert!(closed.contains("frames=3"), "{closed}");
}

#[test]
fn a_pipeline_of_requests_in_one_write_is_answered_in_order() {
    let server = Server::start(&["-l", "http://127.0.0.1:0"]);
    let mut client = Client::connect(server.http[0]);
    let requests: Vec<Vec<u8>> = (0..100)
        .map(|i| match i % 3 {
            0 => format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
            1 => format!("POST /{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nbody{}", i % 10)
                .into_bytes(),
            _ => format!(
                "PUT /{i} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{:02}\r\n0\r\n\r\n",
                i % 100
            )
            .into_bytes(),
        })
        .collect();
    let mut pipeline = requests.concat();
    pipeline.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    client.send(&pipeline);
    let mut got = Vec::new();
    client
        .stream
        .read_to_end(&mut got)
        .expect("answers, then the server's FIN");
    let answers = responses(&got);
    assert_eq!(answers.len(), 101);
    for (answer, request) in answers.iter().zip(&requests) {
        assert_eq!(answer.status, 200);
        assert_eq!(&answer.body, request);
    }
    assert_eq!(answers[100].header("connection"), Some("close"));
}

/// Sends `request`, reads to the server's close, and returns the one answer.
fn answer_to(server: &Server, request: &[u8]) -> reverb_tests::http::Response {
    let mut client = Client::connect(server.http[0]);
    client.send(request);
    let got = client.read_until_closed();
    let (mut answers, _) = responses_with(&got, &[]);
    assert_eq!(answers.len(), 1, "{}", String::from_utf8_lossy(&got));
    answers.remove(0)
}

#[test]
fn limits_and_malformed_requests_get_their_status_and_a_close() {
    let server = Server::start(&[
        "-l",
        "http://127.0.0.1:0",
        "--max-header",
        "1KiB",
        "--max-body",
        "100",
    ]);
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "y".repeat(2000)
    );
    assert_eq!(answer_to(&server, big_head.as_bytes()).status, 431);
    let big_body = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n";
    let answer = answer_to(&server, big_body);
    assert_eq!(
        (answer.status, answer.text()),
        (413, "a body over the size limit\n")
    );
    assert_eq!(answer_to(&server, b"hello\r\n\r\n").status, 400);
    let line = server.await_log(&["connection closed", "reason=http: malformed request (400)"]);
    assert!(line.contains("frames=0"), "{line}");
}

#[test]
fn options_that_do_not_apply_to_http_are_refused_at_start() {
    let refused = |args: &[&str], needle: &str| {
        let mut argv = vec!["serve"];
        argv.extend_from_slice(args);
        let (status, _, err) = run(&argv, b"");
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    refused(
        &["-l", "http://127.0.0.1:0?mode=raw"],
        "an HTTP listener answers each request",
    );
    refused(
        &["-l", "http://127.0.0.1:0", "--prefix", "> "],
        "--prefix and --suffix",
    );
    refused(
        &["--http-format", "json"],
        "need an http:// or https:// listener",
    );
    refused(
        &["-l", "http://127.0.0.1:0", "--max-header", "10"],
        "max header",
    );
}
