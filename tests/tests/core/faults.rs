//! The fault layer: a pass-through layer that delays and fragments what the echo sends,
//! driven by the virtual clock. It proves the layer contract: stacked over the echo, it
//! changes when and in what pieces bytes leave, never which bytes.

use std::time::Duration;

use reverb_core::{
    Chunk, CloseReason, Config, DatagramFaults, Echo, EchoConfig, Event, Fault, FaultConfig,
    Faults, Framing, Instant, Layer, Phase, Probability, Verdict, REORDER_HOLD,
};
use reverb_tests::Sim;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn faulty(faults: FaultConfig, echo: EchoConfig) -> Sim<Faults<Echo>> {
    let config = Config {
        echo,
        faults,
        ..Config::default()
    };
    Sim::over(config, |config| {
        Faults::new(
            &config.faults,
            1,
            Instant::ZERO,
            Echo::new(config.clone(), Instant::ZERO),
        )
    })
}

fn chunked(min: usize, max: usize) -> FaultConfig {
    FaultConfig {
        chunk: Some(Chunk { min, max }),
        seed: 42,
        ..FaultConfig::default()
    }
}

fn delayed(ms: u64) -> FaultConfig {
    FaultConfig {
        delay: Some(MS(ms)),
        ..FaultConfig::default()
    }
}

#[test]
fn chunking_offers_the_echo_in_pieces_within_the_range_each_its_own_write() {
    let mut sim = faulty(chunked(3, 7), EchoConfig::default());
    let input = b"the quick brown fox jumps over the lazy dog\n".repeat(10);
    sim.send(&input).run();
    assert!(sim.echoed == input, "the same bytes, in order");
    let (last, pieces) = sim.offered.split_last().unwrap();
    assert!(
        pieces.len() > input.len() / 7,
        "{} pieces",
        sim.offered.len()
    );
    assert!(pieces.iter().all(|n| (3..=7).contains(n)), "{pieces:?}");
    assert!((1..=7).contains(last));
}

