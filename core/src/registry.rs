//! Many connections, one owner: [`Registry`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::config::ValidConfig;
use crate::connection::{Connection, Step};
use crate::echo::Echo;
use crate::error::RegistryError;
use crate::input::Input;
use crate::layer::Layer;
use crate::output::{CloseClass, CloseReason, Event, Output};
use crate::time::Instant;

/// Stale timer entries are tolerated (they fire as harmless no-op ticks) until the heap
/// holds more than twice the live connections plus this slack; then it is rebuilt, so the
/// heap stays O(connections) however often deadlines move.
const HEAP_SLACK: usize = 64;

/// Names a connection in a [`Registry`]. The generation makes an id of a released
/// connection stale rather than a name for whatever reuses its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    /// The id packed into 64 bits (for a selector token or a JavaScript number: the value
    /// stays below 2^53 for the first two million reuses of a slot).
    pub const fn to_bits(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }

    /// The id from [`to_bits`](Self::to_bits).
    pub const fn from_bits(bits: u64) -> Self {
        ConnId {
            index: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }

    /// The slot index: small and dense, reused after release.
    pub const fn index(self) -> u32 {
        self.index
    }
}

/// Registry-wide counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RegistryCounters {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused (limit reached or shutting down).
    pub refused: u64,
    /// Connections open now.
    pub active: usize,
    /// Most connections open at once.
    pub peak_active: usize,
    /// Connections released.
    pub closed: u64,
    /// …of which ended gracefully.
    pub graceful: u64,
    /// …of which by the fault word or an injected fault.
    pub faults: u64,
    /// …of which by another peer error (line or collection too large).
    pub peer_errors: u64,
    /// …of which by a timer.
    pub timeouts: u64,
    /// …of which by a transport failure.
    pub resets: u64,
    /// Bytes taken from peers.
    pub bytes_in: u64,
    /// Bytes written to peers.
    pub bytes_out: u64,
    /// Frames echoed.
    pub frames: u64,
}

/// Counters of several registries (a server's threads) add up field by field. `active`
/// and `peak_active` add up too: the sum of peaks bounds the true peak from above.
impl core::ops::AddAssign for RegistryCounters {
    fn add_assign(&mut self, o: RegistryCounters) {
        self.accepted += o.accepted;
        self.refused += o.refused;
        self.active += o.active;
        self.peak_active += o.peak_active;
        self.closed += o.closed;
        self.graceful += o.graceful;
        self.faults += o.faults;
        self.peer_errors += o.peer_errors;
        self.timeouts += o.timeouts;
        self.resets += o.resets;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.frames += o.frames;
    }
}

#[derive(Debug)]
struct Slot<L> {
    generation: u32,
    conn: Option<Connection<L>>,
    /// The deadline of this slot's live heap entry. Entries that do not match are stale.
    scheduled: Option<Instant>,
}

/// Owns every connection of one event loop, each over a stack of type `L` (by default the
/// bare [`Echo`]).
///
/// A driver calls [`accept`](Self::accept) per new socket, [`handle_input`](Self::handle_input)
/// and then [`poll_output`](Self::poll_output) until `Timeout` for the connection the input
/// was for, [`handle_timeout`](Self::handle_timeout) when the earliest
/// [`next_deadline`](Self::next_deadline) passes, and drains every connection that
/// [`poll_ready`](Self::poll_ready) names after a timeout or a shutdown.
///
/// Connections share nothing but the config: one connection's failure is its own release,
/// nothing more. Deadlines live in a min-heap, so finding the next one is O(1) and
/// scheduling O(log n) at any number of connections.
#[derive(Debug)]
pub struct Registry<L = Echo> {
    config: ValidConfig,
    slots: Vec<Slot<L>>,
    free: Vec<u32>,
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    ready: VecDeque<ConnId>,
    shutting_down: bool,
    counters: RegistryCounters,
}

impl Registry<Echo> {
    /// Registers a new echo connection; see [`accept_with`](Self::accept_with).
    pub fn accept(&mut self, now: Instant) -> Result<ConnId, RegistryError> {
        let echo = Echo::new(self.config.clone(), now);
        self.accept_with(now, echo)
    }
}

impl<L: Layer> Registry<L> {
    /// An empty registry whose connections all use `config`.
    pub fn new(config: ValidConfig) -> Self {
        Registry {
            config,
            slots: Vec::new(),
            free: Vec::new(),
            timers: BinaryHeap::new(),
            ready: VecDeque::new(),
            shutting_down: false,
            counters: RegistryCounters::default(),
        }
    }

    /// The shared config.
    pub fn config(&self) -> &ValidConfig {
        &self.config
    }

