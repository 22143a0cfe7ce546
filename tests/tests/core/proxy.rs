//! The PROXY protocol's reader (`reverb-proxy`) below the echo, TLS and the HTTP echo,
//! driven by the deterministic harness: the header is consumed and never echoed, what it
//! says is decoded, a header split across reads anywhere is the same header, and a
//! connection without a valid one closes with nothing sent.

use std::net::SocketAddr;
use std::sync::OnceLock;

use proptest::prelude::*;
use reverb_core::{CloseReason, Config, Echo, EchoConfig, Instant, Layer, StreamConfig, Timer};
use reverb_http::{Format, Http, HttpConfig, Peer};
use reverb_proxy::{build, Announce, Proxy, ProxyHeader, HEADER_TIMEOUT};
use reverb_tests::http::responses;
use reverb_tests::{Sim, TlsPeer};
use reverb_tls::{ServerTls, Tls};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn client() -> SocketAddr {
    addr("203.0.113.7:41234")
}

fn proxy_addr() -> SocketAddr {
    addr("192.0.2.1:7007")
}

fn config() -> Config {
    Config {
        echo: EchoConfig {
            quit_word: None,
            ..EchoConfig::default()
        },
        stream: StreamConfig {
            linger: None,
            ..StreamConfig::default()
        },
        ..Config::default()
    }
}

fn echo_sim() -> Sim<Proxy<Echo>> {
    Sim::over(config(), |config| {
        Proxy::new(Instant::ZERO, Echo::new(config.clone(), Instant::ZERO))
    })
}

fn header(sim: &Sim<Proxy<Echo>>) -> Option<ProxyHeader> {
    sim.conn.stack().header().copied()
}

fn proxy_close(reason: CloseReason) -> (u16, &'static str) {
    match reason {
        CloseReason::Protocol(p) if p.layer == "proxy" => (p.code, p.text),
        other => panic!("not a proxy close: {other:?}"),
    }
}

#[test]
fn a_v1_header_is_consumed_and_decoded_and_never_echoed() {
    let mut sim = echo_sim();
    sim.send(&build::v1(client(), proxy_addr()))
        .send(b"hello\n")
        .run();
    assert_eq!(sim.echoed_str(), "hello\n");
    assert_eq!(
        header(&sim),
        Some(ProxyHeader {
            version: 1,
            source: Some(client()),
            destination: Some(proxy_addr()),
        })
    );
}

#[test]
fn a_v2_header_with_tlvs_is_consumed_and_its_tlvs_skipped() {
    let v6 = addr("[2001:db8::7]:5000");
    let tlvs: &[(u8, &[u8])] = &[(0x01, b"h2"), (0x02, b"example.com"), (0xEA, &[9; 300])];
    let mut sim = echo_sim();
    sim.send(&build::v2(v6, addr("[2001:db8::1]:443"), tlvs))
        .send(b"one\ntwo\n")
        .run();
    assert_eq!(sim.echoed_str(), "one\ntwo\n");
    assert_eq!(header(&sim).unwrap().source, Some(v6));
}

#[test]
fn a_local_header_names_no_client_and_the_echo_goes_on() {
    let mut sim = echo_sim();
    sim.send(&build::v2_local()).send(b"health\n").run();
    assert_eq!(sim.echoed_str(), "health\n");
    assert_eq!(header(&sim).unwrap().source, None);
}

#[test]
fn a_connection_without_a_valid_header_closes_with_nothing_sent() {
    for (bytes, code) in [
        (&b"hello\n"[..], 0),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\nhello\n", 1),
        (&build::raw_v2(0x21, 0x11, &[0; 4]), 2),
    ] {
        let mut sim = echo_sim();
        sim.send(bytes);
        let reason = sim.run_to_release();
        assert_eq!(proxy_close(reason).0, code, "{bytes:?}");
        assert!(sim.echoed.is_empty(), "nothing sent");
        assert!(sim.fin, "a FIN, not a reset");
    }
}

#[test]
fn a_header_not_whole_in_time_or_cut_by_the_end_closes_the_connection() {
    let mut sim = echo_sim();
    sim.send(b"PROXY TCP4 1.2.3.4").run();
    assert_eq!(
        sim.run_to_release(),
        CloseReason::TimedOut(Timer::Handshake)
    );
    assert_eq!(sim.now, Instant::ZERO + HEADER_TIMEOUT);

    let mut sim = echo_sim();
    sim.send(b"PROXY TCP4 1.2.3.4").close_client();
    assert_eq!(
        proxy_close(sim.run_to_release()).1,
        "the connection ended inside its PROXY header"
    );
    let mut sim = echo_sim();
    sim.close_client();
    assert_eq!(sim.run_to_release(), CloseReason::PeerClosed);
}

