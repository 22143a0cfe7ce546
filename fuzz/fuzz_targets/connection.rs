//! One connection, any valid config, any sequence of driver inputs: no panic; the receive
//! capacity, the output bound and the input capacity hold after every step; outputs come
//! in the contract's order; no due timer is left unfired; and after the peer's
//! end-of-stream the connection is released within a bounded number of deadlines,
//! whether or not the peer reads its echo. In raw framing without affixes, what reaches
//! the peer is exactly the start of what the core took. The echo runs alone or under the
//! fault layer (delay, chunking), as the config says.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reverb_core::{Connection, Framing, Instant, Layer, ValidConfig};
use reverb_fuzz::{apply, finish, FuzzConfig, Op, Peer, Stack};

#[derive(Arbitrary, Debug)]
struct Case {
    config: FuzzConfig,
    ops: Vec<Op>,
    /// Whether the peer reads its echo after its end-of-stream.
    reads_at_end: bool,
}

fuzz_target!(|case: Case| {
    let Some(config) = case.config.validate() else {
        return;
    };
    match Stack::new(&config, 0, Instant::ZERO) {
        Stack::Echo(conn) => run(conn, &case, &config),
        Stack::Faulty(conn) => run(conn, &case, &config),
    }
});

fn run<L: Layer>(mut conn: Connection<L>, case: &Case, config: &ValidConfig) {
    let mut now = Instant::ZERO;
    let mut peer = Peer {
        budget: usize::MAX,
        ..Peer::default()
    };
    for op in &case.ops {
        apply(&mut conn, &mut peer, &mut now, op, config);
    }
    finish(&mut conn, &mut peer, &mut now, case.reads_at_end, config);
    let echo = &config.echo;
    if echo.framing == Framing::Raw && echo.prefix.is_empty() && echo.suffix.is_empty() {
        assert!(
            peer.taken.starts_with(&peer.written),
            "raw echo differs from the input ({} written, {} taken)",
            peer.written.len(),
            peer.taken.len()
        );
    }
}
