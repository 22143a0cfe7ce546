//! What a connection does, as data: one section per layer — [`StreamConfig`] for the
//! stream shell, [`EchoConfig`] for the echo engine, [`FaultConfig`] for the fault layer —
//! gathered in [`Config`], with a default for every field, and [`ValidConfig`], the
//! checked form every connection holds.
//!
//! Each section checks itself; [`Config::validate`] checks them all, so a layer added
//! later brings its own section and its own checks, and nothing else changes.

use core::ops::Deref;
use core::time::Duration;
use std::sync::Arc;

use crate::error::ConfigError;

mod echo;
mod faults;
mod stream;

pub use echo::{EchoConfig, Framing, MAX_AFFIX_LEN, MAX_UDP_PAYLOAD, MIN_INPUT_BUFFER};
pub use faults::{Chunk, FaultConfig, Probability, MAX_DELAY};
pub use stream::{StreamConfig, MAX_CONNECTIONS};

/// Largest value any size limit may have (`max_line`, the watermarks, `max_collect`,
/// chunk sizes). The bounds a connection derives from its config add up at most two such
/// limits, both affixes and a few bytes, and every buffer must stay within what one
/// allocation may hold on this platform (`isize::MAX` bytes): an eighth of that leaves a
/// wide margin. On a 64-bit platform it is far beyond any memory; on `wasm32` it is 256 MiB.
pub const MAX_SIZE: usize = isize::MAX as usize / 8;

/// Everything a listener's connections do: one section per layer of the stack.
///
/// Build one with struct-update syntax over [`Config::default()`] (and over each
/// section's default) and check it with [`Config::validate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct Config {
    /// The stream's rules: its timers and the connection limit.
    pub stream: StreamConfig,
    /// The echo: framing, words, affixes, limits, backpressure.
    pub echo: EchoConfig,
    /// Faults injected between the echo and the wire. Default: none.
    pub faults: FaultConfig,
}

impl Config {
    /// Checks every section and every combination; the first problem found is returned.
    pub fn validate(self) -> Result<ValidConfig, ConfigError> {
        self.stream.check()?;
        self.echo.check()?;
        self.faults.check()?;
        Ok(ValidConfig(Arc::new(self)))
    }
}

/// A [`Config`] that passed [`Config::validate`]. Cheap to clone: every connection of a
/// registry shares one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidConfig(Arc<Config>);

impl Deref for ValidConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.0
    }
}

impl Default for ValidConfig {
    fn default() -> Self {
        Config::default()
            .validate()
            .expect("invariant: the default config is valid")
    }
}

/// Refuses a size that is zero or beyond `max`.
pub(crate) fn check_size(field: &'static str, value: usize, max: usize) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::Zero { field });
    }
    if value > max {
        return Err(ConfigError::TooLarge { field, value, max });
    }
    Ok(())
}

/// Refuses a timer of zero: it would fire at once. `optional` says whether it can be
/// turned off instead, for the message.
pub(crate) fn check_duration(
    field: &'static str,
    value: Option<Duration>,
    optional: bool,
) -> Result<(), ConfigError> {
    if value == Some(Duration::ZERO) {
        return Err(ConfigError::ZeroDuration { field, optional });
    }
    Ok(())
}
