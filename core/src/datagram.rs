//! UDP echo: one datagram in, one out, with the same prefix and suffix as TCP.

use thiserror::Error;

use crate::config::{Framing, ValidConfig};
use crate::framing::{split_terminator, wrap};

/// Why a datagram got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DatagramError {
    /// The reply (prefix + payload + suffix) would exceed `max_datagram`.
    #[error("reply of {len} bytes exceeds max datagram ({limit} bytes)")]
    TooLarge {
        /// The reply's length.
        len: usize,
        /// The configured `max_datagram`.
        limit: usize,
    },
}

/// Counters of a [`DatagramEcho`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DatagramCounters {
    /// Datagrams answered.
    pub echoed: u64,
    /// Datagrams dropped (reply too large).
    pub dropped: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Reply bytes produced.
    pub bytes_out: u64,
}

/// The UDP echo. Datagrams have no stream, so there is no state beyond counters: each
/// datagram is one frame. In `line` and `collect` framing the suffix goes before a
/// trailing line terminator, as on TCP; quit and fault words do not apply.
#[derive(Debug)]
pub struct DatagramEcho {
    config: ValidConfig,
    counters: DatagramCounters,
}

impl DatagramEcho {
    /// A UDP echo with `config`'s prefix, suffix, framing and `max_datagram`.
    pub fn new(config: ValidConfig) -> Self {
        DatagramEcho {
            config,
            counters: DatagramCounters::default(),
        }
    }

    /// Writes the reply to `payload` into `reply` (cleared first) and returns it. The
    /// buffer is the caller's so a driver reuses one allocation for every datagram.
    pub fn echo<'b>(
        &mut self,
        payload: &[u8],
        reply: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], DatagramError> {
        let echo = &self.config.echo;
        let (prefix, suffix) = (&echo.prefix, &echo.suffix);
        let len = prefix.len() + payload.len() + suffix.len();
        self.counters.bytes_in += payload.len() as u64;
        if len > echo.max_datagram {
            self.counters.dropped += 1;
            return Err(DatagramError::TooLarge {
                len,
                limit: echo.max_datagram,
            });
        }
        let (content, terminator) = match echo.framing {
            Framing::Raw => (payload, &[][..]),
            Framing::Line | Framing::Collect => split_terminator(payload),
        };
        reply.clear();
        wrap(reply, prefix, content, suffix, terminator);
        self.counters.echoed += 1;
        self.counters.bytes_out += len as u64;
        Ok(reply)
    }

    /// Counters so far.
    pub fn counters(&self) -> &DatagramCounters {
        &self.counters
    }
}