    /// Registers a new connection over `stack`, chosen by the driver for the listener that
    /// accepted it. Refused beyond `max_connections` and while shutting down: the driver
    /// closes the socket at once.
    pub fn accept_with(&mut self, now: Instant, stack: L) -> Result<ConnId, RegistryError> {
        let max = self.config.stream.max_connections;
        let refusal = if self.shutting_down {
            Some(RegistryError::ShuttingDown)
        } else if self.counters.active >= max {
            Some(RegistryError::Full(max))
        } else {
            None
        };
        if let Some(error) = refusal {
            self.counters.refused += 1;
            return Err(error);
        }
        let conn = Connection::with_stack(&self.config, stack, now);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len())
                    .expect("invariant: max_connections keeps slots below u32::MAX");
                self.slots.push(Slot {
                    generation: 0,
                    conn: None,
                    scheduled: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.conn = Some(conn);
        let id = ConnId {
            index,
            generation: slot.generation,
        };
        self.counters.accepted += 1;
        self.counters.active += 1;
        self.counters.peak_active = self.counters.peak_active.max(self.counters.active);
        self.reschedule(index);
        Ok(id)
    }

    /// Feeds an input to one connection; see
    /// [`Connection::handle_input`]. Then drain [`poll_output`](Self::poll_output) for it.
    pub fn handle_input(
        &mut self,
        id: ConnId,
        now: Instant,
        input: Input<'_>,
    ) -> Result<usize, RegistryError> {
        let conn = self.get_mut(id).ok_or(RegistryError::UnknownConnection)?;
        let before = *conn.counters();
        let taken = conn.handle_input(now, input);
        let after = *conn.counters();
        let c = &mut self.counters;
        c.bytes_in += after.bytes_in - before.bytes_in;
        c.bytes_out += after.bytes_out - before.bytes_out;
        self.reschedule(id.index);
        Ok(taken)
    }

    /// The next output of one connection; see [`Connection::poll_output`]. After
    /// `Release` the id is stale and this returns `Timeout(None)`.
    pub fn poll_output(&mut self, id: ConnId) -> Output<'_> {
        let Some(conn) = self.get_mut(id) else {
            return Output::Timeout(None);
        };
        match conn.step() {
            Step::Event(event) => {
                // A connection counts an echo's frames as its event is polled.
                if let Event::Echoed { frames, .. } = event {
                    self.counters.frames += frames;
                }
                Output::Event(event)
            }
            Step::CloseWrite => Output::CloseWrite,
            Step::Timeout(deadline) => {
                // Sending the FIN may have started the linger timer.
                self.reschedule(id.index);
                Output::Timeout(deadline)
            }
            Step::Release(reason) => {
                let counters = *conn.counters();
                self.remove(id.index, reason);
                Output::Release { reason, counters }
            }
            Step::Transmit => {
                let conn = self
                    .get_mut(id)
                    .expect("invariant: the connection just stepped");
                Output::Transmit(conn.transmit_slice())
            }
        }
    }

    /// Fires the timers due at `now`. Each connection that had one is queued for
    /// [`poll_ready`](Self::poll_ready). Early calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let slot = &mut self.slots[index as usize];
            if slot.generation != generation || slot.scheduled != Some(at) {
                continue;
            }
            slot.scheduled = None;
            if let Some(conn) = &mut slot.conn {
                conn.handle_input(now, Input::Tick);
                self.ready.push_back(ConnId { index, generation });
                self.reschedule(index);
            }
        }
    }

    /// A connection that changed without an input of the driver's (a timer fired, a
    /// shutdown began): drain its outputs. Ids may repeat or be stale; both are harmless.
    pub fn poll_ready(&mut self) -> Option<ConnId> {
        self.ready.pop_front()
    }

    /// The earliest deadline of any connection. May be earlier than needed (a deadline
    /// that moved later is found out when it fires), never later.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            let slot = &self.slots[index as usize];
            if slot.generation == generation && slot.scheduled == Some(at) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Asks every connection to shut down and refuses new ones. Drain every connection
    /// [`poll_ready`](Self::poll_ready) names; the registry is finished when
    /// [`is_empty`](Self::is_empty).
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        for index in 0..self.slots.len() as u32 {
            let slot = &mut self.slots[index as usize];
            if let Some(conn) = &mut slot.conn {
                conn.handle_input(now, Input::Shutdown);
                self.ready.push_back(ConnId {
                    index,
                    generation: slot.generation,
                });
                self.reschedule(index);
            }
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// One connection, if the id is current.
    pub fn get(&self, id: ConnId) -> Option<&Connection<L>> {
        let slot = self.slots.get(id.index as usize)?;
        slot.conn
            .as_ref()
            .filter(|_| slot.generation == id.generation)
    }

    fn get_mut(&mut self, id: ConnId) -> Option<&mut Connection<L>> {
        let slot = self.slots.get_mut(id.index as usize)?;
        slot.conn
            .as_mut()
            .filter(|_| slot.generation == id.generation)
    }

    /// Every open connection.
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &Connection<L>)> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let id = ConnId {
                index: index as u32,
                generation: slot.generation,
            };
            slot.conn.as_ref().map(|conn| (id, conn))
        })
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.counters.active
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.counters.active == 0
    }

    /// Registry-wide counters.
    pub fn counters(&self) -> &RegistryCounters {
        &self.counters
    }

    fn remove(&mut self, index: u32, reason: CloseReason) {
        let slot = &mut self.slots[index as usize];
        slot.conn = None;
        slot.scheduled = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        let c = &mut self.counters;
        c.active -= 1;
        c.closed += 1;
        match reason.class() {
            CloseClass::Graceful => c.graceful += 1,
            CloseClass::Fault => c.faults += 1,
            CloseClass::PeerError => c.peer_errors += 1,
            CloseClass::Timeout => c.timeouts += 1,
            CloseClass::Reset => c.resets += 1,
        }
    }

    /// Makes sure the heap has an entry no later than the connection's next deadline.
    fn reschedule(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        let Some(deadline) = slot.conn.as_ref().and_then(Connection::<L>::next_deadline) else {
            return;
        };
        if slot.scheduled.is_some_and(|s| s <= deadline) {
            return;
        }
        slot.scheduled = Some(deadline);
        self.timers
            .push(Reverse((deadline, index, slot.generation)));
        if self.timers.len() > 2 * self.counters.active + HEAP_SLACK {
            self.timers = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.scheduled.map(|at| Reverse((at, i as u32, s.generation))))
                .collect();
        }
    }
}
