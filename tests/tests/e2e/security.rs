//! reverb cannot be turned against anyone: forged datagrams start no endless loop, a UDP
//! listener off loopback amplifies nothing unless asked to, one source cannot take more
//! than its share, spoofed sources cannot grow memory, and `--user` drops root. Forged
//! datagrams go through a raw socket, on loopback only; tests that need one say so and
//! are skipped where raw sockets are not allowed.

use std::net::{SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::time::Instant;

use crate::support::{rss_kib, Client, Forger, Server, LIMIT};

fn v4(addr: SocketAddr) -> SocketAddrV4 {
    match addr {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => panic!("expected an IPv4 address, got {a}"),
    }
}

fn forger(test: &str) -> Option<Forger> {
    match Forger::new() {
        Ok(forger) => Some(forger),
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            None
        }
    }
}

/// A number from the summary line: the one just before `label`.
fn number_before(summary: &str, label: &str) -> u64 {
    let at = summary
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {summary}"));
    summary[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.trim_start_matches('(').parse().ok())
        .unwrap_or_else(|| panic!("no number before {label:?} in {summary}"))
}

/// Stops a server and returns its summary line.
fn stop(mut server: Server) -> String {
    server.signal("TERM");
    let (status, out) = server.wait_exit();
    assert!(status.success(), "{status:?}\n{}", server.log());
    out
}

fn udp_socket(ip: &str) -> UdpSocket {
    let socket = UdpSocket::bind((ip, 0)).unwrap();
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    socket
}

#[test]
fn a_forged_datagram_between_two_reverbs_dies_out_within_a_few_round_trips() {
    let Some(forger) = forger("the forged echo loop") else {
        return;
    };
    let a = Server::start(&["--udp", "127.0.0.1:0", "--threads", "1"]);
    let b = Server::start(&["--udp", "127.0.0.1:0", "--threads", "1"]);
    // CERT CA-1996-01: one datagram "from" a, sent to b, and each answers the other.
    forger.send(v4(a.udp[0]), v4(b.udp[0]), b"forged\n");
    // b answered first, so b is the first to see its reply come back often enough.
    b.await_log(&["WARN", "udp echo loop", &a.udp[0].to_string()]);
    let (a_out, b_out) = (stop(a), stop(b));
    let exchanged =
        number_before(&a_out, "datagrams echoed") + number_before(&b_out, "datagrams echoed");
    eprintln!("forged loop between two reverbs: {exchanged} datagrams exchanged, then stopped");
    assert!(exchanged >= 2, "the loop never started: {a_out}\n{b_out}");
    assert!(
        exchanged <= 2 * u64::from(reverb_core::LOOP_STRIKES) + 2,
        "{exchanged} datagrams:\n{a_out}\n{b_out}"
    );
    assert!(b_out.contains("in 1 echo loop)"), "{b_out}");
}

#[test]
fn forged_datagrams_from_port_7_or_19_are_never_answered() {
    let Some(forger) = forger("forged service ports") else {
        return;
    };
    // Even with low source ports allowed, the services' ports are not.
    let server = Server::start(&[
        "--udp",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--udp-allow-low-source-ports",
    ]);
    let to = v4(server.udp[0]);
    // The control: a datagram forged as coming from our own socket is answered to it,
    // so the forging works and a missing reply below is a refusal.
    let ours = udp_socket("127.0.0.1");
    forger.send(v4(ours.local_addr().unwrap()), to, b"control\n");
    let mut buf = [0u8; 64];
    let (n, from) = ours
        .recv_from(&mut buf)
        .expect("the control datagram's reply");
    assert_eq!((&buf[..n], from), (&b"control\n"[..], server.udp[0]));
    for port in [7, 19] {
        forger.send(
            SocketAddrV4::new([127, 0, 0, 1].into(), port),
            to,
            b"loop me\n",
        );
        server.await_log(&["WARN", &format!("from source port {port} not answered")]);
    }
    let out = stop(server);
    assert_eq!(number_before(&out, "datagram echoed"), 1, "{out}");
    assert!(
        out.contains("(0 over their source's rate, 2 from service ports, 0 in"),
        "{out}"
    );
}

