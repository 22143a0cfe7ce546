use reverb_core::{CloseReason, Config, EchoConfig, Framing};
use reverb_tests::Sim;

fn raw() -> Config {
    Config {
        echo: EchoConfig {
            framing: Framing::Raw,
            ..EchoConfig::default()
        },
        ..Config::default()
    }
}

#[test]
fn every_byte_value_is_echoed_in_order() {
    let payload: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let mut sim = Sim::new(raw())
        .with_reads(&[1, 7, 300])
        .with_writes(&[3, 1000]);
    sim.send(&payload).close_client().run();
    assert_eq!(sim.echoed, payload);
    assert_eq!(sim.released, Some(CloseReason::PeerClosed));
}

#[test]
fn newlines_and_quit_words_mean_nothing_in_raw_framing() {
    let mut sim = Sim::new(raw());
    sim.send(b"quit\nquit\n").run();
    assert_eq!(sim.echoed, b"quit\nquit\n");
    assert_eq!(sim.released, None);
}

#[test]
fn prefix_and_suffix_wrap_each_read_chunk() {
    let config = Config {
        echo: EchoConfig {
            prefix: b"<".to_vec(),
            suffix: b">".to_vec(),
            ..raw().echo
        },
        ..raw()
    };
    let mut sim = Sim::new(config).with_reads(&[2]);
    sim.send(b"hello").run();
    assert_eq!(sim.echoed, b"<he><ll><o>");
}

#[test]
fn a_frame_limit_counts_reads() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            max_frames: Some(2),
            ..raw().echo
        },
        ..raw()
    })
    .with_reads(&[3]);
    sim.send(b"abcdefghi").run();
    assert_eq!(sim.echoed, b"abcdef");
    assert!(sim.fin);
}
