//! What the fuzz targets share: a [`Config`] built from fuzz input (mostly small limits,
//! so that every limit is reached, and now and then any value at all; faults on or off),
//! peer input built from atoms that hit the interesting bytes (newlines, `\r\n`, the quit
//! and fault words, lines around `max_line`), the layer stack a connection gets, and a
//! simulated peer that drives a connection by the run-loop contract and checks the core's
//! bounds after every step.

use std::time::Duration;

use arbitrary::Arbitrary;
use reverb_core::{
    Chunk, Config, Connection, Echo, EchoConfig, FaultConfig, Faults, Framing, Input, Instant,
    Layer, Output, StreamConfig, ValidConfig,
};

/// A size limit: mostly small (limits are reached within a short input), sometimes any
/// value, to find what an absurd limit does to the arithmetic around it.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Size {
    Small(u8),
    Medium(u16),
    Any(u64),
}

impl Size {
    pub fn get(self) -> usize {
        match self {
            Size::Small(n) => usize::from(n),
            Size::Medium(n) => usize::from(n),
            Size::Any(n) => n as usize,
        }
    }
}

/// Every field of [`Config`], from fuzz input; `validate` decides which are valid.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzConfig {
    framing: u8,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    quit_word: Option<Vec<u8>>,
    fault_word: Option<Vec<u8>>,
    max_frames: Option<u8>,
    max_line: Size,
    high_watermark: Size,
    low_watermark: Size,
    max_collect: Size,
    frame_ms: Option<u16>,
    max_datagram: Size,
    record_frames: bool,
    idle_ms: Option<u16>,
    write_stall_ms: Option<u16>,
    flush_ms: u16,
    linger_ms: Option<u16>,
    shutdown_ms: u16,
    max_connections: u8,
    delay_ms: Option<u16>,
    chunk: Option<(Size, Size)>,
    seed: u64,
}

impl FuzzConfig {
    /// The config, if the core accepts it. Fields not set here keep their defaults, so
    /// a field the core adds later is fuzzed at its default.
    // Every field is set today; the struct updates are for the fields added later.
    #[allow(clippy::needless_update)]
    pub fn validate(&self) -> Option<ValidConfig> {
        let ms = |v: Option<u16>| v.map(|ms| Duration::from_millis(u64::from(ms)));
        Config {
            stream: StreamConfig {
                idle_timeout: ms(self.idle_ms),
                write_stall_timeout: ms(self.write_stall_ms),
                flush_timeout: Duration::from_millis(u64::from(self.flush_ms)),
                linger: ms(self.linger_ms),
                shutdown_timeout: Duration::from_millis(u64::from(self.shutdown_ms)),
                max_connections: usize::from(self.max_connections),
                ..StreamConfig::default()
            },
            echo: EchoConfig {
                framing: match self.framing % 3 {
                    0 => Framing::Raw,
                    1 => Framing::Line,
                    _ => Framing::Collect,
                },
                prefix: self.prefix.clone(),
                suffix: self.suffix.clone(),
                quit_word: self.quit_word.clone(),
                fault_word: self.fault_word.clone(),
                max_frames: self.max_frames.map(u64::from),
                max_line: self.max_line.get(),
                high_watermark: self.high_watermark.get(),
                low_watermark: self.low_watermark.get(),
                max_collect: self.max_collect.get(),
                frame_timeout: ms(self.frame_ms),
                max_datagram: self.max_datagram.get(),
                record_frames: self.record_frames,
                ..EchoConfig::default()
            },
            faults: FaultConfig {
                delay: ms(self.delay_ms),
                chunk: self.chunk.map(|(min, max)| Chunk {
                    min: min.get(),
                    max: max.get(),
                }),
                seed: self.seed,
                ..FaultConfig::default()
            },
            ..Config::default()
        }
        .validate()
        .ok()
    }
}

/// The layer stack of a connection: the echo, wrapped in the fault layer when a fault is
/// on (as a driver leaves the fault layer out when none is).
pub enum Stack {
    Echo(Connection<Echo>),
    Faulty(Connection<Faults<Echo>>),
}

