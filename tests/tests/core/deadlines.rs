//! Every state has a deadline: a connection that should end does end, whatever the peer
//! does or fails to do. And the timers measure the peer, never our own backpressure.

use std::time::Duration;

use reverb_core::{
    CloseReason, Config, EchoConfig, Event, Framing, Input, Instant, Phase, StreamConfig, Timer,
};
use reverb_tests::Sim;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn lines(count: usize, len: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|i| {
            let mut line = format!("{i:08} ").into_bytes();
            line.resize(len - 1, b'.');
            line.push(b'\n');
            line
        })
        .collect()
}

#[test]
fn an_idle_timeout_while_the_peer_does_not_read_ends_in_a_flush_timeout() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            idle_timeout: Some(MS(1000)),
            ..StreamConfig::default()
        },
        echo: EchoConfig {
            framing: Framing::Raw,
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    sim.client_reading = false;
    sim.send(&[b'x'; 1 << 20]).run();
    assert!(sim.snapshot().reading_paused);
    sim.advance_to_deadline();
    assert!(sim.events.contains(&Event::TimedOut(Timer::Idle)));
    assert_eq!(sim.snapshot().phase, Phase::Closing);
    assert!(
        sim.conn.next_deadline().is_some(),
        "a closing connection that cannot flush still has a deadline"
    );
    let reason = sim.run_to_release();
    assert_eq!(reason, CloseReason::TimedOut(Timer::Flush));
    assert!(
        !sim.fin,
        "a reset, not a FIN: the echo could not be delivered"
    );
    // Output has been pending since the first read at 0 ms: 10 s of no progress.
    assert_eq!(sim.now, Instant::from_millis(10_000));
}

#[test]
fn a_frame_timeout_while_the_peer_does_not_read_ends_in_a_flush_timeout() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            flush_timeout: MS(2000),
            ..StreamConfig::default()
        },
        echo: EchoConfig {
            frame_timeout: Some(MS(500)),
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    sim.client_reading = false;
    sim.send(b"echoed but never read\nslow").run();
    sim.advance_to_deadline();
    assert!(sim.events.contains(&Event::TimedOut(Timer::Frame)));
    let reason = sim.run_to_release();
    assert_eq!(reason, CloseReason::TimedOut(Timer::Flush));
    assert_eq!(sim.now, Instant::from_millis(2000));
}

#[test]
fn a_closing_peer_that_reads_slowly_is_not_cut_off() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            flush_timeout: MS(1000),
            ..StreamConfig::default()
        },
        ..Config::default()
    })
    .with_writes(&[1]);
    sim.client_reading = false;
    sim.send(b"slowly\nquit\n").run();
    assert_eq!(sim.snapshot().phase, Phase::Closing);
    // The client takes one byte every 900 ms: progress, so the 1 s flush timer never
    // fires.
    for _ in 0..7 {
        sim.advance(MS(900));
        sim.client_reading = true;
        sim.input(Input::Writable);
        sim.client_reading = false;
    }
    assert_eq!(sim.echoed_str(), "slowly\n");
    assert!(sim.fin);
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::Quit));
}

#[test]
fn the_frame_timer_stands_still_while_reading_is_paused() {
    // 94-byte lines and a partial one, sent while the client does not read: the core
    // pauses with whole lines buffered and the partial line at the end.
    let mut payload = lines(20_000, 94);
    payload.extend_from_slice(b"partial");
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            frame_timeout: MS(1000).into(),
            quit_word: None,
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    sim.client_reading = false;
    sim.send(&payload).run();
    assert!(sim.snapshot().reading_paused);
    sim.advance(MS(2500));
    assert!(
        !sim.events.contains(&Event::TimedOut(Timer::Frame)),
        "our backpressure is not the peer's slowness"
    );
    // The client reads: every whole line comes back; then the partial line is the peer's
    // to finish, and its timer starts over from where it stood.
    sim.client_reading = true;
    sim.run();
    let whole = payload.len() - b"partial".len();
    assert!(
        sim.echoed == payload[..whole],
        "{} of {whole} bytes",
        sim.echoed.len()
    );
    sim.send(b" line\n").run();
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::PeerClosed);
    assert!(sim.echoed == [&payload[..], b" line\n"].concat());
}

