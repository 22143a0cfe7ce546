use std::time::Duration;

use reverb_core::{
    CloseReason, Config, EchoConfig, Input, Instant, Output, PeerError, Registry, RegistryError,
    StreamConfig, Timer,
};
use reverb_tests::{ClientOp, RegistrySim};

fn registry(config: Config) -> Registry {
    Registry::new(config.validate().unwrap())
}

/// Drains one connection, returning what it transmitted and whether it was released.
fn drain(reg: &mut Registry, id: reverb_core::ConnId, now: Instant) -> (Vec<u8>, bool) {
    let mut sent = Vec::new();
    loop {
        match reg.poll_output(id) {
            Output::Transmit(bytes) => {
                sent.extend_from_slice(bytes);
                let n = bytes.len();
                reg.handle_input(id, now, Input::Written(n)).unwrap();
            }
            Output::Release { .. } => return (sent, true),
            Output::Timeout(_) => return (sent, false),
            Output::Event(_) | Output::CloseWrite => {}
        }
    }
}

#[test]
fn connections_beyond_the_limit_are_refused_and_counted() {
    let mut reg = registry(Config {
        stream: StreamConfig {
            max_connections: 2,
            linger: None,
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    let a = reg.accept(Instant::ZERO).unwrap();
    let _b = reg.accept(Instant::ZERO).unwrap();
    assert_eq!(reg.accept(Instant::ZERO), Err(RegistryError::Full(2)));
    assert_eq!(reg.counters().refused, 1);

    reg.handle_input(a, Instant::ZERO, Input::Received(b"quit\n"))
        .unwrap();
    assert_eq!(drain(&mut reg, a, Instant::ZERO), (vec![], true));
    assert_eq!(reg.len(), 1);
    assert!(
        reg.accept(Instant::ZERO).is_ok(),
        "a released slot is free again"
    );
}

#[test]
fn a_released_id_is_stale_even_when_its_slot_is_reused() {
    let mut reg = registry(Config {
        stream: StreamConfig {
            linger: None,
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    let old = reg.accept(Instant::ZERO).unwrap();
    reg.handle_input(old, Instant::ZERO, Input::Reset).unwrap();
    assert!(drain(&mut reg, old, Instant::ZERO).1);
    let new = reg.accept(Instant::ZERO).unwrap();
    assert_eq!(new.index(), old.index());
    assert_ne!(new, old);
    assert_eq!(
        reg.handle_input(old, Instant::ZERO, Input::Received(b"x")),
        Err(RegistryError::UnknownConnection)
    );
    assert_eq!(reg.poll_output(old), Output::Timeout(None));
    assert_eq!(reverb_core::ConnId::from_bits(new.to_bits()), new);
}

#[test]
fn a_fault_on_one_connection_leaves_the_others_untouched() {
    let config = Config {
        echo: EchoConfig {
            fault_word: Some(b"boom".to_vec()),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = RegistrySim::new(config, 3);
    let ops = [
        ClientOp::Send(0, b"alpha\n".to_vec()),
        ClientOp::Send(1, b"bra".to_vec()),
        ClientOp::Send(2, b"boom\n".to_vec()),
        ClientOp::Read(0, 3),
        ClientOp::Read(1, 100),
        ClientOp::Read(2, 100),
        ClientOp::Send(1, b"vo\n".to_vec()),
        ClientOp::Read(0, 100),
        ClientOp::Read(1, 100),
    ];
    for op in &ops {
        sim.apply(op);
    }
    let fault = CloseReason::PeerError(PeerError::FaultInjected);
    let results = sim.finish();
    assert_eq!(
        results[0],
        (b"alpha\n".to_vec(), Some(CloseReason::PeerClosed))
    );
    assert_eq!(
        results[1],
        (b"bravo\n".to_vec(), Some(CloseReason::PeerClosed))
    );
    assert_eq!(results[2], (vec![], Some(fault)));
    assert_eq!(sim.registry.counters().faults, 1);
    assert_eq!(sim.registry.counters().graceful, 2);
}

#[test]
fn the_earliest_deadline_across_connections_fires_first_and_alone() {
    let idle = Duration::from_millis(1000);
    let mut reg = registry(Config {
        stream: StreamConfig {
            idle_timeout: Some(idle),
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    let ids: Vec<_> = [0, 300, 600]
        .into_iter()
        .map(|t| reg.accept(Instant::from_millis(t)).unwrap())
        .collect();
    assert_eq!(reg.next_deadline(), Some(Instant::from_millis(1000)));

    reg.handle_timeout(Instant::from_millis(1000));
    assert_eq!(reg.poll_ready(), Some(ids[0]));
    assert_eq!(reg.poll_ready(), None);
    // The first connection is closing (no timer until its FIN); the others idle on.
    assert_eq!(reg.next_deadline(), Some(Instant::from_millis(1300)));
    drain(&mut reg, ids[0], Instant::from_millis(1000));
    assert_eq!(
        reg.get(ids[0]).unwrap().phase(),
        reverb_core::Phase::Lingering
    );
    assert_eq!(reg.get(ids[1]).unwrap().phase(), reverb_core::Phase::Open);
}

#[test]
fn a_deadline_that_moved_later_costs_one_harmless_wakeup() {
    let idle = Duration::from_millis(1000);
    let mut reg = registry(Config {
        stream: StreamConfig {
            idle_timeout: Some(idle),
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    let id = reg.accept(Instant::ZERO).unwrap();
    reg.handle_input(id, Instant::from_millis(500), Input::Received(b"x\n"))
        .unwrap();
    drain(&mut reg, id, Instant::from_millis(500));
    // The heap still says 1000 (never later than the truth)…
    assert_eq!(reg.next_deadline(), Some(Instant::from_millis(1000)));
    reg.handle_timeout(Instant::from_millis(1000));
    let ready = reg.poll_ready().unwrap();
    drain(&mut reg, ready, Instant::from_millis(1000));
    // …and after that wakeup it says 1500, and nothing closed.
    assert_eq!(reg.next_deadline(), Some(Instant::from_millis(1500)));
    assert_eq!(reg.get(id).unwrap().phase(), reverb_core::Phase::Open);
}

#[test]
fn shutdown_refuses_new_connections_and_drains_every_open_one() {
    let mut reg = registry(Config {
        stream: StreamConfig {
            linger: None,
            ..StreamConfig::default()
        },
        ..Config::default()
    });
    let a = reg.accept(Instant::ZERO).unwrap();
    let b = reg.accept(Instant::ZERO).unwrap();
    reg.handle_input(a, Instant::ZERO, Input::Received(b"mid-echo\npart"))
        .unwrap();
    reg.shutdown(Instant::ZERO);
    assert_eq!(reg.accept(Instant::ZERO), Err(RegistryError::ShuttingDown));
    let mut sent = Vec::new();
    while let Some(id) = reg.poll_ready() {
        let (bytes, released) = drain(&mut reg, id, Instant::ZERO);
        assert!(released);
        sent.push((id, bytes));
    }
    assert_eq!(sent, vec![(a, b"mid-echo\npart".to_vec()), (b, vec![])]);
    assert!(reg.is_empty());
    assert_eq!(reg.counters().graceful, 2);
}

#[test]
fn timeouts_and_oversize_lines_elsewhere_do_not_change_a_connections_bytes() {
    let config = Config {
        echo: EchoConfig {
            max_line: 8,
            frame_timeout: Some(Duration::from_millis(100)),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = RegistrySim::new(config, 3);
    for op in [
        ClientOp::Send(0, b"steady\n".to_vec()),
        ClientOp::Send(1, b"far too long a line\n".to_vec()),
        ClientOp::Send(2, b"slow".to_vec()),
        ClientOp::Read(1, 100),
        ClientOp::Read(2, 100),
        ClientOp::Advance(Duration::from_millis(100)),
        ClientOp::Read(0, 100),
    ] {
        sim.apply(&op);
    }
    let results = sim.finish();
    assert_eq!(
        results[0],
        (b"steady\n".to_vec(), Some(CloseReason::PeerClosed))
    );
    assert_eq!(results[1].0, b"error: line exceeds 8 bytes\n");
    assert_eq!(
        results[2],
        (vec![], Some(CloseReason::TimedOut(Timer::Frame)))
    );
    let c = sim.registry.counters();
    assert_eq!((c.graceful, c.peer_errors, c.timeouts), (1, 1, 1));
    assert_eq!(c.bytes_in, 7 + 20 + 4);
}

#[test]
fn counters_of_several_registries_add_up() {
    let mut total = reverb_core::RegistryCounters::default();
    for _ in 0..3 {
        let mut reg = registry(Config::default());
        let id = reg.accept(Instant::ZERO).unwrap();
        reg.handle_input(id, Instant::ZERO, Input::Received(b"abc\n"))
            .unwrap();
        drain(&mut reg, id, Instant::ZERO);
        total += *reg.counters();
    }
    assert_eq!((total.accepted, total.active, total.frames), (3, 3, 3));
    assert_eq!((total.bytes_in, total.bytes_out), (12, 12));
}
