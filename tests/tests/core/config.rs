use std::time::Duration;

use reverb_core::{
    Config, ConfigError, EchoConfig, Framing, StreamConfig, MAX_AFFIX_LEN, MAX_SIZE,
};

fn error_of(config: Config) -> String {
    config
        .validate()
        .expect_err("config should be refused")
        .to_string()
}

#[test]
fn the_defaults_are_valid_and_documented_values() {
    let c = Config::default().validate().unwrap();
    assert_eq!(c.echo.framing, Framing::Line);
    assert_eq!(c.echo.quit_word.as_deref(), Some(&b"quit"[..]));
    assert_eq!(
        (c.echo.max_line, c.echo.high_watermark, c.echo.low_watermark),
        (16384, 65536, 16384)
    );
    assert_eq!(c.echo.max_collect, 1 << 20);
    assert!(c.echo.output_bound() >= c.echo.high_watermark + c.echo.max_line);
}

#[test]
fn invalid_combinations_are_refused_with_clear_messages() {
    let cases: [(Config, &str); 14] = [
        (
            Config {
                echo: EchoConfig {
                    low_watermark: 70_000,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "low watermark (70000 bytes) must be below high watermark (65536 bytes)",
        ),
        (
            Config {
                echo: EchoConfig {
                    fault_word: Some(b"quit".to_vec()),
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "quit word and fault word must differ",
        ),
        (
            Config {
                echo: EchoConfig {
                    quit_word: Some(b"a\nb".to_vec()),
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "quit word must not contain a line break",
        ),
        (
            Config {
                echo: EchoConfig {
                    fault_word: Some(vec![]),
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "fault word must not be empty",
        ),
        (
            Config {
                echo: EchoConfig {
                    framing: Framing::Collect,
                    quit_word: None,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "collect framing needs a quit word",
        ),
        (
            Config {
                echo: EchoConfig {
                    max_line: 0,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "max line must be at least 1",
        ),
        (
            Config {
                echo: EchoConfig {
                    max_frames: Some(0),
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "max frames must be at least 1",
        ),
        (
            Config {
                stream: StreamConfig {
                    idle_timeout: Some(Duration::ZERO),
                    ..StreamConfig::default()
                },
                ..Config::default()
            },
            "idle timeout must be longer than zero (leave it unset to turn it off)",
        ),
        (
            Config {
                echo: EchoConfig {
                    max_datagram: 70_000,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "max datagram is 70000 bytes; a UDP datagram carries at most 65507",
        ),
        (
            Config {
                echo: EchoConfig {
                    prefix: vec![b'x'; 2000],
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "prefix is 2000 bytes; at most 1024 are allowed",
        ),
        (
            Config {
                echo: EchoConfig {
                    quit_word: Some(b"toolong".to_vec()),
                    max_line: 3,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            "quit word is longer than max line",
        ),
        (
            Config {
                echo: EchoConfig {
                    max_line: usize::MAX,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            &format!(
                "max line {} is too large; the largest allowed is {MAX_SIZE}",
                usize::MAX
            ),
        ),
        (
            Config {
                echo: EchoConfig {
                    max_collect: MAX_SIZE + 1,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            &format!(
                "max collect {} is too large; the largest allowed is {MAX_SIZE}",
                MAX_SIZE + 1
            ),
        ),
        (
            Config {
                stream: StreamConfig {
                    flush_timeout: Duration::ZERO,
                    ..StreamConfig::default()
                },
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
        echo: EchoConfig {
            framing: Framing::Collect,
            max_collect,
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    assert_eq!(
        error_of(collect(4)),
        "max collect (4 bytes) cannot hold the quit line with prefix and suffix (6 bytes)"
    );
    assert!(collect(6).validate().is_ok());
    let prefixed = Config {
        echo: EchoConfig {
            prefix: b"[".to_vec(),
            suffix: b"]".to_vec(),
            ..collect(7).echo
        },
        ..collect(7)
    };
    assert!(error_of(prefixed).contains("(8 bytes)"));
    // UDP: a prefix that fills the datagram leaves room for no payload at all.
    let udp = |max_datagram| Config {
        echo: EchoConfig {
            prefix: vec![b'>'; 8],
            suffix: vec![b'<'; 2],
            max_datagram,
            ..EchoConfig::default()
        },
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
        echo: EchoConfig {
            framing: Framing::Collect,
            prefix: vec![b'p'; MAX_AFFIX_LEN],
            suffix: vec![b's'; MAX_AFFIX_LEN],
            max_line: MAX_SIZE,
            high_watermark: MAX_SIZE,
            low_watermark: MAX_SIZE - 1,
            max_collect: MAX_SIZE,
            ..EchoConfig::default()
        },
        ..Config::default()
    }
    .validate()
    .unwrap();
    let bound = config.echo.output_bound();
    assert!(bound > config.echo.input_capacity() && bound <= isize::MAX as usize);
    for framing in [Framing::Raw, Framing::Line] {
        let config = Config {
            echo: EchoConfig {
                framing,
                ..(*config).clone().echo
            },
            ..(*config).clone()
        };
        assert!(config.validate().unwrap().echo.output_bound() <= isize::MAX as usize);
    }
}

#[test]
fn a_huge_max_line_still_echoes_and_judges_lines_correctly() {
    // The case that once wrapped the input buffer to 4 KiB: a line ending in `\r` so far
    // was refused as too long, and a line over 4 KiB hung the connection.
    let mut sim = reverb_tests::Sim::new(Config {
        echo: EchoConfig {
            max_line: MAX_SIZE,
            ..EchoConfig::default()
        },
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
