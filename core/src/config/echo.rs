//! [`EchoConfig`]: what the echo engine echoes and the limits on what it holds.

use core::fmt;
use core::time::Duration;

use super::{check_duration, check_size, MAX_SIZE};
use crate::error::{ConfigError, MAX_ERROR_LINE};

/// Longest `prefix` or `suffix` accepted. Each is copied into every echoed frame, and the
/// output bound adds both; a kilobyte is far beyond any label a person would type.
pub const MAX_AFFIX_LEN: usize = 1024;

/// Largest UDP payload that fits one IPv4 datagram (65 535 − 8 UDP − 20 IP header bytes).
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// The smallest input buffer in `line` and `collect` framing. The buffer must hold one
/// whole line (`max_line` plus `\r\n`); for short limits it is raised to this, so that a
/// read still moves a useful amount of data per call.
pub const MIN_INPUT_BUFFER: usize = 4096;

/// How input is cut into frames, and so what is echoed when.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Framing {
    /// Every accepted byte is echoed, in order (RFC 862). A frame is one accepted chunk.
    Raw,
    /// Input is split at `\n`; each line is echoed with its own terminator.
    #[default]
    Line,
    /// Everything is held until a line equal to the quit word arrives, then echoed at once.
    Collect,
}

impl Framing {
    /// The name used on command lines and in logs.
    pub const fn name(self) -> &'static str {
        match self {
            Framing::Raw => "raw",
            Framing::Line => "line",
            Framing::Collect => "collect",
        }
    }

    /// Whether the input is cut at newlines (and so quit and fault words apply).
    pub const fn is_line_based(self) -> bool {
        !matches!(self, Framing::Raw)
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Framing {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "raw" => Ok(Framing::Raw),
            "line" => Ok(Framing::Line),
            "collect" => Ok(Framing::Collect),
            other => Err(ConfigError::UnknownFraming(other.to_owned())),
        }
    }
}

/// Echo semantics and the limits on what the echo holds.
///
/// Every limit here bounds memory: whatever a peer sends and however slowly the driver
/// writes, one connection buffers at most [`input_capacity`](Self::input_capacity) bytes
/// of input, [`output_bound`](Self::output_bound) bytes of output and `max_collect`
/// collected bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct EchoConfig {
    /// How input is cut into frames. Default: `line`.
    pub framing: Framing,
    /// Bytes put before every echoed frame. In `raw` framing a frame is one read, so the
    /// prefix lands wherever the transport happened to split the stream. Default: empty.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::text_or_bytes"))]
    pub prefix: Vec<u8>,
    /// Bytes put after every echoed frame, before its line terminator. Default: empty.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::text_or_bytes"))]
    pub suffix: Vec<u8>,
    /// A line equal to this (terminator stripped) closes the connection gracefully; in
    /// `collect` framing it releases the collected echo. Not used in `raw`. Default: `quit`.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::serde_forms::text_or_bytes_opt")
    )]
    pub quit_word: Option<Vec<u8>>,
    /// A line equal to this fails the connection with "fault injected", as a crashing
    /// handler would: its pending output is dropped and the socket closed. Default: off.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::serde_forms::text_or_bytes_opt")
    )]
    pub fault_word: Option<Vec<u8>>,
    /// Close gracefully after this many echoed frames (`--once` is 1). Default: no limit.
    pub max_frames: Option<u64>,
    /// Longest line, terminator excluded. A longer line gets the reply
    /// `error: line exceeds N bytes` and a graceful close. Default: 16 KiB.
    pub max_line: usize,
    /// At or above this many queued output bytes the connection stops accepting input…
    /// Default: 64 KiB.
    pub high_watermark: usize,
    /// …until the queue has drained to this many. Default: 16 KiB.
    pub low_watermark: usize,
    /// Most bytes `collect` framing holds (after prefix and suffix are applied). Default:
    /// 1 MiB.
    pub max_collect: usize,
    /// Close gracefully when a started line has not completed within this (slowloris).
    /// The clock stands still while backpressure pauses reading. Default: off.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis_opt"))]
    pub frame_timeout: Option<Duration>,
    /// Largest datagram echo (prefix + payload + suffix) the UDP echo sends. Default and
    /// maximum: 65 507.
    pub max_datagram: usize,
    /// Record frame boundaries in the output queue for [`Snapshot`](crate::Snapshot)s, and
    /// report each frame queued ([`Event::Queued`](crate::Event::Queued)): what it is and
    /// its length. Costs a little per frame, so it is off unless a view asks for it.
    /// Default: off.
    pub record_frames: bool,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            framing: Framing::Line,
            prefix: Vec::new(),
            suffix: Vec::new(),
            quit_word: Some(b"quit".to_vec()),
            fault_word: None,
            max_frames: None,
            max_line: 16 * 1024,
            high_watermark: 64 * 1024,
            low_watermark: 16 * 1024,
            max_collect: 1024 * 1024,
            frame_timeout: None,
            max_datagram: MAX_UDP_PAYLOAD,
            record_frames: false,
        }
    }
}

