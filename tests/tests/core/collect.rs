use reverb_core::{CloseReason, Config, EchoConfig, Framing, PeerError};
use reverb_tests::Sim;

fn collect() -> Config {
    Config {
        echo: EchoConfig {
            framing: Framing::Collect,
            ..EchoConfig::default()
        },
        ..Config::default()
    }
}

#[test]
fn nothing_is_echoed_until_the_quit_line_then_everything_at_once() {
    let mut sim = Sim::new(collect()).with_reads(&[3]);
    sim.send(b"one\ntwo\n").run();
    assert!(sim.echoed.is_empty());
    assert_eq!(sim.snapshot().collected, b"one\ntwo\n");
    sim.send(b"quit\n").run();
    assert_eq!(sim.echoed_str(), "one\ntwo\nquit\n");
    assert_eq!(sim.conn.counters().frames, 1);
    assert!(sim.fin);
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::Collected));
}

#[test]
fn prefix_and_suffix_apply_to_each_collected_line() {
    let config = Config {
        echo: EchoConfig {
            prefix: b"> ".to_vec(),
            suffix: b";".to_vec(),
            ..collect().echo
        },
        ..collect()
    };
    let mut sim = Sim::new(config);
    sim.send(b"a\r\nquit\n").run();
    assert_eq!(sim.echoed_str(), "> a;\r\n> quit;\n");
}

#[test]
fn a_collection_over_max_collect_is_refused_with_an_error_line() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            max_collect: 10,
            ..collect().echo
        },
        ..collect()
    });
    sim.send(b"12345\n67890\nquit\n").run();
    assert_eq!(sim.echoed_str(), "error: collect exceeds 10 bytes\n");
    sim.close_client().run();
    let error = PeerError::CollectTooLarge { limit: 10 };
    assert_eq!(sim.released, Some(CloseReason::PeerError(error)));
}

#[test]
fn half_close_echoes_what_was_collected() {
    let mut sim = Sim::new(collect());
    sim.send(b"kept\npartial").close_client().run();
    assert_eq!(sim.echoed_str(), "kept\npartial");
    assert_eq!(sim.released, Some(CloseReason::PeerClosed));
}
