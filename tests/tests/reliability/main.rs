//! reverb under hostile load: the twelve scenarios of RELIABILITY.md, each against the
//! real (debug) binary on loopback, each asserting a bound and printing the figure it
//! measured. Scenarios run one at a time (see `support::serial`), every wait is for a
//! readiness, a log line or a close with a safety limit, and every loop is bounded in
//! count and time.
//!
//! One scenario alone: `cargo test -p reverb-tests --test reliability scenario_04`.

mod kind;
mod pattern;
mod support;
mod sys;
mod tls_relay;

mod s01_flood;
mod s02_slowloris;
mod s03_oversize;
mod s04_half_close;
mod s05_once;
mod s06_reset;
mod s07_descriptors;
mod s08_sigterm;
mod s09_fairness;
mod s10_c10k;
mod s11_faults;
mod s12_soak;

/// Prints a scenario's figure where CI's log shows it, passing or failing: written to
/// the process's stderr directly, which the test harness does not capture (it captures
/// only the `print!` family).
pub(crate) fn figure(scenario: u32, kind: Option<kind::Kind>, text: &str) {
    use std::io::Write;
    let kind = kind.map(|k| format!(" [{}]", k.name())).unwrap_or_default();
    let _ = writeln!(std::io::stderr(), "scenario {scenario}{kind}: {text}");
}
