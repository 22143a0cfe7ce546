//! The TLS layer (`reverb-tls`) over the echo, driven by the deterministic harness and a
//! rustls client in memory: the same echo as over TCP, whatever the record boundaries.

use std::sync::OnceLock;

use proptest::prelude::*;
use reverb_core::{CloseReason, Config, Echo, EchoConfig, Instant, Timer};
use reverb_tests::{model, Sim, TlsPeer};
use reverb_tls::{ServerTls, Tls, HANDSHAKE_TIMEOUT};

/// One certificate for every test: generating a key pair costs milliseconds.
fn server_tls() -> &'static ServerTls {
    static TLS: OnceLock<ServerTls> = OnceLock::new();
    TLS.get_or_init(|| ServerTls::self_signed(&["localhost".into()]).unwrap())
}

fn tls_sim(config: Config) -> Sim<Tls<Echo>> {
    Sim::over(config, |config| {
        Tls::new(
            server_tls(),
            Instant::ZERO,
            Echo::new(config.clone(), Instant::ZERO),
        )
    })
}

#[test]
fn a_tls_echo_of_a_line_is_the_same_bytes_as_a_tcp_echo() {
    let config = Config {
        echo: EchoConfig {
            prefix: b"> ".to_vec(),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut sim = tls_sim(config.clone());
    let mut client = TlsPeer::new(server_tls());
    client.write(b"hello\r\nworld\n");
    client.exchange(&mut sim);
    assert!(client.is_connected());
    let mut tcp = Sim::new(config);
    tcp.send(b"hello\r\nworld\n").run();
    assert_eq!(client.received, tcp.echoed);
    assert_eq!(client.received, b"> hello\r\n> world\n");
}

#[test]
fn the_quit_word_ends_with_a_close_notify_then_a_fin() {
    let mut sim = tls_sim(Config::default());
    let mut client = TlsPeer::new(server_tls());
    client.write(b"last\nquit\n");
    client.exchange(&mut sim);
    assert_eq!(client.received, b"last\n");
    assert!(client.closed, "the server's close_notify came");
    assert!(sim.fin, "then its FIN");
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::Quit);
}

#[test]
fn the_clients_close_notify_is_a_half_close() {
    let mut sim = tls_sim(Config::default());
    let mut client = TlsPeer::new(server_tls());
    client.write(b"partial line without a newline");
    client.close();
    client.exchange(&mut sim);
    assert_eq!(client.received, b"partial line without a newline");
    assert!(client.closed);
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::PeerClosed);
}

#[test]
fn plain_text_on_a_tls_port_gets_an_alert_and_a_close() {
    let mut sim = tls_sim(Config::default());
    sim.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").run();
    assert!(sim.fin, "closed after the alert");
    assert!(!sim.echoed.is_empty(), "a TLS alert record was sent");
    assert_eq!(sim.echoed[0], 21, "content type 21: alert");
    sim.close_client();
    match sim.run_to_release() {
        CloseReason::Protocol(p) => {
            assert_eq!((p.layer, p.code), ("tls", 50));
            assert!(p.text.contains("not a TLS record"), "{}", p.text);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_silent_client_is_cut_at_the_handshake_timeout() {
    let mut sim = tls_sim(Config::default());
    assert_eq!(
        sim.snapshot().deadlines.get(Timer::Handshake),
        Some(Instant::ZERO + HANDSHAKE_TIMEOUT)
    );
    let reason = sim.run_to_release();
    assert_eq!(reason, CloseReason::TimedOut(Timer::Handshake));
    assert_eq!(sim.now, Instant::ZERO + HANDSHAKE_TIMEOUT);
}

#[test]
fn a_client_that_does_not_read_meets_backpressure_not_an_unbounded_buffer() {
    let mut sim = tls_sim(Config::default());
    let mut client = TlsPeer::new(server_tls());
    client.exchange(&mut sim);
    assert!(client.is_connected());
    sim.client_reading = false;
    let line = b"0123456789abcdef0123456789abcdef0123456789abcdef012345678\n";
    for _ in 0..40_000 {
        client.write(line);
    }
    client.exchange(&mut sim);
    let (input, output) = (sim.snapshot().input.len(), sim.snapshot().output.len());
    assert!(
        sim.unread() > 1_000_000,
        "most of 2.3 MB stayed unread below"
    );
    assert!(output <= sim.snapshot().output_bound, "{output}");
    assert!(input <= sim.snapshot().input_capacity, "{input}");
    sim.client_reading = true;
    client.exchange(&mut sim);
    assert_eq!(
        client.received.len(),
        line.len() * 40_000,
        "then everything came"
    );
}

/// Bytes biased towards newlines.
fn text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![4 => b'a'..=b'e', 1 => Just(b'\n'), 1 => Just(b'\r')],
        0..3000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Records split at any byte, both ways: the same echo as the model's.
    #[test]
    fn any_fragmentation_of_the_tls_stream_gives_the_same_echo(
        input in text(),
        reads in proptest::collection::vec(1usize..700, 1..4),
        writes in proptest::collection::vec(1usize..700, 1..4),
    ) {
        let config = Config {
            echo: EchoConfig { quit_word: None, ..EchoConfig::default() },
            ..Config::default()
        };
        let (expected, _) = model::echo(&config, &input);
        let mut sim = tls_sim(config).with_reads(&reads).with_writes(&writes);
        let mut client = TlsPeer::new(server_tls());
        client.write(&input);
        client.close();
        client.exchange(&mut sim);
        prop_assert_eq!(&client.received, &expected);
        prop_assert!(client.closed);
        sim.close_client();
        prop_assert_eq!(sim.run_to_release(), CloseReason::PeerClosed);
    }
}
