//! Scenario 5: `--once` against a client that sends three lines in one write and reads
//! only later. The server echoes the first line and closes; the client's other lines, and
//! anything it sends after the server's FIN, must not make the server's kernel answer
//! with a reset. A reset throws away whatever of the reply has not reached the client
//! yet — here most of it: the reply (32 KiB) is larger than the client's small receive
//! buffer, so the rest waits in the server's send buffer, and the FIN behind it. Lingering
//! (reading and dropping until the client closes, or the linger timeout) is what keeps
//! the server from closing on unread input. With `--linger off` this test fails: the
//! client reads `Connection reset by peer`.

use std::io::Write;
use std::thread;

use crate::figure;
use crate::kind::{ConnectOptions, Kind};
use crate::support::{number, serial, Server};

const CLIENTS: usize = 10;
/// The first line: far more than the client's receive buffer holds.
const REPLY: usize = 32 << 10;
/// The client's `SO_RCVBUF` (the kernel doubles it, for its bookkeeping).
const CLIENT_BUFFER: usize = 4096;

#[test]
fn scenario_05_once_delivers_the_reply_to_a_client_that_reads_late() {
    let _serial = serial();
    // `-v` logs the moment each connection starts closing, which is when a late line
    // from the client would meet a closed socket.
    let server = Server::start(
        Kind::Tcp,
        &[
            "--once",
            "--linger",
            "500ms",
            "--max-line",
            "64KiB",
            "--threads",
            "2",
            "-v",
        ],
    );
    let options = ConnectOptions {
        receive_buffer: Some(CLIENT_BUFFER),
        ..ConnectOptions::default()
    };
    let first = |i: usize| format!("{}{i}\n", "1".repeat(REPLY - 3));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let mut conn = Kind::Tcp.connect(server.addr, &options).unwrap();
            let lines = format!("{}two {i}\nthree {i}\n", first(i));
            conn.write_all(lines.as_bytes()).unwrap();
            conn
        })
        .collect();
    let mut replies = Vec::new();
    thread::scope(|scope| {
        let handles: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, mut conn)| {
                let server = &server;
                scope.spawn(move || {
                    let peer = conn.local_addr().to_string();
                    server.await_log(&["closing", &peer, "reason=frame limit"]);
                    // The server has sent its FIN; more from us now lands on a closing
                    // connection. Without linger its kernel would answer with a reset.
                    conn.write_all(format!("four {i}\n").as_bytes()).unwrap();
                    // Read only once the server has let go of the connection for good.
                    let closed = server.await_log(&["connection closed", &peer]);
                    let reply = conn.read_to_eof();
                    (closed, reply)
                })
            })
            .collect();
        for handle in handles {
            replies.push(handle.join().unwrap());
        }
    });
    let mut lingered = Vec::new();
    for (i, (closed, reply)) in replies.into_iter().enumerate() {
        let reply = reply.unwrap_or_else(|e| panic!("client {i}: the reply was reset: {e}"));
        assert!(
            reply == first(i).as_bytes(),
            "client {i}: {} bytes",
            reply.len()
        );
        assert!(closed.contains("reason=frame limit"), "{closed}");
        lingered.push(number(&closed, "duration_ms"));
    }
    figure(
        5,
        None,
        &format!(
            "{CLIENTS} clients (4 KiB receive buffer) sent three lines (the first 32 KiB) in \
             one write, one more after the server's FIN, and read only after the server \
             released the connection ({}–{} ms after accept, 500 ms linger): each got its \
             whole first line and a clean EOF",
            lingered.iter().min().unwrap(),
            lingered.iter().max().unwrap()
        ),
    );
}
