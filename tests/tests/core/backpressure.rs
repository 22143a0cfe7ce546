use reverb_core::{Config, EchoConfig, Event, Framing};
use reverb_tests::Sim;

fn small_queue() -> Config {
    Config {
        echo: EchoConfig {
            high_watermark: 64,
            low_watermark: 16,
            quit_word: None,
            ..EchoConfig::default()
        },
        ..Config::default()
    }
}

fn lines(count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|i| format!("line {i:04}\n").into_bytes())
        .collect()
}

#[test]
fn reading_pauses_at_the_high_watermark_and_resumes_at_the_low() {
    let payload = lines(4000); // 40 KB: more than the input buffer holds
    let mut sim = Sim::new(small_queue());
    sim.client_reading = false;
    sim.send(&payload).run();
    let snap = sim.snapshot();
    assert!(snap.reading_paused);
    assert_eq!(snap.receive_capacity, 0);
    assert!(snap.output.len() >= 64);
    assert!(
        sim.unread() > 0,
        "the rest waits in the kernel, not in the core"
    );
    assert!(sim.events.contains(&Event::ReadPaused));

    sim.client_reading = true;
    sim.run();
    assert!(sim.events.contains(&Event::ReadResumed));
    assert_eq!(sim.echoed, payload);
    assert!(!sim.snapshot().reading_paused);
}

#[test]
fn a_client_that_never_reads_cannot_grow_the_buffers_past_their_bounds() {
    for framing in [Framing::Raw, Framing::Line] {
        let config = Config {
            echo: EchoConfig {
                framing,
                ..EchoConfig::default()
            },
            ..Config::default()
        };
        let input_capacity = config.clone().validate().unwrap().echo.input_capacity();
        let mut sim = Sim::new(config);
        sim.client_reading = false;
        sim.send(&lines(200_000)).run(); // 2 MB
        let snap = sim.snapshot();
        assert!(snap.output.len() <= snap.output_bound, "{framing}");
        assert!(snap.input.len() <= input_capacity, "{framing}");
        assert!(
            sim.unread() > 1_000_000,
            "{framing}: most bytes stayed in the kernel"
        );
    }
}

#[test]
fn lines_taken_while_paused_wait_in_the_input_buffer_in_order() {
    let mut sim = Sim::new(small_queue()).with_reads(&[200]);
    sim.client_reading = false;
    sim.send(&lines(40)).run();
    let snap = sim.snapshot();
    assert!(snap.reading_paused);
    assert!(
        !snap.input.is_empty(),
        "whole lines held back by backpressure"
    );
    assert!(snap.input.len() <= snap.input_capacity);
    sim.client_reading = true;
    sim.run();
    assert_eq!(sim.echoed, lines(40));
}

#[test]
fn short_writes_queue_the_rest_and_wait_for_writability() {
    let payload = lines(50);
    let mut sim = Sim::new(small_queue()).with_writes(&[1, 0, 3]);
    sim.send(&payload).run();
    assert_eq!(sim.echoed, payload);
    assert!(sim.conn.counters().writes > 100);
}

#[test]
fn the_output_queue_is_handed_out_without_copies_between_polls() {
    let mut sim = Sim::new(small_queue());
    sim.client_reading = false;
    sim.send(b"abc\n").run();
    let first = sim.snapshot().output.as_ptr();
    assert_eq!(sim.snapshot().output, b"abc\n");
    assert_eq!(sim.snapshot().output.as_ptr(), first);
}

#[test]
fn reading_resumes_exactly_when_the_queue_drains_to_the_low_watermark() {
    use reverb_core::{Connection, Input, Instant, Output};
    let config = Config {
        echo: EchoConfig {
            framing: Framing::Raw,
            ..small_queue().echo
        },
        ..small_queue()
    }
    .validate()
    .unwrap();
    let mut conn = Connection::new(config, Instant::ZERO);
    let now = Instant::ZERO;
    assert_eq!(
        conn.handle_input(now, Input::Received(&[7; 100])),
        64,
        "room below high"
    );
    assert_eq!(conn.receive_capacity(), 0);
    let write = |conn: &mut Connection, n: usize| {
        loop {
            match conn.poll_output() {
                Output::Transmit(_) => break,
                Output::Event(_) => continue,
                other => panic!("expected a transmit, got {other:?}"),
            }
        }
        conn.handle_input(now, Input::Written(n));
        conn.handle_input(now, Input::Writable);
    };
    write(&mut conn, 47); // 17 left: still above low
    assert_eq!(conn.receive_capacity(), 0);
    write(&mut conn, 1); // 16 left: at low
    assert_eq!(conn.receive_capacity(), 64 - 16);
}