impl Stack {
    /// Connection number `n` (its fault layer's random choices depend on it).
    pub fn new(config: &ValidConfig, n: u64, now: Instant) -> Stack {
        let echo = Echo::new(config.clone(), now);
        if config.faults.is_active() {
            let faults = Faults::new(&config.faults, n, now, echo);
            Stack::Faulty(Connection::with_stack(config, faults, now))
        } else {
            Stack::Echo(Connection::with_stack(config, echo, now))
        }
    }
}

/// A piece of peer input.
#[derive(Arbitrary, Debug, Clone)]
pub enum Atom {
    Bytes(Vec<u8>),
    Newline,
    CrLf,
    Cr,
    /// The quit word's line.
    Quit,
    /// The fault word's line.
    Fault,
    /// A run of one byte: lines near and over `max_line`.
    Run(u8, u16),
}

/// The bytes of `atoms` under `config`.
pub fn bytes(atoms: &[Atom], config: &EchoConfig) -> Vec<u8> {
    let mut out = Vec::new();
    for atom in atoms {
        match atom {
            Atom::Bytes(b) => out.extend_from_slice(b),
            Atom::Newline => out.push(b'\n'),
            Atom::CrLf => out.extend_from_slice(b"\r\n"),
            Atom::Cr => out.push(b'\r'),
            Atom::Quit => {
                out.extend_from_slice(config.quit_word.as_deref().unwrap_or(b"quit"));
                out.push(b'\n');
            }
            Atom::Fault => {
                out.extend_from_slice(config.fault_word.as_deref().unwrap_or(b"boom"));
                out.push(b'\n');
            }
            Atom::Run(byte, n) => out.extend(std::iter::repeat_n(*byte, usize::from(*n))),
        }
    }
    out
}

/// What a driver can do to one connection.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// Read what the peer sent, no more than `receive_capacity` (rule 1).
    Receive(Vec<Atom>),
    /// Offer bytes regardless of the capacity: the core takes what it can and says so.
    Offer(Vec<Atom>),
    PeerClosed,
    /// From now on the socket takes this many bytes per write (0: it is full).
    Budget(u16),
    Writable,
    /// Time passes by this many milliseconds, then a tick.
    Tick(u16),
    Shutdown,
    Reset,
}

/// The peer and socket of one connection, as the core's outputs left them.
#[derive(Debug, Default)]
pub struct Peer {
    /// Bytes per write the socket takes.
    pub budget: usize,
    /// Every byte taken by the core, and every byte written to the peer.
    pub taken: Vec<u8>,
    pub written: Vec<u8>,
    pub fin: bool,
    pub released: bool,
}

/// The core's bounds on one connection, checked after every input and every drain.
pub fn check_bounds<L: Layer>(conn: &Connection<L>, config: &ValidConfig) {
    let s = conn.snapshot();
    let echo = &config.echo;
    let bound = echo.output_bound();
    assert!(
        s.output.len() <= bound,
        "output {} above its bound {bound}",
        s.output.len()
    );
    assert!(
        s.counters.peak_output <= bound,
        "peak output {} above its bound {bound}",
        s.counters.peak_output
    );
    assert!(
        s.input.len() <= echo.input_capacity(),
        "input {} above its capacity {}",
        s.input.len(),
        echo.input_capacity()
    );
    assert!(
        s.collected.len() <= echo.max_collect,
        "collected {} above max_collect {}",
        s.collected.len(),
        echo.max_collect
    );
}

/// Most outputs one drain may yield before it counts as a livelock.
pub const DRAIN_ROUNDS: usize = 1_000_000;

