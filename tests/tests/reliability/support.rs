//! The real `reverb serve` under test: started on a loopback port 0 (the real port read
//! from its stdout), its log lines collected from stderr and awaited (never polled with
//! sleeps), its memory and CPU read from `/proc`, and a kill on drop so no scenario leaves
//! a process behind.
//!
//! This is the e2e suite's harness (`tests/e2e/support.rs`) grown for hostile loads:
//! longer safety limits for thousands of connections on a debug build, awaiting a *count*
//! of log lines, a per-scenario listener [`Kind`], and a descriptor limit for the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::kind::{Conn, Kind};
use crate::sys;

/// Safety net for every wait on the server: a scenario that reaches it has failed; it is
/// never how a scenario waits for something. Long because a debug-build server may be
/// closing a thousand connections while a loaded CI machine runs it.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);

/// One scenario at a time: each measures one server's memory, CPU or latency, and on a
/// 2-core machine a second scenario running beside it would be measured too. Taken first
/// thing in every scenario, whatever `--test-threads` says.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A failed scenario poisons the lock; the next one is still independent of it.
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `reverb` binary next to this test executable, (re)built first under cargo so a run
/// after editing `native/` never tests a stale binary (a no-op when it is fresh).
///
/// It is the debug build, as in the e2e suite: CI builds nothing more for it, and the
/// core's `debug_assert!`s on the driver contract (a write count above what was offered,
/// a read beyond the capacity) are checked under every hostile load here. The bounds
/// below are set for a debug server; a release server only has more headroom.
pub(crate) fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            // target/debug/deps/reliability-hash -> target/debug/reverb
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

/// Lines a child process wrote, shared with the thread that reads them.
#[derive(Default)]
struct Lines {
    /// The lines so far, and whether the stream has ended.
    state: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

impl Lines {
    fn collect(source: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            let mut reader = BufReader::new(source);
            let mut line = String::new();
            loop {
                line.clear();
                let done = !matches!(reader.read_line(&mut line), Ok(n) if n > 0);
                let mut state = sink.state.lock().unwrap();
                if !done {
                    state.0.push(line.trim_end().to_owned());
                }
                state.1 = done;
                sink.changed.notify_all();
                if done {
                    return;
                }
            }
        });
        lines
    }

    /// Waits until `ready` holds for the lines so far, the stream ends, or `limit`;
    /// returns whether `ready` held.
    fn wait(&self, limit: Duration, ready: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut state = self.state.lock().unwrap();
        loop {
            if ready(&state.0) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if state.1 || left.is_zero() {
                return false;
            }
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    fn ended(&self) -> bool {
        self.state.lock().unwrap().1
    }

    fn text(&self) -> String {
        self.state.lock().unwrap().0.join("\n")
    }

    fn matching(&self, needles: &[&str]) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .0
            .iter()
            .filter(|line| contains_all(line, needles))
            .cloned()
            .collect()
    }
}

fn contains_all(line: &str, needles: &[&str]) -> bool {
    needles.iter().all(|n| line.contains(n))
}

/// A running `reverb serve`.
pub(crate) struct Server {
    child: Child,
    /// Which listener it was started with.
    pub(crate) kind: Kind,
    /// Where it listens (the real port).
    pub(crate) addr: SocketAddr,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
}

impl Server {
    /// `reverb serve` with one `kind` listener on `127.0.0.1:0`, and `args`.
    pub(crate) fn start(kind: Kind, args: &[&str]) -> Server {
        Server::start_with_nofile(kind, None, args)
    }

