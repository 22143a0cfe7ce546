//! Running the real `reverb` binary: a server on a loopback port 0 whose real port is read
//! from its stdout, its log lines collected from stderr (awaitable, never polled with
//! sleeps), clients with bounded reads, and a kill on drop so no test leaves a process.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Safety net for every blocking read or wait: a test that reaches it has failed, it is
/// never how a test waits for something.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// The `reverb` binary next to this test executable. Under cargo it is (re)built first,
/// so a suite run after editing `native/` never tests a stale binary; the build is a
/// no-op when it is fresh.
pub(crate) fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            // target/debug/deps/e2e-hash -> target/debug/reverb
            let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
            let path = dir.join(format!("reverb{}", std::env::consts::EXE_SUFFIX));
            let cargo = std::env::var("CARGO").ok();
            if cargo.is_some() || !path.exists() {
                let status = Command::new(cargo.as_deref().unwrap_or("cargo"))
                    .args(["build", "--quiet", "-p", "reverb", "--bin", "reverb"])
                    .status()
                    .expect("run cargo build");
                assert!(status.success(), "cargo build -p reverb failed");
            }
            assert!(path.exists(), "no reverb binary at {}", path.display());
            path
        })
        .clone()
}

/// Text a child process wrote, shared with the thread that reads it.
#[derive(Default)]
struct Stream {
    text: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Stream {
    fn collect(source: impl Read + Send + 'static) -> Arc<Stream> {
        let stream = Arc::new(Stream::default());
        let sink = Arc::clone(&stream);
        thread::spawn(move || {
            let mut reader = BufReader::new(source);
            let mut line = String::new();
            loop {
                line.clear();
                let done = !matches!(reader.read_line(&mut line), Ok(n) if n > 0);
                let mut text = sink.text.lock().unwrap();
                text.0.push_str(&line);
                text.1 = done;
                sink.changed.notify_all();
                if done {
                    return;
                }
            }
        });
        stream
    }

    /// Waits until `ready` holds for the text so far (or the stream ended, or `LIMIT`).
    fn wait(&self, ready: impl Fn(&str) -> bool) -> (String, bool) {
        let deadline = Instant::now() + LIMIT;
        let mut text = self.text.lock().unwrap();
        loop {
            if ready(&text.0) || text.1 {
                return (text.0.clone(), ready(&text.0));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (text.0.clone(), false);
            }
            text = self.changed.wait_timeout(text, left).unwrap().0;
        }
    }

    fn snapshot(&self) -> String {
        self.text.lock().unwrap().0.clone()
    }
}

/// A running `reverb serve`.
pub(crate) struct Server {
    child: Child,
    /// The first TCP address it listens on (real port).
    pub(crate) addr: SocketAddr,
    /// Every TCP address, then every UDP address, from its "listening on" lines.
    pub(crate) tcp: Vec<SocketAddr>,
    /// UDP addresses.
    pub(crate) udp: Vec<SocketAddr>,
    /// TLS addresses (`tls://` listeners).
    pub(crate) tls: Vec<SocketAddr>,
    /// WebSocket addresses (`ws://` listeners).
    pub(crate) ws: Vec<SocketAddr>,
    /// WebSocket-in-TLS addresses (`wss://` listeners).
    pub(crate) wss: Vec<SocketAddr>,
    /// HTTP addresses (`http://` listeners).
    pub(crate) http: Vec<SocketAddr>,
    /// HTTP-in-TLS addresses (`https://` listeners).
    pub(crate) https: Vec<SocketAddr>,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
}

impl Server {
    /// `reverb serve` with `args`, on `127.0.0.1:0` unless `args` choose listeners.
    pub(crate) fn start(args: &[&str]) -> Server {
        Server::try_start(args)
            .unwrap_or_else(|(status, err)| panic!("server did not start ({status:?}): {err}"))
    }

    /// Like `start`, but a server that exits instead of listening is an `Err` with its
    /// exit status and stderr.
    pub(crate) fn try_start(args: &[&str]) -> Result<Server, (Option<ExitStatus>, String)> {
        let mut command = Command::new(binary());
        command.arg("serve");
        let tcp_count = args
            .iter()
            .filter(|a| ["-l", "--listen"].contains(a))
            .count();
        if tcp_count == 0 {
            command.args(["-l", "127.0.0.1:0"]);
        }
        let expected = tcp_count.max(1) + args.iter().filter(|a| **a == "--udp").count();
        command
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Server::spawn(command, expected)
    }

