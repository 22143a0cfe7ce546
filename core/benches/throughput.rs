//! Throughput of one connection, against a plain memory copy measured in the same run.
//!
//! `cargo bench -p reverb-core` prints, for each case, the bytes per second moved from a
//! "socket read" buffer through the core into a "socket write" — that is, what the core
//! adds to a driver's loop — and the ratio to `memcpy` of the same bytes in the same
//! chunk size. Plus the registry's timer heap at 100 000 connections.
//!
//! No external harness: the numbers are best-of-five runs of about 0.3 s each, enough to be
//! steady on an idle machine.

use std::hint::black_box;
use std::time::{Duration, Instant as Clock};

use reverb_core::{
    Config, Connection, EchoConfig, Framing, Input, Instant, Output, Registry, StreamConfig,
};

const CHUNK: usize = 16 * 1024;
const TOTAL: usize = 256 * 1024 * 1024;
const RUNS: usize = 5;

fn best_of<F: FnMut() -> usize>(mut f: F) -> f64 {
    (0..RUNS)
        .map(|_| {
            let start = Clock::now();
            let bytes = f();
            bytes as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn memcpy(src: &[u8]) -> f64 {
    let mut dst = vec![0u8; src.len()];
    best_of(|| {
        let mut moved = 0;
        while moved < TOTAL {
            dst.copy_from_slice(black_box(src));
            black_box(&mut dst);
            moved += src.len();
        }
        moved
    })
}

/// Feeds `src` repeatedly, writing every transmit out in full, as a driver would.
fn through_core(config: Config, src: &[u8]) -> f64 {
    let config = config.validate().unwrap();
    let mut sink = vec![0u8; 256 * 1024];
    best_of(|| {
        let mut conn = Connection::new(config.clone(), Instant::ZERO);
        let mut moved = 0;
        while moved < TOTAL {
            let mut at = 0;
            while at < src.len() {
                let cap = conn.receive_capacity().min(src.len() - at);
                at += conn.handle_input(Instant::ZERO, Input::Received(&src[at..at + cap]));
                loop {
                    match conn.poll_output() {
                        Output::Transmit(bytes) => {
                            let n = bytes.len();
                            sink[..n].copy_from_slice(bytes);
                            conn.handle_input(Instant::ZERO, Input::Written(n));
                        }
                        Output::Timeout(_) => break,
                        _ => {}
                    }
                }
            }
            black_box(&sink);
            moved += src.len();
        }
        moved
    })
}

fn lines(line_len: usize) -> Vec<u8> {
    let mut line = vec![b'x'; line_len - 1];
    line.push(b'\n');
    line.repeat(CHUNK / line_len)
}

fn gib(bytes_per_sec: f64) -> String {
    format!("{:6.2} GiB/s", bytes_per_sec / (1u64 << 30) as f64)
}

fn registry_timers() {
    const CONNS: u64 = 100_000;
    let config = Config {
        stream: StreamConfig {
            idle_timeout: Some(Duration::from_secs(30)),
            ..StreamConfig::default()
        },
        ..Config::default()
    };
    let mut reg = Registry::new(
        Config {
            stream: StreamConfig {
                max_connections: CONNS as usize,
                ..config.stream
            },
            ..config
        }
        .validate()
        .unwrap(),
    );
    let ids: Vec<_> = (0..CONNS)
        .map(|i| reg.accept(Instant::from_millis(i % 1000)).unwrap())
        .collect();
    let start = Clock::now();
    let mut rounds = 0u64;
    let mut now = 1000;
    // Each round: one connection makes progress (its deadline moves), the loop asks for
    // the next deadline, as a driver does after every event.
    while start.elapsed() < Duration::from_millis(500) {
        for k in 0..1000u64 {
            let id = ids[((rounds * 1000 + k) * 7919 % CONNS) as usize];
            now += 1;
            let now = Instant::from_millis(now);
            reg.handle_input(id, now, Input::Received(b"x\n")).unwrap();
            drain(&mut reg, id, now);
            black_box(reg.next_deadline());
        }
        rounds += 1;
    }
    let per = start.elapsed().as_nanos() as f64 / (rounds * 1000) as f64;
    println!(
        "registry, {CONNS} connections: input + drain + next_deadline = {per:.0} ns per event"
    );
}

/// Drains one connection's outputs, writing every transmit in full.
fn drain(reg: &mut Registry, id: reverb_core::ConnId, now: Instant) {
    loop {
        match reg.poll_output(id) {
            Output::Transmit(bytes) => {
                let n = bytes.len();
                reg.handle_input(id, now, Input::Written(n)).unwrap();
            }
            Output::Timeout(_) => return,
            _ => {}
        }
    }
}

fn main() {
    let raw_src: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    let yardstick = memcpy(&raw_src);
    println!(
        "memcpy, 16 KiB chunks:         {}  (yardstick)",
        gib(yardstick)
    );
    let cases = [
        (
            "raw, 16 KiB reads:            ",
            Config {
                echo: EchoConfig {
                    framing: Framing::Raw,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            raw_src.clone(),
        ),
        (
            "line, 64-byte lines:          ",
            Config {
                echo: EchoConfig {
                    quit_word: None,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            lines(64),
        ),
        (
            "line, 1 KiB lines:            ",
            Config {
                echo: EchoConfig {
                    quit_word: None,
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            lines(1024),
        ),
        (
            "line, 64-byte, prefix+suffix: ",
            Config {
                echo: EchoConfig {
                    prefix: b"Buffer: ".to_vec(),
                    suffix: b"~".to_vec(),
                    ..EchoConfig::default()
                },
                ..Config::default()
            },
            lines(64),
        ),
    ];
    for (name, config, src) in cases {
        let rate = through_core(config, &src);
        println!("{name} {}  ({:.2}x memcpy)", gib(rate), rate / yardstick);
    }
    registry_timers();
}
