use std::time::Duration;

use reverb_core::{
    CloseReason, Config, EchoConfig, Event, Framing, Input, Instant, Phase, StreamConfig, Timer,
};
use reverb_tests::Sim;

const MS: fn(u64) -> Duration = Duration::from_millis;

#[test]
fn the_idle_timer_closes_a_silent_connection_gracefully() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            idle_timeout: Some(MS(1000)),
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    assert_eq!(sim.conn.next_deadline(), Some(Instant::from_millis(1000)));
    sim.advance(MS(999));
    assert!(!sim.fin);
    sim.advance(MS(1));
    assert!(sim.events.contains(&Event::TimedOut(Timer::Idle)));
    assert!(sim.fin);
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::TimedOut(Timer::Idle)));
}

#[test]
fn progress_in_either_direction_resets_the_idle_timer() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            idle_timeout: Some(MS(1000)),
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    sim.advance(MS(600));
    sim.send(b"ping\n").run();
    sim.advance(MS(900));
    assert!(!sim.fin, "input at 600 ms moved the deadline to 1600 ms");
    assert_eq!(sim.conn.next_deadline(), Some(Instant::from_millis(1600)));
    sim.advance(MS(100));
    assert!(sim.fin);
}

#[test]
fn the_frame_timer_cuts_a_slowloris_line_and_drops_it() {
    let config = Config {
        echo: EchoConfig {
            frame_timeout: Some(MS(500)),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::new(config);
    sim.send(b"ok\nGET / HT").run();
    assert_eq!(sim.conn.next_deadline(), Some(Instant::from_millis(500)));
    sim.advance(MS(300));
    sim.send(b"TP/1.1").run(); // still no newline: the clock keeps running
    sim.advance(MS(200));
    assert!(sim.events.contains(&Event::TimedOut(Timer::Frame)));
    assert_eq!(
        sim.echoed_str(),
        "ok\n",
        "the partial line is dropped, not echoed"
    );
    assert!(sim.fin);
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::TimedOut(Timer::Frame)));
}

#[test]
fn the_frame_timer_runs_only_while_a_line_is_incomplete() {
    let config = Config {
        echo: EchoConfig {
            frame_timeout: Some(MS(500)),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::new(config);
    sim.send(b"whole\n").run();
    assert_eq!(sim.conn.next_deadline(), None);
    sim.advance(MS(10_000));
    assert!(!sim.fin);
}

#[test]
fn a_write_stall_releases_the_connection_without_a_fin() {
    let config = Config {
        stream: StreamConfig {
            write_stall_timeout: Some(MS(1000)),
            ..StreamConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::new(config);
    sim.client_reading = false;
    sim.send(b"never read\n").run();
    sim.advance(MS(1000));
    assert_eq!(sim.released, Some(CloseReason::TimedOut(Timer::WriteStall)));
    assert!(!sim.fin);
}

#[test]
fn written_bytes_restart_the_write_stall_clock() {
    let config = Config {
        stream: StreamConfig {
            write_stall_timeout: Some(MS(1000)),
            ..StreamConfig::default()
        },
        echo: EchoConfig {
            framing: Framing::Raw,
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::new(config).with_writes(&[1, 0]);
    sim.send(b"abcd").run();
    for _ in 0..4 {
        assert_eq!(sim.released, None);
        sim.advance(MS(900));
    }
    assert_eq!(sim.echoed, b"abcd");
    assert_eq!(sim.released, None);
}

#[test]
fn lingering_discards_input_until_the_peer_closes() {
    let mut sim = Sim::new(Config::default());
    sim.send(b"bye\nquit\n").run();
    assert_eq!(sim.snapshot().phase, Phase::Lingering);
    sim.send(b"late bytes\n").run();
    assert_eq!(sim.conn.counters().bytes_discarded, 11);
    assert_eq!(sim.echoed_str(), "bye\n");
    sim.close_client().run();
    assert_eq!(sim.released, Some(CloseReason::Quit));
}

#[test]
fn the_linger_timer_bounds_the_wait_for_the_peers_close() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            linger: Some(MS(2000)),
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    sim.send(b"quit\n").run();
    assert!(sim.fin);
    sim.advance(MS(1999));
    assert_eq!(sim.released, None);
    sim.advance(MS(1));
    assert!(sim.events.contains(&Event::TimedOut(Timer::Linger)));
    assert_eq!(sim.released, Some(CloseReason::Quit));
}

#[test]
fn without_linger_the_release_follows_the_fin() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            linger: None,
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    sim.send(b"quit\n").run();
    assert!(sim.fin);
    assert_eq!(sim.released, Some(CloseReason::Quit));
}

#[test]
fn spurious_and_repeated_ticks_change_nothing() {
    let mut sim = Sim::new(Config {
        stream: StreamConfig {
            idle_timeout: Some(MS(1000)),
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    sim.send(b"partial").run();
    let before = format!("{:?}", sim.snapshot());
    for _ in 0..100 {
        sim.input(Input::Tick);
    }
    sim.advance(MS(999));
    sim.now = Instant::from_millis(5); // a clock that steps back
    sim.input(Input::Tick);
    assert_eq!(sim.released, None);
    assert!(sim.events.is_empty());
    assert_eq!(
        format!("{:?}", sim.snapshot().input),
        format!("{:?}", b"partial")
    );
    assert!(before.contains("Open"));
}
