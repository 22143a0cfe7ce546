//! Properties against the reference model, over generated inputs, configurations and
//! fragmentations.

use std::time::Duration;

use proptest::prelude::*;
use reverb_core::{
    Chunk, CloseReason, Config, Echo, EchoConfig, FaultConfig, Faults, Framing, Input, Instant,
    Layer, Phase, StreamConfig,
};
use reverb_tests::{model, ClientOp, RegistrySim, Sim};

/// Bytes biased towards the interesting ones: newlines, carriage returns, the words.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        4 => proptest::collection::vec(b'a'..=b'e', 1..6),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"quit\n".to_vec()),
        1 => Just(b"boom\n".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(atom, 0..40).prop_map(|parts| parts.concat())
}

/// Configurations whose echo does not depend on how the stream is cut.
fn chunk_independent_config() -> impl Strategy<Value = Config> {
    let line_like = (
        prop_oneof![Just(Framing::Line), Just(Framing::Collect)],
        prop_oneof![Just(vec![]), Just(b"> ".to_vec())],
        prop_oneof![Just(vec![]), Just(b"~".to_vec())],
        prop_oneof![Just(None), Just(Some(b"quit".to_vec()))],
        prop_oneof![Just(None), Just(Some(2u64)), Just(Some(5))],
        4usize..40,
        (1usize..30, 0usize..8),
        16usize..200,
    )
        .prop_map(
            |(framing, prefix, suffix, quit, max_frames, max_line, (low, gap), collect)| {
                let quit = if framing == Framing::Collect {
                    Some(b"quit".to_vec())
                } else {
                    quit
                };
                Config {
                    echo: EchoConfig {
                        framing,
                        prefix,
                        suffix,
                        quit_word: quit,
                        max_frames: if framing == Framing::Line {
                            max_frames
                        } else {
                            None
                        },
                        max_line,
                        low_watermark: low,
                        high_watermark: low + 1 + gap,
                        max_collect: collect,
                        ..EchoConfig::default()
                    },
                    ..Config::default()
                }
            },
        );
    let raw = (1usize..30, 0usize..8).prop_map(|(low, gap)| Config {
        echo: EchoConfig {
            framing: Framing::Raw,
            low_watermark: low,
            high_watermark: low + 1 + gap,
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    prop_oneof![3 => line_like, 1 => raw]
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..12, 1..5)
}

/// One fault layer's content-preserving settings: any mix of delay, jitter, pacing and
/// chunking, or none.
fn fault() -> impl Strategy<Value = FaultConfig> {
    (
        proptest::option::of(1u64..300),
        proptest::option::of(1u64..100),
        proptest::option::of(1u64..5000),
        proptest::option::of((1usize..8, 0usize..8)),
        any::<u64>(),
    )
        .prop_map(|(delay, jitter, rate, chunk, seed)| FaultConfig {
            delay: delay.map(Duration::from_millis),
            jitter: jitter.map(Duration::from_millis),
            rate,
            chunk: chunk.map(|(min, gap)| Chunk {
                min,
                max: min + gap,
            }),
            seed,
            ..FaultConfig::default()
        })
}

proptest! {
    // 256 cases each by default; `PROPTEST_CASES=20000` for a deeper search.

    /// (e) The layer contract: any stack of pass-through layers over the echo, with the
    /// input split at arbitrary points and every layer's deadline honoured by the virtual
    /// clock, echoes exactly what the echo alone does, and ends for the same reason.
    #[test]
    fn any_stack_of_pass_through_layers_echoes_what_the_echo_alone_does(
        config in chunk_independent_config(),
        input in stream(),
        reads in sizes(),
        writes in proptest::collection::vec(0usize..12, 1..5)
            .prop_filter("some write must progress", |w| w.iter().any(|&n| n > 0)),
        layers in proptest::collection::vec(fault(), 0..4),
    ) {
        let (expected, reason) = model::echo(&config, &input);
        let mut sim = Sim::over(config, |config| {
            let mut stack: Box<dyn Layer> = Box::new(Echo::new(config.clone(), Instant::ZERO));
            for (i, faults) in layers.iter().enumerate() {
                stack = Box::new(Faults::new(faults, i as u64, Instant::ZERO, stack));
            }
            stack
        })
        .with_reads(&reads)
        .with_writes(&writes);
        sim.send(&input).close_client();
        let released = sim.run_to_release();
        prop_assert_eq!(&sim.echoed, &expected);
        prop_assert_eq!(released, reason);
    }

    /// (a) Any split into reads and writes yields the model's bytes and close reason.
    #[test]
    fn any_fragmentation_echoes_what_the_model_says(
        config in chunk_independent_config(),
        input in stream(),
        reads in sizes(),
        writes in proptest::collection::vec(0usize..12, 1..5)
            .prop_filter("some write must progress", |w| w.iter().any(|&n| n > 0)),
    ) {
        let (expected, reason) = model::echo(&config, &input);
        let mut sim = Sim::new(config).with_reads(&reads).with_writes(&writes);
        sim.send(&input).close_client();
        let released = sim.run_to_release();
        prop_assert_eq!(&sim.echoed, &expected);
        prop_assert_eq!(released, reason);
    }

    /// (a) With a fault word, what arrives is a prefix of the model's echo, and the
    /// connection fails exactly when the model says it does.
    #[test]
    fn a_fault_never_corrupts_what_was_already_echoed(
        input in stream(),
        reads in sizes(),
        writes in sizes(),
    ) {
        let config = Config { echo: EchoConfig { fault_word: Some(b"boom".to_vec()), ..EchoConfig::default() }, ..Config::default() };
        let (expected, reason) = model::echo(&config, &input);
        let mut sim = Sim::new(config).with_reads(&reads).with_writes(&writes);
        sim.send(&input).close_client();
        let released = sim.run_to_release();
        prop_assert!(expected.starts_with(&sim.echoed));
        prop_assert_eq!(released, reason);
    }

    /// (b) and (c): arbitrary interleavings of input, end-of-stream, writes, time jumps,
    /// shutdown and reset never panic or exceed a bound (the harness checks the bounds
    /// after every input), and after end-of-stream plus drain the connection is released.
    #[test]
    fn arbitrary_driver_sequences_never_panic_and_always_end(
        config in chunk_independent_config(),
        timers in (any::<bool>(), any::<bool>(), any::<bool>()),
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        let ms = Duration::from_millis;
        let config = Config { stream: StreamConfig { idle_timeout: timers.0.then(|| ms(700)), write_stall_timeout: timers.2.then(|| ms(500)), ..config.stream }, echo: EchoConfig { frame_timeout: timers.1.then(|| ms(300)), fault_word: Some(b"boom".to_vec()), quit_word: Some(b"quit".to_vec()), ..config.echo }, ..config };
        let mut sim = Sim::new(config);
        for op in ops {
            match op {
                Op::Send(bytes) if sim.snapshot().phase != Phase::Released => {
                    if !sim.client_closed() { sim.send(&bytes); }
                }
                Op::Send(_) => {}
                Op::Run => { sim.run(); }
                Op::Reading(on) => sim.client_reading = on,
                Op::Advance(by) => { sim.advance(ms(by)); }
                Op::Shutdown => { sim.input(Input::Shutdown); }
                Op::Reset => { sim.input(Input::Reset); }
                Op::Eof => { sim.close_client(); }
                Op::Tick => { sim.input(Input::Tick); }
            }
        }
        sim.client_reading = true;
        if !sim.client_closed() {
            sim.close_client();
        }
        let reason = sim.run_to_release();
        prop_assert!(sim.conn.is_released());
        prop_assert_eq!(sim.snapshot().phase, Phase::Released);
        if reason.is_graceful() {
            prop_assert!(sim.fin, "a graceful close sends a FIN ({:?})", reason);
        }
    }

    /// (d) In a registry, faults, oversize lines and timeouts on some connections never
    /// change the bytes of another: each client gets exactly what it gets when alone.
    #[test]
    fn connections_are_isolated_from_each_others_failures(
        schedule in proptest::collection::vec(client_op(4), 0..80),
    ) {
        let config = Config { echo: EchoConfig { fault_word: Some(b"boom".to_vec()), max_line: 12, high_watermark: 32, low_watermark: 8, frame_timeout: Some(Duration::from_millis(250)), ..EchoConfig::default() }, ..Config::default() };
        let mut together = RegistrySim::new(config.clone(), 4);
        for op in &schedule {
            together.apply(op);
        }
        let together = together.finish();
        for client in 0..4 {
            let mut alone = RegistrySim::new(config.clone(), 4);
            for op in schedule.iter().filter(|op| op.client().is_none_or(|c| c == client)) {
                alone.apply(op);
            }
            let alone = alone.finish();
            prop_assert_eq!(&together[client], &alone[client], "client {}", client);
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Send(Vec<u8>),
    Run,
    Reading(bool),
    Advance(u64),
    Shutdown,
    Reset,
    Eof,
    Tick,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => stream().prop_map(Op::Send),
        6 => Just(Op::Run),
        2 => any::<bool>().prop_map(Op::Reading),
        3 => (0u64..900).prop_map(Op::Advance),
        1 => Just(Op::Shutdown),
        1 => Just(Op::Reset),
        1 => Just(Op::Eof),
        1 => Just(Op::Tick),
    ]
}

fn client_op(clients: usize) -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        4 => (0..clients, stream()).prop_map(|(n, b)| ClientOp::Send(n, b)),
        4 => (0..clients, 1usize..20).prop_map(|(n, k)| ClientOp::Read(n, k)),
        1 => (0..clients).prop_map(ClientOp::Close),
        1 => (0u64..300).prop_map(|ms| ClientOp::Advance(Duration::from_millis(ms))),
    ]
}

#[test]
fn the_model_agrees_with_a_hand_worked_example() {
    let config = Config {
        echo: EchoConfig {
            prefix: b"> ".to_vec(),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let (bytes, reason) = model::echo(&config, b"a\r\nb\nquit\nc\n");
    assert_eq!(bytes, b"> a\r\n> b\n");
    assert_eq!(reason, CloseReason::Quit);
}