/// Drains one connection's outputs by rule 2, writing what the socket takes (rule 3);
/// checks their order and, at the end, that no due timer was left unfired.
pub fn drain<L: Layer>(
    conn: &mut Connection<L>,
    peer: &mut Peer,
    now: Instant,
    config: &ValidConfig,
) {
    // Each round ends the drain, yields an event or consumes output; one input can release
    // tens of thousands of held one-byte lines, each an event and a write, and a
    // livelock is still found in milliseconds.
    for _ in 0..DRAIN_ROUNDS {
        let written = match conn.poll_output() {
            Output::Event(_) => continue,
            Output::Transmit(bytes) => {
                assert!(!peer.released, "transmit after release");
                assert!(!peer.fin, "transmit after our FIN");
                assert!(!bytes.is_empty(), "an empty transmit");
                let n = peer.budget.min(bytes.len());
                peer.written.extend_from_slice(&bytes[..n]);
                n
            }
            Output::CloseWrite => {
                assert!(!peer.fin && !peer.released, "a second FIN");
                peer.fin = true;
                continue;
            }
            Output::Release { .. } => {
                assert!(!peer.released, "a second release");
                peer.released = true;
                continue;
            }
            Output::Timeout(deadline) => {
                if peer.released {
                    assert_eq!(deadline, None, "a deadline after release");
                }
                if let Some(at) = deadline {
                    // Every input fires the timers due at its time: a deadline not after
                    // now would make an event loop spin.
                    assert!(at > now, "deadline {at} not after now {now}");
                }
                check_bounds(conn, config);
                return;
            }
        };
        let taken = conn.handle_input(now, Input::Written(written));
        assert_eq!(taken, 0);
        check_bounds(conn, config);
    }
    panic!("the drain did not end");
}

/// Applies one op to a connection, then drains it.
pub fn apply<L: Layer>(
    conn: &mut Connection<L>,
    peer: &mut Peer,
    now: &mut Instant,
    op: &Op,
    config: &ValidConfig,
) {
    let input = match op {
        Op::Receive(atoms) | Op::Offer(atoms) => {
            let mut data = bytes(atoms, &config.echo);
            let capacity = conn.receive_capacity();
            let respect = matches!(op, Op::Receive(_));
            if respect {
                if capacity == 0 || data.is_empty() {
                    return;
                }
                data.truncate(capacity);
            }
            let taken = conn.handle_input(*now, Input::Received(&data));
            assert!(taken <= data.len(), "took {taken} of {}", data.len());
            assert!(
                taken <= capacity,
                "took {taken} with a capacity of {capacity}"
            );
            if respect && !peer.released {
                assert_eq!(
                    taken,
                    data.len(),
                    "a read within the capacity is taken whole"
                );
            }
            if !conn.snapshot().write_closed {
                peer.taken.extend_from_slice(&data[..taken]);
            }
            drain(conn, peer, *now, config);
            return;
        }
        Op::PeerClosed => Input::PeerClosed,
        Op::Budget(n) => {
            peer.budget = usize::from(*n);
            return;
        }
        Op::Writable => Input::Writable,
        Op::Tick(ms) => {
            *now = *now + Duration::from_millis(u64::from(*ms));
            Input::Tick
        }
        Op::Shutdown => Input::Shutdown,
        Op::Reset => Input::Reset,
    };
    let taken = conn.handle_input(*now, input);
    assert_eq!(taken, 0);
    drain(conn, peer, *now, config);
}

/// Most deadlines a connection may need to finish, given the bytes it took: each byte
/// is at most one frame, and each frame at most a few deadlines (a delayed piece of its
/// echo, a write resumed). A fault delay with a 1-byte high watermark does need one
/// deadline per held line, so the bound grows with the input; a livelock would not stop.
pub fn deadline_budget(taken: usize) -> usize {
    64 + 8 * taken
}

/// After the peer's end-of-stream the connection must be released within a bounded
/// number of deadlines, whether the peer reads its echo (`reads`) or never reads again:
/// every state has a deadline.
pub fn finish<L: Layer>(
    conn: &mut Connection<L>,
    peer: &mut Peer,
    now: &mut Instant,
    reads: bool,
    config: &ValidConfig,
) {
    apply(conn, peer, now, &Op::PeerClosed, config);
    peer.budget = if reads { usize::MAX } else { 0 };
    let budget = deadline_budget(peer.taken.len());
    for _ in 0..budget {
        if peer.released {
            return;
        }
        if reads {
            apply(conn, peer, now, &Op::Writable, config);
            if peer.released {
                return;
            }
        }
        let Some(at) = conn.next_deadline() else {
            let s = conn.snapshot();
            panic!(
                "stuck after the peer's end-of-stream (peer {}): phase {:?}, {} bytes of \
                 output pending, no deadline",
                if reads { "reading" } else { "not reading" },
                s.phase,
                s.output.len()
            );
        };
        *now = at;
        let taken = conn.handle_input(*now, Input::Tick);
        assert_eq!(taken, 0);
        drain(conn, peer, *now, config);
    }
    assert!(peer.released, "not released after {budget} deadlines");
}
