//! Per-source limits for the UDP echo: a token bucket per source address, for datagrams
//! per second and reply bytes per second, in a table of fixed size.
//!
//! UDP has no handshake, so a datagram's source is whatever the sender wrote: answering
//! without a limit lets anyone aim reverb's replies at any address (reflection). The
//! bucket of a source caps what reverb sends to that address, whoever claims it: a
//! victim receives at most `burst` at once and the rates after that. Sources are keyed
//! by address only, not port: ports are free for a flooder to vary.
//!
//! The buckets live in a [`BoundedTable`] of [`SOURCE_TABLE_SIZE`] records. A forged
//! source costs one record at most and the table never grows: a flood of spoofed
//! addresses evicts the quietest records, whose sources come back with a full bucket —
//! which a source quiet for `burst` would have had anyway.

use std::time::Duration;

use thiserror::Error;

use crate::table::BoundedTable;
use crate::time::Instant;

/// Sources tracked at once, per [`SourceLimiter`]. 8192 records of 56 bytes are 448 KiB,
/// allocated once; more sources than this sending at their limit at the same time is a
/// distributed flood that per-source limits cannot stop anyway.
pub const SOURCE_TABLE_SIZE: usize = 8192;

/// Default datagrams answered per second per source address: ten times what an
/// interactive client or a health check sends, so a load test from one address still
/// runs at 10k datagrams/s before it is limited.
pub const DEFAULT_DATAGRAMS_PER_SECOND: u64 = 10_000;

/// Default reply bytes per second per source address: 16 MiB/s, 10k datagrams of 1.6 KB.
pub const DEFAULT_BYTES_PER_SECOND: u64 = 16 << 20;

/// Default burst: a quiet source may use one second's worth of its rates at once.
pub const DEFAULT_BURST: Duration = Duration::from_secs(1);

/// Largest datagram rate: far beyond what one socket can answer (a few hundred thousand
/// datagrams per second), so any real limit fits, and `rate × burst` fits a `u64`.
pub const MAX_DATAGRAMS_PER_SECOND: u64 = 100_000_000;

/// Largest byte rate: 1 TiB/s, beyond any network, so that `rate × burst` in thousandths
/// of a byte fits a `u64` for any burst up to [`MAX_BURST`].
pub const MAX_BYTES_PER_SECOND: u64 = 1 << 40;

/// Longest burst: an hour of traffic at once is no limit at all.
pub const MAX_BURST: Duration = Duration::from_secs(3600);

/// Where a datagram came from, as the driver names it: an IPv6 address (an IPv4 address
/// as its IPv4-mapped form, `::ffff:a.b.c.d`) and a port. The core never sees a socket
/// address type; the driver converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source {
    /// The address's 16 bytes, in network order.
    pub ip: [u8; 16],
    /// The source port.
    pub port: u16,
}

impl Source {
    /// An IPv4 source (stored IPv4-mapped).
    pub fn v4(octets: [u8; 4], port: u16) -> Source {
        let mut ip = [0; 16];
        ip[10] = 0xff;
        ip[11] = 0xff;
        ip[12..].copy_from_slice(&octets);
        Source { ip, port }
    }

    /// An IPv6 source.
    pub fn v6(ip: [u8; 16], port: u16) -> Source {
        Source { ip, port }
    }
}

/// What one source address may cost: datagrams and reply bytes per second, and how much
/// of those a quiet source may use at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Datagrams answered per second.
    pub datagrams_per_second: u64,
    /// Reply bytes sent per second.
    pub bytes_per_second: u64,
    /// The buckets hold this long's worth of each rate.
    pub burst: Duration,
}

impl Default for SourceLimits {
    fn default() -> Self {
        SourceLimits {
            datagrams_per_second: DEFAULT_DATAGRAMS_PER_SECOND,
            bytes_per_second: DEFAULT_BYTES_PER_SECOND,
            burst: DEFAULT_BURST,
        }
    }
}

/// Source limits that could never work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SourceLimitsError {
    /// A datagram rate of 0 or beyond [`MAX_DATAGRAMS_PER_SECOND`].
    #[error("udp source rate must be between 1 and {MAX_DATAGRAMS_PER_SECOND} datagrams per second, not {0}")]
    DatagramRate(u64),
    /// A byte rate of 0 or beyond [`MAX_BYTES_PER_SECOND`].
    #[error("udp source bandwidth must be between 1 and {MAX_BYTES_PER_SECOND} bytes per second, not {0}")]
    ByteRate(u64),
    /// A burst under a millisecond (the core's time unit) or over [`MAX_BURST`].
    #[error("udp source burst must be between 1ms and 1h, not {0} ms")]
    Burst(u128),
    /// A bucket that cannot hold one datagram: every datagram would be refused.
    #[error("udp source burst of {burst_ms} ms holds less than one datagram at {rate} per second")]
    BurstBelowOneDatagram {
        /// The burst, in milliseconds.
        burst_ms: u128,
        /// The datagram rate.
        rate: u64,
    },
}

