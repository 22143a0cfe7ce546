//! One connection's trouble stays its own: the fault word, oversize lines, a client that
//! resets, running out of descriptors.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;

use crate::support::{binary, Client, Server};

#[test]
fn a_fault_fails_its_connection_and_no_other() {
    let server = Server::start(&["--fault-word", "boom", "--threads", "2"]);
    let mut clients: Vec<Client> = (0..24).map(|_| server.connect()).collect();
    // Every client has a line echoed first, so all are open when the fault lands.
    for (i, client) in clients.iter_mut().enumerate() {
        let line = format!("client {i} first\n");
        client.roundtrip(line.as_bytes(), line.as_bytes());
    }
    let mut faulty = clients.remove(7);
    let faulty_addr = faulty.local_addr();
    faulty.send(b"boom\nnever echoed\n");
    // The faulty connection is closed without echoing the fault line or what followed.
    assert_eq!(faulty.read_until_closed(), b"");
    let warning = server.await_log(&["WARN", "fault word"]);
    assert!(
        warning.contains(&faulty_addr.to_string()),
        "the warning names the peer: {warning}"
    );
    // Everyone else goes on, concurrently, byte for byte.
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            thread::spawn(move || {
                for round in 0..20 {
                    let line = format!("client {i} round {round} {}\n", "x".repeat(i * 10));
                    client.roundtrip(line.as_bytes(), line.as_bytes());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a healthy client was disturbed");
    }
    // And new clients are served.
    server.connect().roundtrip(b"after\n", b"after\n");
}

#[test]
fn an_oversize_line_gets_one_error_line_and_a_close() {
    let server = Server::start(&["--max-line", "16"]);
    let mut client = server.connect();
    client.roundtrip(b"short\n", b"short\n");
    client.send(b"this line is longer than sixteen bytes\n");
    assert_eq!(
        client.read_to_end().unwrap(),
        b"error: line exceeds 16 bytes\n"
    );
    let warning = server.await_log(&["WARN", "line exceeds 16 bytes"]);
    assert!(
        warning.contains(&client.local_addr().to_string()),
        "{warning}"
    );
}

#[test]
fn running_out_of_descriptors_backs_off_and_recovers() {
    // A descriptor limit just above what the server needs for itself: connections beyond
    // it wait in the kernel's backlog until descriptors free up.
    let script = format!(
        "ulimit -n 24 && exec {} serve -l 127.0.0.1:0 --threads 1",
        binary().display()
    );
    let mut command = Command::new("sh");
    command
        .args(["-c", &script])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let server = Server::spawn(command, 1).expect("server under ulimit");
    let mut clients: Vec<Client> = (0..40).map(|_| server.connect()).collect();
    server.await_log(&["WARN", "cannot accept"]);
    // The first ones were accepted and are served.
    clients[0].roundtrip(b"first\n", b"first\n");
    // Closing a batch frees descriptors; the waiting connections are accepted on the
    // backoff timer and served.
    let waiting = clients.split_off(20);
    for mut client in clients {
        client.finish();
        assert!(client.read_to_end().is_ok());
    }
    for mut client in waiting {
        client.roundtrip(b"late\n", b"late\n");
    }
}

#[test]
fn garbage_on_many_connections_never_stops_the_server() {
    let server = Server::start(&["--max-line", "64", "--fault-word", "boom"]);
    let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    for chunk in junk.chunks(97) {
        let mut client = server.connect();
        client.send(chunk);
        client.finish();
        let mut sink = Vec::new();
        let _ = client.stream.read_to_end(&mut sink);
    }
    server.connect().roundtrip(b"still here\n", b"still here\n");
}

#[test]
fn a_client_that_resets_mid_echo_touches_no_other_connection() {
    let server = Server::start(&["--mode", "raw", "--threads", "1"]);
    let mut bystander = server.connect();
    bystander.roundtrip(b"before", b"before");
    let mut rude = server.connect();
    let rude_addr = rude.local_addr();
    // Closing a socket with unread echo in its receive buffer makes the kernel send a
    // reset: the server meets it mid-write.
    rude.send(&vec![b'r'; 512 * 1024]);
    assert_eq!(rude.recv(1), b"r");
    drop(rude);
    let line = server.await_log(&["connection closed", "reason=reset"]);
    assert!(line.contains(&rude_addr.to_string()), "{line}");
    bystander.roundtrip(b"after", b"after");
}