#[test]
fn the_same_seed_fragments_the_same_way_and_another_connection_differently() {
    let input = b"0123456789abcdef\n".repeat(20);
    let run = |conn: u64| {
        let config = Config {
            faults: chunked(1, 9),
            ..Config::default()
        };
        let mut sim = Sim::over(config, |config| {
            Faults::new(
                &config.faults,
                conn,
                Instant::ZERO,
                Echo::new(config.clone(), Instant::ZERO),
            )
        });
        sim.send(&input).run();
        assert!(sim.echoed == input);
        sim.offered
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn a_delay_holds_each_echo_until_its_time_and_keeps_the_order() {
    let mut sim = faulty(delayed(100), EchoConfig::default());
    sim.send(b"first\n").run();
    assert_eq!(sim.echoed_str(), "");
    assert_eq!(sim.conn.next_deadline(), Some(Instant::from_millis(100)));
    sim.advance(MS(40));
    sim.send(b"second\n").run();
    sim.advance(MS(59));
    assert_eq!(sim.echoed_str(), "", "99 ms: not yet");
    sim.advance(MS(1));
    assert_eq!(sim.echoed_str(), "first\n", "100 ms after it was received");
    assert_eq!(sim.conn.next_deadline(), Some(Instant::from_millis(140)));
    sim.advance_to_deadline();
    assert_eq!(sim.echoed_str(), "first\nsecond\n");
    assert_eq!(sim.conn.next_deadline(), None);
}

#[test]
fn a_recording_fault_layer_reports_what_its_delay_holds_and_when_it_lets_it_go() {
    let config = Config {
        faults: delayed(100),
        echo: EchoConfig {
            record_frames: true,
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = Sim::over(config, |config| {
        Faults::new(
            &config.faults,
            1,
            Instant::ZERO,
            Echo::new(config.clone(), Instant::ZERO),
        )
        .recording()
    });
    sim.send(
        b"first
",
    )
    .run();
    sim.advance(MS(40));
    sim.send(
        b"second
",
    )
    .run();
    let held: Vec<Event> = sim
        .events
        .iter()
        .copied()
        .filter(|e| e.layer() == "faults")
        .collect();
    let at = Instant::from_millis;
    assert_eq!(
        held,
        vec![
            Event::Held {
                bytes: 6,
                until: at(100)
            },
            Event::Held {
                bytes: 7,
                until: at(140)
            }
        ]
    );
    // The echo's events of a call come first, then what the fault layer made of them.
    let first = sim
        .events
        .iter()
        .position(|e| matches!(e, Event::Held { .. }));
    assert!(matches!(
        sim.events[first.unwrap() - 1],
        Event::Echoed { .. }
    ));
    sim.events.clear();
    sim.advance(MS(60));
    assert_eq!(sim.events, vec![Event::Released { bytes: 6, held: 7 }]);
    assert_eq!(sim.echoed_str(), "first\n");
    sim.events.clear();
    sim.advance_to_deadline();
    assert_eq!(sim.events, vec![Event::Released { bytes: 7, held: 0 }]);
}

#[test]
fn a_fault_layer_not_recording_reports_nothing_it_holds() {
    let mut sim = faulty(delayed(100), EchoConfig::default());
    sim.send(b"first\n").run();
    sim.advance_to_deadline();
    assert_eq!(sim.echoed_str(), "first\n");
    assert!(
        sim.events
            .iter()
            .all(|e| !matches!(e, Event::Held { .. } | Event::Released { .. })),
        "{:?}",
        sim.events
    );
}

#[test]
fn the_fin_waits_for_the_delayed_echo() {
    let mut sim = faulty(delayed(500), EchoConfig::default());
    sim.send(b"last words\nquit\n").run();
    assert_eq!(sim.snapshot().phase, Phase::Closing);
    assert!(!sim.fin, "no FIN while the echo is held");
    sim.advance_to_deadline();
    assert_eq!(sim.echoed_str(), "last words\n");
    assert!(sim.fin);
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::Quit);
}

#[test]
fn delayed_output_still_pauses_the_echo_at_its_high_watermark() {
    // The delay holds bytes in the echo's own queue: its bound is the fault layer's too.
    let echo = EchoConfig {
        framing: Framing::Raw,
        high_watermark: 1024,
        low_watermark: 256,
        ..EchoConfig::default()
    };
    let mut sim = faulty(delayed(1000), echo);
    sim.send(&vec![b'x'; 100_000]).run();
    let snap = sim.snapshot();
    assert!(snap.reading_paused);
    assert!(snap.output.len() <= snap.output_bound);
    assert!(sim.unread() > 90_000, "the rest waits in the kernel");
    sim.close_client();
    sim.run_to_release();
    assert_eq!(sim.echoed.len(), 100_000);
}

#[test]
fn with_no_fault_on_the_layer_passes_the_echos_own_slice() {
    let config = Config::default().validate().unwrap();
    let mut faults = Faults::new(
        &config.faults,
        0,
        Instant::ZERO,
        Echo::new(config.clone(), Instant::ZERO),
    );
    faults.receive(Instant::ZERO, b"zero copy\n");
    let out = faults.transmit();
    assert_eq!(out, b"zero copy\n");
    assert_eq!(
        out.as_ptr(),
        faults.inner().transmit().as_ptr(),
        "a borrow of the echo's queue, not a copy"
    );
}

fn raw() -> EchoConfig {
    EchoConfig {
        framing: Framing::Raw,
        ..EchoConfig::default()
    }
}

#[test]
fn a_rate_paces_the_echo_within_one_burst_of_the_ideal() {
    // 1000 B/s: 10 000 bytes take 10 s, less the 50 ms burst the bucket starts with.
    let mut sim = faulty(
        FaultConfig {
            rate: Some(1000),
            ..FaultConfig::default()
        },
        raw(),
    );
    sim.send(&vec![b'r'; 10_000]).close_client();
    let reason = sim.run_to_release();
    assert_eq!(reason, CloseReason::PeerClosed);
    assert_eq!(sim.echoed.len(), 10_000);
    let took = sim.now.as_millis();
    assert!((9_950..=10_050).contains(&took), "took {took} ms");
    assert!(
        sim.offered.iter().all(|&n| n <= 50),
        "never more than a 50 ms burst at once: {:?}",
        sim.offered.iter().max()
    );
}

#[test]
fn jitter_varies_the_delay_but_never_the_order() {
    let mut sim = faulty(
        FaultConfig {
            delay: Some(MS(50)),
            jitter: Some(MS(200)),
            seed: 9,
            ..FaultConfig::default()
        },
        EchoConfig::default(),
    );
    let mut sent = Vec::new();
    for i in 0..50 {
        let line = format!("{i:02}\n");
        sim.send(line.as_bytes()).run();
        sent.extend_from_slice(line.as_bytes());
        sim.advance(MS(5));
    }
    sim.close_client();
    sim.run_to_release();
    assert!(sim.echoed == sent, "every line, in order");
    assert!(
        sim.now.as_millis() >= 245 + 50,
        "the last line waited at least the delay"
    );
}

#[test]
fn reset_after_fails_the_connection_once_that_many_bytes_went_out() {
    let mut sim = faulty(
        FaultConfig {
            reset_after: Some(10),
            ..FaultConfig::default()
        },
        EchoConfig::default(),
    );
    sim.send(b"0123456\n0123456\n").run();
    assert_eq!(
        sim.echoed_str(),
        "0123456\n01",
        "exactly 10 bytes, then the reset"
    );
    assert_eq!(sim.released, Some(CloseReason::Injected(Fault::Reset)));
    assert!(!sim.fin, "a reset, not a FIN");
    assert!(sim.events.contains(&Event::Injected(Fault::Reset)));
    assert!(CloseReason::Injected(Fault::Reset).wants_reset());
}

#[test]
fn close_after_sends_a_fin_once_that_many_bytes_went_out() {
    let mut sim = faulty(
        FaultConfig {
            close_after: Some(12),
            reset_after: Some(20),
            ..FaultConfig::default()
        },
        EchoConfig::default(),
    );
    sim.send(b"hello\nworld\nagain\n").run();
    assert_eq!(sim.echoed_str(), "hello\nworld\n");
    assert!(sim.fin, "the smaller count wins: a close");
    assert_eq!(sim.conn.receive_capacity(), usize::MAX, "lingering");
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::Injected(Fault::Close));
}

#[test]
fn a_fault_chance_fails_connections_at_about_that_rate_reproducibly() {
    // p = 0.1 per line: the first failure comes after 10 lines on average.
    let run = |conn: u64| {
        let config = Config {
            faults: FaultConfig {
                fault_chance: Some(Probability::new(0.1).unwrap()),
                seed: 5,
                ..FaultConfig::default()
            },
            ..Config::default()
        };
        let mut sim = Sim::over(config, |config| {
            Faults::new(
                &config.faults,
                conn,
                Instant::ZERO,
                Echo::new(config.clone(), Instant::ZERO),
            )
        })
        .with_reads(&[3]);
        sim.send(&b"ab\n".repeat(1000)).run();
        assert_eq!(sim.released, Some(CloseReason::Injected(Fault::Chance)));
        sim.conn.counters().frames
    };
    let frames: Vec<u64> = (0..400).map(run).collect();
    assert_eq!(
        frames[..20],
        (0..20).map(run).collect::<Vec<_>>()[..],
        "same seed, same run"
    );
    let mean = frames.iter().sum::<u64>() as f64 / frames.len() as f64;
    // Geometric with p = 0.1: mean 10, standard error of 400 draws about 0.47.
    assert!(
        (8.5..=11.5).contains(&mean),
        "mean frames to failure {mean}"
    );
}

#[test]
fn datagram_faults_drop_duplicate_and_reorder_at_their_rates() {
    let config = FaultConfig {
        drop: Some(Probability::new(0.2).unwrap()),
        duplicate: Some(Probability::new(0.1).unwrap()),
        reorder: Some(Probability::new(0.05).unwrap()),
        seed: 3,
        ..FaultConfig::default()
    };
    let mut faults = DatagramFaults::new(&config, 0);
    let mut counts = [0u32; 4];
    for i in 0..10_000u64 {
        let now = Instant::from_millis(i);
        let verdict = faults.decide(now);
        counts[verdict as usize] += 1;
        if verdict == Verdict::HoldBack {
            assert_eq!(faults.deadline(), Some(now + REORDER_HOLD));
            // The driver sends the held reply after the next one.
            faults.sent_held();
        }
    }
    let [send, drop, twice, held] = counts.map(f64::from);
    assert!((1_800.0..=2_200.0).contains(&drop), "{counts:?}");
    // Drawn after the drop: 10% of 80%, 5% of 80%, less what the hold takes.
    assert!((600.0..=1000.0).contains(&twice), "{counts:?}");
    assert!((300.0..=500.0).contains(&held), "{counts:?}");
    assert_eq!(send + drop + twice + held, 10_000.0);
}
