//! The PROXY protocol on real sockets: headers written by hand (v1, v2, under TLS with
//! Python's `ssl`), a connection without one, and HAProxy itself — Debian's `haproxy`,
//! on loopback in front of three `reverb serve` instances, in TCP mode with
//! `send-proxy-v2` and a `tcp-check` that sends a line and expects its echo, and in HTTP
//! mode, where reverb's echo shows what HAProxy changed. A missing program is skipped
//! with a message; HAProxy's config lives in a temporary directory and HAProxy is killed
//! when the test ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use reverb_proxy::build;
use reverb_tests::http::responses;

use crate::support::{have, run, run_program, Client, Server, LIMIT};

fn client_addr() -> SocketAddr {
    "203.0.113.7:41234".parse().unwrap()
}

#[test]
fn a_tcp_listener_takes_the_header_logs_its_client_and_never_echoes_it() {
    let mut server = Server::start(&["-l", "127.0.0.1:0?proxy=1", "--threads", "1"]);
    let line = server.await_stdout("listening on tcp://");
    assert!(
        line.contains("a PROXY protocol header (v1 or v2) first"),
        "{line}"
    );
    let mut client = server.connect();
    client.send(&build::v1(client_addr(), server.addr));
    client.roundtrip(b"hello\n", b"hello\n");
    let logged = server.await_log(&["proxy header", "client=203.0.113.7:41234"]);
    assert!(
        logged.contains(&format!("destination={}", server.addr)),
        "{logged}"
    );
    client.send(b"quit\n");
    assert_eq!(client.read_to_end().unwrap(), b"");
    let closed = server.await_log(&["connection closed", "reason=quit word"]);
    assert!(closed.contains("peer=203.0.113.7:41234"), "{closed}");
    assert!(
        closed.contains(&format!("proxy={}", client.local_addr())),
        "{closed}"
    );

    // A v2 header with TLVs, and a connection with no header at all.
    let mut client = server.connect();
    let tlvs: &[(u8, &[u8])] = &[(0x02, b"example.com"), (0xEA, b"vpce-0123456789")];
    client.send(&build::v2(
        "[2001:db8::9]:443".parse().unwrap(),
        "[2001:db8::1]:7007".parse().unwrap(),
        tlvs,
    ));
    client.roundtrip(b"v2 line\n", b"v2 line\n");
    server.await_log(&["proxy header", "client=[2001:db8::9]:443"]);
    let mut plain = server.connect();
    plain.send(b"hello\n");
    assert_eq!(plain.read_until_closed(), b"", "nothing echoed");
    server.await_log(&[
        "connection closed",
        "reason=proxy: no PROXY protocol header (0)",
    ]);
    drop(client);
    server.signal("TERM");
    let (_, out) = server.wait_exit();
    assert!(
        out.contains("2 connections with a PROXY header, 1 without a valid one"),
        "{out}"
    );
}

#[test]
fn under_tls_the_header_comes_first_and_pythons_ssl_speaks_after_it() {
    if !have("python3") {
        return;
    }
    let cert = std::env::temp_dir().join(format!("reverb-e2e-proxy-{}.pem", std::process::id()));
    let server = Server::start(&[
        "-l",
        "tls://127.0.0.1:0",
        "-l",
        "https://127.0.0.1:0?format=json",
        "--proxy-protocol",
        "--tls-write-cert",
        cert.to_str().unwrap(),
    ]);
    server.await_stdout("reverb: tls certificate");
    let script = r#"
import socket, ssl, sys, json
ctx = ssl.create_default_context(cafile=sys.argv[3])
out = {}
for name, addr, data in [("tls", sys.argv[1], b"secret\n"),
                         ("https", sys.argv[2], b"GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")]:
    host, port = addr.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=10)
    raw.sendall(b"PROXY TCP4 198.51.100.4 192.0.2.1 5555 443\r\n")
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(data)
    got = b""
    while not got.endswith(b"\n") or name == "https":
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    out[name] = got.decode()
    s.close()
print(json.dumps(out))
"#;
    let mut command = Command::new("python3");
    command.args([
        "-c",
        script,
        &server.tls[0].to_string(),
        &server.https[0].to_string(),
        cert.to_str().unwrap(),
    ]);
    let (status, out, err) = run_program(command, b"", LIMIT);
    assert!(status.success(), "{err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["tls"], "secret\n");
    let answer = &responses(got["https"].as_str().unwrap().as_bytes())[0];
    let doc: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(doc["client"], "198.51.100.4:5555");
    assert_eq!(doc["proxy"]["version"], 1);
    let _ = std::fs::remove_file(cert);
}