    /// Spawns a prepared command (e.g. under `sh -c` with a resource limit) that runs
    /// `reverb serve` and prints `expected` "listening on" lines.
    pub(crate) fn spawn(
        mut command: Command,
        expected: usize,
    ) -> Result<Server, (Option<ExitStatus>, String)> {
        let mut child = command.spawn().expect("spawn reverb");
        let stdout = Stream::collect(child.stdout.take().unwrap());
        let stderr = Stream::collect(child.stderr.take().unwrap());
        let (text, ready) =
            stdout.wait(|text| text.matches("reverb: listening on ").count() >= expected);
        if !ready {
            let _ = child.kill();
            let status = child.wait().ok();
            let (err, _) = stderr.wait(|_| false);
            return Err((status, format!("{text}{err}")));
        }
        let mut tcp = Vec::new();
        let mut udp = Vec::new();
        let mut tls = Vec::new();
        let mut ws = Vec::new();
        let mut wss = Vec::new();
        let mut http = Vec::new();
        let mut https = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("reverb: listening on ") else {
                continue;
            };
            let (scheme, rest) = rest.split_once("://").expect("scheme");
            let addr: SocketAddr = rest.split(' ').next().unwrap().parse().expect("address");
            assert_ne!(addr.port(), 0, "the real port is printed, not 0");
            match scheme {
                "tcp" => tcp.push(addr),
                "udp" => udp.push(addr),
                "tls" => tls.push(addr),
                "ws" => ws.push(addr),
                "wss" => wss.push(addr),
                "http" => http.push(addr),
                "https" => https.push(addr),
                other => panic!("unknown scheme {other}"),
            }
        }
        let addr = tcp
            .first()
            .copied()
            .unwrap_or_else(|| "127.0.0.1:9".parse().unwrap());
        Ok(Server {
            child,
            addr,
            tcp,
            udp,
            tls,
            ws,
            wss,
            http,
            https,
            stdout,
            stderr,
        })
    }

