//! The fault layer: a pass-through layer that delays and fragments what the echo sends,
//! driven by the virtual clock. It proves the layer contract: stacked over the echo, it
//! changes when and in what pieces bytes leave, never which bytes.

use std::time::Duration;

use reverb_core::{
    Chunk, CloseReason, Config, Echo, EchoConfig, FaultConfig, Faults, Framing, Instant, Layer,
    Phase,
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
        Faults::new(&config.faults, 1, Echo::new(config.clone(), Instant::ZERO))
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
    let mut faults = Faults::new(&config.faults, 0, Echo::new(config.clone(), Instant::ZERO));
    faults.receive(Instant::ZERO, b"zero copy\n");
    let out = faults.transmit();
    assert_eq!(out, b"zero copy\n");
    assert_eq!(
        out.as_ptr(),
        faults.inner().transmit().as_ptr(),
        "a borrow of the echo's queue, not a copy"
    );
}