// ---- HAProxy -------------------------------------------------------------------------

/// The `haproxy` program: on the path, or where Debian puts it (`/usr/sbin`, which is on
/// root's path only); `None`, with a message, when it is not installed.
fn haproxy_program() -> Option<String> {
    let sbin = "/usr/sbin/haproxy";
    if std::path::Path::new(sbin).exists() {
        return Some(sbin.to_owned());
    }
    have("haproxy").then(|| "haproxy".to_owned())
}

/// A loopback port nobody holds now (HAProxy binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running HAProxy, with its config in a directory of its own; killed on drop.
struct HaProxy {
    child: Child,
    dir: PathBuf,
    stats: PathBuf,
}

impl HaProxy {
    /// Starts `haproxy` with `sections` after a global section with a stats socket,
    /// once its config checks; waits until `front` accepts connections.
    fn start(program: &str, sections: &str, front: u16) -> HaProxy {
        let dir =
            std::env::temp_dir().join(format!("reverb-e2e-haproxy-{}-{front}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stats = dir.join("stats.sock");
        let config = format!(
            "global\n    maxconn 4000\n    stats socket {} level admin\n\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    \
             timeout server 30s\n    timeout check 1s\n\n{sections}",
            stats.display()
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let mut check = Command::new(program);
        check.args(["-c", "-f", path.to_str().unwrap()]);
        let (status, out, err) = run_program(check, b"", LIMIT);
        assert!(status.success(), "haproxy -c: {out}{err}");
        let child = Command::new(program)
            .args(["-db", "-f", path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn haproxy");
        let haproxy = HaProxy { child, dir, stats };
        let deadline = Instant::now() + LIMIT;
        while TcpStream::connect(("127.0.0.1", front)).is_err() {
            assert!(
                Instant::now() < deadline,
                "haproxy never listened on {front}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        haproxy
    }

    /// A server's status (`UP`, `DOWN`, …) from the stats socket's `show stat`.
    fn status(&self, backend: &str, server: &str) -> String {
        let Ok(mut socket) = UnixStream::connect(&self.stats) else {
            return String::new();
        };
        socket.set_read_timeout(Some(LIMIT)).unwrap();
        let _ = socket.write_all(b"show stat\n");
        let mut csv = String::new();
        let _ = socket.read_to_string(&mut csv);
        csv.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.len() > 17 && f[0] == backend && f[1] == server)
            .map(|f| f[17].to_owned())
            .unwrap_or_default()
    }

    /// Waits until every named server of `backend` has `status` (the health checks'
    /// verdict), within the safety limit.
    fn await_status(&self, backend: &str, servers: &[&str], status: &str) {
        let deadline = Instant::now() + LIMIT;
        for server in servers {
            loop {
                let now = self.status(backend, server);
                if now.starts_with(status) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{backend}/{server} is {now:?}, not {status}"
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Which of `servers` logged a PROXY header naming `client`, waiting for the log.
fn served_by(servers: &[Option<Server>], client: SocketAddr) -> usize {
    let needle = format!("client={client} ");
    let deadline = Instant::now() + LIMIT;
    loop {
        for (i, server) in servers.iter().enumerate() {
            if server.as_ref().is_some_and(|s| s.log().contains(&needle)) {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no reverb logged {client}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn behind_haproxy_in_tcp_mode_reverb_sees_every_client_and_a_dead_instance_is_taken_out() {
    let Some(program) = haproxy_program() else {
        return;
    };
    let mut servers: Vec<Option<Server>> = (0..3)
        .map(|_| {
            Some(Server::start(&[
                "-l",
                "127.0.0.1:0?proxy=1",
                "--threads",
                "1",
            ]))
        })
        .collect();
    let front = free_port();
    let mut backend = String::new();
    for (i, server) in servers.iter().enumerate() {
        let addr = server.as_ref().unwrap().addr;
        backend.push_str(&format!("    server r{i} {addr}\n"));
    }
    // The health check sends a line and expects its echo; with send-proxy-v2 and
    // check-send-proxy it starts with a LOCAL header, as every connection must.
    let sections = format!(
        "frontend echo_in\n    bind 127.0.0.1:{front}\n    default_backend reverbs\n\n\
         backend reverbs\n    balance roundrobin\n    option tcp-check\n    \
         tcp-check send-binary 6865616c74680a\n    tcp-check expect string health\n    \
         default-server send-proxy-v2 check-send-proxy check inter 100ms fall 2 rise 1\n\
         {backend}"
    );
    let haproxy = HaProxy::start(&program, &sections, front);
    haproxy.await_status("reverbs", &["r0", "r1", "r2"], "UP");
    servers[0]
        .as_ref()
        .unwrap()
        .await_log(&["proxy header naming no client (a health check)"]);

    // reverb bench through HAProxy: every byte verified.
    let front_addr = format!("127.0.0.1:{front}");
    let (status, out, err) = run(
        &[
            "bench",
            &front_addr,
            "-c",
            "6",
            "-d",
            "1s",
            "--warmup",
            "200ms",
            "--line",
        ],
        b"",
    );
    assert!(status.success(), "bench through haproxy:\n{out}{err}");
    assert!(out.contains("ok: every echoed byte verified"), "{out}");

    // Nine held connections: each instance logs the real address of its clients.
    let front_addr: SocketAddr = front_addr.parse().unwrap();
    let mut clients: Vec<Client> = (0..9).map(|_| Client::connect(front_addr)).collect();
    let mut owners = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let line = format!("client {i}\n");
        client.roundtrip(line.as_bytes(), line.as_bytes());
        owners.push(served_by(&servers, client.local_addr()));
    }
    let logged = servers[1].as_ref().unwrap().log();
    assert!(
        logged.contains(&format!("destination={front_addr}")),
        "the header names HAProxy's frontend as the destination:\n{logged}"
    );
    for i in 0..3 {
        assert!(owners.contains(&i), "round robin reached r{i}: {owners:?}");
    }

    // Kill r1: exactly its connections fail, the health check takes it out, and new
    // connections go to the other two.
    servers[1] = None;
    let mut failed = 0;
    for (client, &owner) in clients.iter_mut().zip(&owners) {
        client.send(b"after\n");
        let mut buf = [0u8; 6];
        match client.stream.read_exact(&mut buf) {
            Ok(()) => assert_eq!(&buf, b"after\n"),
            Err(_) => failed += 1,
        }
        let _ = owner;
    }
    let on_r1 = owners.iter().filter(|&&o| o == 1).count();
    assert_eq!(
        failed, on_r1,
        "exactly the connections on the dead instance failed"
    );
    haproxy.await_status("reverbs", &["r1"], "DOWN");
    for i in 0..9 {
        let mut client = Client::connect(front_addr);
        let line = format!("later {i}\n");
        client.roundtrip(line.as_bytes(), line.as_bytes());
        assert_ne!(served_by(&servers, client.local_addr()), 1);
    }
    drop(haproxy);
}

#[test]
fn behind_haproxy_in_http_mode_the_echo_shows_what_haproxy_changed() {
    let Some(program) = haproxy_program() else {
        return;
    };
    let servers: Vec<Server> = (0..3)
        .map(|_| Server::start(&["-l", "http://127.0.0.1:0?format=json", "--threads", "1"]))
        .collect();
    let front = free_port();
    let mut backend = String::new();
    for (i, server) in servers.iter().enumerate() {
        backend.push_str(&format!("    server h{i} {}\n", server.http[0]));
    }
    let sections = format!(
        "frontend http_in\n    mode http\n    bind 127.0.0.1:{front}\n    \
         default_backend reverbs\n\n\
         backend reverbs\n    mode http\n    balance roundrobin\n    option forwardfor\n    \
         http-request set-header X-Reverb-Via haproxy\n    \
         http-request set-path /rewritten%[path]\n    option httpchk GET /health\n    \
         default-server check inter 200ms\n{backend}"
    );
    let haproxy = HaProxy::start(&program, &sections, front);
    haproxy.await_status("reverbs", &["h0", "h1", "h2"], "UP");
    let mut seen = std::collections::HashSet::new();
    for i in 0..6 {
        let mut client = Client::connect(format!("127.0.0.1:{front}").parse().unwrap());
        client.send(
            format!("GET /page?i={i} HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        let got = client.read_until_closed();
        let answers = responses(&got);
        assert_eq!(answers[0].status, 200, "{}", String::from_utf8_lossy(&got));
        let doc: serde_json::Value = serde_json::from_slice(&answers[0].body).unwrap();
        assert_eq!(doc["path"], "/rewritten/page");
        assert_eq!(doc["query"], format!("i={i}"));
        let headers = doc["headers"].as_array().unwrap();
        let field = |name: &str| {
            headers
                .iter()
                .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
                .map(|h| h[1].as_str().unwrap().to_owned())
        };
        assert_eq!(field("x-forwarded-for").as_deref(), Some("127.0.0.1"));
        assert_eq!(field("x-reverb-via").as_deref(), Some("haproxy"));
        seen.insert(doc["local"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 3, "every instance answered: {seen:?}");
    drop(haproxy);
}
