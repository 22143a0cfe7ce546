use std::time::Duration;

use reverb_core::{Config, ConfigError, Framing, MAX_AFFIX_LEN, MAX_SIZE};

fn error_of(config: Config) -> String {
    config
        .validate()
        .expect_err("config should be refused")
        .to_string()
}

#[test]
fn the_defaults_are_valid_and_documented_values() {
    let c = Config::default().validate().unwrap();
    assert_eq!(c.framing, Framing::Line);
    assert_eq!(c.quit_word.as_deref(), Some(&b"quit"[..]));
    assert_eq!(
        (c.max_line, c.high_watermark, c.low_watermark),
        (16384, 65536, 16384)
    );
    assert_eq!(c.max_collect, 1 << 20);
    assert!(c.output_bound() >= c.high_watermark + c.max_line);
}

#[test]
fn invalid_combinations_are_refused_with_clear_messages() {
    let cases: [(Config, &str); 14] = [
        (
            Config {
                low_watermark: 70_000,
                ..Config::default()
            },
            "low watermark (70000 bytes) must be below high watermark (65536 bytes)",
        ),
        (
            Config {
                fault_word: Some(b"quit".to_vec()),
                ..Config::default()
            },
            "quit word and fault word must differ",
        ),
        (
            Config {
                quit_word: Some(b"a\nb".to_vec()),
                ..Config::default()
            },
            "quit word must not contain a line break",
        ),
        (
            Config {
                fault_word: Some(vec![]),
                ..Config::default()
            },
            "fault word must not be empty",
        ),
        (
            Config {
                framing: Framing::Collect,
                quit_word: None,
                ..Config::default()
            },
            "collect framing needs a quit word",
        ),
        (
            Config {
                max_line: 0,
                ..Config::default()
            },
            "max line must be at least 1",
        ),
        (
            Config {
                max_frames: Some(0),
                ..Config::default()
            },
            "max frames must be at least 1",
        ),
        (
            Config {
                idle_timeout: Some(Duration::ZERO),
                ..Config::default()
            },
            "idle timeout must be longer than zero (leave it unset to turn it off)",
        ),
        (
            Config {
                max_datagram: 70_000,
                ..Config::default()
            },
            "max datagram is 70000 bytes; a UDP datagram carries at most 65507",
        ),
        (
            Config {
                prefix: vec![b'x'; 2000],
                ..Config::default()
            },
            "prefix is 2000 bytes; at most 1024 are allowed",
        ),
        (
            Config {
                quit_word: Some(b"toolong".to_vec()),
                max_line: 3,
                ..Config::default()
            },
            "quit word is longer than max line",
        ),
        (
            Config {
                max_line: usize::MAX,
                ..Config::default()
            },
            &format!(
                "max line {} is too large; the largest allowed is {MAX_SIZE}",
                usize::MAX
            ),
        ),
        (
            Config {
                max_collect: MAX_SIZE + 1,
                ..Config::default()
            },
            &format!(
                "max collect {} is too large; the largest allowed is {MAX_SIZE}",
                MAX_SIZE + 1
            ),
        ),
        (
            Config {
                flush_timeout: Duration::ZERO,
                ..Config::default()
            },
            "flush timeout must be longer than zero",
        ),
    ];
    for (config, message) in cases {
        assert_eq!(error_of(config), *message);
    }
}

#[test]
fn configurations_that_could_never_echo_are_refused() {
    // Collect mode collects the quit line itself: "quit\r\n" needs 6 bytes.
    let collect = |max_collect| Config {
        framing: Framing::Collect,
        max_collect,
        ..Config::default()
    };
    assert_eq!(
        error_of(collect(4)),
        "max collect (4 bytes) cannot hold the quit line with prefix and suffix (6 bytes)"
    );
    assert!(collect(6).validate().is_ok());
    let prefixed = Config {
        prefix: b"[".to_vec(),
        suffix: b"]".to_vec(),
        ..collect(7)
    };
    assert!(error_of(prefixed).contains("(8 bytes)"));
    // UDP: a prefix that fills the datagram leaves room for no payload at all.
    let udp = |max_datagram| Config {
        prefix: vec![b'>'; 8],
        suffix: vec![b'<'; 2],
        max_datagram,
        ..Config::default()
    };
    assert_eq!(
        error_of(udp(10)),
        "prefix and suffix (10 bytes) leave no room in max datagram (10 bytes): every \
         reply would be dropped"
    );
    assert!(udp(11).validate().is_ok());
}

#[test]
fn the_largest_sizes_allowed_derive_bounds_without_overflow() {
    // Debug builds check arithmetic: this panics if any derived bound overflows.
    let config = Config {
        framing: Framing::Collect,
        prefix: vec![b'p'; MAX_AFFIX_LEN],
        suffix: vec![b's'; MAX_AFFIX_LEN],
        max_line: MAX_SIZE,
        high_watermark: MAX_SIZE,
        low_watermark: MAX_SIZE - 1,
        max_collect: MAX_SIZE,
        ..Config::default()
    }
    .validate()
    .unwrap();
    let bound = config.output_bound();
    assert!(bound > config.input_capacity() && bound <= isize::MAX as usize);
    for framing in [Framing::Raw, Framing::Line] {
        let config = Config {
            framing,
            ..(*config).clone()
        };
        assert!(config.validate().unwrap().output_bound() <= isize::MAX as usize);
    }
}

#[test]
fn a_huge_max_line_still_echoes_and_judges_lines_correctly() {
    // The case that once wrapped the input buffer to 4 KiB: a line ending in `\r` so far
    // was refused as too long, and a line over 4 KiB hung the connection.
    let mut sim = reverb_tests::Sim::new(Config {
        max_line: MAX_SIZE,
        ..Config::default()
    })
    .with_reads(&[4096]);
    let long = [vec![b'a'; 10_000], b"\r\n".to_vec()].concat();
    sim.send(b"ends in cr\r").run();
    sim.send(b"\n").send(&long).close_client();
    sim.run_to_release();
    assert!(sim.echoed == [&b"ends in cr\r\n"[..], &long].concat());
}

#[test]
fn framing_names_parse_and_print() {
    for name in ["raw", "line", "collect"] {
        assert_eq!(name.parse::<Framing>().unwrap().to_string(), name);
    }
    assert_eq!(
        "lines".parse::<Framing>(),
        Err(ConfigError::UnknownFraming("lines".into()))
    );
}
