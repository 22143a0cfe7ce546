//! The UDP echo's guards, under a virtual clock: per-source token buckets in a table that
//! spoofed sources cannot grow, source ports that are never answered, and echo loops that
//! die out.

use std::time::Duration;

use reverb_core::{
    Config, DatagramEcho, DatagramGuards, EchoConfig, Framing, Instant, LoopDetector, LoopVerdict,
    PortPolicy, Source, SourceLimiter, SourceLimits, Unanswered, LOOP_STRIKES, LOOP_TABLE_SIZE,
    LOOP_WINDOW, SOURCE_TABLE_SIZE,
};

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// An IPv4 address as the core keys it: 127.x.y.z from a number.
fn ip(n: u32) -> [u8; 16] {
    Source::v4((0x7f00_0000 | (n & 0x00ff_ffff)).to_be_bytes(), 40_000).ip
}

fn limiter(datagrams_per_second: u64, bytes_per_second: u64, burst_ms: u64) -> SourceLimiter {
    let limits = SourceLimits {
        datagrams_per_second,
        bytes_per_second,
        burst: Duration::from_millis(burst_ms),
    };
    limits.validate().unwrap();
    SourceLimiter::new(limits, 42)
}

/// How many of `count` datagrams of `bytes` from `source` at `now` are admitted.
fn admitted(
    l: &mut SourceLimiter,
    now: Instant,
    source: [u8; 16],
    count: usize,
    bytes: usize,
) -> usize {
    (0..count).filter(|_| l.admit(now, source, bytes)).count()
}

#[test]
fn a_source_gets_its_burst_at_once_then_its_rate() {
    let mut l = limiter(10, 1 << 20, 1000);
    let a = ip(1);
    assert_eq!(
        admitted(&mut l, at(0), a, 50, 64),
        10,
        "a full bucket: 1 s of 10/s"
    );
    assert_eq!(
        admitted(&mut l, at(99), a, 50, 64),
        0,
        "0.99 datagrams refilled"
    );
    assert_eq!(admitted(&mut l, at(100), a, 50, 64), 1, "one per 100 ms");
    assert_eq!(admitted(&mut l, at(600), a, 50, 64), 5);
    assert_eq!(
        admitted(&mut l, at(60_000), a, 50, 64),
        10,
        "a long quiet spell refills to the burst, not beyond"
    );
}

#[test]
fn the_byte_bucket_limits_large_replies() {
    let mut l = limiter(1000, 10_000, 1000);
    let a = ip(1);
    assert_eq!(
        admitted(&mut l, at(0), a, 10, 4000),
        2,
        "10,000 bytes hold two replies of 4,000"
    );
    assert!(l.admit(at(0), a, 2000), "and one of the 2,000 left");
    assert!(!l.admit(at(0), a, 1), "empty");
    assert!(!l.admit(at(100), a, 1001), "1,000 bytes refilled in 100 ms");
    assert!(l.admit(at(100), a, 1000));
}

#[test]
fn a_refused_datagram_costs_its_source_nothing() {
    let mut l = limiter(10, 1 << 20, 1000);
    let a = ip(1);
    assert_eq!(admitted(&mut l, at(0), a, 10, 64), 10);
    // A flood against an empty bucket does not dig it deeper: the next token is still
    // 100 ms away, not further.
    assert_eq!(admitted(&mut l, at(50), a, 100_000, 64), 0);
    assert!(l.admit(at(100), a, 64));
}

#[test]
fn each_source_address_has_its_own_bucket() {
    let mut l = limiter(10, 1 << 20, 1000);
    assert_eq!(admitted(&mut l, at(0), ip(1), 1000, 64), 10);
    assert_eq!(
        admitted(&mut l, at(0), ip(2), 10, 64),
        10,
        "a flood from one address takes nothing from another"
    );
}

#[test]
fn spoofed_sources_cannot_grow_the_table() {
    let mut l = limiter(10, 1 << 20, 1000);
    for n in 0..100_000 {
        assert!(
            l.admit(at(u64::from(n / 100)), ip(n), 64),
            "a new source starts full"
        );
    }
    assert!(l.tracked() <= SOURCE_TABLE_SIZE, "{} tracked", l.tracked());
    assert_eq!(l.capacity(), SOURCE_TABLE_SIZE);
    assert_eq!(l.evictions(), 100_000 - l.tracked() as u64);
}

#[test]
fn a_flooder_stays_limited_while_spoofed_sources_churn_the_table() {
    // The flooder is the most recently seen source of its set whenever the spoofed
    // sources arrive, so they evict others, never its (empty) bucket.
    let mut l = limiter(100, 1 << 20, 1000);
    let flooder = ip(0x00ff_ffff);
    let mut answered = 0;
    let mut spoofed = 0;
    for ms in 0..1000u64 {
        for _ in 0..10 {
            answered += usize::from(l.admit(at(ms), flooder, 64));
        }
        for _ in 0..100 {
            spoofed += 1;
            l.admit(at(ms), ip(spoofed), 64);
        }
    }
    assert!(
        l.evictions() > 50_000,
        "the table churned: {} evictions",
        l.evictions()
    );
    // 100 at once, then 100 per second over 0.999 s.
    assert!(
        answered <= 100 + 100,
        "the flooder got {answered} of 10,000"
    );
    assert!(answered >= 190, "and no fewer than its rate: {answered}");
}

