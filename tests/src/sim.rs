//! One connection, a simulated socket, a virtual clock.

use std::collections::VecDeque;
use std::time::Duration;

use reverb_core::{
    CloseReason, Config, Connection, Echo, Event, Input, Instant, Layer, Output, Snapshot,
    ValidConfig,
};

use crate::MAX_STEPS;

/// A deterministic driver for one [`Connection`].
///
/// The client side is a byte queue (what the client sent and the server has not read
/// yet) and a record of what came back. The server side reads in sizes taken cyclically
/// from `reads` and writes in sizes taken cyclically from `writes`; a write size smaller
/// than the slice is a short write, after which the socket becomes writable again on the
/// next step (unless the client stopped reading).
#[derive(Debug)]
pub struct Sim<L: Layer = Echo> {
    /// The connection under test.
    pub conn: Connection<L>,
    /// Virtual time.
    pub now: Instant,
    /// Every byte the client has received.
    pub echoed: Vec<u8>,
    /// Whether the server's FIN reached the client.
    pub fin: bool,
    /// The release, once it happened.
    pub released: Option<CloseReason>,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// The reads the driver performed: bytes taken per read, for fragmentation checks.
    pub reads_taken: Vec<usize>,
    /// The length of every `Transmit` the connection offered, in order.
    pub offered: Vec<usize>,
    /// Whether the client reads what the server writes. When false, writes stall.
    pub client_reading: bool,
    to_server: VecDeque<u8>,
    client_eof: bool,
    eof_delivered: bool,
    write_blocked: bool,
    reads: Vec<usize>,
    writes: Vec<usize>,
    read_turn: usize,
    write_turn: usize,
}

impl Sim<Echo> {
    /// An echo connection with `config` at time zero, reading and writing without limit.
    ///
    /// # Panics
    /// If the config is invalid: a test's config is part of the test.
    pub fn new(config: Config) -> Self {
        Sim::over(config, |config| Echo::new(config.clone(), Instant::ZERO))
    }
}

impl<L: Layer> Sim<L> {
    /// A connection over the stack `build` makes from `config`, at time zero.
    ///
    /// # Panics
    /// If the config is invalid: a test's config is part of the test.
    pub fn over(config: Config, build: impl FnOnce(&ValidConfig) -> L) -> Self {
        let config = config.validate().expect("test config must be valid");
        let stack = build(&config);
        Sim {
            conn: Connection::with_stack(&config, stack, Instant::ZERO),
            now: Instant::ZERO,
            echoed: Vec::new(),
            fin: false,
            released: None,
            events: Vec::new(),
            reads_taken: Vec::new(),
            offered: Vec::new(),
            client_reading: true,
            to_server: VecDeque::new(),
            client_eof: false,
            eof_delivered: false,
            write_blocked: false,
            reads: vec![usize::MAX],
            writes: vec![usize::MAX],
            read_turn: 0,
            write_turn: 0,
        }
    }

    /// Read sizes, used in turn (each at least 1).
    pub fn with_reads(mut self, reads: &[usize]) -> Self {
        assert!(!reads.is_empty() && reads.iter().all(|&r| r > 0));
        self.reads = reads.to_vec();
        self
    }

    /// Write sizes, used in turn; 0 is a write that would block.
    pub fn with_writes(mut self, writes: &[usize]) -> Self {
        assert!(writes.iter().any(|&w| w > 0));
        self.writes = writes.to_vec();
        self
    }

    /// The client sends bytes (they wait in the kernel until the server reads them).
    pub fn send(&mut self, bytes: &[u8]) -> &mut Self {
        assert!(!self.client_eof, "the client already closed its side");
        self.to_server.extend(bytes);
        self
    }

    /// The client half-closes after everything it sent.
    pub fn close_client(&mut self) -> &mut Self {
        self.client_eof = true;
        self
    }

    /// Whether the client has half-closed.
    pub fn client_closed(&self) -> bool {
        self.client_eof
    }

    /// Bytes the client sent that the server has not read.
    pub fn unread(&self) -> usize {
        self.to_server.len()
    }

    /// Feeds one input and drains the outputs, as the contract says.
    pub fn input(&mut self, input: Input<'_>) -> usize {
        let taken = self.conn.handle_input(self.now, input);
        self.check_bounds();
        self.drain();
        taken
    }

    /// Runs the event loop until nothing more can happen without time passing.
    pub fn run(&mut self) -> &mut Self {
        for _ in 0..MAX_STEPS {
            if !self.step() {
                return self;
            }
        }
        panic!("livelock: no quiescence after {MAX_STEPS} steps");
    }

