//! What an idle connection holds: a burst's buffers are given back once it is quiet, and a
//! busy connection keeps them (no allocation per message).

use std::time::Duration;

use reverb_core::{Config, EchoConfig, Framing};
use reverb_tests::Sim;

/// The most buffer memory an idle connection may keep after any echo.
const IDLE_BOUND: usize = 8 * 1024;

#[test]
fn an_idle_connection_gives_back_a_large_echos_buffers() {
    for framing in [Framing::Raw, Framing::Line] {
        let mut sim = Sim::new(Config {
            echo: EchoConfig {
                framing,
                ..EchoConfig::default()
            },
            ..Config::default()
        })
        .with_writes(&[16 * 1024]);
        // 64 KiB: one chunk in raw, 64 lines of 1 KiB in line mode.
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        let burst = line.repeat(64);
        sim.send(&burst).run();
        assert!(sim.echoed == burst, "{framing}");
        let busy = sim.conn.allocated();
        assert!(
            busy >= 16 * 1024,
            "{framing}: the burst needed {busy} bytes"
        );
        assert!(
            sim.advance_to_deadline(),
            "{framing}: a large buffer schedules its own return"
        );
        let idle = sim.conn.allocated();
        assert!(
            idle <= IDLE_BOUND,
            "{framing}: {idle} bytes held while idle (was {busy})"
        );
        assert_eq!(
            sim.conn.next_deadline(),
            None,
            "{framing}: then nothing more"
        );
    }
}

#[test]
fn a_busy_connection_keeps_its_buffers_between_messages() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            framing: Framing::Raw,
            ..EchoConfig::default()
        },
        ..Config::default()
    })
    .with_writes(&[8 * 1024]);
    let chunk = vec![b'y'; 32 * 1024];
    sim.send(&chunk).run();
    let held = sim.conn.allocated();
    for _ in 0..20 {
        // A message every 900 ms: never quiet for the whole second a trim waits for.
        sim.advance(Duration::from_millis(900));
        sim.send(&chunk).run();
        assert_eq!(sim.conn.allocated(), held, "no reallocation while busy");
    }
}

#[test]
fn a_connection_that_never_sent_holds_no_buffer() {
    let sim = Sim::new(Config::default());
    assert_eq!(sim.conn.allocated(), 0);
}
