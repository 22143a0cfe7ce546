//! Scenario 12: soak. A minute of mixed load on two servers at once — raw with small
//! watermarks and short reads (backpressure and fragmentation all the time), and line
//! mode — from clients that connect, send a random amount in chunks of random sizes with
//! random pauses, read with buffers of random sizes and random pauses, half-close, check
//! every byte of the echo, and start over. Zero mismatches, zero errors, every
//! connection graceful, memory bounded.
//!
//! `RELIABILITY_SOAK_SECS` shortens (or lengthens) the minute for a quick local run.

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use crate::figure;
use crate::kind::{ConnectOptions, Kind, Writer};
use crate::pattern::{Rng, Shape, Stream};
use crate::support::{serial, Server, LIMIT};

const DEFAULT_SOAK: Duration = Duration::from_secs(60);
/// Client connections per server, each a thread pair, one life after another.
const CLIENTS: usize = 12;
/// Most bytes a life sends.
const MAX_LIFE: u64 = 2 << 20;
/// Peak RSS growth allowed per server over the soak. The configured buffers of 12
/// connections are well under 2 MiB (raw: 16 KiB watermark; line: 64 KiB plus a 16 KiB
/// line); the rest is allocator slack. Measured: under 1 MiB. A leak of even a few
/// bytes per read would exceed it over the minute's millions of reads.
const RSS_GROWTH_BOUND_KIB: u64 = 8 * 1024;

struct Flavour {
    name: &'static str,
    args: &'static [&'static str],
    shape: Shape,
}

const FLAVOURS: [Flavour; 2] = [
    Flavour {
        name: "raw",
        args: &[
            "--mode",
            "raw",
            "--high-watermark",
            "16KiB",
            "--low-watermark",
            "4KiB",
            "--read-size",
            "1500",
            "--threads",
            "2",
        ],
        shape: Shape::Raw,
    },
    Flavour {
        name: "line",
        args: &[
            "--mode",
            "line",
            "--no-quit-word",
            "--max-line",
            "1KiB",
            "--threads",
            "2",
        ],
        shape: Shape::Lines(1000),
    },
];

#[derive(Default)]
struct Tally {
    lives: u64,
    bytes: u64,
    errors: Vec<String>,
}

