//! `reverb bench`: a load generator that verifies every byte it gets back.
//!
//! Each thread runs a `mio` loop over its share of the connections (`worker`); each
//! connection is a sans-IO [`LoadConn`] that decides what to send and
//! checks every echoed byte against a pattern that is a pure function of (connection,
//! sequence) (`pattern`), so loss, reordering, duplication and corruption all show.
//! Latencies go into log-linear histograms (`histogram`), measured from each message's
//! *intended* send time, so an open-loop run (`--rate`) does not hide queueing; the
//! open-loop `schedule` counts every message that fell due, sent late or never sent.
//! A server that resets or closes connections on purpose (`reverb serve --reset-after`)
//! can be expected (`faults`): each such end is counted with what it lost, and the
//! connection is opened again.
//!
//! The server is a URL (`target`): plain TCP, TLS, WebSocket or both, or reverb's HTTP
//! echo (`http`), each a sans-IO layer between the socket and the `LoadConn`
//! (`transport`), with an optional PROXY header first (`proxy`). Plain TCP has no layer at all: its bytes go straight between
//! socket and `LoadConn`, as they always did.

mod args;
mod faults;
mod histogram;
mod http;
mod load;
mod pattern;
mod proxy;
mod report;
mod schedule;
mod sys;
mod target;
mod transport;
mod worker;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use args::BenchArgs;
pub use faults::{Ends, Expect, Expected};
pub use histogram::Histogram;
pub use load::{LoadConn, Measure, Mismatch};
pub use pattern::Pattern;
pub use proxy::{header as proxy_header, ProxyVersion};
pub use report::Report;
pub use target::{Scheme, Target};

use reverb_tls::ClientTls;
use transport::Wiring;

/// Descriptors the process needs beyond one per connection (stdio, the poll instances).
const FD_HEADROOM: u64 = 64;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The echo server, as given.
    pub target: Target,
    /// Its address, resolved.
    pub addr: SocketAddr,
    /// `tls://` and `wss://`: the TLS settings (`--ca`, `--insecure`).
    pub tls: Option<ClientTls>,
    /// `--send-proxy`: a PROXY header first on each connection.
    pub send_proxy: Option<ProxyVersion>,
    /// Connections, spread over the threads.
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// Measure the messages meant to be sent in this long (after warmup)…
    pub duration: Option<Duration>,
    /// …or this many messages.
    pub requests: Option<u64>,
    /// Load before measuring starts.
    pub warmup: Duration,
    /// Messages in flight per connection (closed loop).
    pub pipeline: usize,
    /// Threads, each with its own event loop.
    pub threads: usize,
    /// Messages end in `\n` (for line-mode servers).
    pub line: bool,
    /// Open loop: messages per second in total.
    pub rate: Option<f64>,
    /// `--connect-rate`: churn, connections per second in total (each connects, echoes
    /// one message, is checked and closed); `connections` is then the most open at once.
    pub connect_rate: Option<f64>,
    /// Longest wait for a connect, for an owed echo to progress, or for a due message to
    /// find a free connection (open loop).
    pub timeout: Duration,
    /// `--idle N --hold D`: hold N connections for D instead of loading them.
    pub idle: Option<(usize, Duration)>,
    /// Ends of connections the server announced (`--expect-resets`, `--expect-closes`):
    /// counted, and the connection opened again, instead of failing the run.
    pub expect: Expect,
    /// Draw a progress line on a terminal (stderr).
    pub progress: bool,
}

