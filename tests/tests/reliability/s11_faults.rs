//! Scenario 11: fault isolation under load. A thousand connections echo 200 lines each,
//! all at once; a hundred of them send the fault word halfway. Each of those is failed —
//! closed with nothing more echoed, not the fault line nor what followed it — and the
//! other 900 see every byte of their 200 lines.

use std::io::{ErrorKind, Read, Write};
use std::thread;

use crate::figure;
use crate::kind::{Conn, Kind};
use crate::support::{serial, Server, LIMIT};
use crate::sys;

const THREADS: usize = 20;
const PER_THREAD: usize = 50;
const CONNECTIONS: usize = THREADS * PER_THREAD;
/// One connection in ten is faulty.
const FAULTY_EVERY: usize = 10;
const LINES: usize = 200;
/// Lines per write: each connection has a batch in flight while the others do too.
const BATCH: usize = 10;
/// The batch at which the faulty ones send the fault word instead.
const FAULT_BATCH: usize = LINES / BATCH / 2;

fn line(conn: usize, n: usize) -> String {
    // Lengths vary with the connection and the line, so reads cut lines everywhere.
    format!(
        "c{conn:04} l{n:03} {}\n",
        "x".repeat((conn * 7 + n * 13) % 97)
    )
}

#[derive(Default)]
struct Tally {
    /// Lines echoed byte for byte on the healthy connections…
    lines_verified: u64,
    /// …and on the faulty ones before their fault.
    lines_before_fault: u64,
    faulted: usize,
    errors: Vec<String>,
}

#[test]
fn scenario_11_the_fault_word_on_100_of_1000_busy_connections_fails_only_those() {
    let _serial = serial();
    if let Err(why) = sys::raise_nofile(CONNECTIONS as u64 + 256) {
        figure(11, None, &format!("SKIPPED: {why}"));
        return;
    }
    let mut server = Server::start(Kind::Tcp, &["--fault-word", "boom", "--threads", "2", "-q"]);
    let tallies: Vec<Tally> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let conns: Vec<Conn> = (0..PER_THREAD).map(|_| server.connect()).collect();
                scope.spawn(move || drive(t * PER_THREAD, conns))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let verified: u64 = tallies.iter().map(|t| t.lines_verified).sum();
    let faulted: usize = tallies.iter().map(|t| t.faulted).sum();
    let before_fault: u64 = tallies.iter().map(|t| t.lines_before_fault).sum();
    let errors: Vec<&String> = tallies.iter().flat_map(|t| &t.errors).collect();
    server.signal("TERM");
    let (status, summary, _) = server.wait_exit(LIMIT);
    let healthy = CONNECTIONS - CONNECTIONS / FAULTY_EVERY;
    figure(
        11,
        None,
        &format!(
            "{CONNECTIONS} connections × {LINES} lines at once, the fault word on {faulted}: \
             those echoed their {before_fault} lines before it, then failed with nothing more; \
             the other {healthy} had all {verified} of {} lines echoed byte for byte; {} \
             errors; {summary}",
            healthy * LINES,
            errors.len()
        ),
    );
    assert!(errors.is_empty(), "{} errors: {errors:#?}", errors.len());
    assert_eq!(faulted, CONNECTIONS / FAULTY_EVERY);
    assert_eq!(verified, (healthy * LINES) as u64);
    assert_eq!(before_fault, (faulted * FAULT_BATCH * BATCH) as u64);
    assert!(status.success(), "{status:?}");
    assert!(
        summary.contains(&format!(
            "{CONNECTIONS} connections ({healthy} graceful, {faulted} faults, 0 peer errors, \
             0 timed out, 0 reset)"
        )),
        "{summary}"
    );
}

/// One thread's connections, numbered from `first`, in lockstep: a batch of lines
/// written to each, then each one's echo read and compared.
fn drive(first: usize, mut conns: Vec<Conn>) -> Tally {
    let mut tally = Tally::default();
    let mut open: Vec<bool> = vec![true; conns.len()];
    for batch in 0..LINES / BATCH {
        for (k, conn) in conns.iter_mut().enumerate() {
            let id = first + k;
            if !open[k] {
                continue;
            }
            let text: String = if id % FAULTY_EVERY == 0 && batch == FAULT_BATCH {
                // The fault word, then lines that must never come back.
                format!("boom\n{}", line(id, batch * BATCH))
            } else {
                (batch * BATCH..(batch + 1) * BATCH)
                    .map(|n| line(id, n))
                    .collect()
            };
            if let Err(e) = conn.write_all(text.as_bytes()) {
                tally.errors.push(format!("c{id} batch {batch}: send: {e}"));
                open[k] = false;
            }
        }
        for (k, conn) in conns.iter_mut().enumerate() {
            let id = first + k;
            if !open[k] {
                continue;
            }
            if id % FAULTY_EVERY == 0 && batch == FAULT_BATCH {
                open[k] = false;
                match fault_outcome(conn) {
                    Ok(()) => tally.faulted += 1,
                    Err(e) => tally.errors.push(format!("c{id}: {e}")),
                }
                continue;
            }
            let expected: String = (batch * BATCH..(batch + 1) * BATCH)
                .map(|n| line(id, n))
                .collect();
            let mut got = vec![0; expected.len()];
            match conn.read_exact(&mut got) {
                Ok(()) if got == expected.as_bytes() => {
                    if id % FAULTY_EVERY == 0 {
                        tally.lines_before_fault += BATCH as u64;
                    } else {
                        tally.lines_verified += BATCH as u64;
                    }
                }
                Ok(()) => {
                    tally
                        .errors
                        .push(format!("c{id} batch {batch}: wrong echo"));
                    open[k] = false;
                }
                Err(e) => {
                    tally.errors.push(format!("c{id} batch {batch}: {e}"));
                    open[k] = false;
                }
            }
        }
    }
    for (k, conn) in conns.iter_mut().enumerate() {
        if open[k] {
            let closed = conn.finish().and_then(|()| conn.read_to_eof());
            match closed {
                Ok(rest) if rest.is_empty() => {}
                Ok(rest) => tally.errors.push(format!(
                    "c{}: {} bytes after the last line",
                    first + k,
                    rest.len()
                )),
                Err(e) => tally.errors.push(format!("c{}: close: {e}", first + k)),
            }
        }
    }
    tally
}

/// A failed connection is closed with nothing more: an end-of-stream, or a reset (the
/// server closed with our trailing line unread), and not a byte before it.
fn fault_outcome(conn: &mut Conn) -> Result<(), String> {
    let mut buf = [0u8; 256];
    match conn.read(&mut buf) {
        Ok(0) => Ok(()),
        Ok(n) => Err(format!(
            "echoed after the fault word: {:?}",
            String::from_utf8_lossy(&buf[..n])
        )),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(format!("after the fault word: {e}")),
    }
}