#[test]
fn a_paused_partial_lines_frame_timer_resumes_where_it_stood() {
    let mut payload = lines(100, 94);
    payload.extend_from_slice(b"partial");
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            frame_timeout: Some(MS(1000)),
            quit_word: None,
            high_watermark: 4096,
            low_watermark: 1024,
            ..EchoConfig::default()
        },
        ..Config::default()
    })
    .with_reads(&[payload.len()]);
    sim.client_reading = false;
    // One read takes it all (it fits the input buffer): the partial line starts at 0 ms
    // and reading pauses at once.
    sim.send(&payload).run();
    assert!(sim.snapshot().reading_paused);
    assert_eq!(sim.unread(), 0);
    sim.advance(MS(5000));
    sim.client_reading = true;
    sim.run();
    assert!(!sim.snapshot().reading_paused);
    // Paused from 0 to 5000 ms: the 1000 ms frame timer now ends at 6000 ms.
    assert_eq!(
        sim.snapshot().deadlines.get(Timer::Frame),
        Some(Instant::from_millis(6000))
    );
    sim.advance(MS(999));
    assert_eq!(sim.snapshot().phase, Phase::Open);
    sim.advance(MS(1));
    assert!(sim.events.contains(&Event::TimedOut(Timer::Frame)));
}

#[test]
fn a_timeout_echoes_the_whole_lines_already_accepted_and_drops_only_the_partial_one() {
    // The case: complete lines accepted while paused must never be lost.
    let mut payload = lines(100, 94);
    payload.extend_from_slice(b"partial");
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            idle_timeout: Some(MS(1000)),
            ..StreamConfig::default()
        },
        echo: EchoConfig {
            quit_word: None,
            high_watermark: 4096,
            low_watermark: 1024,
            ..EchoConfig::default()
        },
        ..Config::default()
    })
    .with_reads(&[payload.len()]);
    sim.client_reading = false;
    sim.send(&payload).run();
    assert!(sim.snapshot().reading_paused);
    sim.advance_to_deadline();
    assert!(sim.events.contains(&Event::TimedOut(Timer::Idle)));
    assert_eq!(sim.conn.counters().bytes_in as usize, payload.len());
    let whole = payload.len() - b"partial".len();
    assert!(sim.echoed.is_empty() && sim.snapshot().output.len() < whole);
    sim.client_reading = true;
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::TimedOut(Timer::Idle));
    assert!(
        sim.echoed == payload[..whole],
        "every whole line accepted is echoed and the partial line is not: {} of {whole} bytes",
        sim.echoed.len()
    );
    assert!(sim.fin);
}

#[test]
fn a_frame_timeout_in_collect_mode_echoes_nothing() {
    // A collection is echoed whole at the quit word, or not at all.
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            framing: Framing::Collect,
            frame_timeout: Some(MS(500)),
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    sim.send(b"held\nslow").run();
    sim.advance_to_deadline();
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::TimedOut(Timer::Frame));
    assert_eq!(sim.echoed_str(), "");
}

#[test]
fn a_timer_made_due_by_another_fires_in_the_same_input() {
    // Found by fuzzing: a late tick fires the idle timer; the close it starts makes the
    // flush timer due at once (its clock started with the pending output at 0 ms). It
    // must fire now, not leave a deadline in the past for the next tick.
    let mut sim = Sim::new(Config {
        echo: EchoConfig {
            framing: Framing::Raw,
            ..EchoConfig::default()
        },
        stream: StreamConfig {
            idle_timeout: Some(MS(1000)),
            flush_timeout: MS(2000),
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    sim.client_reading = false;
    sim.send(b"x").run();
    sim.now = Instant::from_millis(5000);
    sim.input(Input::Tick);
    assert!(sim.events.contains(&Event::TimedOut(Timer::Idle)));
    assert_eq!(sim.released, Some(CloseReason::TimedOut(Timer::Flush)));
}