/// Runs the benchmark and returns its report. Errors are only those that stop the run
/// from starting (a thread that cannot create its poll instance); everything the server
/// does wrong is in the report.
pub fn run(opts: &BenchOptions) -> std::io::Result<Report> {
    let (connections, duration) = match opts.idle {
        Some((n, hold)) => (n, Some(hold)),
        None => (opts.connections, opts.duration),
    };
    let mut notes = Vec::new();
    let needed = connections as u64 + FD_HEADROOM;
    let limit = sys::raise_fd_limit();
    if limit < needed {
        notes.push(format!(
            "open-file limit is {limit}, below the {needed} this run needs: raise it (ulimit -n) \
             or expect connect failures"
        ));
    }
    let threads = opts.threads.clamp(1, connections.max(1));
    let start = Instant::now();
    let progress = Arc::new(AtomicU64::new(0));
    let pattern = Pattern {
        size: opts.size,
        line: opts.line,
    };
    let wiring = Wiring {
        proxy: opts.send_proxy,
        tls: opts
            .tls
            .clone()
            .filter(|_| opts.target.scheme.is_tls())
            .map(|tls| (tls, opts.target.host.clone())),
        ws: opts.target.scheme.is_ws().then(|| opts.target.ws_url()),
        http: opts
            .target
            .scheme
            .is_http()
            .then(|| (opts.target.host_port.clone(), opts.target.path.clone())),
        text: opts.line,
    };
    let mut first_id = 0u64;
    let plans: Vec<worker::Plan> = (0..threads)
        .map(|k| {
            let share = |total: u64| {
                total / threads as u64 + u64::from((k as u64) < total % threads as u64)
            };
            let count = share(connections as u64) as usize;
            let plan = worker::Plan {
                addr: opts.addr,
                first_id,
                id_stride: connections as u64,
                connections: count,
                pattern,
                pipeline: if opts.idle.is_some() {
                    1
                } else {
                    opts.pipeline
                },
                // `--idle` sends one message per connection, on no schedule.
                rate: opts
                    .rate
                    .filter(|_| opts.idle.is_none())
                    .map(|r| r / threads as f64),
                warmup: if opts.idle.is_some() {
                    Duration::ZERO
                } else {
                    opts.warmup
                },
                duration,
                requests: opts.requests.map(share),
                timeout: opts.timeout,
                start,
                progress: Arc::clone(&progress),
                one_each: opts.idle.is_some(),
                expect: opts.expect,
                wiring: wiring.clone(),
                churn: opts.connect_rate.map(|r| r / threads as f64),
            };
            first_id += count as u64;
            plan
        })
        .collect();

    let cpu_before = sys::cpu_time();
    let handles: Vec<_> = plans
        .into_iter()
        .map(|plan| std::thread::spawn(move || worker::run(&plan)))
        .collect();
    if opts.progress && std::io::stderr().is_terminal() {
        show_progress(&handles, &progress, start, opts.warmup, duration);
    }
    let mut tallies = Vec::new();
    for h in handles {
        tallies.push(h.join().expect("invariant: bench threads do not panic")?);
    }
    let cpu = sys::cpu_time().saturating_sub(cpu_before);
    Ok(Report::new(
        opts,
        threads,
        tallies,
        cpu,
        start.elapsed(),
        notes,
    ))
}

/// One self-overwriting line on stderr while the threads run.
fn show_progress<T>(
    handles: &[std::thread::JoinHandle<T>],
    progress: &AtomicU64,
    start: Instant,
    warmup: Duration,
    duration: Option<Duration>,
) {
    let mut last = (Instant::now(), 0u64);
    while handles.iter().any(|h| !h.is_finished()) {
        std::thread::sleep(Duration::from_millis(250));
        let done = progress.load(Ordering::Relaxed);
        let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), done);
        let elapsed = start.elapsed();
        let bar = match duration {
            Some(d) => {
                let total = (warmup + d).as_secs_f64();
                let frac = (elapsed.as_secs_f64() / total).min(1.0);
                let filled = (frac * 30.0) as usize;
                format!(
                    "[{}{}] {:3.0}%",
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    frac * 100.0
                )
            }
            None => format!("{:.1}s", elapsed.as_secs_f64()),
        };
        let phase = if elapsed < warmup { "warmup" } else { "" };
        eprint!("\r{bar} {:>12} msg/s {phase:<6}", report::rate(rate));
    }
    eprint!("\r{:70}\r", "");
}
