//! The serde forms the bindings hand to JavaScript, checked natively in JSON (where bytes
//! are arrays of numbers instead of `Uint8Array`s). The node tests in `web/test/` check
//! the same forms through the real wasm module.

use core::time::Duration;

use reverb_core::{
    CloseReason, Config, Connection, Counters, EchoConfig, Event, FaultConfig, FrameKind, Input,
    Instant, Output, PeerError, StreamConfig, Timer,
};
use serde_json::{json, Value};

use super::{App, AppData, InputData};

fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| e.to_string())
}

#[test]
fn the_default_config_is_one_object_per_section_with_durations_in_ms() {
    let json = serde_json::to_value(Config::default()).unwrap();
    assert_eq!(
        json,
        json!({
            "stream": {
                "idle_timeout": null,
                "write_stall_timeout": null,
                "flush_timeout": 10_000,
                "linger": 2_000,
                "shutdown_timeout": 5_000,
                "max_connections": 10_000,
            },
            "echo": {
                "framing": "line",
                "prefix": "",
                "suffix": "",
                "quit_word": "quit",
                "fault_word": null,
                "max_frames": null,
                "max_line": 16_384,
                "high_watermark": 65_536,
                "low_watermark": 16_384,
                "max_collect": 1_048_576,
                "frame_timeout": null,
                "max_datagram": 65_507,
                "record_frames": false,
            },
            "faults": {
                "delay": null,
                "jitter": null,
                "rate": null,
                "chunk": null,
                "reset_after": null,
                "close_after": null,
                "fault_chance": null,
                "drop": null,
                "duplicate": null,
                "reorder": null,
                "seed": 0,
            },
        })
    );
    assert_eq!(read::<Config>(json), Ok(Config::default()));
}

#[test]
fn a_config_keeps_the_defaults_of_what_it_leaves_out() {
    let config: Config = read(json!({
        "echo": { "prefix": "> ", "quit_word": null, "frame_timeout": 250 },
        "stream": { "linger": null },
    }))
    .unwrap();
    assert_eq!(
        config,
        Config {
            echo: EchoConfig {
                prefix: b"> ".to_vec(),
                quit_word: None,
                frame_timeout: Some(Duration::from_millis(250)),
                ..EchoConfig::default()
            },
            stream: StreamConfig {
                linger: None,
                ..StreamConfig::default()
            },
            ..Config::default()
        }
    );
    assert_eq!(read::<Config>(json!({})), Ok(Config::default()));
}

#[test]
fn words_are_text_or_bytes_and_non_utf8_comes_back_as_bytes() {
    let config: Config = read(json!({
        "echo": { "prefix": [0xff, 0x3e], "fault_word": "boom", "suffix": [33] },
    }))
    .unwrap();
    assert_eq!(config.echo.prefix, b"\xff>");
    assert_eq!(config.echo.fault_word.as_deref(), Some(&b"boom"[..]));
    assert_eq!(config.echo.suffix, b"!");
    let back = serde_json::to_value(&config).unwrap();
    assert_eq!(back["echo"]["prefix"], json!([0xff, 0x3e]));
    assert_eq!(back["echo"]["suffix"], json!("!"));
    assert_eq!(back["echo"]["fault_word"], json!("boom"));
}

#[test]
fn a_bad_config_is_an_error_naming_the_field() {
    let flat = read::<Config>(json!({ "framing": "raw" })).unwrap_err();
    assert!(flat.contains("unknown field `framing`"), "{flat}");
    let typo = read::<Config>(json!({ "echo": { "framming": "raw" } })).unwrap_err();
    assert!(typo.starts_with("echo"), "{typo}");
    assert!(typo.contains("unknown field `framming`"), "{typo}");
    let negative = read::<Config>(json!({ "echo": { "max_line": -1 } })).unwrap_err();
    assert!(negative.starts_with("echo.max_line: "), "{negative}");
    let framing = read::<Config>(json!({ "echo": { "framing": "lines" } })).unwrap_err();
    assert!(framing.contains("unknown variant `lines`"), "{framing}");
    let word = read::<Config>(json!({ "echo": { "quit_word": 7 } })).unwrap_err();
    assert!(word.starts_with("echo.quit_word: "), "{word}");
    let chunk = read::<Config>(json!({ "faults": { "chunk": { "min": 1 } } })).unwrap_err();
    assert!(chunk.contains("missing field `max`"), "{chunk}");
    let faults: FaultConfig =
        read(json!({ "delay": 20, "chunk": { "min": 1, "max": 3 } })).unwrap();
    assert!(faults.is_active());
}

