//! reverb-core, specified by scenario: each test names the behaviour it pins down, and
//! drives a real `Connection` or `Registry` through the deterministic harness.

mod backpressure;
mod boundaries;
mod closing;
mod collect;
mod config;
mod datagram;
mod deadlines;
mod faults;
mod frames;
mod http;
mod line;
mod memory;
mod properties;
mod proxy;
mod raw;
mod registry;
mod sources;
mod timers;
mod tls;
mod words;
mod ws;

use reverb_core::{Config, EchoConfig};

/// Line framing with no quit word, so tests choose the words they need.
fn line() -> Config {
    Config {
        echo: EchoConfig {
            quit_word: None,
            ..EchoConfig::default()
        },
        ..Config::default()
    }
}