    /// Like `start`, with the server's descriptor limit (soft and hard) lowered to
    /// `nofile` by the shell that `exec`s it, so the pid is the server's own.
    pub(crate) fn start_with_nofile(kind: Kind, nofile: Option<u64>, args: &[&str]) -> Server {
        let mut argv = vec!["serve".to_owned()];
        argv.extend(kind.listen_args());
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let mut command = match nofile {
            None => {
                let mut command = Command::new(binary());
                command.args(&argv);
                command
            }
            Some(n) => {
                // `"$0" "$@"` keeps every argument one word, whatever it contains.
                let mut command = Command::new("sh");
                command
                    .arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(binary())
                    .args(&argv);
                command
            }
        };
        command
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn reverb");
        let stdout = Lines::collect(child.stdout.take().unwrap());
        let stderr = Lines::collect(child.stderr.take().unwrap());
        let listening = |lines: &[String]| lines.iter().any(|l| l.contains("listening on "));
        if !stdout.wait(LIMIT, listening) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "reverb {argv:?} did not start:\n{}\n{}",
                stdout.text(),
                stderr.text()
            );
        }
        let line = stdout.matching(&["listening on "]).remove(0);
        let addr = kind.parse_listening(&line);
        assert_ne!(addr.port(), 0, "the real port is printed, not 0: {line}");
        Server {
            child,
            kind,
            addr,
            stdout,
            stderr,
        }
    }

    /// The admin endpoint's address (`--admin`), from its stdout line.
    pub(crate) fn admin_addr(&self) -> SocketAddr {
        let needle = "admin endpoint on http://";
        assert!(
            self.stdout
                .wait(LIMIT, |lines| lines.iter().any(|l| l.contains(needle))),
            "no admin endpoint line:\n{}",
            self.stdout.text()
        );
        let line = self.stdout.matching(&[needle]).remove(0);
        line.split("http://")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line}"))
    }

    /// A client of this server's kind.
    pub(crate) fn connect(&self) -> Conn {
        self.kind
            .connect(self.addr, &Default::default())
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr))
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

    /// Waits for a log line containing every one of `needles` and returns it.
    pub(crate) fn await_log(&self, needles: &[&str]) -> String {
        self.await_count(needles, 1);
        self.stderr.matching(needles).remove(0)
    }

    /// Waits until `n` log lines contain every one of `needles`; returns them all.
    pub(crate) fn await_count(&self, needles: &[&str], n: usize) -> Vec<String> {
        let ready = self.stderr.wait(LIMIT, |lines| {
            lines.iter().filter(|l| contains_all(l, needles)).count() >= n
        });
        let found = self.stderr.matching(needles);
        assert!(
            ready,
            "{} of {n} log lines with {needles:?} after {LIMIT:?}; the last lines:\n{}",
            found.len(),
            tail(&self.stderr.text(), 20)
        );
        found
    }

    /// Every log line so far containing every one of `needles`.
    pub(crate) fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        self.stderr.matching(needles)
    }

    /// Whether the process is still running (not exited, not a zombie).
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits at most `limit` for the process to exit; returns its status, its summary line
    /// (stdout's last) and how long it took. Stdout closing is the event: the summary is
    /// the last thing the server writes.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, String, Duration) {
        let start = Instant::now();
        self.stdout.wait(limit, |_| false);
        assert!(
            self.stdout.ended(),
            "server still running after {limit:?}; the last log lines:\n{}",
            tail(&self.stderr.text(), 20)
        );
        let status = self.child.wait().expect("wait for reverb");
        let took = start.elapsed();
        // Every log line is in once stderr ends too (the process is gone: it will).
        self.stderr.wait(LIMIT, |_| false);
        let summary = self.stdout.text().lines().last().unwrap_or("").to_owned();
        (status, summary, took)
    }

    /// Resident memory now, in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        sys::status_kib(self.pid(), "VmRSS")
    }

    /// Starts a new peak: `peak_rss_kib` reports the highest RSS from now on.
    pub(crate) fn reset_peak_rss(&self) {
        sys::reset_peak_rss(self.pid());
    }

    /// The highest resident memory since start or the last `reset_peak_rss`, in KiB: a
    /// peak the kernel kept, however briefly it lasted.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        sys::status_kib(self.pid(), "VmHWM")
    }

    /// CPU seconds (user + system) the server has used so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        sys::cpu_seconds(self.pid())
    }

    /// Descriptors the server holds now.
    pub(crate) fn open_descriptors(&self) -> usize {
        sys::open_descriptors(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Parses `key=value` from a log line (the value runs to the next space).
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split(' ').next()
}

/// Parses a numeric `key=N` from a log line.
pub(crate) fn number(line: &str, key: &str) -> u64 {
    field(line, key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {key}= in {line}"))
}

/// Mebibytes, from KiB, for the figures.
pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `GET path` from an admin endpoint: the status code and the body.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, LIMIT).expect("connect to admin");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: reverb\r\n\r\n").expect("send");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read to the close");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}