/// The owned twin the bindings read must take exactly the form the core writes.
#[test]
fn every_input_reads_back_as_the_core_wrote_it() {
    let inputs = [
        Input::Received(b"hi\n"),
        Input::PeerClosed,
        Input::Written(3),
        Input::Writable,
        Input::Tick,
        Input::Shutdown,
        Input::Reset,
    ];
    for input in inputs {
        let json = serde_json::to_value(input).unwrap();
        let twin: InputData = read(json.clone()).unwrap();
        assert_eq!(twin.as_input(), input, "{json}");
    }
    assert_eq!(
        serde_json::to_value(Input::Received(b"hi")).unwrap(),
        json!({ "kind": "received", "bytes": [104, 105] })
    );
    assert_eq!(
        serde_json::to_value(Input::Written(3)).unwrap(),
        json!({ "kind": "written", "n": 3 })
    );
    let text: InputData = read(json!({ "kind": "received", "bytes": "hi" })).unwrap();
    assert_eq!(text.as_input(), Input::Received(b"hi"));
    let typo = read::<InputData>(json!({ "kind": "recieved" })).unwrap_err();
    assert!(typo.contains("unknown variant `recieved`"), "{typo}");
}

#[test]
fn outputs_and_events_are_tagged_by_kind_with_named_values() {
    let cases = [
        (
            Output::Event(Event::Echoed {
                frames: 1,
                bytes: 3,
            }),
            json!({ "kind": "event", "event": { "kind": "echoed", "frames": 1, "bytes": 3 } }),
        ),
        (
            Output::Event(Event::TimedOut(Timer::WriteStall)),
            json!({ "kind": "event", "event": { "kind": "timed_out", "timer": "write_stall" } }),
        ),
        (
            Output::Event(Event::PeerError(PeerError::LineTooLong { limit: 64 })),
            json!({ "kind": "event", "event": { "kind": "peer_error",
                "error": { "kind": "line_too_long", "limit": 64, "text": "line exceeds 64 bytes" } } }),
        ),
        (
            Output::Event(Event::Closing(CloseReason::Quit)),
            json!({ "kind": "event", "event": { "kind": "closing",
                "reason": { "kind": "quit", "text": "quit word", "graceful": true } } }),
        ),
        (
            Output::Event(Event::Queued {
                frame: FrameKind::Error,
                len: 28,
            }),
            json!({ "kind": "event", "event": { "kind": "queued", "frame": "error", "len": 28 } }),
        ),
        (
            Output::Event(Event::Held {
                bytes: 6,
                until: Instant::from_millis(320),
            }),
            json!({ "kind": "event", "event": { "kind": "held", "bytes": 6, "until": 320 } }),
        ),
        (
            Output::Event(Event::Released { bytes: 6, held: 7 }),
            json!({ "kind": "event", "event": { "kind": "released", "bytes": 6, "held": 7 } }),
        ),
        (
            Output::Transmit(b"ok"),
            json!({ "kind": "transmit", "bytes": [111, 107] }),
        ),
        (Output::CloseWrite, json!({ "kind": "close_write" })),
        (
            Output::Release {
                reason: CloseReason::TimedOut(Timer::Frame),
                counters: Counters::default(),
            },
            json!({ "kind": "release",
                "reason": { "kind": "timed_out", "timer": "frame", "text": "frame timeout",
                    "graceful": false },
                "counters": { "bytes_in": 0, "bytes_out": 0, "bytes_discarded": 0, "frames": 0,
                    "reads": 0, "writes": 0, "peak_input": 0, "peak_output": 0 } }),
        ),
        (
            Output::Timeout(Some(Instant::from_millis(1250))),
            json!({ "kind": "timeout", "at": 1250 }),
        ),
        (
            Output::Timeout(None),
            json!({ "kind": "timeout", "at": null }),
        ),
    ];
    for (output, expected) in cases {
        assert_eq!(serde_json::to_value(&output).unwrap(), expected);
    }
}

