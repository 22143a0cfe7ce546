//! Scenario 4: half-close with 8 MiB in flight. The client sends 8 MiB and its FIN right
//! after the last byte, while megabytes of echo are still queued in the server and in
//! both kernels; every byte must come back, identical and in order, then the server's
//! end-of-stream (not a reset).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use crate::figure;
use crate::kind::Kind;
use crate::pattern::{Rng, Shape, Stream};
use crate::support::{number, serial, Server};

const PAYLOAD: u64 = 8 << 20;
/// The reader stops this far from the end until the FIN is sent, so that at least half of
/// it is certainly still in flight then. Small enough that the buffers on the way (the
/// core's 64 KiB queue and at least 64 KiB in each of three socket buffers) take the rest
/// of the payload while nobody reads: the sender cannot block for good.
const HOLD: u64 = 128 << 10;

#[test]
fn scenario_04_half_close_with_8_mib_in_flight_echoes_every_byte() {
    let _serial = serial();
    for kind in Kind::ALL {
        half_close_loses_nothing(kind);
    }
}

fn half_close_loses_nothing(kind: Kind) {
    let server = Server::start(kind, &["--mode", "raw", "--threads", "2"]);
    let conn = server.connect();
    let peer = conn.local_addr();
    let (mut reader, mut writer) = conn.split();
    let received = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (fin_sent, fin_seen) = mpsc::channel();
    let sender = {
        let received = Arc::clone(&received);
        thread::spawn(move || {
            let mut stream = Stream::new(4, Shape::Raw);
            let mut sizes = Rng::new(4);
            while stream.offset < PAYLOAD {
                // Writes of every size up to 256 KiB, so the server's reads cut the
                // stream everywhere.
                let n = sizes.range(1, 256 << 10).min(PAYLOAD - stream.offset);
                writer.write_all(&stream.take(n as usize)).expect("send");
            }
            // The FIN goes right behind the last byte: what has not come back yet is
            // in flight.
            let in_flight = PAYLOAD - received.load(Ordering::Acquire);
            writer.finish().expect("half-close");
            fin_sent.send(()).unwrap();
            in_flight
        })
    };
    let mut check = Stream::new(4, Shape::Raw);
    let mut buf = vec![0u8; 64 << 10];
    let mut held = false;
    let outcome = loop {
        if !held && check.offset >= PAYLOAD - HOLD {
            held = true;
            fin_seen.recv().expect("the sender ended without its FIN");
        }
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = check.check(&buf[..n]) {
                    break Err(e);
                }
                received.fetch_add(n as u64, Ordering::AcqRel);
            }
            Err(e) => break Err(format!("after {} bytes: {e}", check.offset)),
        }
    };
    let in_flight = sender.join().unwrap();
    let took = started.elapsed();
    outcome.unwrap_or_else(|e| panic!("the echo: {e}"));
    assert_eq!(check.offset, PAYLOAD, "bytes echoed before the FIN");
    let line = server.await_log(&["connection closed", &peer.to_string()]);
    assert!(line.contains("reason=peer closed"), "{line}");
    assert!(kind.carries(number(&line, "bytes_in"), PAYLOAD), "{line}");
    assert!(kind.carries(number(&line, "bytes_out"), PAYLOAD), "{line}");
    figure(
        4,
        Some(kind),
        &format!(
            "8 MiB sent, FIN with {:.2} MiB still to echo; all {PAYLOAD} bytes came back \
             identical, then EOF, in {:.2} s",
            in_flight as f64 / (1 << 20) as f64,
            took.as_secs_f64()
        ),
    );
    assert!(
        in_flight > HOLD / 2,
        "{in_flight} bytes in flight at the FIN"
    );
}
