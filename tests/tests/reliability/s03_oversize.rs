//! Scenario 3: lines far over `--max-line`. Each client sends 1 MiB with no newline and
//! gets the one error line, then a graceful close: an end-of-stream after the error, not a
//! reset that would destroy it. The server holds at most one line's buffer per
//! connection while it happens, so its memory does not grow with what was sent.

use std::io::{Read, Write};
use std::thread;

use crate::figure;
use crate::kind::Kind;
use crate::pattern::{Shape, Stream};
use crate::support::{serial, Server};

const LINE: usize = 1 << 20;
/// Clients sending their megabyte at once: 32 MiB arrive in all.
const CLIENTS: usize = 32;
/// Growth of the server's peak RSS while they do. Each connection holds at most one
/// 16 KiB line plus the 33-byte error line: 32 × 16 KiB = 512 KiB. Measured: a few
/// hundred KiB; an unbounded input buffer would show the 32 MiB.
const RSS_GROWTH_BOUND_KIB: u64 = 2 * 1024;

#[test]
fn scenario_03_an_oversize_line_gets_the_error_line_and_a_graceful_close() {
    let _serial = serial();
    let server = Server::start(Kind::Tcp, &["--threads", "2"]);
    // One round first, so that what a first connection allocates for good is in the
    // baseline.
    let mut warm = server.connect();
    warm.roundtrip(b"warm up\n", b"warm up\n").unwrap();
    drop(warm);
    let baseline = server.rss_kib();
    server.reset_peak_rss();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let conn = server.connect();
            let peer = conn.local_addr();
            thread::spawn(move || {
                let (mut reader, mut writer) = conn.split();
                // Printable bytes and no newline: a line that never ends.
                let line: Vec<u8> = Stream::new(i as u64, Shape::Raw)
                    .take(LINE)
                    .into_iter()
                    .map(|b| b'a' + b % 26)
                    .collect();
                // The server drops what follows its error line while it lingers, so the
                // whole megabyte goes out; then our FIN ends its linger.
                let sender = thread::spawn(move || {
                    writer.write_all(&line).expect("send the long line");
                    writer.finish().expect("half-close");
                });
                let mut echo = Vec::new();
                let read = reader.read_to_end(&mut echo);
                sender.join().unwrap();
                (read.map(|_| echo), peer)
            })
        })
        .collect();
    for handle in clients {
        let (echo, peer) = handle.join().unwrap();
        let echo = echo.unwrap_or_else(|e| panic!("{peer}: a reset instead of a FIN: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&echo),
            "error: line exceeds 16384 bytes\n",
            "{peer}"
        );
    }
    // Warnings per peer may be rate-limited (issue 16): one is enough; the close lines
    // count every connection.
    server.await_log(&["WARN", "line exceeds 16384 bytes"]);
    let closes = server.await_count(&["connection closed", "reason=line exceeds"], CLIENTS);
    let growth = server.peak_rss_kib().saturating_sub(baseline);
    let after = server.rss_kib();
    figure(
        3,
        None,
        &format!(
            "{CLIENTS} clients × 1 MiB with no newline: each got the error line and a FIN; \
             server peak RSS growth {growth} KiB (bound {RSS_GROWTH_BOUND_KIB} KiB), {} KiB \
             above the baseline after they left",
            after as i64 - baseline as i64
        ),
    );
    assert_eq!(closes.len(), CLIENTS);
    assert!(
        growth <= RSS_GROWTH_BOUND_KIB,
        "the server's RSS grew by {growth} KiB"
    );
    server.connect().roundtrip(b"after\n", b"after\n").unwrap();
}
