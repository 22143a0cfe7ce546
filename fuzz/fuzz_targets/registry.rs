//! A registry of a few connections, any valid config, any interleaving of accepts,
//! per-connection inputs, timeouts and a shutdown: no panic; every connection keeps the
//! core's bounds and its outputs' order; a released id is stale for good; the registry's
//! next deadline is never later than a connection's; its counters agree with what the
//! driver saw; and after a shutdown it empties within a bounded number of deadlines,
//! whether or not the peers read. The connections run the echo alone or under the fault
//! layer, as the config says.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reverb_core::{
    ConnId, Echo, Faults, Input, Instant, Layer, Output, Registry, RegistryError, ValidConfig,
};
use reverb_fuzz::{bytes, check_bounds, deadline_budget, Op, Peer, DRAIN_ROUNDS};
use std::time::Duration;

/// At most this many connections at once: enough to interleave, few enough that ops
/// land on each.
const SLOTS: usize = 4;

#[derive(Arbitrary, Debug)]
enum Step {
    Accept,
    /// An op for the connection in slot `n % SLOTS`.
    Conn(u8, Op),
    /// Time passes by this many milliseconds; then the registry's timeout.
    Timeout(u16),
    Shutdown,
}

#[derive(Arbitrary, Debug)]
struct Case {
    config: reverb_fuzz::FuzzConfig,
    steps: Vec<Step>,
    reads_at_end: bool,
}

struct Live {
    id: ConnId,
    peer: Peer,
}

struct Driver<L: Layer> {
    registry: Registry<L>,
    /// Builds connection number `n`'s stack.
    stack: fn(&ValidConfig, u64, Instant) -> L,
    config: ValidConfig,
    now: Instant,
    slots: Vec<Option<Live>>,
    stale: Vec<ConnId>,
    accepted: u64,
    released: u64,
    /// Bytes taken by every connection.
    taken: usize,
}

impl<L: Layer> Driver<L> {
    fn drain(&mut self, slot: usize) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let id = live.id;
        for _ in 0..DRAIN_ROUNDS {
            let written = match self.registry.poll_output(id) {
                Output::Event(_) => continue,
                Output::Transmit(bytes) => {
                    assert!(!live.peer.fin, "transmit after our FIN");
                    assert!(!bytes.is_empty(), "an empty transmit");
                    let n = live.peer.budget.min(bytes.len());
                    live.peer.written.extend_from_slice(&bytes[..n]);
                    n
                }
                Output::CloseWrite => {
                    assert!(!live.peer.fin, "a second FIN");
                    live.peer.fin = true;
                    continue;
                }
                Output::Release { .. } => {
                    self.released += 1;
                    self.stale.push(id);
                    self.slots[slot] = None;
                    return;
                }
                Output::Timeout(deadline) => {
                    if let Some(at) = deadline {
                        assert!(at > self.now, "deadline {at} not after now {}", self.now);
                    }
                    let conn = self.registry.get(id).expect("a live connection");
                    check_bounds(conn, &self.config);
                    return;
                }
            };
            self.registry
                .handle_input(id, self.now, Input::Written(written))
                .expect("a live connection takes input");
        }
        panic!("the drain did not end");
    }

    fn drain_ready(&mut self) {
        for _ in 0..10_000 {
            let Some(id) = self.registry.poll_ready() else {
                return;
            };
            if let Some(slot) = self.slot_of(id) {
                self.drain(slot);
            }
        }
        panic!("poll_ready did not end");
    }

    fn slot_of(&self, id: ConnId) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|l| l.id == id))
    }

    fn input(&mut self, slot: usize, op: &Op) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let id = live.id;
        let input = match op {
            Op::Receive(atoms) | Op::Offer(atoms) => {
                let mut data = bytes(atoms, &self.config.echo);
                let capacity = self.registry.get(id).unwrap().receive_capacity();
                if matches!(op, Op::Receive(_)) {
                    if capacity == 0 || data.is_empty() {
                        return;
                    }
                    data.truncate(capacity);
                }
                let taken = self
                    .registry
                    .handle_input(id, self.now, Input::Received(&data))
                    .expect("a live connection takes input");
                assert!(taken <= capacity.min(data.len()));
                self.taken += taken;
                return self.drain(slot);
            }
            Op::PeerClosed => Input::PeerClosed,
            Op::Budget(n) => {
                live.peer.budget = usize::from(*n);
                return;
            }
            Op::Writable => Input::Writable,
            Op::Tick(ms) => {
                self.now = self.now + Duration::from_millis(u64::from(*ms));
                Input::Tick
            }
            Op::Shutdown => Input::Shutdown,
            Op::Reset => Input::Reset,
        };
        self.registry
            .handle_input(id, self.now, input)
            .expect("a live connection takes input");
        self.drain(slot);
    }

    fn check(&mut self) {
        let live = self.slots.iter().flatten().count();
        assert_eq!(self.registry.len(), live);
        let c = *self.registry.counters();
        assert_eq!(c.active, live);
        assert_eq!(c.accepted, self.accepted);
        assert_eq!(c.closed, self.released);
        for &id in &self.stale {
            assert!(self.registry.get(id).is_none(), "a released id came back");
            assert!(matches!(
                self.registry.handle_input(id, self.now, Input::Tick),
                Err(RegistryError::UnknownConnection)
            ));
            assert!(matches!(
                self.registry.poll_output(id),
                Output::Timeout(None)
            ));
        }
        let earliest = self
            .slots
            .iter()
            .flatten()
            .filter_map(|l| self.registry.get(l.id).and_then(|c| c.next_deadline()))
            .min();
        if let Some(conn_deadline) = earliest {
            let next = self.registry.next_deadline();
            assert!(
                next.is_some_and(|at| at <= conn_deadline),
                "registry deadline {next:?} later than a connection's {conn_deadline}"
            );
        }
    }

    fn timeout(&mut self, ms: u16) {
        self.now = self.now + Duration::from_millis(u64::from(ms));
        self.registry.handle_timeout(self.now);
        self.drain_ready();
    }
}