/// Where an output, event or snapshot carries a close reason, it comes with the core's
/// words and its grace; read back, those are ignored.
#[test]
fn close_reasons_and_events_read_back_as_written() {
    let reasons = [
        CloseReason::PeerClosed,
        CloseReason::Quit,
        CloseReason::FrameLimit,
        CloseReason::Collected,
        CloseReason::TimedOut(Timer::Linger),
        CloseReason::PeerError(PeerError::CollectTooLarge { limit: 9 }),
        CloseReason::PeerError(PeerError::FaultInjected),
        CloseReason::Shutdown,
        CloseReason::Reset,
    ];
    for reason in reasons {
        let json = serde_json::to_value(reason).unwrap();
        assert_eq!(read::<CloseReason>(json.clone()), Ok(reason), "{json}");
        let event = Event::Closing(reason);
        let json = serde_json::to_value(event).unwrap();
        assert_eq!(read::<Event>(json.clone()), Ok(event), "{json}");
    }
}

#[test]
fn a_snapshot_has_the_core_field_names_and_deadlines_by_timer() {
    let config = Config {
        echo: EchoConfig {
            frame_timeout: Some(Duration::from_millis(250)),
            ..EchoConfig::default()
        },
        ..Config::default()
    }
    .validate()
    .unwrap();
    let mut conn = Connection::new(config, Instant::from_millis(1000));
    conn.handle_input(Instant::from_millis(1000), Input::Received(b"GE"));
    while !matches!(conn.poll_output(), Output::Timeout(_)) {}
    let json = serde_json::to_value(conn.snapshot()).unwrap();
    assert_eq!(json["phase"], "open");
    assert_eq!(json["framing"], "line");
    assert_eq!(json["input"], json!([71, 69]));
    assert_eq!(json["partial_len"], 2);
    assert_eq!(json["close_reason"], Value::Null);
    assert_eq!(
        json["deadlines"],
        json!({ "shutdown": null, "handshake": null, "write_stall": null, "flush": null,
            "linger": null, "frame": 1250, "idle": null })
    );
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "reading_paused",
        "read_closed",
        "write_closed",
        "write_blocked",
        "receive_capacity",
        "collected",
        "output",
        "frame_ends",
        "input_capacity",
        "high_watermark",
        "low_watermark",
        "output_bound",
        "counters",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
}

#[test]
fn the_application_is_the_echo_or_the_http_echo_with_its_format() {
    let app = |v: Value| read::<AppData>(v).map(|d| d.app().map_err(|e| e.to_string()));
    assert!(matches!(app(json!({"kind": "echo"})), Ok(Ok(App::Echo))));
    let Ok(Ok(App::Http(http))) = app(json!({"kind": "http", "format": "json"})) else {
        panic!("an HTTP app with its format");
    };
    assert_eq!(http.format, reverb_http::Format::Json);
    assert_eq!(
        http.max_header,
        reverb_http::HttpConfig::default().max_header
    );
    let Ok(Ok(App::Http(http))) = app(json!({"kind": "http"})) else {
        panic!("the format is optional");
    };
    assert_eq!(http.format, reverb_http::Format::Raw);
    assert!(app(json!({"kind": "gopher"})).is_err());
    assert!(app(json!({"kind": "http", "fromat": "raw"})).is_err());
    assert!(matches!(
        app(json!({"kind": "http", "format": "xml"})),
        Ok(Err(_))
    ));
}
