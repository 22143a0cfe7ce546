//! No allocation per event on the hot path: a counting global allocator watches a warmed-up
//! connection echo many round trips, and every one of them must allocate nothing.
//!
//! The counter is per thread, so the tests of this binary can run side by side: each counts
//! only what its own thread allocates, and the core runs on the thread that drives it.
//! A binary of its own because a `#[global_allocator]` is one per binary; the server's own
//! loop, whose thread the test does not own, is counted in `alloc_server`.

mod counting;

use counting::allocations_in;
use reverb_core::{
    Config, Connection, EchoConfig, Framing, Input, Instant, Output, Registry, ValidConfig,
};

/// Round trips measured after the warmup: enough that one allocation every few hundred
/// (a buffer growing, a heap of deadlines growing) would show.
const ROUND_TRIPS: usize = 10_000;
/// Round trips before counting: buffers reach their working size.
const WARMUP: usize = 1_000;

fn config(framing: Framing) -> ValidConfig {
    Config {
        echo: EchoConfig {
            framing,
            ..EchoConfig::default()
        },
        ..Config::default()
    }
    .validate()
    .expect("a valid config")
}

/// `config(framing)` with an idle timeout: every echo moves the connection's deadline.
fn config_with_idle_timeout(framing: Framing) -> ValidConfig {
    let mut config = Config {
        echo: EchoConfig {
            framing,
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    config.stream.idle_timeout = Some(std::time::Duration::from_secs(30));
    config.validate().expect("a valid config")
}

/// A 64-byte message: 63 bytes and a newline, as `reverb bench --line` sends.
fn message() -> [u8; 64] {
    let mut m = [b'x'; 64];
    m[63] = b'\n';
    m
}

/// Echoes `msg` once through `conn` as a driver does (rules 1–3 of the run-loop
/// contract), the clock one millisecond on, and returns the bytes echoed.
fn round_trip(conn: &mut Connection, now: &mut Instant, msg: &[u8]) -> usize {
    *now = Instant::from_millis(now.as_millis() + 1);
    assert!(conn.receive_capacity() >= msg.len());
    assert_eq!(conn.handle_input(*now, Input::Received(msg)), msg.len());
    let mut echoed = 0;
    loop {
        match conn.poll_output() {
            Output::Transmit(bytes) => {
                let n = bytes.len();
                echoed += n;
                conn.handle_input(*now, Input::Written(n));
            }
            Output::Timeout(_) => return echoed,
            // What a driver logs at debug level: `Echoed`, a borrowed value.
            Output::Event(_) => {}
            other => panic!("unexpected output in the steady state: {other:?}"),
        }
    }
}

fn a_warmed_up_connection_echoes_without_allocating(framing: Framing) {
    let mut now = Instant::ZERO;
    let mut conn = Connection::new(config(framing), now);
    let msg = message();
    for _ in 0..WARMUP {
        assert_eq!(round_trip(&mut conn, &mut now, &msg), msg.len());
    }
    let mut echoed = 0;
    let allocations = allocations_in(|| {
        for _ in 0..ROUND_TRIPS {
            echoed += round_trip(&mut conn, &mut now, &msg);
        }
    });
    assert_eq!(echoed, ROUND_TRIPS * msg.len(), "every byte echoed");
    assert_eq!(
        allocations, 0,
        "{framing:?}: {allocations} allocations in {ROUND_TRIPS} round trips"
    );
}

#[test]
fn a_connection_in_line_mode_echoes_without_allocating() {
    a_warmed_up_connection_echoes_without_allocating(Framing::Line);
}

#[test]
fn a_connection_in_raw_mode_echoes_without_allocating() {
    a_warmed_up_connection_echoes_without_allocating(Framing::Raw);
}

#[test]
fn a_line_split_across_reads_is_echoed_without_allocating() {
    // Half a line per read: the partial line waits in the input buffer.
    let mut now = Instant::ZERO;
    let mut conn = Connection::new(config(Framing::Line), now);
    let msg = message();
    let (a, b) = msg.split_at(30);
    let trip = |conn: &mut Connection, now: &mut Instant| {
        round_trip(conn, now, a) + round_trip(conn, now, b)
    };
    for _ in 0..WARMUP {
        trip(&mut conn, &mut now);
    }
    let mut echoed = 0;
    let allocations = allocations_in(|| {
        for _ in 0..ROUND_TRIPS {
            echoed += trip(&mut conn, &mut now);
        }
    });
    assert_eq!(echoed, ROUND_TRIPS * msg.len());
    assert_eq!(allocations, 0, "{allocations} allocations");
}

/// Many connections of one registry, each echoing in turn, the registry's deadlines kept
/// as a driver keeps them (`next_deadline`, `handle_timeout`).
fn a_registry_echoes_without_allocating(config: ValidConfig) {
    const CONNECTIONS: usize = 50;
    let framing = config.echo.framing;
    let mut now = Instant::ZERO;
    let mut registry: Registry = Registry::new(config);
    let ids: Vec<_> = (0..CONNECTIONS)
        .map(|_| registry.accept(now).expect("room for 50"))
        .collect();
    let msg = message();
    let mut echoed = 0usize;
    let turn = |registry: &mut Registry, now: &mut Instant, echoed: &mut usize| {
        *now = Instant::from_millis(now.as_millis() + 1);
        for &id in &ids {
            let taken = registry
                .handle_input(id, *now, Input::Received(&msg))
                .expect("a live connection");
            assert_eq!(taken, msg.len());
            loop {
                match registry.poll_output(id) {
                    Output::Transmit(bytes) => {
                        let n = bytes.len();
                        *echoed += n;
                        registry
                            .handle_input(id, *now, Input::Written(n))
                            .expect("a live connection");
                    }
                    Output::Timeout(_) => break,
                    Output::Event(_) => {}
                    other => panic!("unexpected output in the steady state: {other:?}"),
                }
            }
        }
        if registry.next_deadline().is_some_and(|at| at <= *now) {
            registry.handle_timeout(*now);
            while let Some(id) = registry.poll_ready() {
                while !matches!(registry.poll_output(id), Output::Timeout(_)) {}
            }
        }
    };
    for _ in 0..WARMUP / 10 {
        turn(&mut registry, &mut now, &mut echoed);
    }
    echoed = 0;
    let allocations = allocations_in(|| {
        for _ in 0..ROUND_TRIPS / 10 {
            turn(&mut registry, &mut now, &mut echoed);
        }
    });
    assert_eq!(echoed, ROUND_TRIPS / 10 * CONNECTIONS * msg.len());
    assert_eq!(
        allocations,
        0,
        "{framing:?}: {allocations} allocations in {} round trips",
        ROUND_TRIPS / 10 * CONNECTIONS
    );
}

#[test]
fn a_registry_in_line_mode_echoes_without_allocating() {
    a_registry_echoes_without_allocating(config(Framing::Line));
}

#[test]
fn a_registry_whose_deadlines_move_with_every_echo_echoes_without_allocating() {
    a_registry_echoes_without_allocating(config_with_idle_timeout(Framing::Line));
}

#[test]
fn a_registry_in_raw_mode_echoes_without_allocating() {
    a_registry_echoes_without_allocating(config(Framing::Raw));
}

#[test]
fn the_counter_sees_an_allocation() {
    // The check of the checks: a test that cannot fail proves nothing.
    let n = allocations_in(|| drop(std::hint::black_box(vec![1u8; 100])));
    assert_eq!(n, 1);
}