fuzz_target!(|case: Case| {
    let Some(config) = case.config.validate() else {
        return;
    };
    if config.faults.is_active() {
        run(&case, config, |config, n, now| {
            Faults::new(&config.faults, n, now, Echo::new(config.clone(), now))
        });
    } else {
        run(&case, config, |config, _, now| {
            Echo::new(config.clone(), now)
        });
    }
});

fn run<L: Layer>(case: &Case, config: ValidConfig, stack: fn(&ValidConfig, u64, Instant) -> L) {
    let mut d = Driver {
        registry: Registry::new(config.clone()),
        stack,
        config,
        now: Instant::ZERO,
        slots: (0..SLOTS).map(|_| None).collect(),
        stale: Vec::new(),
        accepted: 0,
        released: 0,
        taken: 0,
    };
    for step in &case.steps {
        match step {
            Step::Accept => {
                let Some(slot) = d.slots.iter().position(Option::is_none) else {
                    continue;
                };
                let stack = (d.stack)(&d.config, d.accepted, d.now);
                match d.registry.accept_with(d.now, stack) {
                    Ok(id) => {
                        d.accepted += 1;
                        d.slots[slot] = Some(Live {
                            id,
                            peer: Peer {
                                budget: usize::MAX,
                                ..Peer::default()
                            },
                        });
                    }
                    Err(_) => assert!(
                        d.registry.is_shutting_down()
                            || d.registry.len() >= d.config.stream.max_connections,
                        "refused below the limit"
                    ),
                }
            }
            Step::Conn(n, op) => d.input(usize::from(*n) % SLOTS, op),
            Step::Timeout(ms) => d.timeout(*ms),
            Step::Shutdown => {
                d.registry.shutdown(d.now);
                d.drain_ready();
            }
        }
        d.check();
    }
    // The end: a shutdown, then deadlines until every connection is released.
    d.registry.shutdown(d.now);
    d.drain_ready();
    let budget = if case.reads_at_end { usize::MAX } else { 0 };
    for live in d.slots.iter_mut().flatten() {
        live.peer.budget = budget;
    }
    let budget = deadline_budget(d.taken);
    for _ in 0..budget {
        if d.registry.is_empty() {
            break;
        }
        if case.reads_at_end {
            for slot in 0..SLOTS {
                d.input(slot, &Op::Writable);
            }
            // Writing what was pending may have released the last ones.
            if d.registry.is_empty() {
                break;
            }
        }
        let Some(at) = d.registry.next_deadline() else {
            panic!(
                "{} connections left after shutdown, no deadline",
                d.registry.len()
            );
        };
        let wait = at.as_millis().saturating_sub(d.now.as_millis());
        d.timeout(u16::try_from(wait).unwrap_or(u16::MAX));
        d.check();
    }
    assert!(
        d.registry.is_empty(),
        "{} connections left after shutdown",
        d.registry.len()
    );
}
