//! A TLS client in memory, to drive a TLS stack through [`Sim`] the way a real client
//! would: its records go in as the bytes the simulated peer sends, and what the server
//! sends comes back out of the peer's received bytes.

use std::io::{Read, Write};

use std::sync::Arc;

use reverb_core::Layer;
use reverb_tls::ServerTls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::Sim;

/// A rustls client that trusts one server's certificate.
#[derive(Debug)]
pub struct TlsPeer {
    conn: ClientConnection,
    /// Plaintext received so far.
    pub received: Vec<u8>,
    /// How much of the simulated peer's received bytes (ciphertext) was read.
    read: usize,
    /// Whether the server's close_notify came.
    pub closed: bool,
    /// Plaintext not yet handed to rustls (its buffer takes 64 KiB at a time).
    to_send: std::collections::VecDeque<u8>,
    /// A close_notify is to follow everything queued.
    closing: bool,
}

impl TlsPeer {
    /// A client for a server presenting `server`'s certificate, asking for `localhost`.
    pub fn new(server: &ServerTls) -> Self {
        let cert = CertificateDer::from_pem_slice(server.certificate_pem().as_bytes())
            .expect("the server's certificate is PEM");
        let mut roots = RootCertStore::empty();
        roots.add(cert).expect("a certificate to trust");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider's versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").expect("a DNS name");
        TlsPeer {
            conn: ClientConnection::new(Arc::new(config), name).expect("a client session"),
            received: Vec::new(),
            read: 0,
            closed: false,
            to_send: std::collections::VecDeque::new(),
            closing: false,
        }
    }

    /// Queues plaintext to send.
    pub fn write(&mut self, plaintext: &[u8]) {
        self.to_send.extend(plaintext);
    }

    /// Queues the client's close_notify, after everything written so far (and after the
    /// handshake: an alert before it would overtake the data).
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Hands queued plaintext to rustls as far as it takes it, then the close_notify.
    fn hand_over(&mut self) {
        while !self.to_send.is_empty() {
            let (front, _) = self.to_send.as_slices();
            let n = self.conn.writer().write(front).expect("into memory");
            if n == 0 {
                break;
            }
            self.to_send.drain(..n);
        }
        if self.closing && self.to_send.is_empty() && !self.conn.is_handshaking() {
            self.closing = false;
            self.conn.send_close_notify();
        }
    }

    /// Whether the handshake is complete on the client's side.
    pub fn is_connected(&self) -> bool {
        !self.conn.is_handshaking()
    }

    /// Reads the plaintext rustls holds; returns how much.
    fn read_plaintext(&mut self) -> usize {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => {
                    self.closed = true;
                    return total;
                }
                Ok(n) => {
                    self.received.extend_from_slice(&buf[..n]);
                    total += n;
                }
                Err(_) => return total,
            }
        }
    }

    /// Moves records both ways until neither side has anything more to say (the server
    /// reads and writes as the sim's size plans say).
    ///
    /// # Panics
    /// On a TLS error on the client's side, or if the exchange never settles.
    pub fn exchange<L: Layer>(&mut self, sim: &mut Sim<L>) {
        for _ in 0..100_000 {
            let mut moved = false;
            self.hand_over();
            let mut records = Vec::new();
            while self.conn.wants_write() {
                self.conn.write_tls(&mut records).expect("into memory");
            }
            if !records.is_empty() && !sim.client_closed() {
                sim.send(&records);
                moved = true;
            }
            sim.run();
            if sim.echoed.len() > self.read {
                let mut incoming = &sim.echoed[self.read..];
                while !incoming.is_empty() {
                    // An error here is rustls's plaintext buffer being full: it is read
                    // just below, and the loop goes on.
                    let n = self.conn.read_tls(&mut incoming).unwrap_or(0);
                    self.conn
                        .process_new_packets()
                        .expect("the server speaks TLS");
                    let drained = self.read_plaintext();
                    if n == 0 && drained == 0 {
                        break;
                    }
                }
                self.read = sim.echoed.len() - incoming.len();
                moved = true;
            }
            self.read_plaintext();
            if !moved && (self.to_send.is_empty() || !self.conn.wants_write()) {
                self.hand_over();
                if !self.conn.wants_write() {
                    return;
                }
            }
        }
        panic!("the TLS exchange never settled");
    }
}