#[test]
fn scenario_12_a_minute_of_mixed_load_with_every_byte_verified() {
    let _serial = serial();
    let soak = std::env::var("RELIABILITY_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_SOAK, Duration::from_secs);
    for kind in Kind::ALL {
        soak_kind(kind, soak);
    }
}

fn soak_kind(kind: Kind, soak: Duration) {
    let mut servers: Vec<(Server, u64)> = FLAVOURS
        .iter()
        .map(|f| {
            let server = Server::start(kind, f.args);
            let baseline = server.rss_kib();
            server.reset_peak_rss();
            (server, baseline)
        })
        .collect();
    let started = Instant::now();
    let tallies: Vec<Vec<Tally>> = thread::scope(|scope| {
        let per_server: Vec<Vec<_>> = servers
            .iter()
            .zip(&FLAVOURS)
            .enumerate()
            .map(|(s, ((server, _), flavour))| {
                (0..CLIENTS)
                    .map(|c| {
                        let addr = server.addr;
                        let seed = ((s * CLIENTS + c) as u64) << 32;
                        scope.spawn(move || client(kind, addr, flavour.shape, seed, started + soak))
                    })
                    .collect()
            })
            .collect();
        per_server
            .into_iter()
            .map(|handles| handles.into_iter().map(|h| h.join().unwrap()).collect())
            .collect()
    });
    let took = started.elapsed();
    for ((server, baseline), (flavour, tallies)) in
        servers.iter_mut().zip(FLAVOURS.iter().zip(tallies))
    {
        let lives: u64 = tallies.iter().map(|t| t.lives).sum();
        let bytes: u64 = tallies.iter().map(|t| t.bytes).sum();
        let errors: Vec<&String> = tallies.iter().flat_map(|t| &t.errors).collect();
        let growth = server.peak_rss_kib().saturating_sub(*baseline);
        server.signal("TERM");
        let (status, summary, _) = server.wait_exit(LIMIT);
        figure(
            12,
            Some(kind),
            &format!(
                "{} server, {:.0} s: {lives} connections from {CLIENTS} clients, {:.1} MiB \
                 echoed and verified, {} mismatches or errors; peak RSS growth {growth} KiB \
                 (bound {RSS_GROWTH_BOUND_KIB} KiB); {summary}",
                flavour.name,
                took.as_secs_f64(),
                bytes as f64 / (1 << 20) as f64,
                errors.len()
            ),
        );
        assert!(
            errors.is_empty(),
            "{} server: {} errors: {errors:#?}",
            flavour.name,
            errors.len()
        );
        assert!(lives >= CLIENTS as u64, "{lives} connections");
        assert!(status.success(), "{status:?}");
        assert!(
            summary.contains(&format!(
                "{lives} connections ({lives} graceful, 0 faults, 0 peer errors, 0 timed out, \
                 0 reset)"
            )) && (kind != Kind::Tcp
                || summary.contains(&format!("{bytes} bytes in, {bytes} bytes out"))),
            "{summary}"
        );
        assert!(
            growth <= RSS_GROWTH_BOUND_KIB,
            "{} server: RSS grew by {growth} KiB",
            flavour.name
        );
    }
}

/// One client slot: lives one after another until `until`; each life is one connection.
fn client(
    kind: Kind,
    addr: std::net::SocketAddr,
    shape: Shape,
    seed: u64,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut life = 0u64;
    while Instant::now() < until {
        match one_life(kind, addr, shape, seed + life) {
            Ok(bytes) => {
                tally.lives += 1;
                tally.bytes += bytes;
            }
            Err(e) => {
                tally.errors.push(format!("seed {}: {e}", seed + life));
                // One failure says enough about this slot; the others go on.
                break;
            }
        }
        life += 1;
    }
    tally
}

/// Sends a random amount in random chunks with random pauses, reads it back in random
/// reads with random pauses, checks every byte, and returns how many.
fn one_life(
    kind: Kind,
    addr: std::net::SocketAddr,
    shape: Shape,
    seed: u64,
) -> Result<u64, String> {
    let mut rng = Rng::new(seed);
    // Mostly small lives, some large: sizes spread over four orders of magnitude.
    let total = match rng.range(0, 3) {
        0 => rng.range(0, 1 << 10),
        1 => rng.range(0, 64 << 10),
        2 => rng.range(0, 512 << 10),
        _ => rng.range(0, MAX_LIFE),
    };
    let conn = kind
        .connect(addr, &ConnectOptions::default())
        .map_err(|e| format!("connect: {e}"))?;
    let (mut reader, writer) = conn.split();
    let sender = {
        let mut rng = Rng::new(seed ^ 0x5EED);
        thread::spawn(move || send(writer, &mut rng, shape, seed, total))
    };
    let mut check = Stream::new(seed, shape);
    let mut buf = vec![0u8; 64 << 10];
    let outcome = loop {
        let size = chunk_size(&mut rng);
        match reader.read(&mut buf[..size]) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = check.check(&buf[..n]) {
                    break Err(e);
                }
            }
            Err(e) => break Err(format!("read at {}: {e}", check.offset)),
        }
        pause(&mut rng);
    };
    let sent = sender
        .join()
        .map_err(|_| "the sender panicked".to_owned())??;
    outcome?;
    if check.offset != sent {
        return Err(format!("sent {sent} bytes, {} echoed", check.offset));
    }
    Ok(sent)
}

fn send(
    mut writer: Writer,
    rng: &mut Rng,
    shape: Shape,
    seed: u64,
    total: u64,
) -> Result<u64, String> {
    let mut stream = Stream::new(seed, shape);
    while stream.offset < total {
        let n = (chunk_size(rng) as u64).min(total - stream.offset) as usize;
        let chunk = stream.take(n);
        writer
            .write_all(&chunk)
            .map_err(|e| format!("send at {}: {e}", stream.offset))?;
        pause(rng);
    }
    writer.finish().map_err(|e| format!("half-close: {e}"))?;
    Ok(stream.offset)
}

/// 1 byte to 64 KiB, spread evenly over the orders of magnitude.
fn chunk_size(rng: &mut Rng) -> usize {
    let bits = rng.range(0, 16);
    rng.range(1, 1 << bits) as usize
}

/// Now and then a pause of up to 20 ms: a slow reader or writer, for a moment.
fn pause(rng: &mut Rng) {
    if rng.one_in(16) {
        thread::sleep(Duration::from_millis(rng.range(1, 20)));
    }
}
