use std::time::Duration;

use reverb_core::{CloseReason, Config, EchoConfig, Event, Input, Phase, StreamConfig, Timer};
use reverb_tests::Sim;

fn big_payload() -> Vec<u8> {
    (0..20_000u32)
        .flat_map(|i| format!("{i:09}\n").into_bytes())
        .collect()
}

#[test]
fn half_close_with_a_large_payload_in_flight_echoes_everything_then_fins() {
    let payload = big_payload(); // 200 KB, three times the high watermark
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            quit_word: None,
            ..EchoConfig::default()
        },
        ..Config::default()
    })
    .with_reads(&[1000, 7])
    .with_writes(&[4096, 1]);
    sim.send(&payload).close_client().run();
    assert_eq!(sim.echoed.len(), payload.len());
    assert_eq!(sim.echoed, payload);
    assert!(sim.fin);
    assert_eq!(sim.released, Some(CloseReason::PeerClosed));
}

#[test]
fn shutdown_flushes_pending_echo_then_fins() {
    let mut sim = Sim::new(Config::default());
    sim.client_reading = false;
    sim.send(b"in flight\nhalf").run();
    sim.input(Input::Shutdown);
    assert_eq!(sim.snapshot().phase, Phase::Closing);
    assert!(sim.events.contains(&Event::Closing(CloseReason::Shutdown)));
    sim.client_reading = true;
    sim.run();
    assert_eq!(sim.echoed_str(), "in flight\nhalf");
    assert!(sim.fin);
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::Shutdown));
}

#[test]
fn shutdown_stops_taking_input() {
    let mut sim = Sim::new(Config::default());
    sim.input(Input::Shutdown);
    sim.run();
    assert!(sim.fin);
    sim.send(b"too late\n").run();
    assert!(sim.echoed.is_empty());
}

#[test]
fn the_shutdown_deadline_releases_a_connection_that_cannot_flush() {
    let config = Config {
        stream: StreamConfig {
            shutdown_timeout: Duration::from_secs(3),
            ..StreamConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::new(config);
    sim.client_reading = false;
    sim.send(b"stuck\n").run();
    sim.input(Input::Shutdown);
    sim.advance(Duration::from_millis(2999));
    assert_eq!(sim.released, None);
    sim.advance(Duration::from_millis(1));
    assert!(sim.events.contains(&Event::TimedOut(Timer::Shutdown)));
    assert_eq!(sim.released, Some(CloseReason::TimedOut(Timer::Shutdown)));
    assert!(
        !sim.fin,
        "what could not be flushed is cut, not closed gracefully"
    );
}

#[test]
fn the_shutdown_deadline_also_bounds_lingering() {
    let config = Config {
        stream: StreamConfig {
            linger: Some(Duration::from_secs(60)),
            shutdown_timeout: Duration::from_secs(1),
            ..StreamConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::new(config);
    sim.input(Input::Shutdown);
    sim.run();
    assert_eq!(sim.snapshot().phase, Phase::Lingering);
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.released, Some(CloseReason::Shutdown));
}

#[test]
fn a_transport_reset_releases_at_once() {
    let mut sim = Sim::new(Config::default());
    sim.client_reading = false;
    sim.send(b"pending\n").run();
    sim.input(Input::Reset);
    assert_eq!(sim.released, Some(CloseReason::Reset));
    assert!(!sim.conn.wants_write());
    assert_eq!(sim.conn.receive_capacity(), 0);
}

#[test]
fn after_release_every_input_is_ignored() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            linger: None,
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    sim.send(b"quit\n").run();
    assert!(sim.released.is_some());
    assert_eq!(sim.input(Input::Received(b"x\n")), 0);
    sim.input(Input::PeerClosed);
    sim.input(Input::Written(10));
    assert!(sim.conn.is_released());
}
