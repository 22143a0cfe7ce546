use std::time::Duration;

use reverb_core::{Config, ConfigError, Framing};

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
    let cases = [
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
    ];
    for (config, message) in cases {
        assert_eq!(error_of(config), message);
    }
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
