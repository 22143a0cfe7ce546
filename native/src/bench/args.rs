//! `reverb bench`'s command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use reverb_tls::ClientTls;

use super::{BenchOptions, Expect, ProxyVersion, Target};
use crate::units::{parse_duration, parse_size};

/// `reverb bench`. Each flag's help ends with its default: clap appends it for flags with
/// a default value; the others say it in their text.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Echo server to load (any, not only reverb): HOST:PORT, tcp://, tls://, ws://HOST:PORT[/PATH], wss://…, or reverb's HTTP echo: http://HOST:PORT[/PATH], https://…
    #[arg(value_name = "URL")]
    pub addr: String,
    /// Connections to open
    #[arg(short = 'c', long, default_value_t = 50)]
    pub connections: usize,
    /// Bytes per message, e.g. 64, 1KiB, 16KiB
    #[arg(short = 's', long, value_parser = parse_size, default_value = "64")]
    pub size: usize,
    /// How long to measure, e.g. 10s [default: 10s, unless --requests]
    #[arg(short = 'd', long, value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Measure this many messages (each echoed and verified) instead of a duration
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Load before measuring starts
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// Messages in flight per connection
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Threads, each with its own event loop
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// End each message with \n and no other newline (for line-mode servers) [default: off]
    #[arg(long)]
    pub line: bool,
    /// Open loop: send R messages/s in total, latency from intended send time [default: closed loop]
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Churn: open R connections/s in total (open loop), each connects, echoes one message, is checked and closed; -c is then the most open at once [default: off]
    #[arg(long, value_name = "R", conflicts_with_all = ["rate", "idle", "requests", "pipeline", "expect_resets", "expect_closes"])]
    pub connect_rate: Option<f64>,
    /// Give up on a connect, an owed echo or a due message that waited this long
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub timeout: Duration,
    /// Print the report as one JSON object [default: text]
    #[arg(long)]
    pub json: bool,
    /// Hold N connections open (one echo each) instead of loading them; the server must not close them (C10K tests)
    #[arg(long, value_name = "N", requires = "hold")]
    pub idle: Option<usize>,
    /// With --idle: how long to hold the connections, e.g. 30s
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "idle")]
    pub hold: Option<Duration>,
    /// The server resets connections on purpose (serve --reset-after, --fault-chance): count each reset and the messages it loses, reconnect, go on [default: a reset fails the run]
    #[arg(long, conflicts_with = "idle")]
    pub expect_resets: bool,
    /// The server closes connections on purpose (serve --close-after, --fault-chance): count each close and the messages it loses, reconnect, go on [default: a close fails the run]
    #[arg(long, conflicts_with = "idle")]
    pub expect_closes: bool,
    /// tls://, wss:// and https://: trust the certificates in this PEM file (the server's --tls-write-cert, or its CA)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// tls://, wss:// and https://: accept any certificate (a test server's self-signed one) [default: off]
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Send a PROXY protocol header (HAProxy's v1 text or v2 binary) first on each connection, announcing its real addresses [default: none]
    #[arg(long, value_enum, value_name = "VERSION")]
    pub send_proxy: Option<ProxyVersion>,
}

impl BenchArgs {
    /// Checks the arguments, resolves the address and reads the TLS settings.
    pub fn options(&self) -> Result<BenchOptions, String> {
        let target = Target::parse(&self.addr)?;
        let addr = target
            .resolve()
            .map_err(|e| format!("cannot resolve {:?}: {e}", self.addr))?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{:?} resolves to no address", self.addr))?;
        let tls = match (&self.ca, self.insecure, target.scheme.is_tls()) {
            (Some(ca), _, true) => Some(ClientTls::trusting(ca).map_err(|e| format!("--ca: {e}"))?),
            (None, true, true) => Some(ClientTls::insecure()),
            (None, false, true) => {
                return Err(format!(
                "{}:// needs --ca FILE (the server's --tls-write-cert, or its CA) or --insecure",
                target.scheme.name()
            ))
            }
            (ca, insecure, false) if ca.is_some() || insecure => {
                return Err(format!(
                    "--ca and --insecure are for tls://, wss:// and https:// URLs, not {target}"
                ))
            }
            _ => None,
        };
        if let Some(tls) = &tls {
            // A bad server name fails here, once, not on every connection.
            tls.session(&target.host)
                .map_err(|e| format!("{target}: {e}"))?;
        }
        if self.size == 0 || (self.line && self.size < 2) {
            return Err("--size must be at least 1 (2 with --line)".to_owned());
        }
        if self.connections == 0 || self.pipeline == 0 || self.threads == 0 {
            return Err("--connections, --pipeline and --threads must be at least 1".to_owned());
        }
        if self.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err("--rate must be a positive number of messages per second".to_owned());
        }
        if self
            .connect_rate
            .is_some_and(|r| !(r > 0.0 && r.is_finite()))
        {
            return Err(
                "--connect-rate must be a positive number of connections per second".to_owned(),
            );
        }
        let duration = match (self.duration, self.requests) {
            (None, None) => Some(Duration::from_secs(10)),
            (d, _) => d,
        };
        Ok(BenchOptions {
            target,
            addr,
            tls,
            send_proxy: self.send_proxy,
            connections: self.connections,
            size: self.size,
            duration,
            requests: self.requests,
            warmup: self.warmup,
            pipeline: self.pipeline,
            threads: self.threads,
            line: self.line,
            rate: self.rate,
            connect_rate: self.connect_rate,
            timeout: self.timeout,
            idle: self.idle.zip(self.hold),
            expect: Expect {
                resets: self.expect_resets,
                closes: self.expect_closes,
            },
            progress: !self.json,
        })
    }
}