#[test]
fn low_source_ports_are_refused_by_default() {
    let server = Server::start(&["--udp", "127.0.0.1:0", "--threads", "1"]);
    // Root may bind a port below 1024 for real; find one that is free.
    let Some(low) = (600..1000).find_map(|port| UdpSocket::bind(("127.0.0.1", port)).ok()) else {
        eprintln!("SKIPPED low source ports: no port below 1024 could be bound (not root)");
        return;
    };
    low.send_to(b"hello\n", server.udp[0]).unwrap();
    let port = low.local_addr().unwrap().port();
    server.await_log(&["WARN", &format!("from source port {port} not answered")]);
    let out = stop(server);
    assert!(out.contains("0 datagrams echoed"), "{out}");
}

#[test]
fn a_udp_listener_off_loopback_with_a_prefix_needs_the_opt_in() {
    // Binding only: no datagram is sent, so nothing leaves loopback.
    let refused = Server::try_start(&["--udp", "0.0.0.0:0", "--prefix", "> "]);
    let Err((status, err)) = refused else {
        panic!("an amplifier on every address started without the opt-in");
    };
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{err}");
    assert!(err.contains("--allow-udp-amplification"), "{err}");
    assert!(err.contains("udp://0.0.0.0:0"), "{err}");
    let server = Server::start(&[
        "--udp",
        "0.0.0.0:0",
        "--prefix",
        "> ",
        "--allow-udp-amplification",
    ]);
    assert!(server.udp[0].ip().is_unspecified());
    // Without affixes a reply is never larger than its request: no opt-in needed.
    drop(Server::start(&["--udp", "0.0.0.0:0"]));
    drop(server);
}

#[test]
fn a_flood_from_one_source_is_held_to_its_bucket_while_another_is_served() {
    const RATE: u64 = 200;
    const BATCHES: usize = 50;
    const BATCH: usize = 50;
    let server = Server::start(&[
        "--udp",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--udp-source-rate",
        &RATE.to_string(),
        "--udp-source-burst",
        "1s",
    ]);
    let flood = udp_socket("127.0.0.2");
    let client = udp_socket("127.0.0.3");
    client.connect(server.udp[0]).unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 2048];
    for round in 0..BATCHES {
        // A batch small enough for the server's receive buffer, then one request of the
        // normal client: its reply comes after the server has read the whole batch.
        for i in 0..BATCH {
            flood
                .send_to(format!("flood {round} {i}").as_bytes(), server.udp[0])
                .unwrap();
        }
        let request: Vec<u8> = (0..1000).map(|i| (i * 7 + round) as u8).collect();
        client.send(&request).unwrap();
        let n = client
            .recv(&mut buf)
            .expect("the normal client is answered");
        assert_eq!(&buf[..n], &request[..], "round {round}: every byte");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let out = stop(server);
    let echoed = number_before(&out, "datagrams echoed");
    let limited = number_before(&out, "over their source's rate");
    let flood_answered = echoed - BATCHES as u64;
    // One more for the server's clock, which counts whole milliseconds.
    let bound = RATE + (RATE as f64 * elapsed).ceil() as u64 + 1;
    eprintln!(
        "flood of {} datagrams in {elapsed:.2} s from one source: {flood_answered} answered \
         (bucket: {RATE} at once + {RATE}/s = {bound}), {limited} not; the other source: \
         {BATCHES} of {BATCHES} answered",
        BATCHES * BATCH
    );
    assert!(flood_answered <= bound, "{out}");
    assert!(flood_answered >= RATE, "the burst was answered: {out}");
    assert_eq!(flood_answered + limited, (BATCHES * BATCH) as u64, "{out}");
}

