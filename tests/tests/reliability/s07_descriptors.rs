//! Scenario 7: out of file descriptors. The server runs under `ulimit -n 64` and 200
//! clients connect: it accepts what it can hold, and the rest wait in the listen backlog.
//! It must not spin on a listener it cannot accept from (bound on its CPU seconds), must
//! not exit, and must accept the waiting clients as soon as descriptors are free.

use std::thread;
use std::time::{Duration, Instant};

use crate::figure;
use crate::kind::{Conn, Kind};
use crate::support::{field, serial, Server, LIMIT};

/// The server's descriptor limit: its own sockets, pipes and epoll take about ten.
const NOFILE: u64 = 64;
const CLIENTS: usize = 200;
/// How long the server's CPU is watched while it is out of descriptors. The window is
/// the measurement, so it is a sleep by nature.
const WINDOW: Duration = Duration::from_secs(2);
/// CPU seconds the server may use in that window. Its accept retries back off from 20 ms
/// to 1 s, so it wakes a handful of times; a busy loop would use the whole window.
/// Measured: 0.00 s (under one 10 ms tick).
const CPU_BOUND: f64 = 0.2;

#[test]
fn scenario_07_out_of_descriptors_the_server_backs_off_and_recovers() {
    let _serial = serial();
    let mut server = Server::start_with_nofile(Kind::Tcp, Some(NOFILE), &["--threads", "1"]);
    let mut clients: Vec<Option<Conn>> = (0..CLIENTS).map(|_| Some(server.connect())).collect();
    server.await_log(&["WARN", "cannot accept"]);
    // Everything accepted so far was logged before the warning, by the same thread.
    let accepted: Vec<String> = server
        .log_lines(&["connection opened"])
        .iter()
        .map(|line| field(line, "peer").unwrap().to_owned())
        .collect();
    let held = server.open_descriptors();
    assert!(
        !accepted.is_empty() && accepted.len() < CLIENTS,
        "{} accepted",
        accepted.len()
    );

    let cpu_before = server.cpu_seconds();
    thread::sleep(WINDOW);
    let cpu = server.cpu_seconds() - cpu_before;
    assert!(server.is_running(), "the server exited out of descriptors");

    // The accepted clients are served meanwhile.
    let (mut served, mut waiting): (Vec<_>, Vec<_>) = clients
        .iter_mut()
        .map(|c| c.take().unwrap())
        .partition(|c| accepted.contains(&c.local_addr().to_string()));
    assert_eq!(served.len(), accepted.len());
    for (i, conn) in served.iter_mut().enumerate() {
        let line = format!("accepted {i}\n");
        conn.roundtrip(line.as_bytes(), line.as_bytes()).unwrap();
    }
    // Free their descriptors; each waiting client is then accepted and served, and
    // closes in turn, which frees a descriptor for the next.
    let freed_at = Instant::now();
    for mut conn in served {
        conn.finish().unwrap();
        assert!(conn.read_to_eof().unwrap().is_empty());
    }
    let mut slowest = Duration::ZERO;
    for (i, conn) in waiting.iter_mut().enumerate() {
        let line = format!("waited {i}\n");
        let at = Instant::now();
        conn.roundtrip(line.as_bytes(), line.as_bytes())
            .unwrap_or_else(|e| panic!("waiting client {i} was not served: {e}"));
        slowest = slowest.max(at.elapsed());
        conn.finish().unwrap();
        assert!(conn.read_to_eof().unwrap().is_empty());
    }
    let recovered = freed_at.elapsed();
    let waited = waiting.len();
    drop(waiting);
    server.signal("TERM");
    let (status, summary, _) = server.wait_exit(LIMIT);
    figure(
        7,
        None,
        &format!(
            "under ulimit -n {NOFILE}: {} of {CLIENTS} clients accepted ({held} descriptors \
             held), the rest waited; {cpu:.2} CPU s over {:.0} s out of descriptors (bound \
             {CPU_BOUND}); once freed, all {waited} waiting clients served in {:.2} s (slowest \
             {:.2} s); {summary}",
            accepted.len(),
            WINDOW.as_secs_f64(),
            recovered.as_secs_f64(),
            slowest.as_secs_f64()
        ),
    );
    assert!(status.success(), "{status:?}");
    assert!(
        cpu <= CPU_BOUND,
        "{cpu:.2} CPU seconds while out of descriptors"
    );
    assert!(summary.contains(&format!("{CLIENTS} connections ({CLIENTS} graceful")));
}