#[test]
fn impossible_limits_are_refused_with_their_reason() {
    let base = SourceLimits::default();
    let cases = [
        (
            SourceLimits {
                datagrams_per_second: 0,
                ..base
            },
            "udp source rate",
        ),
        (
            SourceLimits {
                bytes_per_second: 0,
                ..base
            },
            "udp source bandwidth",
        ),
        (
            SourceLimits {
                burst: Duration::ZERO,
                ..base
            },
            "udp source burst",
        ),
        (
            SourceLimits {
                burst: Duration::from_secs(7200),
                ..base
            },
            "udp source burst",
        ),
        (
            SourceLimits {
                datagrams_per_second: 1,
                burst: Duration::from_millis(999),
                ..base
            },
            "less than one datagram",
        ),
    ];
    for (limits, needle) in cases {
        let message = limits.validate().unwrap_err().to_string();
        assert!(message.contains(needle), "{message}");
    }
    SourceLimits::default().validate().unwrap();
}

#[test]
fn service_ports_are_never_answered_and_low_ports_only_when_allowed() {
    for port in [0, 7, 9, 13, 17, 19, 37] {
        assert!(PortPolicy::RefuseBelow1024.refuses(port), "{port}");
        assert!(PortPolicy::RefuseLoopProne.refuses(port), "{port}");
    }
    assert!(PortPolicy::RefuseBelow1024.refuses(1023));
    assert!(!PortPolicy::RefuseLoopProne.refuses(1023));
    assert!(!PortPolicy::RefuseBelow1024.refuses(1024));
    assert_eq!(PortPolicy::default(), PortPolicy::RefuseBelow1024);
}

fn echo(echo: EchoConfig, ports: PortPolicy) -> DatagramEcho {
    let config = Config {
        echo,
        ..Config::default()
    };
    DatagramEcho::guarded(
        config.validate().unwrap(),
        DatagramGuards {
            ports,
            seed: 7,
            ..DatagramGuards::default()
        },
    )
}

#[test]
fn a_forged_datagram_from_port_7_or_19_gets_no_reply() {
    let mut server = echo(EchoConfig::default(), PortPolicy::RefuseLoopProne);
    let mut reply = Vec::new();
    for port in [7, 19] {
        let forged = Source::v4([127, 0, 0, 1], port);
        assert_eq!(
            server.answer(at(0), forged, b"hi\n", &mut reply),
            Err(Unanswered::SourcePort { port })
        );
    }
    let client = Source::v4([127, 0, 0, 1], 1000);
    assert_eq!(
        server.answer(at(0), client, b"hi\n", &mut reply),
        Ok(&b"hi\n"[..])
    );
    assert_eq!(server.counters().refused_port, 2);
    assert_eq!(server.counters().echoed, 1);
}

/// Two echo servers, `a` at `a_addr` and `b` at `b_addr`, and one datagram forged as
/// coming from `a` delivered to `b`: the number of datagrams they send each other before
/// one of them stops answering (bounded, so a live loop fails the test).
fn forged_loop(mut a: DatagramEcho, mut b: DatagramEcho, first: &[u8], step_us: u64) -> usize {
    let a_addr = Source::v4([127, 0, 0, 1], 9007);
    let b_addr = Source::v4([127, 0, 0, 1], 40_000);
    let mut datagram = first.to_vec();
    let mut reply = Vec::new();
    let mut now_us = 0u64;
    for sent in 0..100_000 {
        now_us += step_us;
        let now = at(now_us / 1000);
        // Even steps: b answers "a"; odd steps: a answers b.
        let (server, from) = if sent % 2 == 0 {
            (&mut b, a_addr)
        } else {
            (&mut a, b_addr)
        };
        match server.answer(now, from, &datagram, &mut reply) {
            Ok(bytes) => datagram = bytes.to_vec(),
            Err(Unanswered::Loop { found: true }) => return sent,
            Err(other) => panic!("the loop ended for another reason: {other:?} after {sent}"),
        }
    }
    panic!("the loop never ended");
}

#[test]
fn two_echoes_tricked_into_a_loop_stop_within_a_few_round_trips() {
    let plain = || echo(EchoConfig::default(), PortPolicy::default());
    // 20 µs per hop: loopback speed.
    let sent = forged_loop(plain(), plain(), b"forged\n", 20);
    assert!(
        sent <= 2 * LOOP_STRIKES as usize + 2,
        "{sent} datagrams exchanged"
    );
    // 150 ms per hop: a slow path across the world is caught too.
    let sent = forged_loop(plain(), plain(), b"forged\n", 150_000);
    assert!(
        sent <= 2 * LOOP_STRIKES as usize + 2,
        "{sent} datagrams exchanged"
    );
}

