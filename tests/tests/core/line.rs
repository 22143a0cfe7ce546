use reverb_core::{CloseReason, EchoConfig, Event};
use reverb_tests::Sim;

use crate::line;

#[test]
fn each_line_is_echoed_with_its_own_terminator() {
    let mut sim = Sim::new(line());
    sim.send(b"unix\nwindows\r\n").close_client().run();
    assert_eq!(sim.echoed_str(), "unix\nwindows\r\n");
    assert_eq!(sim.released, Some(CloseReason::PeerClosed));
    assert!(sim.fin);
}

#[test]
fn prefix_goes_before_the_line_and_suffix_before_its_terminator() {
    let config = reverb_core::Config {
        echo: EchoConfig {
            prefix: b"Buffer: ".to_vec(),
            suffix: b"~".to_vec(),
            ..line().echo
        },
        ..line()
    };
    let mut sim = Sim::new(config);
    sim.send(b"hello\r\nworld\n").run();
    assert_eq!(sim.echoed_str(), "Buffer: hello~\r\nBuffer: world~\n");
}

#[test]
fn a_frame_split_across_reads_is_echoed_once_it_completes() {
    let mut sim = Sim::new(line()).with_reads(&[2]);
    sim.send(b"hel");
    sim.run();
    assert_eq!(sim.echoed, b"");
    assert_eq!(sim.snapshot().input, b"hel");
    assert_eq!(sim.snapshot().partial_len, 3);
    sim.send(b"lo\n").run();
    assert_eq!(sim.echoed_str(), "hello\n");
    assert_eq!(sim.reads_taken, vec![2, 1, 2, 1]);
    assert!(sim.snapshot().input.is_empty());
}

#[test]
fn three_frames_in_one_read_are_three_echoes_and_one_event() {
    let mut sim = Sim::new(line());
    sim.send(b"a\nbb\nccc\n").run();
    assert_eq!(sim.reads_taken, vec![9]);
    assert_eq!(sim.echoed_str(), "a\nbb\nccc\n");
    assert_eq!(
        sim.events,
        vec![Event::Echoed {
            frames: 3,
            bytes: 9
        }]
    );
    assert_eq!(sim.conn.counters().frames, 3);
}

#[test]
fn empty_lines_are_frames_too() {
    let mut sim = Sim::new(reverb_core::Config {
        echo: EchoConfig {
            prefix: b">".to_vec(),
            ..line().echo
        },
        ..line()
    });
    sim.send(b"\n\r\n").run();
    assert_eq!(sim.echoed_str(), ">\n>\r\n");
}

#[test]
fn a_lone_carriage_return_is_content_not_a_terminator() {
    let mut sim = Sim::new(reverb_core::Config {
        echo: EchoConfig {
            suffix: b"!".to_vec(),
            ..line().echo
        },
        ..line()
    });
    sim.send(b"a\rb\n").run();
    assert_eq!(sim.echoed_str(), "a\rb!\n");
}

#[test]
fn a_trailing_partial_line_is_echoed_as_is_on_half_close() {
    let mut sim = Sim::new(reverb_core::Config {
        echo: EchoConfig {
            prefix: b"[".to_vec(),
            ..line().echo
        },
        ..line()
    });
    sim.send(b"one\ntwo").close_client().run();
    assert_eq!(sim.echoed_str(), "[one\n[two");
    assert_eq!(sim.released, Some(CloseReason::PeerClosed));
}

#[test]
fn binary_bytes_pass_through_line_framing_untouched() {
    let mut payload: Vec<u8> = (0..=255u8).filter(|&b| b != b'\n').collect();
    payload.push(b'\n');
    let mut sim = Sim::new(line()).with_reads(&[7]).with_writes(&[5]);
    sim.send(&payload).run();
    assert_eq!(sim.echoed, payload);
}

#[test]
fn recorded_frame_boundaries_follow_the_output_queue() {
    let config = reverb_core::Config {
        echo: EchoConfig {
            record_frames: true,
            prefix: b"> ".to_vec(),
            ..line().echo
        },
        ..line()
    };
    let mut sim = Sim::new(config).with_writes(&[3]);
    sim.client_reading = false;
    sim.send(b"a\nbb\nccc\n").run();
    assert_eq!(sim.snapshot().output, b"> a\n> bb\n> ccc\n");
    assert_eq!(sim.snapshot().frame_ends, vec![4, 9, 15]);
    sim.client_reading = true;
    sim.input(reverb_core::Input::Writable);
    // One write of 3 bytes, then the socket is full again.
    assert_eq!(sim.echoed, b"> a");
    assert_eq!(sim.snapshot().frame_ends, vec![1, 6, 12]);
}
