//! Echo loops: the datagrams a UDP echo must not answer because answering them would
//! start, or keep going, an exchange that never ends.
//!
//! Two echo services answer each other forever once a single datagram with a forged
//! source (one service's address, sent to the other) gets between them (CERT CA-1996-01).
//! Two defences, both here:
//!
//! - **Source ports** ([`PortPolicy`]). Datagram services that answer anything — echo,
//!   chargen, daytime, time, qotd — listen on well-known ports, and a client's ephemeral
//!   port is never below 1024. A datagram "from" port 7 is a loop being started, so it is
//!   never answered; by default no source port below 1024 is (FreeBSD's inetd refuses
//!   datagrams from its own services' ports in `check_loop`; OpenBSD's in `dg_badinput`).
//! - **Loop detection** ([`LoopDetector`]). Two echoes on ordinary ports loop too. A peer
//!   in a loop with us sends back what we last sent it, with its own prefix and suffix
//!   around it if it adds any, right after we sent it: one datagram per reply. After
//!   [`LOOP_STRIKES`] replies in a row whose first answer brought them back within
//!   [`LOOP_WINDOW`], the peer is not
//!   answered until it has been quiet for [`LOOP_WINDOW`]: a loop never pauses, so it
//!   dies, while a client that was mistaken for one is answered again after a pause.
//!
//! The detector cannot tell a loop from a client that, with no prefix or suffix
//! configured, sends the same datagram again and again as soon as each reply arrives:
//! to reverb those are the same bytes at the same times. Such a client is answered
//! [`LOOP_STRIKES`] times, then again after each quiet [`LOOP_WINDOW`].

use std::time::Duration;

use crate::sources::Source;
use crate::table::BoundedTable;
use crate::time::Instant;

/// Source ports never answered, whatever the policy: port 0 (no real socket sends from
/// it) and the datagram services that answer whatever they receive — echo (7), discard
/// (9), daytime (13), qotd (17), chargen (19), time (37) — the partners of the classic
/// loops.
pub const LOOP_PRONE_PORTS: [u16; 7] = [0, 7, 9, 13, 17, 19, 37];

/// Consecutive datagrams that bring back our last reply before the peer is taken for an
/// echo loop. A loop is a few hundred microseconds per round trip on a LAN, so eight
/// round trips end it almost at once; a lost reply retried a few times is still fewer.
pub const LOOP_STRIKES: u32 = 8;

/// How soon after our reply a datagram bringing it back counts as a strike, and how
/// long a peer taken for a loop must be quiet to be answered again. One second is
/// longer than any round trip across the internet, so a slow loop between continents
/// is caught too.
pub const LOOP_WINDOW: Duration = Duration::from_secs(1);

/// Peers whose last reply is remembered at once (8192 records of about 64 bytes: half a
/// MiB, allocated once). A peer forgotten to make room is only caught later: up to
/// [`LOOP_STRIKES`] more round trips once it is back in the table.
pub const LOOP_TABLE_SIZE: usize = 8192;

/// Which source ports are answered at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortPolicy {
    /// No source port below 1024: those are services, not clients (the default).
    #[default]
    RefuseBelow1024,
    /// Ports below 1024 too, except [`LOOP_PRONE_PORTS`].
    RefuseLoopProne,
}

impl PortPolicy {
    /// Whether a datagram from `port` is refused.
    pub fn refuses(self, port: u16) -> bool {
        match self {
            PortPolicy::RefuseBelow1024 => port < 1024,
            PortPolicy::RefuseLoopProne => LOOP_PRONE_PORTS.contains(&port),
        }
    }
}

/// What the loop detector says of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopVerdict {
    /// No loop: answer it.
    Clear,
    /// This datagram showed the peer is in a loop with us: do not answer (log it once).
    Found,
    /// The peer was found in a loop and has not been quiet since: do not answer.
    Ongoing,
}

/// What we remember of one peer (address and port).
#[derive(Debug, Clone, Copy)]
struct Peer {
    /// Fingerprint of our last reply to it, less a trailing line terminator.
    reply: u64,
    /// That reply's length, less the terminator.
    reply_len: u32,
    /// When we sent it.
    replied: Instant,
    /// When the peer last sent us anything.
    heard: Instant,
    /// Replies in a row that came back within the window.
    strikes: u32,
    /// Whether the peer has sent nothing since our last reply. Only the first datagram
    /// after a reply can be its echo; the others a peer sends before our next reply say
    /// nothing either way (a flooder's numbered datagrams against a reply the rate limit
    /// left unrenewed — "flood 10", "flood 11", … all contain "flood 1" — are not a loop).
    fresh: bool,
}

/// Finds peers that keep sending back what we sent them.
#[derive(Debug, Clone)]
pub struct LoopDetector {
    table: BoundedTable<Source, Peer>,
    /// The fingerprints' multiplier: odd, from the seed.
    base: u64,
}

