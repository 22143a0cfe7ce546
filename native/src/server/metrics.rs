//! What `--admin`'s `/metrics` counts, as each event loop counts it.
//!
//! Every worker owns its cells and is the only thread that writes them; the admin
//! endpoint reads every worker's cells when it is scraped and adds them up (see
//! `exposition`). A cell is an atomic only so that the scrape may read it from another
//! thread: the writer does a relaxed load and a relaxed store, which on x86-64 and
//! AArch64 are plain moves — no locked instruction, and no cache line passed between
//! threads while nobody scrapes. Nothing here wakes a loop: idle stays zero CPU.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reverb_core::{CloseClass, Timer};

/// A count that one thread writes and any thread may read.
#[derive(Debug, Default)]
pub(crate) struct Cell(AtomicU64);

impl Cell {
    /// Adds `n`. Only the owning worker calls this, so the load and the store cannot
    /// interleave with another writer's.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Replaces the value: for totals the core already keeps (a UDP socket's), published
    /// rather than counted a second time.
    #[inline]
    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a TCP connection was closed at once, before any byte was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `--max-connections` were open.
    MaxConnections,
    /// The client's address held `--max-connections-per-ip`.
    MaxConnectionsPerIp,
    /// The server was shutting down.
    ShuttingDown,
}

impl Refusal {
    pub(crate) const ALL: [Refusal; 3] = [
        Refusal::MaxConnections,
        Refusal::MaxConnectionsPerIp,
        Refusal::ShuttingDown,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Refusal::MaxConnections => "max_connections",
            Refusal::MaxConnectionsPerIp => "max_connections_per_ip",
            Refusal::ShuttingDown => "shutting_down",
        }
    }
}

/// A timer's label value.
pub(crate) const fn timer_name(timer: Timer) -> &'static str {
    match timer {
        Timer::Idle => "idle",
        Timer::Frame => "frame",
        Timer::WriteStall => "write_stall",
        Timer::Flush => "flush",
        Timer::Linger => "linger",
        Timer::Shutdown => "shutdown",
        Timer::Handshake => "handshake",
    }
}

/// Upper bounds of the echo latency histogram's buckets, in nanoseconds. An echo inside
/// the server takes a few microseconds on loopback; a write that must wait for a slow
/// reader, or a LAN peer's window, takes milliseconds; past a second it is a stall.
pub(crate) const LATENCY_BOUNDS_NS: [u64; 15] = [
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// One listener's echo latency histogram. Buckets are kept as plain (not cumulative)
/// counts, so an observation touches one bucket; the scrape adds them up.
#[derive(Debug, Default)]
pub(crate) struct Latency {
    /// One per bound, and the last for everything above the largest.
    buckets: [Cell; LATENCY_BOUNDS_NS.len() + 1],
    sum_ns: Cell,
}

impl Latency {
    #[inline]
    pub(crate) fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_NS
            .iter()
            .position(|&bound| ns <= bound)
            .unwrap_or(LATENCY_BOUNDS_NS.len());
        self.buckets[bucket].add(1);
        self.sum_ns.add(ns);
    }

    /// Each bucket's plain count, and the sum of the observations in nanoseconds.
    pub(crate) fn read(&self) -> ([u64; LATENCY_BOUNDS_NS.len() + 1], u64) {
        (
            std::array::from_fn(|i| self.buckets[i].get()),
            self.sum_ns.get(),
        )
    }
}

/// What one worker counted for one TCP listener. Aligned to its own cache lines so that
/// two workers' cells never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct ListenerCells {
    pub(crate) accepted: Cell,
    /// By [`Refusal`].
    pub(crate) refused: [Cell; Refusal::ALL.len()],
    /// By [`CloseClass`].
    pub(crate) closed: [Cell; CloseClass::ALL.len()],
    pub(crate) bytes_in: Cell,
    pub(crate) bytes_out: Cell,
    pub(crate) frames: Cell,
    /// Times a connection stopped reading at the high watermark.
    pub(crate) pauses: Cell,
    /// By [`Timer`].
    pub(crate) timers: [Cell; Timer::ALL.len()],
    pub(crate) latency: Latency,
}

impl ListenerCells {
    pub(crate) fn refused(&self, why: Refusal) {
        self.refused[why as usize].add(1);
    }

    pub(crate) fn closed(&self, class: CloseClass) {
        self.closed[class as usize].add(1);
    }

    pub(crate) fn timer(&self, timer: Timer) {
        self.timers[timer as usize].add(1);
    }
}

/// Why a datagram got no echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unanswered {
    /// Its reply would exceed `--max-datagram`.
    TooLarge,
    /// The socket could not take the reply (send buffer full, or an error).
    SendFailed,
    /// From a service's source port.
    SourcePort,
    /// From a peer in an echo loop with us.
    EchoLoop,
    /// From a source over its token buckets.
    RateLimited,
    /// Dropped on purpose (`--drop`).
    Injected,
}

impl Unanswered {
    pub(crate) const ALL: [Unanswered; 6] = [
        Unanswered::TooLarge,
        Unanswered::SendFailed,
        Unanswered::SourcePort,
        Unanswered::EchoLoop,
        Unanswered::RateLimited,
        Unanswered::Injected,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Unanswered::TooLarge => "too_large",
            Unanswered::SendFailed => "send_failed",
            Unanswered::SourcePort => "source_port",
            Unanswered::EchoLoop => "echo_loop",
            Unanswered::RateLimited => "rate_limited",
            Unanswered::Injected => "injected",
        }
    }
}

/// What one worker's socket counted for one UDP address: the core's and the socket's
/// own totals, published after each batch of datagrams (see `UdpEcho::publish`).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct UdpCells {
    pub(crate) bytes_in: Cell,
    pub(crate) bytes_out: Cell,
    pub(crate) echoed: Cell,
    /// By [`Unanswered`].
    pub(crate) dropped: [Cell; Unanswered::ALL.len()],
}

/// Every cell of one worker: one entry per TCP listener and per UDP address, in the
/// order they were given.
#[derive(Debug)]
pub(crate) struct WorkerMetrics {
    pub(crate) tcp: Box<[ListenerCells]>,
    pub(crate) udp: Box<[UdpCells]>,
}

impl WorkerMetrics {
    pub(crate) fn new(tcp: usize, udp: usize) -> Self {
        WorkerMetrics {
            tcp: (0..tcp).map(|_| ListenerCells::default()).collect(),
            udp: (0..udp).map(|_| UdpCells::default()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_lands_in_the_first_bucket_that_holds_it() {
        let latency = Latency::default();
        latency.observe(Duration::from_micros(25));
        latency.observe(Duration::from_micros(26));
        latency.observe(Duration::from_secs(2));
        let (buckets, sum) = latency.read();
        assert_eq!(buckets[0], 1, "a bound is inclusive, as Prometheus's le is");
        assert_eq!(buckets[1], 1);
        assert_eq!(
            buckets[LATENCY_BOUNDS_NS.len()],
            1,
            "above the largest bound"
        );
        assert_eq!(buckets.iter().sum::<u64>(), 3);
        assert_eq!(sum, 25_000 + 26_000 + 2_000_000_000);
    }

    #[test]
    fn the_bounds_rise() {
        assert!(LATENCY_BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
    }
}