    /// A client connected to the first TCP address.
    pub(crate) fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `INT`).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits until stderr has a line containing every one of `needles`, and returns
    /// that line. Panics after `LIMIT` with the log so far.
    pub(crate) fn await_log(&self, needles: &[&str]) -> String {
        let matching = |text: &str| {
            text.lines()
                .find(|line| needles.iter().all(|n| line.contains(n)))
                .map(str::to_owned)
        };
        let (text, ready) = self.stderr.wait(|text| matching(text).is_some());
        assert!(ready, "no log line with {needles:?} in:\n{text}");
        matching(&text).unwrap()
    }

    /// Waits until everything logged so far satisfies `ready`, and returns it. Panics
    /// after `LIMIT` with the log so far.
    pub(crate) fn await_log_text(&self, ready: impl Fn(&str) -> bool) -> String {
        let (text, ok) = self.stderr.wait(ready);
        assert!(ok, "the log never got there:\n{text}");
        text
    }

    /// Waits until stdout has a line containing `needle`, and returns that line.
    pub(crate) fn await_stdout(&self, needle: &str) -> String {
        let (text, ready) = self.stdout.wait(|text| text.contains(needle));
        assert!(ready, "no {needle:?} on stdout:\n{text}");
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap()
            .to_owned()
    }

    /// Everything logged so far.
    pub(crate) fn log(&self) -> String {
        self.stderr.snapshot()
    }

    /// Waits for the process to exit (its stdout closes) and returns its status and
    /// stdout.
    pub(crate) fn wait_exit(&mut self) -> (ExitStatus, String) {
        let (out, _) = self.stdout.wait(|_| false);
        assert!(
            self.stdout.text.lock().unwrap().1,
            "server still running after {LIMIT:?}; log:\n{}",
            self.log()
        );
        let status = self.child.wait().expect("wait for reverb");
        (status, out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP client with bounded reads.
pub(crate) struct Client {
    pub(crate) stream: TcpStream,
}

impl Client {
    pub(crate) fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, LIMIT).expect("connect");
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.set_write_timeout(Some(LIMIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream }
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads exactly `n` bytes.
    pub(crate) fn recv(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.stream
            .read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
        buf
    }

    /// Sends `bytes` and reads back exactly as many bytes as `expected` has.
    pub(crate) fn roundtrip(&mut self, bytes: &[u8], expected: &[u8]) {
        self.send(bytes);
        let got = self.recv(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Reads until the server's FIN; a reset instead is an error.
    pub(crate) fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.stream.read_to_end(&mut out).map(|_| out)
    }

    /// Reads until the server closes, by FIN or by reset, and returns what came first.
    pub(crate) fn read_until_closed(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => panic!("server did not close within {LIMIT:?}"),
                Err(_) => return out,
            }
        }
    }

    /// Half-close: send our FIN, keep reading.
    pub(crate) fn finish(&mut self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown write");
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Every byte value, repeated up to `len` bytes.
pub(crate) fn all_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8).collect()
}

/// Runs `reverb` with `args` to completion (not `serve`), with `stdin` as input.
pub(crate) fn run(args: &[&str], stdin: &[u8]) -> (ExitStatus, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn reverb");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let stdout = Stream::collect(child.stdout.take().unwrap());
    let stderr = Stream::collect(child.stderr.take().unwrap());
    let (out, _) = stdout.wait(|_| false);
    let (err, _) = stderr.wait(|_| false);
    let exited = stdout.text.lock().unwrap().1;
    if !exited {
        let _ = child.kill();
    }
    let status = child.wait().expect("wait");
    assert!(exited, "reverb {args:?} did not exit within {LIMIT:?}");
    writer.join().unwrap();
    (status, out, err)
}

/// A raw IPv4 socket that sends UDP datagrams with any source address and port: how an
/// attacker forges a datagram. Loopback destinations only.
pub(crate) struct Forger {
    socket: socket2::Socket,
}

impl Forger {
    /// A raw socket (`IPPROTO_RAW`: we write the IP header), or why there is none — raw
    /// sockets need root or `CAP_NET_RAW`.
    pub(crate) fn new() -> Result<Forger, String> {
        use socket2::{Domain, Protocol, Socket, Type};
        Socket::new(
            Domain::IPV4,
            Type::from(libc::SOCK_RAW),
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )
        .map(|socket| Forger { socket })
        .map_err(|e| format!("raw sockets are not allowed here ({e}); run as root"))
    }

    /// Sends `payload` to `to` as a UDP datagram that claims to come from `from`.
    pub(crate) fn send(
        &self,
        from: std::net::SocketAddrV4,
        to: std::net::SocketAddrV4,
        payload: &[u8],
    ) {
        assert!(to.ip().is_loopback(), "forged datagrams stay on loopback");
        let udp_len = 8 + payload.len();
        let total = 20 + udp_len;
        let mut packet = Vec::with_capacity(total);
        // IPv4 header: version 4, 5 words; the kernel fills in the id and the checksum.
        packet.extend_from_slice(&[0x45, 0]);
        packet.extend_from_slice(&(total as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        packet.extend_from_slice(&from.ip().octets());
        packet.extend_from_slice(&to.ip().octets());
        // UDP header; a checksum of 0 means none (allowed over IPv4).
        packet.extend_from_slice(&from.port().to_be_bytes());
        packet.extend_from_slice(&to.port().to_be_bytes());
        packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0]);
        packet.extend_from_slice(payload);
        let dest = socket2::SockAddr::from(SocketAddr::V4(to));
        let sent = self
            .socket
            .send_to(&packet, &dest)
            .expect("send a forged datagram");
        assert_eq!(sent, packet.len());
    }
}

/// The resident memory of process `pid`, in KiB (Linux `/proc`).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Runs a program to its end within `limit` (killed past it) and returns its status,
/// stdout and stderr; `stdin` is its input.
pub(crate) fn run_program(
    mut command: Command,
    stdin: &[u8],
    limit: Duration,
) -> (ExitStatus, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = out.read_to_string(&mut o);
        let _ = err.read_to_string(&mut e);
        let _ = tx.send((o, e));
    });
    let Ok((out, err)) = rx.recv_timeout(limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{command:?} did not finish within {limit:?}");
    };
    let status = child.wait().expect("wait");
    let _ = writer.join();
    (status, out, err)
}

/// Whether `program` can be run here; a test that needs it says it is skipped.
pub(crate) fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("skipped: {program} is not installed");
    }
    found
}

/// Runs a program to its end within `limit`, killing it past that; its stdout, or a
/// panic with its stderr.
pub(crate) fn output_within(mut command: Command, limit: Duration) -> String {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the client");
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((out, err));
    });
    let Ok((out, err)) = rx.recv_timeout(limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the client did not finish within {limit:?}");
    };
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the client failed ({status}):\n{err}\n{out}"
    );
    out
}