impl LoopDetector {
    /// A detector; `seed` keys its table's hash and its fingerprints.
    pub fn new(seed: u64) -> Self {
        LoopDetector {
            table: BoundedTable::new(LOOP_TABLE_SIZE, seed),
            base: seed.rotate_left(17) | 1,
        }
    }

    /// Whether the datagram `payload` from `source` at `now` may be answered.
    pub fn check(&mut self, now: Instant, source: Source, payload: &[u8]) -> LoopVerdict {
        let Some(peer) = self.table.get_mut(&source) else {
            return LoopVerdict::Clear;
        };
        let quiet = now.saturating_since(peer.heard) >= LOOP_WINDOW;
        peer.heard = now;
        if peer.strikes >= LOOP_STRIKES {
            if !quiet {
                return LoopVerdict::Ongoing;
            }
            peer.strikes = 0;
        }
        if std::mem::take(&mut peer.fresh) {
            let recent = now.saturating_since(peer.replied) <= LOOP_WINDOW;
            if recent && contains(payload, peer.reply_len as usize, peer.reply, self.base) {
                peer.strikes += 1;
            } else {
                peer.strikes = 0;
            }
        }
        if peer.strikes >= LOOP_STRIKES {
            LoopVerdict::Found
        } else {
            LoopVerdict::Clear
        }
    }

    /// Remembers that `reply` was sent to `source` at `now`.
    pub fn answered(&mut self, now: Instant, source: Source, reply: &[u8]) {
        let content = strip_terminator(reply);
        let fingerprint = fingerprint(content, self.base);
        let len = u32::try_from(content.len()).unwrap_or(u32::MAX);
        let (peer, _) = self.table.get_or_insert(source, now, || Peer {
            reply: 0,
            reply_len: 0,
            replied: now,
            heard: now,
            strikes: 0,
            fresh: false,
        });
        peer.fresh = true;
        peer.reply = fingerprint;
        peer.reply_len = len;
        peer.replied = now;
    }

    /// Peers remembered now (at most [`LOOP_TABLE_SIZE`]).
    pub fn tracked(&self) -> usize {
        self.table.len()
    }
}

/// `bytes` without one trailing `\n` or `\r\n`: a peer echoing in line mode puts its
/// suffix before our terminator, so only the rest of our reply is found whole inside
/// its answer.
fn strip_terminator(bytes: &[u8]) -> &[u8] {
    match bytes {
        [rest @ .., b'\r', b'\n'] | [rest @ .., b'\n'] => rest,
        _ => bytes,
    }
}

/// A polynomial fingerprint of `bytes` (each byte plus one, so that zeros count).
fn fingerprint(bytes: &[u8], base: u64) -> u64 {
    bytes.iter().fold(0u64, |h, &b| {
        h.wrapping_mul(base).wrapping_add(u64::from(b) + 1)
    })
}

/// Whether some `len` bytes of `haystack` have the fingerprint `target`: a rolling
/// (Rabin–Karp) search, one multiplication per byte. Not collision-proof against a
/// sender who picks its bytes, and it need not be: a sender can make reverb see its
/// reply come back simply by sending it back; a collision gains nothing more. An empty
/// reply is found in an empty datagram (or a bare line terminator) only.
fn contains(haystack: &[u8], len: usize, target: u64, base: u64) -> bool {
    let haystack = strip_terminator(haystack);
    if len == 0 {
        return haystack.is_empty();
    }
    if haystack.len() < len {
        return false;
    }
    let mut hash = fingerprint(&haystack[..len], base);
    if hash == target {
        return true;
    }
    // base^(len - 1): the weight of the byte that leaves the window.
    let top = pow(base, len - 1);
    for i in len..haystack.len() {
        let out = u64::from(haystack[i - len]) + 1;
        hash = hash
            .wrapping_sub(out.wrapping_mul(top))
            .wrapping_mul(base)
            .wrapping_add(u64::from(haystack[i]) + 1);
        if hash == target {
            return true;
        }
    }
    false
}

fn pow(mut base: u64, mut exp: usize) -> u64 {
    let mut result = 1u64;
    while exp > 0 {
        if exp & 1 == 1 {
            result = result.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rolling_search_finds_a_reply_anywhere_and_only_there() {
        let base = 0x9E37_79B9_7F4A_7C15;
        let reply = b"> hello!";
        let fp = fingerprint(reply, base);
        assert!(contains(b"> hello!", reply.len(), fp, base));
        assert!(contains(b"< > hello!>\n", reply.len(), fp, base));
        assert!(contains(b"xx> hello!", reply.len(), fp, base));
        assert!(!contains(b"> hello", reply.len(), fp, base));
        assert!(!contains(b"> hellO!!", reply.len(), fp, base));
        let zeros = [0u8; 16];
        assert!(contains(&zeros, 8, fingerprint(&zeros[..8], base), base));
        assert!(!contains(&zeros, 8, fingerprint(&[0u8; 7], base), base));
    }
}
