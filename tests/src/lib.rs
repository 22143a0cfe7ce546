//! Shared test machinery for reverb: deterministic drivers of the core and a reference
//! model of its echo semantics.
//!
//! - [`Sim`]: one [`Connection`](reverb_core::Connection) with a simulated socket and a
//!   virtual clock. Reads and writes follow cyclic size plans, so a test chooses exactly
//!   how the stream is fragmented. Every drive loop is bounded: a livelock fails the test
//!   instead of hanging it.
//! - [`RegistrySim`]: many simulated clients on one [`Registry`](reverb_core::Registry).
//! - [`model`]: what the echo must be, computed from the whole input at once.
//!
//! Both drivers follow the run-loop contract of `reverb-core`'s crate docs, and check
//! after every input that no buffer exceeds its configured bound.

pub mod http;
pub mod model;
mod multi;
mod sim;
mod tls;
mod ws;

pub use multi::{ClientOp, RegistrySim};
pub use sim::Sim;
pub use tls::TlsPeer;
pub use ws::{client_frame, WsPeer, UPGRADE_REQUEST};

/// Most loop iterations any drive call may take before the test is failed as a livelock.
/// Generous: the longest scenario (a megabyte through 1-byte reads) needs ~3 million.
pub const MAX_STEPS: usize = 10_000_000;