    /// Moves the clock forward, ticks, and runs.
    pub fn advance(&mut self, by: Duration) -> &mut Self {
        self.now = self.now + by;
        self.input(Input::Tick);
        self.run()
    }

    /// Jumps to the connection's next deadline (if any), ticks, and runs. Returns whether
    /// there was a deadline.
    pub fn advance_to_deadline(&mut self) -> bool {
        match self.conn.next_deadline() {
            Some(at) => {
                self.now = self.now.max(at);
                self.input(Input::Tick);
                self.run();
                true
            }
            None => false,
        }
    }

    /// Runs, following deadlines, until the connection is released.
    ///
    /// # Panics
    /// If it never is: that is a connection stuck forever.
    pub fn run_to_release(&mut self) -> CloseReason {
        for _ in 0..1000 {
            self.run();
            if let Some(reason) = self.released {
                return reason;
            }
            if !self.advance_to_deadline() {
                break;
            }
        }
        panic!("connection never released: {:?}", self.conn.snapshot());
    }

    /// The connection's view of itself.
    pub fn snapshot(&self) -> Snapshot<'_> {
        self.conn.snapshot()
    }

    /// The echoed bytes as text, for readable assertions.
    pub fn echoed_str(&self) -> &str {
        std::str::from_utf8(&self.echoed).expect("echo is UTF-8 in this test")
    }

    /// One iteration: writability, one read, drain. Returns whether anything moved.
    fn step(&mut self) -> bool {
        let mut moved = false;
        if self.write_blocked && self.client_reading {
            self.write_blocked = false;
            self.input(Input::Writable);
            moved = true;
        }
        let cap = self.conn.receive_capacity();
        if cap > 0 && !self.to_server.is_empty() {
            let size = self.reads[self.read_turn % self.reads.len()];
            self.read_turn += 1;
            let n = size.min(cap).min(self.to_server.len());
            let chunk: Vec<u8> = self.to_server.iter().take(n).copied().collect();
            let taken = self.input(Input::Received(&chunk));
            assert_eq!(taken, n, "a read within the capacity must be taken whole");
            self.reads_taken.push(taken);
            self.to_server.drain(..taken);
            moved = true;
        } else if cap > 0 && self.client_eof && !self.eof_delivered {
            self.eof_delivered = true;
            self.input(Input::PeerClosed);
            moved = true;
        }
        moved
    }

    fn drain(&mut self) {
        for _ in 0..MAX_STEPS {
            match self.conn.poll_output() {
                Output::Event(event) => self.events.push(event),
                Output::Transmit(bytes) => {
                    assert!(!bytes.is_empty(), "Transmit of nothing");
                    self.offered.push(bytes.len());
                    assert!(!self.fin, "Transmit after CloseWrite");
                    let window = if self.client_reading {
                        self.writes[self.write_turn % self.writes.len()]
                    } else {
                        0
                    };
                    self.write_turn += 1;
                    let n = window.min(bytes.len());
                    self.echoed.extend_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        self.write_blocked = true;
                    }
                    self.conn.handle_input(self.now, Input::Written(n));
                    self.check_bounds();
                }
                Output::CloseWrite => {
                    assert!(!self.fin, "CloseWrite twice");
                    assert!(!self.conn.wants_write(), "FIN with output pending");
                    self.fin = true;
                }
                Output::Release { reason, counters } => {
                    assert!(self.released.is_none(), "Release twice");
                    assert_eq!(counters, *self.conn.counters());
                    assert_eq!(counters.bytes_out, self.echoed.len() as u64);
                    self.released = Some(reason);
                }
                Output::Timeout(deadline) => {
                    if let Some(at) = deadline {
                        assert!(at > self.now, "a deadline at or before now was not fired");
                    }
                    return;
                }
            }
        }
        panic!("livelock: poll_output never reached Timeout");
    }

    /// Property (b): no buffer ever exceeds its configured bound.
    fn check_bounds(&self) {
        let s = self.conn.snapshot();
        assert!(
            s.input.len() <= s.input_capacity,
            "input {} > capacity {}",
            s.input.len(),
            s.input_capacity
        );
        assert!(
            s.frame_ends.windows(2).all(|w| w[0] < w[1])
                && s.frame_ends
                    .iter()
                    .all(|&end| end > 0 && end <= s.output.len()),
            "frame ends {:?} do not fit an output of {} bytes",
            s.frame_ends,
            s.output.len()
        );
        assert!(
            s.output.len() <= s.output_bound,
            "output {} > bound {}",
            s.output.len(),
            s.output_bound
        );
    }
}