#[test]
fn a_loop_is_found_through_each_sides_prefix_and_suffix() {
    let affixed = |prefix: &[u8], suffix: &[u8], framing| {
        echo(
            EchoConfig {
                framing,
                prefix: prefix.to_vec(),
                suffix: suffix.to_vec(),
                ..EchoConfig::default()
            },
            PortPolicy::default(),
        )
    };
    let cases = [
        (
            affixed(b"> ", b"!", Framing::Line),
            affixed(b"< ", b"?", Framing::Line),
        ),
        (
            affixed(b"[", b"]", Framing::Raw),
            affixed(b"", b"", Framing::Line),
        ),
        (
            affixed(b"", b"\r\n", Framing::Raw),
            affixed(b"x", b"", Framing::Collect),
        ),
    ];
    for (a, b) in cases {
        let sent = forged_loop(a, b, b"forged\r\n", 20);
        // Each side's affixes make the datagram grow; it is found well before
        // max_datagram would have stopped it (some 10,000 round trips).
        assert!(
            sent <= 2 * LOOP_STRIKES as usize + 2,
            "{sent} datagrams exchanged"
        );
    }
}

#[test]
fn a_peer_taken_for_a_loop_is_answered_again_after_a_quiet_window() {
    let mut d = LoopDetector::new(3);
    let peer = Source::v4([127, 0, 0, 2], 5000);
    for i in 0..u64::from(LOOP_STRIKES) {
        d.answered(at(i), peer, b"same\n");
        let verdict = d.check(at(i + 1), peer, b"same\n");
        let expected = if i + 1 == u64::from(LOOP_STRIKES) {
            LoopVerdict::Found
        } else {
            LoopVerdict::Clear
        };
        assert_eq!(verdict, expected, "datagram {i}");
    }
    assert_eq!(d.check(at(500), peer, b"same\n"), LoopVerdict::Ongoing);
    assert_eq!(
        d.check(at(1400), peer, b"same\n"),
        LoopVerdict::Ongoing,
        "not quiet yet"
    );
    let quiet = 1400 + LOOP_WINDOW.as_millis() as u64;
    assert_eq!(d.check(at(quiet), peer, b"same\n"), LoopVerdict::Clear);
}

#[test]
fn clients_are_not_taken_for_loops() {
    let mut reply = Vec::new();
    let client = Source::v4([127, 0, 0, 2], 5000);
    // The same datagram once every two seconds: each reply is long forgotten.
    let mut plain = echo(EchoConfig::default(), PortPolicy::default());
    for i in 0..100 {
        assert!(plain
            .answer(at(i * 2000), client, b"ping\n", &mut reply)
            .is_ok());
    }
    // As fast as it likes, when reverb adds a prefix: "ping" does not contain "> ping".
    let mut prefixed = echo(
        EchoConfig {
            prefix: b"> ".to_vec(),
            ..EchoConfig::default()
        },
        PortPolicy::default(),
    );
    for i in 0..1000 {
        assert!(prefixed
            .answer(at(i), client, b"ping\n", &mut reply)
            .is_ok());
    }
    // Different datagrams, as fast as it likes: a load test's numbered messages.
    for i in 0..1000u64 {
        let message = format!("message {i}\n");
        assert!(plain
            .answer(at(300_000 + i), client, message.as_bytes(), &mut reply)
            .is_ok());
    }
    assert_eq!(plain.counters().looped + prefixed.counters().looped, 0);
}

#[test]
fn a_numbered_flood_against_a_reply_the_rate_limit_left_standing_is_not_a_loop() {
    // Once the bucket is empty our last reply ("flood 1") stays the last one, and the
    // flood's next datagrams ("flood 10" … "flood 19") all contain it. Only the first
    // datagram after a reply can be its echo, so they are not strikes.
    let config = Config {
        echo: EchoConfig::default(),
        ..Config::default()
    };
    let mut server = DatagramEcho::guarded(
        config.validate().unwrap(),
        DatagramGuards {
            limits: SourceLimits {
                datagrams_per_second: 2,
                ..SourceLimits::default()
            },
            ..DatagramGuards::default()
        },
    );
    let flooder = Source::v4([127, 0, 0, 2], 5000);
    let mut reply = Vec::new();
    for i in 0..100 {
        let datagram = format!("flood {i}\n");
        let _ = server.answer(at(0), flooder, datagram.as_bytes(), &mut reply);
    }
    let c = server.counters();
    assert_eq!((c.echoed, c.rate_limited, c.looped), (2, 98, 0));
}

#[test]
fn the_loop_table_is_bounded_too() {
    let mut d = LoopDetector::new(9);
    for n in 0..100_000u32 {
        let peer = Source::v4((0x7f00_0000 | n).to_be_bytes(), 6000);
        d.answered(at(u64::from(n)), peer, b"x");
    }
    assert!(d.tracked() <= LOOP_TABLE_SIZE, "{}", d.tracked());
}