#[test]
fn a_header_read_a_byte_at_a_time_takes_no_byte_past_its_end() {
    let header = build::v2(client(), proxy_addr(), &[(0x05, b"unique-id")]);
    let mut sim = echo_sim().with_reads(&[1]);
    sim.send(&header).send(b"x\n").run();
    assert_eq!(sim.echoed_str(), "x\n");
    let mut sim = echo_sim().with_reads(&[1000]);
    sim.send(&header).send(b"y\n").run();
    assert_eq!(
        sim.reads_taken[..2],
        [16, header.len() - 16],
        "the fixed part, then the length it announces, and not a byte more"
    );
}

proptest! {
    /// A header and the stream after it, cut into reads anywhere: the same header, the
    /// same echo.
    #[test]
    fn any_split_of_a_header_and_its_stream_gives_the_same_echo(
        v2 in any::<bool>(),
        reads in prop::collection::vec(1usize..40, 1..8),
    ) {
        let header = if v2 {
            build::v2(client(), proxy_addr(), &[(0x01, b"http/1.1")])
        } else {
            build::v1(client(), proxy_addr())
        };
        let mut sim = echo_sim().with_reads(&reads);
        sim.send(&header).send(b"first line\nsecond\n").run();
        prop_assert_eq!(sim.echoed_str(), "first line\nsecond\n");
        prop_assert_eq!(sim.conn.stack().header().and_then(|h| h.source), Some(client()));
    }
}

fn server_tls() -> &'static ServerTls {
    static TLS: OnceLock<ServerTls> = OnceLock::new();
    TLS.get_or_init(|| ServerTls::self_signed(&["localhost".into()]).unwrap())
}

#[test]
fn under_tls_the_header_comes_before_the_handshake_and_tls_never_sees_it() {
    let mut sim = Sim::over(config(), |config| {
        let echo = Echo::new(config.clone(), Instant::ZERO);
        Proxy::new(Instant::ZERO, Tls::new(server_tls(), Instant::ZERO, echo))
    })
    .with_reads(&[7]);
    sim.send(&build::v1(client(), proxy_addr()));
    let mut peer = TlsPeer::new(server_tls());
    peer.write(b"secret\n");
    peer.exchange(&mut sim);
    assert_eq!(peer.received, b"secret\n");
    assert_eq!(
        sim.conn.stack().header().and_then(|h| h.source),
        Some(client())
    );
    assert!(sim.conn.stack().inner().is_handshake_complete());
}

#[test]
fn plain_text_where_a_header_belongs_gets_no_tls_alert() {
    let mut sim = Sim::over(config(), |config| {
        let echo = Echo::new(config.clone(), Instant::ZERO);
        Proxy::new(Instant::ZERO, Tls::new(server_tls(), Instant::ZERO, echo))
    });
    sim.send(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(proxy_close(sim.run_to_release()).0, 0);
    assert!(sim.echoed.is_empty(), "not even an alert: {:?}", sim.echoed);
}

#[test]
fn the_http_echo_reports_the_client_the_header_named() {
    let slot = Announce::new();
    let http = HttpConfig {
        format: Format::Json,
        ..HttpConfig::default()
    };
    let socket_peer = addr("127.0.0.1:50000");
    let mut sim = Sim::over(Config::default(), |config| {
        let peer = Peer {
            addr: Some(socket_peer),
            local: Some(addr("127.0.0.1:8080")),
            proxy: Some(slot.clone()),
        };
        let app = Http::new(&http, config, Instant::ZERO, peer);
        Proxy::new(Instant::ZERO, app).announce_to(slot.clone())
    });
    sim.send(&build::v2(client(), proxy_addr(), &[]))
        .send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .run();
    let answers = responses(&sim.echoed);
    let doc: serde_json::Value = serde_json::from_slice(&answers[0].body).unwrap();
    assert_eq!(doc["peer"], "127.0.0.1:50000");
    assert_eq!(doc["client"], "203.0.113.7:41234");
    assert_eq!(doc["proxy"]["version"], 2);
    assert_eq!(doc["proxy"]["destination"], "192.0.2.1:7007");
    assert_eq!(doc["local"], "127.0.0.1:8080");
    assert!(sim.conn.stack().transmit().is_empty());
}
