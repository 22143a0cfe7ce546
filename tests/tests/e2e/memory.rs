//! What the server process holds: idle connections give back what a burst made them
//! grow, down to the system (resident memory, not only the allocator's books).

use std::time::{Duration, Instant};

use crate::support::{Server, LIMIT};

/// Resident memory of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn idle_connections_give_back_what_an_echo_made_them_grow() {
    const CONNECTIONS: usize = 500;
    /// The bound: at most this much per idle connection after any echo.
    const BOUND_KIB: f64 = 8.0;
    let server = Server::start(&["--mode", "raw", "--threads", "1", "-q"]);
    let Some(base) = rss_kib(server.pid()) else {
        eprintln!("skipped: no /proc/PID/status on this system");
        return;
    };
    let mut clients: Vec<_> = (0..CONNECTIONS).map(|_| server.connect()).collect();
    // 20 KB: large enough to grow the buffers past what an idle connection keeps, small
    // enough that malloc serves it from its heap (where freed memory lingers unless it is
    // returned on purpose) rather than from a mapping of its own.
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    for client in &mut clients {
        client.roundtrip(&payload, &payload);
    }
    let per_conn = |rss: u64| rss.saturating_sub(base) as f64 / CONNECTIONS as f64;
    let busy = per_conn(rss_kib(server.pid()).unwrap());
    // The buffers are given back once a connection has been quiet for a second: poll the
    // resident size until it is within the bound (the safety net fails the test).
    let started = Instant::now();
    let idle = loop {
        let idle = per_conn(rss_kib(server.pid()).unwrap());
        if idle <= BOUND_KIB || started.elapsed() > LIMIT {
            break idle;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "{CONNECTIONS} connections after a 20 KB echo: {busy:.1} KiB each, then {idle:.1} KiB \
         each idle (after {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    assert!(idle <= BOUND_KIB, "{idle:.1} KiB per idle connection");
    // And they still work.
    clients[0].roundtrip(b"still here", b"still here");
}
