//! # reverb: the echo server binary's library
//!
//! The `mio` shell around [`reverb_core`]: sockets, readiness, threads, signals, the
//! command line and logs. Nothing here decides what to echo; every echo rule, limit and
//! timer is the core's.
//!
//! - [`server`]: `reverb serve`, one event loop per thread over `SO_REUSEPORT` sockets.
//! - [`client`]: `reverb client`, the line client that never loses an echo.
//! - [`mod@bench`]: `reverb bench`, a load generator that verifies every echoed byte.
//! - [`net`], [`clock`]: socket and time helpers any mio driver of the core can reuse
//!   (binding shared listeners, reading and writing until `WouldBlock`, sorting accept
//!   errors, deadlines to poll timeouts).
//! - [`cli`], [`listen`], [`units`], [`logging`]: the command line, listener URLs and
//!   their parsers, and log setup; [`config`]: the same flags from `REVERB_*` variables
//!   and a TOML file, and `--print-config`; [`pid_file`]: `--pid-file`.

pub mod bench;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod listen;
pub mod logging;
pub mod net;
pub mod pid_file;
pub mod server;
pub mod units;