impl SourceLimits {
    /// Checks that every limit is in range and that a bucket holds at least one datagram.
    pub fn validate(&self) -> Result<(), SourceLimitsError> {
        if !(1..=MAX_DATAGRAMS_PER_SECOND).contains(&self.datagrams_per_second) {
            return Err(SourceLimitsError::DatagramRate(self.datagrams_per_second));
        }
        if !(1..=MAX_BYTES_PER_SECOND).contains(&self.bytes_per_second) {
            return Err(SourceLimitsError::ByteRate(self.bytes_per_second));
        }
        let burst_ms = self.burst.as_millis();
        if burst_ms == 0 || self.burst > MAX_BURST {
            return Err(SourceLimitsError::Burst(burst_ms));
        }
        if self.datagram_capacity() < MILLI {
            return Err(SourceLimitsError::BurstBelowOneDatagram {
                burst_ms,
                rate: self.datagrams_per_second,
            });
        }
        Ok(())
    }

    fn burst_ms(&self) -> u64 {
        u64::try_from(self.burst.as_millis()).unwrap_or(u64::MAX)
    }

    /// A full datagram bucket, in thousandths of a datagram.
    fn datagram_capacity(&self) -> u64 {
        self.datagrams_per_second.saturating_mul(self.burst_ms())
    }

    /// A full byte bucket, in thousandths of a byte.
    fn byte_capacity(&self) -> u64 {
        self.bytes_per_second.saturating_mul(self.burst_ms())
    }
}

/// Tokens are counted in thousandths, so that a rate per second refills a whole number
/// of tokens every millisecond (the core's time unit): `rate` thousandths per ms.
const MILLI: u64 = 1000;

/// One source's two buckets.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of a datagram.
    datagrams: u64,
    /// Thousandths of a byte.
    bytes: u64,
    /// When the buckets were last refilled.
    refilled: Instant,
}

/// Token buckets per source address, in a table that spoofed sources cannot grow.
#[derive(Debug, Clone)]
pub struct SourceLimiter {
    limits: SourceLimits,
    table: BoundedTable<[u8; 16], Bucket>,
}

impl SourceLimiter {
    /// A limiter with these limits; `seed` keys the table's hash (pass a random number).
    /// Limits that [`SourceLimits::validate`] refuses never panic: a zero rate simply
    /// refuses everything.
    pub fn new(limits: SourceLimits, seed: u64) -> Self {
        SourceLimiter {
            limits,
            table: BoundedTable::new(SOURCE_TABLE_SIZE, seed),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &SourceLimits {
        &self.limits
    }

    /// Whether the source at `ip` may be sent a reply of `bytes` now. If so, the reply is
    /// taken from its buckets; if not, nothing is (a refused datagram costs nothing, so
    /// a source that slows down is answered again as soon as its buckets refill).
    pub fn admit(&mut self, now: Instant, ip: [u8; 16], bytes: usize) -> bool {
        let limits = self.limits;
        let (bucket, _) = self.table.get_or_insert(ip, now, || Bucket {
            datagrams: limits.datagram_capacity(),
            bytes: limits.byte_capacity(),
            refilled: now,
        });
        let elapsed = now.saturating_since(bucket.refilled);
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        if elapsed_ms > 0 {
            bucket.refilled = now;
            bucket.datagrams = refill(
                bucket.datagrams,
                limits.datagrams_per_second,
                elapsed_ms,
                limits.datagram_capacity(),
            );
            bucket.bytes = refill(
                bucket.bytes,
                limits.bytes_per_second,
                elapsed_ms,
                limits.byte_capacity(),
            );
        }
        let cost = (bytes as u64).saturating_mul(MILLI);
        if bucket.datagrams < MILLI || bucket.bytes < cost {
            return false;
        }
        bucket.datagrams -= MILLI;
        bucket.bytes -= cost;
        true
    }

    /// Sources tracked now (at most [`capacity`](Self::capacity)).
    pub fn tracked(&self) -> usize {
        self.table.len()
    }

    /// The most sources tracked at once: [`SOURCE_TABLE_SIZE`].
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Sources forgotten to make room for new ones, so far.
    pub fn evictions(&self) -> u64 {
        self.table.evictions()
    }
}

/// `level` plus `rate` thousandths per elapsed millisecond, at most `capacity`.
fn refill(level: u64, rate: u64, elapsed_ms: u64, capacity: u64) -> u64 {
    level
        .saturating_add(rate.saturating_mul(elapsed_ms))
        .min(capacity)
}
