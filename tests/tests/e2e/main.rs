//! reverb end to end: the real binary on loopback, one module per feature. Every server
//! listens on port 0 and says which port it got; every wait is for a readiness, a log
//! line or a close, with a 10 s safety net.

mod admin;
mod bench;
mod chromium;
mod cli;
mod client;
mod closing;
mod config;
mod deploy;
mod faults;
mod http;
mod injected;
mod memory;
mod modes;
mod proxy;
mod security;
mod signals;
mod support;
mod timers;
mod tls;
mod udp;
mod websocket;
