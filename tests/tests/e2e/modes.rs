//! The three framings, prefix and suffix, quit word, frame limits, binary payloads.

use std::thread;
use std::time::Duration;

use crate::support::{all_bytes, Server};

#[test]
fn line_mode_wraps_each_line_and_keeps_its_terminator() {
    let server = Server::start(&["--prefix", "Buffer: ", "--suffix", "~"]);
    let mut client = server.connect();
    client.roundtrip(b"hello\r\n", b"Buffer: hello~\r\n");
    client.roundtrip(b"a\nb\n", b"Buffer: a~\nBuffer: b~\n");
    // A line split over several writes is still one frame.
    client.send(b"wor");
    client.roundtrip(b"ld\n", b"Buffer: world~\n");
}

#[test]
fn line_mode_reading_two_bytes_at_a_time_still_echoes_whole_lines() {
    let server = Server::start(&["--read-size", "2", "--prefix", "> "]);
    let mut client = server.connect();
    client.roundtrip(b"hello world\n", b"> hello world\n");
}

#[test]
fn raw_mode_wraps_each_read_so_recv_2_shows_the_fragmentation() {
    let server = Server::start(&[
        "--mode",
        "raw",
        "--read-size",
        "2",
        "--prefix",
        "[",
        "--suffix",
        "]",
    ]);
    let mut client = server.connect();
    client.roundtrip(b"abcdef", b"[ab][cd][ef]");
}

#[test]
fn raw_mode_echoes_every_byte_value_unchanged() {
    let server = Server::start(&["--mode", "raw"]);
    let mut client = server.connect();
    // 1 MiB: far beyond the socket buffers and the high watermark, so reading pauses
    // and resumes many times while a second thread writes.
    let payload = all_bytes(1 << 20);
    let mut writer = client.stream.try_clone().unwrap();
    let sent = payload.clone();
    let sender = thread::spawn(move || std::io::Write::write_all(&mut writer, &sent));
    let echoed = client.recv(payload.len());
    sender.join().unwrap().unwrap();
    assert!(echoed == payload, "raw echo differs from what was sent");
    // Non-UTF-8 and newlines mean nothing in raw mode: no quit word, no framing.
    client.roundtrip(b"quit\n\xff\x00", b"quit\n\xff\x00");
}

#[test]
fn quit_word_closes_after_the_lines_before_it() {
    let server = Server::start(&[]);
    let mut client = server.connect();
    client.send(b"one\nquit\ntwo\n");
    assert_eq!(client.read_to_end().unwrap(), b"one\n");
    server.await_log(&["connection closed", "reason=quit word"]);
}

#[test]
fn a_custom_quit_word_replaces_quit() {
    let server = Server::start(&["--quit-word", "bye"]);
    let mut client = server.connect();
    client.send(b"quit\nbye\nafter\n");
    assert_eq!(client.read_to_end().unwrap(), b"quit\n");
}

#[test]
fn collect_mode_holds_everything_until_the_quit_word() {
    let server = Server::start(&["--mode", "collect", "--prefix", "* "]);
    let mut client = server.connect();
    client.send(b"a\nb\n");
    // Nothing may come back before the quit word: a short wait for a byte that must not
    // arrive is the only way to observe an absence.
    client
        .stream
        .set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = std::io::Read::read(&mut client.stream, &mut byte);
    assert!(early.is_err(), "collect mode echoed before the quit word");
    client
        .stream
        .set_read_timeout(Some(crate::support::LIMIT))
        .unwrap();
    client.send(b"quit\n");
    assert_eq!(client.read_to_end().unwrap(), b"* a\n* b\n* quit\n");
}

#[test]
fn once_replies_to_one_line_then_closes() {
    let server = Server::start(&["--once"]);
    let mut client = server.connect();
    client.send(b"Hello World\nsecond\n");
    assert_eq!(client.read_to_end().unwrap(), b"Hello World\n");
    server.await_log(&["connection closed", "frames=1", "reason=frame limit"]);
}

#[test]
fn max_frames_counts_lines() {
    let server = Server::start(&["--max-frames", "2"]);
    let mut client = server.connect();
    client.send(b"1\n2\n3\n");
    assert_eq!(client.read_to_end().unwrap(), b"1\n2\n");
}
