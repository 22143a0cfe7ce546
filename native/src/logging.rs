//! Logs: `tracing` events to stderr, as text or JSON lines. `RUST_LOG` (an `EnvFilter`
//! directive such as `reverb=debug`) overrides the level chosen with `-v`/`-q`.
//!
//! Stdout is kept for what a script reads: the "listening on" lines and the summary.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines look: `text` (one readable line per event) or `json` (one object per
/// line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    // One human-readable line per event. (Plain comments: a doc comment here would
    // turn `--help` into clap's long form.)
    Text,
    // One JSON object per line.
    Json,
}

/// How much is logged when `RUST_LOG` is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Errors only (`-qq`).
    Error,
    /// Warnings and errors (`-q`).
    Warn,
    /// Connections opened and closed, start and stop (the default).
    Info,
    /// Timers, refusals, UDP drops (`-v`).
    Debug,
    /// Everything (`-vv`).
    Trace,
}

impl Verbosity {
    /// The level for `-v` given `verbose` times and `-q` given `quiet` times.
    pub fn from_flags(verbose: u8, quiet: u8) -> Self {
        match (verbose, quiet) {
            (0, 0) => Verbosity::Info,
            (0, 1) => Verbosity::Warn,
            (0, _) => Verbosity::Error,
            (1, _) => Verbosity::Debug,
            _ => Verbosity::Trace,
        }
    }

    fn directive(self) -> &'static str {
        match self {
            Verbosity::Error => "error",
            Verbosity::Warn => "warn",
            Verbosity::Info => "info",
            Verbosity::Debug => "debug",
            Verbosity::Trace => "trace",
        }
    }
}

/// Installs the global subscriber. Call once, before any thread starts.
pub fn init(verbosity: Verbosity, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(verbosity.directive()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // A second init (tests in one process) keeps the first subscriber: not an error.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
