//! No allocation per event in the server's own loop: `reverb serve`'s worker, run in this
//! process, echoes many round trips on warmed-up connections over loopback, and no thread
//! of the process allocates meanwhile.
//!
//! A binary of its own with one test: the allocator counts every thread (the worker is the
//! server's, not the test's), so nothing else may run beside it. The client side (this
//! thread, std's blocking sockets and buffers made before counting) allocates nothing.

#[path = "../alloc/counting.rs"]
mod counting;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;

use clap::Parser;
use counting::all_allocations_in;
use reverb::cli::{Cli, Command};

/// Connections echoing in turn, so the worker's loop serves several per wakeup.
const CONNECTIONS: usize = 8;
/// Rounds (a message on each connection) before counting: buffers reach their size.
const WARMUP: usize = 500;
/// Rounds counted.
const ROUND_TRIPS: usize = 2_000;

/// Starts `reverb serve ARGS` on a thread of this process; returns its TCP addresses, in
/// the order of the `-l` flags.
fn serve(args: &[&str]) -> (Vec<SocketAddr>, std::thread::JoinHandle<()>) {
    let argv = ["reverb", "serve", "--threads", "1", "-qq"]
        .iter()
        .chain(args);
    let Command::Serve(serve) = Cli::try_parse_from(argv).expect("parses").command else {
        panic!("not a serve command");
    };
    let options = serve.options().expect("valid options");
    let server = reverb::server::Server::bind(options).expect("binds on loopback");
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let addrs = |s: &reverb::server::Server| s.tcp_addrs().iter().map(|a| a.1).collect();
        server
            .run(|s| {
                tx.send(addrs(s)).expect("the test waits");
                Ok(())
            })
            .expect("runs until SIGTERM");
    });
    (rx.recv().expect("the server starts"), thread)
}

/// One message out and its echo back on each connection, every byte checked.
fn round(conns: &mut [TcpStream], msg: &[u8], back: &mut [u8]) {
    for c in conns.iter_mut() {
        c.write_all(msg).expect("write");
    }
    for c in conns.iter_mut() {
        c.read_exact(back).expect("echo");
        assert_eq!(back, msg);
    }
}

#[test]
fn the_servers_loop_echoes_without_allocating_in_raw_and_line_mode() {
    // Signals are the process's: one server, a listener per mode.
    let (addrs, server) = serve(&["-l", "127.0.0.1:0?mode=raw", "-l", "127.0.0.1:0?mode=line"]);
    let mut msg = [b'x'; 64];
    msg[63] = b'\n';
    let mut back = [0u8; 64];
    for (addr, mode) in addrs.iter().zip(["raw", "line"]) {
        let mut conns: Vec<TcpStream> = (0..CONNECTIONS)
            .map(|_| {
                let c = TcpStream::connect(addr).expect("connects");
                c.set_nodelay(true).expect("nodelay");
                c
            })
            .collect();
        for _ in 0..WARMUP {
            round(&mut conns, &msg, &mut back);
        }
        let allocations = all_allocations_in(|| {
            for _ in 0..ROUND_TRIPS {
                round(&mut conns, &msg, &mut back);
            }
        });
        assert_eq!(
            allocations,
            0,
            "{mode}: {allocations} allocations in {} round trips",
            ROUND_TRIPS * CONNECTIONS
        );
    }
    // The check of the check: a new connection's first echo does allocate (the worker
    // makes its buffers), and the counter sees it from the worker's thread.
    let seen = all_allocations_in(|| {
        let mut c = TcpStream::connect(addrs[0]).expect("connects");
        round(std::slice::from_mut(&mut c), &msg, &mut back);
    });
    assert!(seen > 0, "a new connection allocates");
    // SIGTERM to this process: the server's signal watch takes it and drains.
    // SAFETY: `kill` with our own pid and a signal the server handles; no memory involved.
    #[allow(unsafe_code)]
    let sent = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(sent, 0);
    server.join().expect("the server thread ends");
}
