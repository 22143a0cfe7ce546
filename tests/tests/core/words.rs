use reverb_core::{CloseReason, Config, EchoConfig, Event, PeerError, Phase};
use reverb_tests::Sim;

#[test]
fn the_quit_line_is_not_echoed_and_closes_after_earlier_echoes() {
    let mut sim = Sim::new(Config::default()).with_writes(&[1]);
    sim.send(b"a\nb\r\nquit\r\nafter\n").run();
    assert_eq!(sim.echoed_str(), "a\nb\r\n");
    assert!(sim.fin, "FIN after the earlier echoes were flushed");
    assert_eq!(sim.snapshot().phase, Phase::Lingering);
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::Quit));
}

#[test]
fn the_quit_word_is_compared_without_its_terminator_only() {
    let mut sim = Sim::new(Config::default());
    sim.send(b"quit \n quit\nQUIT\nquitx\n").run();
    assert_eq!(sim.echoed_str(), "quit \n quit\nQUIT\nquitx\n");
    assert!(!sim.fin);
}

#[test]
fn the_fault_word_fails_the_connection_and_drops_its_unwritten_output() {
    let config = Config {
        echo: EchoConfig {
            fault_word: Some(b"boom".to_vec()),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::new(config);
    sim.client_reading = false;
    sim.send(b"a\nboom\nb\n").run();
    assert_eq!(
        sim.released,
        Some(CloseReason::PeerError(PeerError::FaultInjected))
    );
    assert!(sim
        .events
        .contains(&Event::PeerError(PeerError::FaultInjected)));
    assert!(sim.echoed.is_empty());
    assert!(
        !sim.fin,
        "a failed connection is released, not closed gracefully"
    );
}

#[test]
fn once_closes_after_the_first_echo() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            max_frames: Some(1),
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    sim.send(b"Hello World\nsecond\n").run();
    assert_eq!(sim.echoed_str(), "Hello World\n");
    assert!(sim.fin);
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::FrameLimit));
}

#[test]
fn an_oversize_line_gets_one_error_line_and_a_graceful_close() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            max_line: 8,
            ..EchoConfig::default()
        },
        ..Config::default()
    })
    .with_reads(&[3]);
    sim.send(b"ok\n0123456789abcdef\nnever\n").run();
    assert_eq!(sim.echoed_str(), "ok\nerror: line exceeds 8 bytes\n");
    assert!(sim.fin);
    sim.close_client().run();
    let error = PeerError::LineTooLong { limit: 8 };
    assert_eq!(sim.released, Some(CloseReason::PeerError(error)));
    assert!(sim.events.contains(&Event::PeerError(error)));
}

#[test]
fn an_oversize_line_is_refused_before_it_is_complete() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            max_line: 4,
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    sim.send(b"abcdefgh").run(); // no newline: it can only get longer
    assert_eq!(sim.echoed_str(), "error: line exceeds 4 bytes\n");
}

#[test]
fn a_line_of_exactly_max_line_with_crlf_is_accepted() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            max_line: 4,
            ..EchoConfig::default()
        },
        ..Config::default()
    })
    .with_reads(&[5]);
    sim.send(b"abcd\r\n").run();
    assert_eq!(sim.echoed_str(), "abcd\r\n");
}
