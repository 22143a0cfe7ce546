//! Errors, split by who is at fault: the configuration ([`ConfigError`]), the peer
//! ([`PeerError`]), or the driver ([`RegistryError`]). Peer input never panics the core;
//! it becomes a [`PeerError`] on that one connection.

use thiserror::Error;

/// Longest error line the echo ever queues: `error: {PeerError}\n`, the longest being
/// `error: collect exceeds <u64> bytes\n` (49 bytes).
pub(crate) const MAX_ERROR_LINE: usize = 64;

/// A [`Config`](crate::Config) that cannot work. Found once, at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A framing name other than `raw`, `line` or `collect`.
    #[error("unknown framing {0:?} (expected raw, line or collect)")]
    UnknownFraming(String),
    /// A prefix or suffix over [`MAX_AFFIX_LEN`](crate::MAX_AFFIX_LEN).
    #[error("{field} is {len} bytes; at most 1024 are allowed")]
    AffixTooLong {
        /// `prefix` or `suffix`.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// A quit or fault word that is empty.
    #[error("{field} must not be empty")]
    EmptyWord {
        /// Which word.
        field: &'static str,
    },
    /// A quit or fault word with `\r` or `\n` in it could never equal a line.
    #[error("{field} must not contain a line break")]
    WordHasNewline {
        /// Which word.
        field: &'static str,
    },
    /// A quit or fault word longer than `max_line` could never be received.
    #[error("{field} is longer than max line")]
    WordLongerThanLine {
        /// Which word.
        field: &'static str,
    },
    /// The quit and fault words are the same line.
    #[error("quit word and fault word must differ")]
    SameWords,
    /// `collect` framing without a quit word would never echo.
    #[error("collect framing needs a quit word")]
    CollectNeedsQuitWord,
    /// A size or count that must be positive is zero.
    #[error("{field} must be at least 1")]
    Zero {
        /// Which limit.
        field: &'static str,
    },
    /// A size or count beyond what this platform can hold (see
    /// [`MAX_SIZE`](crate::MAX_SIZE)).
    #[error("{field} {value} is too large; the largest allowed is {max}")]
    TooLarge {
        /// Which limit.
        field: &'static str,
        /// The configured value.
        value: usize,
        /// The largest value allowed.
        max: usize,
    },
    /// Prefix and suffix alone fill `max_datagram`, so every UDP reply would be dropped.
    #[error(
        "prefix and suffix ({affixes} bytes) leave no room in max datagram ({max_datagram} \
         bytes): every reply would be dropped"
    )]
    AffixesFillDatagram {
        /// Prefix plus suffix length.
        affixes: usize,
        /// The configured `max_datagram`.
        max_datagram: usize,
    },
    /// In `collect` framing, `max_collect` cannot hold even the quit line, so every
    /// collection would end in an error.
    #[error(
        "max collect ({max_collect} bytes) cannot hold the quit line with prefix and \
         suffix ({needed} bytes)"
    )]
    CollectTooSmall {
        /// The configured `max_collect`.
        max_collect: usize,
        /// Prefix, quit word, suffix and a `\r\n` terminator.
        needed: usize,
    },
    /// A duration beyond what the setting allows.
    #[error("{field} of {value:?} is too long; at most {max:?} is allowed")]
    DurationTooLong {
        /// Which setting.
        field: &'static str,
        /// The configured value.
        value: core::time::Duration,
        /// The longest allowed.
        max: core::time::Duration,
    },
    /// A probability outside `(0, 1]`.
    #[error(
        "probability {0} is not in (0, 1]: give a number like 0.01 (leave it unset to turn it off)"
    )]
    Probability(String),
    /// A chunk range whose smallest piece is larger than its largest.
    #[error("chunk range {min}..{max} is empty: the smallest piece must not exceed the largest")]
    ChunkRange {
        /// Smallest piece.
        min: usize,
        /// Largest piece.
        max: usize,
    },
    /// A timer set to zero would fire at once; an optional one is left off instead.
    #[error(
        "{field} must be longer than zero{}",
        if *optional { " (leave it unset to turn it off)" } else { "" }
    )]
    ZeroDuration {
        /// Which timer.
        field: &'static str,
        /// Whether the timer can be turned off.
        optional: bool,
    },
    /// The low watermark is not below the high one, so reading could never resume.
    #[error("low watermark ({low} bytes) must be below high watermark ({high} bytes)")]
    Watermarks {
        /// Configured low watermark.
        low: usize,
        /// Configured high watermark.
        high: usize,
    },
    /// `max_datagram` over what one UDP datagram can carry.
    #[error("max datagram is {0} bytes; a UDP datagram carries at most 65507")]
    DatagramTooLarge(usize),
}

/// What a peer did that ends its connection with an error. Each one closes that
/// connection only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
pub enum PeerError {
    /// A line longer than `max_line`. The peer is told so in one line, then the connection
    /// closes gracefully.
    #[error("line exceeds {limit} bytes")]
    LineTooLong {
        /// The configured `max_line`.
        limit: usize,
    },
    /// `collect` framing would hold more than `max_collect`. The peer is told so in one
    /// line, then the connection closes gracefully.
    #[error("collect exceeds {limit} bytes")]
    CollectTooLarge {
        /// The configured `max_collect`.
        limit: usize,
    },
    /// The peer sent the fault word. The connection fails at once, as a handler that
    /// crashed would.
    #[error("fault injected")]
    FaultInjected,
}

/// A driver asked the [`Registry`](crate::Registry) for something it cannot do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum RegistryError {
    /// `max_connections` are open; the new connection should be closed at once.
    #[error("connection limit reached ({0})")]
    Full(usize),
    /// The registry is shutting down and takes no new connections.
    #[error("shutting down")]
    ShuttingDown,
    /// The id names a connection that was released (or never existed): a stale event.
    #[error("no such connection")]
    UnknownConnection,
}
