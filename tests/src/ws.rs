//! A WebSocket client in memory, to drive a WebSocket stack through [`Sim`] (directly, or
//! inside TLS through a [`TlsPeer`]) the way a real client would: tungstenite's own client
//! side — its handshake, masking, reassembly, UTF-8 checks, automatic pongs and close
//! replies — over a pair of byte queues.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use reverb_core::Layer;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::frame::coding::OpCode;
use tungstenite::protocol::frame::{CloseFrame, FrameHeader};
use tungstenite::{Message, WebSocket};

use crate::{Sim, TlsPeer};

/// Most rounds an exchange may take before the test is failed as a livelock.
const MAX_ROUNDS: usize = 100_000;

/// The client's side of the socket: what the server sent, not yet read by tungstenite,
/// and what tungstenite wrote, not yet sent. Reading an empty queue would block.
#[derive(Debug, Default)]
struct Pipe {
    incoming: VecDeque<u8>,
    outgoing: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.incoming.len());
        for (slot, byte) in buf.iter_mut().zip(self.incoming.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum State {
    Handshaking(MidHandshake<ClientHandshake<Pipe>>),
    Open(WebSocket<Pipe>),
    /// The handshake failed; the bytes the server sent stay in `raw`.
    Refused,
}

/// tungstenite's WebSocket client over memory.
pub struct WsPeer {
    state: State,
    /// Messages to send once the handshake is done.
    queued: Vec<Message>,
    /// Data messages received (text and binary), in order.
    pub messages: Vec<Message>,
    /// Pong payloads received.
    pub pongs: Vec<Vec<u8>>,
    /// The server's close frame, once it came (`Some(None)`: one without a code).
    pub close: Option<Option<CloseFrame>>,
    /// What tungstenite refused in the server's bytes, if anything.
    pub error: Option<String>,
    /// Every byte the server sent, as it came.
    pub raw: Vec<u8>,
    /// How much of the transport's received bytes were taken.
    read: usize,
}

impl std::fmt::Debug for WsPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsPeer")
            .field("open", &self.is_open())
            .field("messages", &self.messages)
            .field("close", &self.close)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl WsPeer {
    /// A client asking for `ws://localhost{path}`; its request is ready to send.
    ///
    /// # Panics
    /// If tungstenite refuses the URL (a test's path is part of the test).
    pub fn new(path: &str) -> Self {
        let url = format!("ws://localhost{path}");
        let request = tungstenite::client::IntoClientRequest::into_client_request(url.as_str())
            .expect("a ws:// URL");
        let start = ClientHandshake::start(Pipe::default(), request, None).expect("a request");
        let state = match start.handshake() {
            Err(HandshakeError::Interrupted(mid)) => State::Handshaking(mid),
            Ok(_) => unreachable!("no answer read yet"),
            Err(HandshakeError::Failure(e)) => panic!("client handshake: {e}"),
        };
        WsPeer {
            state,
            queued: Vec::new(),
            messages: Vec::new(),
            pongs: Vec::new(),
            close: None,
            error: None,
            raw: Vec::new(),
            read: 0,
        }
    }

    /// Whether the server accepted the handshake.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// Sends a message (after the handshake, if it is still under way).
    pub fn send(&mut self, message: Message) {
        self.queued.push(message);
        self.flush_queue();
    }

    /// Sends bytes as they are: frames built by hand, valid or not.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.pipe().outgoing.extend_from_slice(bytes);
    }

    /// Starts the client's close handshake with `code`.
    pub fn close(&mut self, code: u16) {
        if let State::Open(ws) = &mut self.state {
            let frame = CloseFrame {
                code: code.into(),
                reason: "bye".into(),
            };
            let _ = ws.close(Some(frame));
            let _ = ws.flush();
        }
    }

    /// The received data messages as (is text, payload) pairs.
    pub fn payloads(&self) -> Vec<(bool, Vec<u8>)> {
        self.messages
            .iter()
            .map(|m| match m {
                Message::Text(t) => (true, t.as_bytes().to_vec()),
                Message::Binary(b) => (false, b.to_vec()),
                other => panic!("not a data message: {other:?}"),
            })
            .collect()
    }

    /// The server's close code, if its close frame came with one.
    pub fn close_code(&self) -> Option<u16> {
        self.close.as_ref()?.as_ref().map(|f| u16::from(f.code))
    }

    fn pipe(&mut self) -> &mut Pipe {
        match &mut self.state {
            State::Handshaking(mid) => mid.get_mut().get_mut(),
            State::Open(ws) => ws.get_mut(),
            State::Refused => panic!("the handshake was refused"),
        }
    }

    fn flush_queue(&mut self) {
        if let State::Open(ws) = &mut self.state {
            for message in self.queued.drain(..) {
                ws.send(message).expect("a message into memory");
            }
        }
    }

    /// Bytes to send to the server.
    fn outgoing(&mut self) -> Vec<u8> {
        match self.state {
            State::Refused => Vec::new(),
            _ => std::mem::take(&mut self.pipe().outgoing),
        }
    }

    /// Bytes from the server: the handshake's answer, then frames.
    fn incoming(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
        if matches!(self.state, State::Refused) {
            return;
        }
        self.pipe().incoming.extend(bytes);
        if let State::Handshaking(_) = self.state {
            let State::Handshaking(mid) = std::mem::replace(&mut self.state, State::Refused) else {
                unreachable!()
            };
            match mid.handshake() {
                Ok((ws, _response)) => self.state = State::Open(ws),
                Err(HandshakeError::Interrupted(mid)) => self.state = State::Handshaking(mid),
                Err(HandshakeError::Failure(e)) => {
                    self.error = Some(e.to_string());
                    return;
                }
            }
            self.flush_queue();
        }
        let State::Open(ws) = &mut self.state else {
            return;
        };
        loop {
            match ws.read() {
                Ok(Message::Pong(p)) => self.pongs.push(p.to_vec()),
                Ok(Message::Close(frame)) => self.close = Some(frame),
                Ok(Message::Ping(_) | Message::Frame(_)) => {}
                Ok(message) => self.messages.push(message),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    break
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    break;
                }
            }
        }
        // Pongs and the close reply tungstenite queued.
        let _ = ws.flush();
    }

    /// Moves bytes both ways through a bare WebSocket stack until neither side has
    /// anything more to say (the server reads and writes as the sim's size plans say).
    ///
    /// # Panics
    /// If the exchange never settles.
    pub fn exchange<L: Layer>(&mut self, sim: &mut Sim<L>) {
        for _ in 0..MAX_ROUNDS {
            let out = self.outgoing();
            let mut moved = false;
            if !out.is_empty() && !sim.client_closed() {
                sim.send(&out);
                moved = true;
            }
            sim.run();
            if sim.echoed.len() > self.read {
                let new = sim.echoed[self.read..].to_vec();
                self.read = sim.echoed.len();
                self.incoming(&new);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the WebSocket exchange never settled");
    }

    /// The same through TLS: the client's frames go into `tls`, and what `tls` decrypts
    /// comes back.
    ///
    /// # Panics
    /// If the exchange never settles.
    pub fn exchange_tls<L: Layer>(&mut self, tls: &mut TlsPeer, sim: &mut Sim<L>) {
        for _ in 0..MAX_ROUNDS {
            let out = self.outgoing();
            let mut moved = !out.is_empty();
            tls.write(&out);
            tls.exchange(sim);
            if tls.received.len() > self.read {
                let new = tls.received[self.read..].to_vec();
                self.read = tls.received.len();
                self.incoming(&new);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the WebSocket exchange never settled");
    }
}

/// A client frame built by hand, masked with `key` (`None`: unmasked, which a client must
/// never send), with `rsv1` set if asked: the invalid frames tungstenite's client refuses
/// to make, and fragmentation chosen byte by byte.
pub fn client_frame(
    opcode: u8,
    fin: bool,
    payload: &[u8],
    key: Option<[u8; 4]>,
    rsv1: bool,
) -> Vec<u8> {
    let header = FrameHeader {
        is_final: fin,
        rsv1,
        opcode: OpCode::from(opcode),
        mask: key,
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    header
        .format(payload.len() as u64, &mut out)
        .expect("into memory");
    match key {
        Some(key) => out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k)),
        None => out.extend_from_slice(payload),
    }
    out
}

/// The opening request of a WebSocket client, as bytes, for tests that speak raw bytes.
pub const UPGRADE_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
