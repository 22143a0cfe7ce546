//! What the core reports for views when frames are recorded: each frame it queues, by
//! kind and length (`Event::Queued`), so a view knows which bytes of the output queue an
//! input added without comparing states; and nothing of it when recording is off.

use reverb_core::{CloseReason, Config, EchoConfig, Event, FrameKind, Framing};
use reverb_tests::Sim;

use crate::line;

fn recording(echo: EchoConfig) -> Config {
    Config {
        echo: EchoConfig {
            record_frames: true,
            ..echo
        },
        ..line()
    }
}

/// The frames an input queued, from its events.
fn queued(events: &[Event]) -> Vec<(FrameKind, u64)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Queued { frame, len } => Some((frame, len)),
            _ => None,
        })
        .collect()
}

#[test]
fn each_echoed_line_is_reported_with_its_length_in_the_output_stream_before_the_summary() {
    let mut sim = Sim::new(recording(EchoConfig {
        prefix: b"> ".to_vec(),
        ..line().echo
    }));
    sim.send(b"a\nbb\r\n").run();
    assert_eq!(
        sim.events,
        vec![
            Event::Queued {
                frame: FrameKind::Echo,
                len: 4
            },
            Event::Queued {
                frame: FrameKind::Echo,
                len: 6
            },
            Event::Echoed {
                frames: 2,
                bytes: 6
            },
        ]
    );
    assert_eq!(sim.echoed_str(), "> a\n> bb\r\n");
}

#[test]
fn an_over_long_line_is_answered_by_an_error_frame_after_the_echoes_before_it() {
    let mut sim = Sim::new(recording(EchoConfig {
        max_line: 4,
        ..line().echo
    }));
    sim.client_reading = false;
    sim.send(b"ok\nyes\ntoo long\n").run();
    let error = b"error: line exceeds 4 bytes\n";
    assert_eq!(
        queued(&sim.events),
        vec![
            (FrameKind::Echo, 3),
            (FrameKind::Echo, 4),
            (FrameKind::Error, error.len() as u64)
        ]
    );
    // Until the next input, the frames are the tail of the output queue, in order.
    let out = sim.snapshot().output.to_vec();
    assert!(out.ends_with(error), "{:?}", String::from_utf8_lossy(&out));
    sim.client_reading = true;
    sim.close_client();
    assert!(matches!(
        sim.run_to_release(),
        CloseReason::PeerError(reverb_core::PeerError::LineTooLong { limit: 4 })
    ));
}

#[test]
fn a_partial_line_flushed_at_the_end_of_the_stream_is_a_partial_frame() {
    let mut sim = Sim::new(recording(line().echo));
    sim.send(b"hello\nbye").run();
    assert_eq!(queued(&sim.events), vec![(FrameKind::Echo, 6)]);
    sim.events.clear();
    sim.close_client().run();
    assert_eq!(queued(&sim.events), vec![(FrameKind::Partial, 3)]);
    assert_eq!(sim.echoed_str(), "hello\nbye");
}

#[test]
fn a_collection_is_one_collected_frame_at_the_quit_word() {
    let mut sim = Sim::new(recording(EchoConfig {
        framing: Framing::Collect,
        quit_word: Some(b"quit".to_vec()),
        ..line().echo
    }));
    sim.send(b"a\nb\n").run();
    assert_eq!(queued(&sim.events), vec![]);
    sim.send(b"quit\n").run();
    assert_eq!(queued(&sim.events), vec![(FrameKind::Collected, 9)]);
    assert_eq!(sim.echoed_str(), "a\nb\nquit\n");
}

#[test]
fn raw_framing_reports_each_read_as_an_echo_frame() {
    let mut sim = Sim::new(recording(EchoConfig {
        framing: Framing::Raw,
        ..line().echo
    }))
    .with_reads(&[3]);
    sim.send(b"abcdefg").run();
    assert_eq!(
        queued(&sim.events),
        vec![
            (FrameKind::Echo, 3),
            (FrameKind::Echo, 3),
            (FrameKind::Echo, 1)
        ]
    );
}

#[test]
fn without_recording_no_frame_is_reported() {
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            max_line: 4,
            ..line().echo
        },
        ..line()
    });
    sim.send(b"ok\nyes\ntoo long\n").close_client().run();
    assert!(queued(&sim.events).is_empty(), "{:?}", sim.events);
    assert_eq!(
        sim.events[0],
        Event::PeerError(reverb_core::PeerError::LineTooLong { limit: 4 })
    );
}