#[test]
fn memory_stays_bounded_under_100000_forged_sources() {
    const SOURCES: u32 = 100_000;
    const BATCH: u32 = 100;
    let Some(forger) = forger("100,000 forged sources") else {
        return;
    };
    let server = Server::start(&["--udp", "127.0.0.1:0", "--threads", "1", "-q"]);
    let to = v4(server.udp[0]);
    let probe = udp_socket("127.0.0.1");
    probe.connect(server.udp[0]).unwrap();
    let mut buf = [0u8; 64];
    let mut probes = 0u32;
    // A numbered probe: the same datagram again and again, each sent as soon as its reply
    // came, is what an echo loop looks like.
    let mut sync = |probe: &UdpSocket| {
        probes += 1;
        let message = format!("probe {probes}\n");
        probe.send(message.as_bytes()).unwrap();
        let n = probe.recv(&mut buf).expect("probe reply");
        assert_eq!(&buf[..n], message.as_bytes());
    };
    // The first datagram allocates the per-source tables; measure after it.
    sync(&probe);
    let before = rss_kib(server.pid());
    for batch in 0..SOURCES / BATCH {
        for i in 0..BATCH {
            // 127.1.0.0 and up: a distinct address per datagram.
            let n = 0x0001_0000 + batch * BATCH + i;
            let from = SocketAddrV4::new((0x7f00_0000 | n).into(), 40_000);
            forger.send(from, to, b"spoofed\n");
        }
        sync(&probe);
    }
    let after = rss_kib(server.pid());
    let out = stop(server);
    let echoed = number_before(&out, "datagrams echoed");
    let grew = after.saturating_sub(before);
    eprintln!(
        "{SOURCES} forged sources: server RSS {before} KiB before, {after} KiB after (+{grew} \
         KiB); {echoed} datagrams echoed"
    );
    assert!(
        echoed >= u64::from(SOURCES) * 9 / 10,
        "most reached the server: {out}"
    );
    assert!(grew < 2048, "RSS grew by {grew} KiB for {SOURCES} sources");
}

#[test]
fn max_connections_per_ip_closes_the_extra_ones_and_spares_other_addresses() {
    let server = Server::start(&["--max-connections-per-ip", "2", "--threads", "2"]);
    let mut first = server.connect();
    first.roundtrip(b"1\n", b"1\n");
    let mut second = server.connect();
    second.roundtrip(b"2\n", b"2\n");
    let mut third = server.connect();
    assert_eq!(
        third.read_until_closed(),
        b"",
        "the third is closed at once"
    );
    server.await_log(&["WARN", "(--max-connections-per-ip)", "127.0.0.1"]);
    // Another address has its own count.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.2:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut other = Client { stream };
    other.roundtrip(b"other\n", b"other\n");
    // A closed connection gives its address a slot back.
    first.finish();
    assert_eq!(first.read_to_end().unwrap(), b"");
    server.await_log(&["connection closed", "127.0.0.1"]);
    let mut again = server.connect();
    again.roundtrip(b"again\n", b"again\n");
    drop((second, third, other, again));
    let out = stop(server);
    assert!(out.contains(", 1 refused,"), "{out}");
    assert!(
        out.contains("; 1 connection refused at --max-connections-per-ip"),
        "{out}"
    );
}

/// The `Uid:` or `Gid:` line of a process: real, effective, saved, filesystem.
fn ids(pid: u32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    line.split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn user_drops_root_after_binding_and_root_without_it_is_warned() {
    let me = ids(std::process::id(), "Uid:");
    if me[1] != 0 {
        eprintln!("SKIPPED --user: the tests do not run as root");
        return;
    }
    let server = Server::start(&["--user", "nobody", "--udp", "127.0.0.1:0"]);
    let pid = server.pid();
    // Every id of the process, real to filesystem, is nobody's (65534 on Debian).
    let nobody = ids(pid, "Uid:")[0];
    assert_ne!(nobody, 0);
    assert_eq!(ids(pid, "Uid:"), vec![nobody; 4]);
    assert!(!ids(pid, "Gid:").contains(&0), "no root group");
    assert_eq!(ids(pid, "Groups:").len(), 1, "only nobody's own group");
    server
        .connect()
        .roundtrip(b"still echoing\n", b"still echoing\n");
    server.await_log(&["privileges dropped", "nobody"]);
    assert!(
        !server.log().contains("running as root"),
        "{}",
        server.log()
    );
    drop(server);

    let root = Server::start(&[]);
    root.await_log(&["WARN", "running as root", "--user"]);
}

#[test]
fn a_user_that_does_not_exist_is_a_usage_error() {
    let Err((status, err)) = Server::try_start(&["--user", "no-such-user-reverb"]) else {
        panic!("started as a user that does not exist");
    };
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{err}");
    assert!(
        err.contains("no user named \"no-such-user-reverb\""),
        "{err}"
    );
}
