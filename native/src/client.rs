//! `reverb client ADDR`: the tutorials' interactive client, done right.
//!
//! Each line of stdin is sent as it is (bytes, not necessarily UTF-8); whatever the server
//! sends back is printed as it arrives, by a second thread, so echoes are never held back
//! waiting for the next line. `q`, `quit`, `exit` or the end of input end the client: it
//! half-closes (sends FIN) and keeps printing until the server's own FIN, so no echo in
//! flight is lost. When the server closes first, the client ends too.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::cli::ClientArgs;

/// Lines that end the client instead of being sent.
const LOCAL_QUIT: [&[u8]; 3] = [b"q", b"quit", b"exit"];

/// Why the client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The address did not resolve.
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        /// What was given.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// No address accepted the connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// What was given.
        addr: String,
        /// The last error.
        source: io::Error,
    },
    /// The connection failed while running.
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// Runs the client on the process's stdin and stdout.
pub fn run(args: &ClientArgs) -> Result<(), ClientError> {
    let stream = connect(args)?;
    let addr = stream.peer_addr().map_err(|source| ClientError::Connect {
        addr: args.addr.clone(),
        source,
    })?;
    let fail = |source| ClientError::Io { addr, source };
    // Each line goes out at once rather than waiting for the previous echo's ACK.
    stream.set_nodelay(true).map_err(fail)?;
    let input_done = Arc::new(AtomicBool::new(false));
    let reader = {
        let stream = stream.try_clone().map_err(fail)?;
        let input_done = Arc::clone(&input_done);
        thread::spawn(move || print_replies(stream, &input_done))
    };
    let sent = send_lines(&stream, io::stdin().lock());
    input_done.store(true, Ordering::Release);
    // Half-close: the server echoes what it has, then closes its side too.
    match stream.shutdown(Shutdown::Write) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => return Err(fail(e)),
        _ => {}
    }
    let received = reader
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("reader thread panicked")));
    received.map_err(fail)?;
    sent.map_err(fail)
}

fn connect(args: &ClientArgs) -> Result<TcpStream, ClientError> {
    let addrs: Vec<SocketAddr> = args
        .addr
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            addr: args.addr.clone(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, args.connect_timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(ClientError::Connect {
        addr: args.addr.clone(),
        source: last,
    })
}

/// Sends stdin line by line until a local quit word or the end of input. A server that
/// closed first (broken pipe, reset) ends the sending quietly: the reader reports it.
fn send_lines(mut stream: &TcpStream, mut input: impl BufRead) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if LOCAL_QUIT.contains(&content) {
            return Ok(());
        }
        match stream.write_all(&line) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        }
    }
}

/// Copies the server's bytes to stdout until its FIN. If that comes while stdin is still
/// open, the server ended the session: the process exits without waiting for input.
fn print_replies(mut stream: TcpStream, input_done: &AtomicBool) -> io::Result<()> {
    let result = copy_to_stdout(&mut stream);
    if !input_done.load(Ordering::Acquire) {
        // The main thread is blocked reading stdin: end the process from here.
        match &result {
            Ok(()) => {
                eprintln!("reverb: the server closed the connection");
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("reverb: error: connection failed: {e}");
                std::process::exit(1);
            }
        }
    }
    result
}

fn copy_to_stdout(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    let stdout = io::stdout();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut out = stdout.lock();
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn lines_go_out_whole_and_a_local_quit_stops_sending() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        send_lines(&client, &b"one\ntwo\r\nquit\nthree\n"[..]).unwrap();
        drop(client);
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"one\ntwo\r\n");
    }
}
