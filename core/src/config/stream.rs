//! [`StreamConfig`]: the stream shell's timers and the registry's connection limit.

use core::time::Duration;

use super::check_duration;
use crate::error::ConfigError;

/// Most connections one [`Registry`](crate::Registry) can hold: a [`ConnId`](crate::ConnId)
/// names its slot with 32 bits.
pub const MAX_CONNECTIONS: usize = u32::MAX as usize;

/// The stream's rules: how long a connection may be idle, stall, flush, linger and shut
/// down, and how many a registry holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct StreamConfig {
    /// Close gracefully after this long with no progress in either direction. Default: off.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis_opt"))]
    pub idle_timeout: Option<Duration>,
    /// Abort when output is pending and no byte of it could be written for this long.
    /// Default: off.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis_opt"))]
    pub write_stall_timeout: Option<Duration>,
    /// Abort a *closing* connection when no byte of its pending output could be written for
    /// this long. Unlike `write_stall_timeout` it cannot be turned off: once a connection
    /// is closing, whatever closed it (a quit word, a timer, the peer's end-of-stream),
    /// a peer that never reads must not hold it forever. Default: 10 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis"))]
    pub flush_timeout: Duration,
    /// After our FIN, wait at most this long for the peer's end-of-stream, discarding its
    /// input, so that closing never resets a connection whose client is still reading its
    /// echo. `None` releases right after the FIN. Default: 2 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis_opt"))]
    pub linger: Option<Duration>,
    /// After a shutdown request, how long a connection may take to flush and close before
    /// it is released regardless. Default: 5 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis"))]
    pub shutdown_timeout: Duration,
    /// Connections a [`Registry`](crate::Registry) holds at once; more are refused.
    /// Default: 10 000.
    pub max_connections: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            idle_timeout: None,
            write_stall_timeout: None,
            flush_timeout: Duration::from_secs(10),
            linger: Some(Duration::from_secs(2)),
            shutdown_timeout: Duration::from_secs(5),
            max_connections: 10_000,
        }
    }
}

impl StreamConfig {
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        super::check_size("max connections", self.max_connections, MAX_CONNECTIONS)?;
        for (field, value, optional) in [
            ("idle timeout", self.idle_timeout, true),
            ("write stall timeout", self.write_stall_timeout, true),
            ("flush timeout", Some(self.flush_timeout), false),
            ("linger", self.linger, true),
            ("shutdown timeout", Some(self.shutdown_timeout), false),
        ] {
            check_duration(field, value, optional)?;
        }
        Ok(())
    }
}