impl EchoConfig {
    /// Most input bytes a connection holds that are not yet echoed: the partial line, and
    /// in `line` framing whole lines accepted while the output queue was full. Zero in
    /// `raw` framing, which echoes everything it accepts at once.
    pub fn input_capacity(&self) -> usize {
        match self.framing {
            Framing::Raw => 0,
            // `max_line` content plus a two-byte `\r\n` terminator. No overflow:
            // validation keeps `max_line` at most `MAX_SIZE`.
            Framing::Line | Framing::Collect => (self.max_line + 2).max(MIN_INPUT_BUFFER),
        }
    }

    /// Most bytes the output queue can ever hold. Input is accepted only while the queue is
    /// below the high watermark, and the largest thing one step appends is one echoed frame
    /// (or, in `collect`, the whole collected echo) or one error line.
    ///
    /// No overflow: validation keeps every term at most [`MAX_SIZE`], and the affixes at
    /// most [`MAX_AFFIX_LEN`] each.
    pub fn output_bound(&self) -> usize {
        let affixes = self.prefix.len() + self.suffix.len();
        let step = match self.framing {
            // Raw accepts at most the room left below the high watermark, as one frame.
            Framing::Raw => affixes,
            Framing::Line => affixes + self.input_capacity(),
            Framing::Collect => self.max_collect.max(affixes + self.input_capacity()),
        };
        self.high_watermark + step.max(MAX_ERROR_LINE)
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        for (field, value) in [("prefix", &self.prefix), ("suffix", &self.suffix)] {
            if value.len() > MAX_AFFIX_LEN {
                return Err(ConfigError::AffixTooLong {
                    field,
                    len: value.len(),
                });
            }
        }
        if self.max_frames == Some(0) {
            return Err(ConfigError::Zero {
                field: "max frames",
            });
        }
        check_size("max line", self.max_line, MAX_SIZE)?;
        check_size("high watermark", self.high_watermark, MAX_SIZE)?;
        check_size("max collect", self.max_collect, MAX_SIZE)?;
        check_size("max datagram", self.max_datagram, usize::MAX)?;
        if self.max_datagram > MAX_UDP_PAYLOAD {
            return Err(ConfigError::DatagramTooLarge(self.max_datagram));
        }
        for (field, word) in [
            ("quit word", &self.quit_word),
            ("fault word", &self.fault_word),
        ] {
            if let Some(word) = word {
                if word.is_empty() {
                    return Err(ConfigError::EmptyWord { field });
                }
                if word.iter().any(|&b| b == b'\n' || b == b'\r') {
                    return Err(ConfigError::WordHasNewline { field });
                }
                if word.len() > self.max_line {
                    return Err(ConfigError::WordLongerThanLine { field });
                }
            }
        }
        if self.quit_word.is_some() && self.quit_word == self.fault_word {
            return Err(ConfigError::SameWords);
        }
        if self.framing == Framing::Collect && self.quit_word.is_none() {
            return Err(ConfigError::CollectNeedsQuitWord);
        }
        if self.low_watermark >= self.high_watermark {
            return Err(ConfigError::Watermarks {
                low: self.low_watermark,
                high: self.high_watermark,
            });
        }
        let affixes = self.prefix.len() + self.suffix.len();
        if affixes >= self.max_datagram {
            // Even a one-byte datagram's reply would be over the limit: every datagram
            // would be dropped.
            return Err(ConfigError::AffixesFillDatagram {
                affixes,
                max_datagram: self.max_datagram,
            });
        }
        if let (Framing::Collect, Some(quit)) = (self.framing, &self.quit_word) {
            // The quit line itself is collected (with `\r\n`, the longest terminator)
            // before the collection is echoed: a limit below that refuses every collection.
            let needed = affixes + quit.len() + 2;
            if self.max_collect < needed {
                return Err(ConfigError::CollectTooSmall {
                    max_collect: self.max_collect,
                    needed,
                });
            }
        }
        check_duration("frame timeout", self.frame_timeout, true)
    }
}
