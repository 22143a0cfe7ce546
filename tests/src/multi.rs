//! Many clients on one registry, driven by a schedule of per-client operations.

use std::collections::VecDeque;
use std::time::Duration;

use reverb_core::{CloseReason, Config, ConnId, Input, Instant, Output, Registry};

use crate::MAX_STEPS;

/// One step of a multi-client schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// Client `n` sends bytes.
    Send(usize, Vec<u8>),
    /// The server reads up to this many bytes from client `n`.
    Read(usize, usize),
    /// Client `n` half-closes.
    Close(usize),
    /// Virtual time passes; due timers fire.
    Advance(Duration),
}

impl ClientOp {
    /// The client the op belongs to (`None` for time, which is everyone's).
    pub fn client(&self) -> Option<usize> {
        match self {
            ClientOp::Send(n, _) | ClientOp::Read(n, _) | ClientOp::Close(n) => Some(*n),
            ClientOp::Advance(_) => None,
        }
    }
}

#[derive(Debug, Default)]
struct Client {
    id: Option<ConnId>,
    to_server: VecDeque<u8>,
    eof: bool,
    eof_delivered: bool,
    echoed: Vec<u8>,
    fin: bool,
    released: Option<CloseReason>,
}

/// Clients on one [`Registry`], each with its own simulated socket. Writes always complete
/// (the clients read promptly); reads happen only when the schedule says so.
#[derive(Debug)]
pub struct RegistrySim {
    /// The registry under test.
    pub registry: Registry,
    now: Instant,
    clients: Vec<Client>,
}

impl RegistrySim {
    /// `clients` connections accepted at time zero.
    pub fn new(config: Config, clients: usize) -> Self {
        let config = config.validate().expect("test config must be valid");
        let mut registry = Registry::new(config);
        let clients = (0..clients)
            .map(|_| Client {
                id: Some(
                    registry
                        .accept(Instant::ZERO)
                        .expect("below max_connections"),
                ),
                ..Client::default()
            })
            .collect();
        RegistrySim {
            registry,
            now: Instant::ZERO,
            clients,
        }
    }

    /// Applies one op.
    pub fn apply(&mut self, op: &ClientOp) {
        match op {
            ClientOp::Send(n, bytes) => {
                let c = &mut self.clients[*n];
                if !c.eof {
                    c.to_server.extend(bytes);
                }
            }
            ClientOp::Close(n) => self.clients[*n].eof = true,
            ClientOp::Read(n, max) => self.read(*n, *max),
            ClientOp::Advance(by) => {
                self.now = self.now + *by;
                self.registry.handle_timeout(self.now);
                self.drain_ready();
            }
        }
    }

    /// Closes every client and runs until every connection is released, following
    /// deadlines. Returns each client's received bytes and close reason.
    pub fn finish(&mut self) -> Vec<(Vec<u8>, Option<CloseReason>)> {
        for c in &mut self.clients {
            c.eof = true;
        }
        for _ in 0..MAX_STEPS {
            let mut moved = false;
            for n in 0..self.clients.len() {
                let c = &self.clients[n];
                if c.released.is_none() && (!c.to_server.is_empty() || !c.eof_delivered) {
                    let before = (c.to_server.len(), c.eof_delivered, c.released);
                    self.read(n, usize::MAX);
                    let c = &self.clients[n];
                    moved |= before != (c.to_server.len(), c.eof_delivered, c.released);
                }
            }
            if !moved {
                match self.registry.next_deadline() {
                    Some(at) if !self.registry.is_empty() => {
                        self.now = self.now.max(at);
                        self.registry.handle_timeout(self.now);
                        self.drain_ready();
                    }
                    _ => break,
                }
            }
        }
        assert!(
            self.registry.is_empty(),
            "connections left open: {:?}",
            self.registry
        );
        self.clients
            .iter()
            .map(|c| (c.echoed.clone(), c.released))
            .collect()
    }

    fn read(&mut self, n: usize, max: usize) {
        let Some(id) = self.clients[n].id else { return };
        let Some(conn) = self.registry.get(id) else {
            return;
        };
        let cap = conn.receive_capacity();
        let c = &mut self.clients[n];
        if cap == 0 {
            return;
        }
        if !c.to_server.is_empty() {
            let k = max.min(cap).min(c.to_server.len());
            let chunk: Vec<u8> = c.to_server.drain(..k).collect();
            let taken = self
                .registry
                .handle_input(id, self.now, Input::Received(&chunk));
            assert_eq!(taken, Ok(k));
        } else if c.eof && !c.eof_delivered {
            c.eof_delivered = true;
            self.registry
                .handle_input(id, self.now, Input::PeerClosed)
                .expect("live id");
        } else {
            return;
        }
        self.drain(n);
    }

    fn drain_ready(&mut self) {
        while let Some(id) = self.registry.poll_ready() {
            if let Some(n) = self.clients.iter().position(|c| c.id == Some(id)) {
                self.drain(n);
            }
        }
    }

    fn drain(&mut self, n: usize) {
        let Some(id) = self.clients[n].id else { return };
        for _ in 0..MAX_STEPS {
            let c = &mut self.clients[n];
            match self.registry.poll_output(id) {
                Output::Event(_) => {}
                Output::Transmit(bytes) => {
                    c.echoed.extend_from_slice(bytes);
                    let len = bytes.len();
                    self.registry
                        .handle_input(id, self.now, Input::Written(len))
                        .expect("live");
                }
                Output::CloseWrite => c.fin = true,
                Output::Release { reason, counters } => {
                    assert_eq!(counters.bytes_out, c.echoed.len() as u64, "final counters");
                    c.released = Some(reason);
                    c.id = None;
                    return;
                }
                Output::Timeout(_) => return,
            }
        }
        panic!("livelock draining client {n}");
    }
}
