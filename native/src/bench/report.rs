//! What a run measured, as text for people and JSON for machines.

use std::fmt::Write as _;
use std::time::Duration;

use super::faults::{Ends, Expect, Expected};
use super::histogram::Histogram;
use super::worker::Tally;
use super::{BenchOptions, Scheme};

/// The merged result of every thread.
#[derive(Debug)]
pub struct Report {
    /// The server, as given.
    pub addr: String,
    /// Its protocol stack: which handshakes the report times.
    pub scheme: Scheme,
    /// `load`, `idle` or `churn` (`--connect-rate`).
    pub mode: &'static str,
    /// Connections asked for (churn: the most open at once).
    pub connections: usize,
    /// Connections that were established (not counting re-openings; churn: all of them).
    pub connected: u64,
    /// Connections opened again after an expected reset or close, and established.
    pub reconnects: u64,
    /// Bytes per message.
    pub size: usize,
    /// Messages in flight per connection.
    pub pipeline: usize,
    /// Bench threads.
    pub threads: usize,
    /// Open-loop rate asked for.
    pub rate: Option<f64>,
    /// Churn: connections per second asked for.
    pub connect_rate: Option<f64>,
    /// Churn: connections that fell due in the window and completed their cycle
    /// (connect, handshakes, one echo verified).
    pub cycles: u64,
    /// Churn: each cycle's time from when its connection fell due to its echo verified,
    /// ns: the wait for a free slot, the connect, the handshakes and the echo.
    pub cycle: Histogram,
    /// Length of the measured window.
    pub measured: Duration,
    /// Messages meant to be sent in the window, echoed and verified.
    pub messages: u64,
    /// Messages echoed and verified in the whole run (warmup and drain included).
    pub verified: u64,
    /// Round-trip latency, ns.
    pub latency: Histogram,
    /// Connect time, ns.
    pub connect: Histogram,
    /// TLS handshake time after the connect, ns (`tls://`, `wss://`).
    pub tls_handshake: Histogram,
    /// WebSocket upgrade time after the connect or the TLS handshake, ns (`ws://`,
    /// `wss://`).
    pub ws_handshake: Histogram,
    /// Connects that failed or timed out.
    pub connect_failures: u64,
    /// Connections reset by the server, unexpectedly.
    pub resets: u64,
    /// Connections that waited too long for an owed echo.
    pub timeouts: u64,
    /// Echoes that differed from what was sent.
    pub mismatches: u64,
    /// Connections on which the server broke TLS or WebSocket after the handshake.
    pub protocol_errors: u64,
    /// Messages sent and never echoed, not counting those lost to an expected end.
    pub lost: u64,
    /// Connections the server closed, with no echo owed, before the run ended, unexpectedly
    /// (`--idle`: held connections that did not hold).
    pub closed: u64,
    /// Which ends of connections the server announced (`--expect-resets`,
    /// `--expect-closes`).
    pub expect: Expect,
    /// The expected ends: how many, after how many echoed bytes, what they lost.
    pub expected: Expected,
    /// Open loop: messages that fell due in the window (`None`: closed loop, where a
    /// message is due when its connection is free, so every one is sent). Churn:
    /// connections that fell due.
    pub due: Option<u64>,
    /// Open loop: of those, messages never sent (no connection was free in time). Churn:
    /// connections never opened (every slot stayed busy).
    pub unsent: u64,
    /// Connections still open at the end (`--idle`: held to the end).
    pub open_at_end: u64,
    /// The first few errors, in words.
    pub errors: Vec<String>,
    /// CPU time this process used (all threads, whole run).
    pub cpu: Duration,
    /// Wall time of the whole run.
    pub wall: Duration,
    /// Warnings about the run itself (file limits).
    pub notes: Vec<String>,
}

impl Report {
    pub(crate) fn new(
        opts: &BenchOptions,
        threads: usize,
        tallies: Vec<Tally>,
        cpu: Duration,
        wall: Duration,
        notes: Vec<String>,
    ) -> Self {
        let mut r = Report {
            addr: opts.target.to_string(),
            scheme: opts.target.scheme,
            mode: match (opts.idle, opts.connect_rate) {
                (Some(_), _) => "idle",
                (None, Some(_)) => "churn",
                (None, None) => "load",
            },
            connections: opts.idle.map_or(opts.connections, |(n, _)| n),
            connected: 0,
            reconnects: 0,
            size: opts.size,
            pipeline: opts.pipeline,
            threads,
            rate: opts.rate,
            connect_rate: opts.connect_rate,
            cycles: 0,
            cycle: Histogram::default(),
            measured: Duration::ZERO,
            messages: 0,
            verified: 0,
            latency: Histogram::default(),
            connect: Histogram::default(),
            tls_handshake: Histogram::default(),
            ws_handshake: Histogram::default(),
            connect_failures: 0,
            resets: 0,
            timeouts: 0,
            mismatches: 0,
            protocol_errors: 0,
            lost: 0,
            closed: 0,
            expect: opts.expect,
            expected: Expected::default(),
            due: opts
                .rate
                .or(opts.connect_rate)
                .filter(|_| opts.idle.is_none())
                .map(|_| 0),
            unsent: 0,
            open_at_end: 0,
            errors: Vec::new(),
            cpu,
            wall,
            notes,
        };
        let (mut from, mut to) = (u64::MAX, 0u64);
        for t in tallies {
            r.latency.merge(&t.latency);
            r.cycle.merge(&t.cycle);
            r.cycles += t.cycles;
            r.connect.merge(&t.connect);
            r.tls_handshake.merge(&t.tls_handshake);
            r.ws_handshake.merge(&t.ws_handshake);
            r.messages += t.messages;
            r.verified += t.verified;
            r.connected += t.connected;
            r.reconnects += t.reconnects;
            r.expected.merge(&t.expected);
            r.connect_failures += t.connect_failures;
            r.resets += t.resets;
            r.timeouts += t.timeouts;
            r.mismatches += t.mismatches;
            r.protocol_errors += t.protocol_errors;
            r.lost += t.lost;
            r.closed += t.closed;
            r.due = r.due.map(|d| d + t.due);
            r.unsent += t.unsent;
            r.open_at_end += t.open_at_end;
            for e in t.errors {
                if r.errors.len() < 10 {
                    r.errors.push(e);
                }
            }
            from = from.min(t.window.0);
            to = to.max(t.window.1);
        }
        r.measured = Duration::from_nanos(to.saturating_sub(from.min(to)));
        r
    }

    /// Whether the run did what was asked and the server echoed all of it right: no
    /// mismatch, loss, reset, timeout, failed connect or connection closed early, and (open
    /// loop) every message that fell due was sent. A reset or close the user said to expect
    /// is none of these: it is counted, with the messages it lost, in
    /// [`expected`](Self::expected). A run that could not keep its rate has not measured
    /// the load asked for, so it fails too. The process exit status follows this.
    pub fn success(&self) -> bool {
        self.failures().is_empty() && self.connected > 0
    }

    /// What went wrong, in words, most telling first.
    fn failures(&self) -> Vec<String> {
        let counts = [
            (self.mismatches, "mismatch", "mismatches"),
            (self.protocol_errors, "protocol error", "protocol errors"),
            (self.lost, "message lost", "messages lost"),
            (self.resets, "reset", "resets"),
            (self.timeouts, "timeout", "timeouts"),
            (self.connect_failures, "failed connect", "failed connects"),
            (
                self.closed,
                "connection closed by the server",
                "connections closed by the server",
            ),
            if self.mode == "churn" {
                (
                    self.unsent,
                    "due connection never started",
                    "due connections never started",
                )
            } else {
                (self.unsent, "due message not sent", "due messages not sent")
            },
        ];
        let mut out: Vec<String> = counts
            .iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|&(n, one, many)| format!("{} {}", thousands(n), if n == 1 { one } else { many }))
            .collect();
        if self.connected == 0 && out.is_empty() {
            out.push("no connection opened".to_owned());
        }
        out
    }

    fn per_sec(&self, n: u64) -> f64 {
        let secs = self.measured.as_secs_f64();
        if secs > 0.0 {
            n as f64 / secs
        } else {
            0.0
        }
    }

    /// Echoed bytes per second per connection asked for: what a server pacing each
    /// connection (`reverb serve --rate`) should show.
    pub fn bytes_per_sec_per_connection(&self) -> f64 {
        self.per_sec(self.messages) * self.size as f64 / self.connections.max(1) as f64
    }

    /// Round trips per CPU-second of this process: the load generator's own efficiency.
    pub fn round_trips_per_cpu_second(&self) -> f64 {
        let cpu = self.cpu.as_secs_f64();
        if cpu > 0.0 {
            self.verified as f64 / cpu
        } else {
            0.0
        }
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = self.write_text(&mut s);
        s
    }

    fn write_text(&self, s: &mut String) -> std::fmt::Result {
        let lat = |h: &Histogram, p: f64| duration(h.percentile(p));
        if self.mode == "churn" {
            self.write_churn(s)?;
        } else if self.mode == "idle" {
            writeln!(
                s,
                "reverb bench {}: holding {} connections for {:.1} s",
                self.addr,
                self.connections,
                self.measured.as_secs_f64()
            )?;
            writeln!(
                s,
                "  connections  {} opened, {} failed, {} echoed, {} closed by the server, {} still open at the end",
                self.connected, self.connect_failures, self.verified, self.closed, self.open_at_end
            )?;
        } else {
            let loop_kind = match self.rate {
                Some(r) => format!("open loop at {} msg/s", rate(r)),
                None => format!("closed loop, pipeline {}", self.pipeline),
            };
            writeln!(
                s,
                "reverb bench {}: {} connections, {}-byte messages, {}, {} thread{}, {:.1} s",
                self.addr,
                self.connections,
                self.size,
                loop_kind,
                self.threads,
                if self.threads == 1 { "" } else { "s" },
                self.measured.as_secs_f64()
            )?;
            let per_sec = self.per_sec(self.messages);
            writeln!(
                s,
                "  messages    {:>14}  {:>12} msg/s",
                thousands(self.messages),
                rate(per_sec)
            )?;
            if let Some(due) = self.due {
                writeln!(
                    s,
                    "  due         {:>14}  {} sent, {} not sent",
                    thousands(due),
                    thousands(due.saturating_sub(self.unsent)),
                    thousands(self.unsent)
                )?;
            }
            writeln!(
                s,
                "  throughput  {:>11.2} MB/s each way, {} B/s per connection",
                per_sec * self.size as f64 / 1e6,
                thousands(self.bytes_per_sec_per_connection().round() as u64)
            )?;
            writeln!(s, "  latency     {}", spread(&self.latency))?;
        }
        write!(
            s,
            "  connect     p50 {}  p99 {}  max {}",
            lat(&self.connect, 50.0),
            lat(&self.connect, 99.0),
            duration(self.connect.max())
        )?;
        if self.expect.any() {
            write!(s, "  ({} of them reconnects)", thousands(self.reconnects))?;
        }
        if self.mode == "churn" {
            write!(
                s,
                "  connect() to established, {} connections",
                thousands(self.connected)
            )?;
        }
        writeln!(s)?;
        // Each handshake on its own line, timed from when it could begin: TLS from the
        // connect, WebSocket's upgrade from the connect or the end of TLS.
        let handshakes = [
            (
                self.scheme.is_tls(),
                "tls",
                &self.tls_handshake,
                "after the connect",
            ),
            (
                self.scheme.is_ws(),
                "websocket",
                &self.ws_handshake,
                if self.scheme.is_tls() {
                    "after tls"
                } else {
                    "after the connect"
                },
            ),
        ];
        for (_, name, h, from) in handshakes.iter().filter(|(on, ..)| *on) {
            writeln!(
                s,
                "  {name:<10}  p50 {}  p99 {}  max {}  handshake {from}",
                lat(h, 50.0),
                lat(h, 99.0),
                duration(h.max())
            )?;
        }
        if self.expect.resets {
            write_ends(s, "resets", ("reset", "reset"), &self.expected.resets)?;
        }
        if self.expect.closes {
            write_ends(s, "closes", ("close", "closed"), &self.expected.closes)?;
        }
        write!(
            s,
            "  errors      connect {}, reset {}, timeout {}, mismatch {}, lost {}, closed {}",
            self.connect_failures,
            self.resets,
            self.timeouts,
            self.mismatches,
            self.lost,
            self.closed
        )?;
        if self.scheme != Scheme::Tcp {
            write!(s, ", protocol {}", self.protocol_errors)?;
        }
        writeln!(s)?;
        for e in &self.errors {
            writeln!(s, "    {e}")?;
        }
        writeln!(
            s,
            "  bench cpu   {:.2} s over {:.2} s wall ({:.0}% of one core): {} round trips per CPU-second",
            self.cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9),
            thousands(self.round_trips_per_cpu_second() as u64)
        )?;
        for n in &self.notes {
            writeln!(s, "  note: {n}")?;
        }
        if let (Some(due), 1..) = (self.due, self.unsent) {
            writeln!(
                s,
                "  could not keep rate: {} of {} due {} not {}",
                thousands(self.unsent),
                thousands(due),
                if self.mode == "churn" {
                    "connections"
                } else {
                    "messages"
                },
                if self.mode == "churn" {
                    "started"
                } else {
                    "sent"
                },
            )?;
        }
        let verdict = if self.success() {
            let mut ok = format!(
                "ok: every echoed byte verified ({} messages)",
                thousands(self.verified)
            );
            let expected: Vec<String> = [
                (self.expect.resets, self.expected.resets, "resets"),
                (self.expect.closes, self.expected.closes, "closes"),
            ]
            .iter()
            .filter(|(on, _, _)| *on)
            .map(|(_, ends, kind)| format!("{} {kind}", thousands(ends.count)))
            .collect();
            if !expected.is_empty() {
                let _ = write!(ok, "; expected: {}", expected.join(", "));
            }
            ok
        } else {
            format!("FAILED: {}", self.failures().join(", "))
        };
        writeln!(s, "  {verdict}")
    }

    /// Churn's first lines: the connections, their cycle and their one echo.
    fn write_churn(&self, s: &mut String) -> std::fmt::Result {
        writeln!(
            s,
            "reverb bench {}: churn at {} connections/s, at most {} open, one {}-byte message each, {} thread{}, {:.1} s",
            self.addr,
            rate(self.connect_rate.unwrap_or(0.0)),
            self.connections,
            self.size,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.measured.as_secs_f64()
        )?;
        writeln!(
            s,
            "  cycles      {:>14}  {:>12} connections/s (connect, echo verified, close)",
            thousands(self.cycles),
            rate(self.per_sec(self.cycles))
        )?;
        if let Some(due) = self.due {
            writeln!(
                s,
                "  due         {:>14}  {} started, {} never started (every slot busy)",
                thousands(due),
                thousands(due.saturating_sub(self.unsent)),
                thousands(self.unsent)
            )?;
        }
        writeln!(
            s,
            "  cycle       {}  from due to echo verified",
            spread(&self.cycle)
        )?;
        writeln!(s, "  latency     {}  the one echo", spread(&self.latency))?;
        Ok(())
    }

    /// The report for machines: one JSON object. Times in microseconds.
    pub fn json(&self) -> String {
        let us = |ns: u64| ns as f64 / 1000.0;
        let pcts = |h: &Histogram| {
            format!(
                "{{\"p50\":{:.1},\"p90\":{:.1},\"p99\":{:.1},\"p99_9\":{:.1},\"max\":{:.1},\"mean\":{:.1}}}",
                us(h.percentile(50.0)),
                us(h.percentile(90.0)),
                us(h.percentile(99.0)),
                us(h.percentile(99.9)),
                us(h.max()),
                us(h.mean())
            )
        };
        // `null` for a protocol the scheme does not speak.
        let handshake = |on: bool, h: &Histogram| {
            if on {
                pcts(h)
            } else {
                "null".to_owned()
            }
        };
        // Each histogram whole, to merge or compare runs (`null` as for the handshakes),
        // and the latency's percentile table, the distribution HdrHistogram tools plot.
        let encoded = |on: bool, h: &Histogram| {
            if on {
                format!("\"{}\"", h.encoded())
            } else {
                "null".to_owned()
            }
        };
        let table: Vec<String> = PERCENTILE_TABLE
            .iter()
            .map(|&p| format!("[{p},{:.3}]", us(self.latency.percentile(p))))
            .collect();
        let errors: Vec<String> = self
            .errors
            .iter()
            .chain(&self.notes)
            .map(|e| json_string(e))
            .collect();
        format!(
            concat!(
                "{{\"addr\":{},\"scheme\":\"{}\",\"mode\":\"{}\",\"connections\":{},\"connected\":{},\"size\":{},",
                "\"pipeline\":{},\"threads\":{},\"rate\":{},\"seconds\":{:.3},\"messages\":{},",
                "\"verified\":{},\"messages_per_sec\":{:.1},\"mb_per_sec\":{:.3},",
                "\"bytes_per_sec_per_connection\":{:.1},",
                "\"latency_us\":{},\"connect_us\":{},",
                "\"handshake_us\":{{\"tls\":{},\"websocket\":{}}},\"reconnects\":{},",
                "\"connect_failures\":{},\"resets\":{},",
                "\"timeouts\":{},\"mismatches\":{},\"protocol_errors\":{},\"lost\":{},\"closed\":{},",
                "\"expected_resets\":{},\"expected_closes\":{},\"due\":{},",
                "\"unsent\":{},\"open_at_end\":{},",
                "\"cpu_seconds\":{:.3},\"wall_seconds\":{:.3},\"round_trips_per_cpu_second\":{:.0},",
                "\"connect_rate\":{},\"cycles\":{},\"cycles_per_sec\":{:.1},\"cycle_us\":{},",
                "\"latency_percentiles_us\":[{}],",
                "\"histograms\":{{\"unit\":\"ns\",\"encoding\":\"hdrhistogram-v2-deflate-base64\",",
                "\"latency\":{},\"connect\":{},\"tls_handshake\":{},\"ws_handshake\":{}}},",
                "\"ok\":{},\"errors\":[{}]}}"
            ),
            json_string(&self.addr),
            self.scheme.name(),
            self.mode,
            self.connections,
            self.connected,
            self.size,
            self.pipeline,
            self.threads,
            self.rate.map_or("null".to_owned(), |r| format!("{r}")),
            self.measured.as_secs_f64(),
            self.messages,
            self.verified,
            self.per_sec(self.messages),
            self.per_sec(self.messages) * self.size as f64 / 1e6,
            self.bytes_per_sec_per_connection(),
            pcts(&self.latency),
            pcts(&self.connect),
            handshake(self.scheme.is_tls(), &self.tls_handshake),
            handshake(self.scheme.is_ws(), &self.ws_handshake),
            self.reconnects,
            self.connect_failures,
            self.resets,
            self.timeouts,
            self.mismatches,
            self.protocol_errors,
            self.lost,
            self.closed,
            json_ends(self.expect.resets, &self.expected.resets),
            json_ends(self.expect.closes, &self.expected.closes),
            self.due.map_or("null".to_owned(), |d| d.to_string()),
            self.unsent,
            self.open_at_end,
            self.cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.round_trips_per_cpu_second(),
            self.connect_rate.map_or("null".to_owned(), |r| format!("{r}")),
            self.cycles,
            self.per_sec(self.cycles),
            handshake(self.mode == "churn", &self.cycle),
            table.join(","),
            encoded(true, &self.latency),
            encoded(true, &self.connect),
            encoded(self.scheme.is_tls(), &self.tls_handshake),
            encoded(self.scheme.is_ws(), &self.ws_handshake),
            self.success(),
            errors.join(",")
        )
    }
}

/// The percentiles of `--json`'s latency table: HdrHistogram's usual nines, so two
/// runs' tables line up.
const PERCENTILE_TABLE: [f64; 10] = [
    0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 99.999, 100.0,
];

/// One line for the expected ends of one kind: how many, after how many echoed bytes,
/// and the messages in flight lost with them.
/// `kind` names one such end, and what the server did.
fn write_ends(
    s: &mut String,
    label: &str,
    (kind, did): (&str, &str),
    ends: &Ends,
) -> std::fmt::Result {
    match ends.mean_bytes() {
        None => writeln!(s, "  {label:<10}  0 expected: the server {did} no connection"),
        Some(mean) => writeln!(
            s,
            "  {label:<10}  {} expected, after {} B echoed on average (min {}, max {}); {} {} lost to an expected {kind}",
            thousands(ends.count),
            thousands(mean.round() as u64),
            thousands(ends.min_bytes),
            thousands(ends.max_bytes),
            thousands(ends.lost),
            if ends.lost == 1 { "message" } else { "messages" },
        ),
    }
}

/// The expected ends of one kind in JSON: `null` when that kind is not expected.
fn json_ends(expected: bool, ends: &Ends) -> String {
    if !expected {
        return "null".to_owned();
    }
    let bytes = match ends.mean_bytes() {
        Some(mean) => format!(
            "{{\"mean\":{mean:.1},\"min\":{},\"max\":{}}}",
            ends.min_bytes, ends.max_bytes
        ),
        None => "null".to_owned(),
    };
    format!(
        "{{\"count\":{},\"lost\":{},\"echoed_bytes\":{bytes}}}",
        ends.count, ends.lost
    )
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate in messages per second: whole and grouped from 100 up, with up to two
/// decimals below, so that half a message per second does not read as none.
pub(crate) fn rate(r: f64) -> String {
    if r >= 100.0 || !r.is_finite() {
        return thousands(r.round() as u64);
    }
    let s = format!("{r:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Nanoseconds in the unit that reads best.
/// A histogram's report line: `p50 …  p90 …  p99 …  p99.9 …  max …`.
fn spread(h: &Histogram) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        duration(h.percentile(50.0)),
        duration(h.percentile(90.0)),
        duration(h.percentile(99.0)),
        duration(h.percentile(99.9)),
        duration(h.max())
    )
}

fn duration(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{:.1}µs", ns as f64 / 1e3),
        10_000..=999_999 => format!("{:.0}µs", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(rate: Option<f64>) -> BenchOptions {
        BenchOptions {
            target: super::super::Target::parse("127.0.0.1:7").unwrap(),
            addr: "127.0.0.1:7".parse().unwrap(),
            tls: None,
            send_proxy: None,
            connections: 2,
            size: 64,
            duration: Some(Duration::from_secs(3)),
            requests: None,
            warmup: Duration::ZERO,
            pipeline: 1,
            threads: 1,
            line: false,
            rate,
            connect_rate: None,
            timeout: Duration::from_secs(5),
            idle: None,
            expect: Expect::default(),
            progress: false,
        }
    }

    /// A report of one thread that verified `messages` in 3 s.
    fn report(rate: Option<f64>, tally: Tally) -> Report {
        let tally = Tally {
            connected: 2,
            window: (0, 3_000_000_000),
            ..tally
        };
        let second = Duration::from_secs(1);
        Report::new(&options(rate), 1, vec![tally], second, second, vec![])
    }

    #[test]
    fn rates_below_one_keep_their_decimals() {
        assert_eq!(rate(0.5), "0.5");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(rate(2.0), "2");
        assert_eq!(rate(12.34), "12.34");
        assert_eq!(rate(1234.4), "1,234");
        let text = report(
            Some(0.5),
            Tally {
                messages: 1,
                verified: 1,
                ..Tally::default()
            },
        )
        .text();
        assert!(text.contains("open loop at 0.5 msg/s"), "{text}");
        assert!(text.contains("0.33 msg/s"), "1 message in 3 s: {text}");
    }

    #[test]
    fn an_open_loop_that_could_not_keep_its_rate_says_so_and_fails() {
        let r = report(
            Some(200.0),
            Tally {
                messages: 118,
                verified: 118,
                due: 600,
                unsent: 482,
                ..Tally::default()
            },
        );
        assert!(!r.success());
        let text = r.text();
        assert!(
            text.contains("could not keep rate: 482 of 600 due messages not sent"),
            "{text}"
        );
        assert!(text.contains("FAILED: 482 due messages not sent"), "{text}");
        let json = r.json();
        assert!(json.contains("\"due\":600,\"unsent\":482"), "{json}");
        assert!(json.contains("\"ok\":false"), "{json}");
    }

    #[test]
    fn an_open_loop_that_kept_its_rate_accounts_for_every_due_message() {
        let r = report(
            Some(200.0),
            Tally {
                messages: 600,
                verified: 600,
                due: 600,
                ..Tally::default()
            },
        );
        assert!(r.success(), "{}", r.text());
        assert!(
            r.text().contains("600  600 sent, 0 not sent"),
            "{}",
            r.text()
        );
        assert!(!r.text().contains("could not keep rate"));
    }

    #[test]
    fn a_closed_loop_has_no_due_count() {
        let r = report(None, Tally::default());
        assert!(
            r.json().contains("\"due\":null,\"unsent\":0"),
            "{}",
            r.json()
        );
        assert!(!r.text().contains("due "), "{}", r.text());
    }

    #[test]
    fn a_connection_closed_by_the_server_fails_the_run() {
        let r = report(
            None,
            Tally {
                closed: 3,
                ..Tally::default()
            },
        );
        assert!(!r.success());
        assert!(r.text().contains("closed 3"), "{}", r.text());
        assert!(
            r.text()
                .contains("FAILED: 3 connections closed by the server"),
            "{}",
            r.text()
        );
        assert!(r.json().contains("\"closed\":3"), "{}", r.json());
    }

    /// A report of one closed-loop thread under `expect`, with `tally`.
    fn expecting(expect: Expect, tally: Tally) -> Report {
        let opts = BenchOptions {
            expect,
            ..options(None)
        };
        let tally = Tally {
            connected: 2,
            window: (0, 3_000_000_000),
            ..tally
        };
        let second = Duration::from_secs(1);
        Report::new(&opts, 1, vec![tally], second, second, vec![])
    }

    fn ends(list: &[(u64, u64)]) -> Ends {
        let mut ends = Ends::default();
        for &(bytes, lost) in list {
            ends.record(bytes, lost);
        }
        ends
    }

    #[test]
    fn expected_resets_are_counted_on_their_own_line_and_pass() {
        let resets = Expect {
            resets: true,
            closes: false,
        };
        let r = expecting(
            resets,
            Tally {
                messages: 90,
                verified: 90,
                reconnects: 3,
                expected: Expected {
                    resets: ends(&[(1024, 1), (1024, 0), (1024, 1)]),
                    closes: Ends::default(),
                },
                ..Tally::default()
            },
        );
        assert!(r.success(), "{}", r.text());
        let text = r.text();
        assert!(
            text.contains(
                "  resets      3 expected, after 1,024 B echoed on average (min 1,024, max 1,024); \
                 2 messages lost to an expected reset\n"
            ),
            "{text}"
        );
        assert!(text.contains("(3 of them reconnects)"), "{text}");
        assert!(!text.contains("  closes "), "closes not expected: {text}");
        assert!(text.contains("reset 0,"), "no unexpected reset: {text}");
        assert!(
            text.contains("ok: every echoed byte verified (90 messages); expected: 3 resets\n"),
            "{text}"
        );
        let json = r.json();
        assert!(
            json.contains(concat!(
                "\"expected_resets\":{\"count\":3,\"lost\":2,",
                "\"echoed_bytes\":{\"mean\":1024.0,\"min\":1024,\"max\":1024}},",
                "\"expected_closes\":null"
            )),
            "{json}"
        );
        assert!(json.contains("\"reconnects\":3"), "{json}");
        assert!(json.contains("\"ok\":true"), "{json}");
    }

    #[test]
    fn an_expected_kind_that_never_happened_says_so() {
        let both = Expect {
            resets: true,
            closes: true,
        };
        let r = expecting(
            both,
            Tally {
                expected: Expected {
                    resets: Ends::default(),
                    closes: ends(&[(100, 0), (300, 2)]),
                },
                ..Tally::default()
            },
        );
        let text = r.text();
        assert!(
            text.contains("  resets      0 expected: the server reset no connection\n"),
            "{text}"
        );
        assert!(
            text.contains("after 200 B echoed on average (min 100, max 300); 2 messages lost to an expected close"),
            "{text}"
        );
        assert!(text.contains("expected: 0 resets, 2 closes"), "{text}");
        let json = r.json();
        assert!(
            json.contains("\"expected_resets\":{\"count\":0,\"lost\":0,\"echoed_bytes\":null}"),
            "{json}"
        );
    }

    #[test]
    fn expecting_one_kind_of_end_does_not_excuse_anything_else() {
        let resets = Expect {
            resets: true,
            closes: false,
        };
        let r = expecting(
            resets,
            Tally {
                closed: 1,
                lost: 2,
                expected: Expected {
                    resets: ends(&[(64, 1)]),
                    closes: Ends::default(),
                },
                ..Tally::default()
            },
        );
        assert!(!r.success());
        assert!(
            r.text()
                .contains("FAILED: 2 messages lost, 1 connection closed by the server"),
            "{}",
            r.text()
        );
    }

    #[test]
    fn throughput_per_connection_is_in_bytes_as_the_server_paces_it() {
        // 96 messages of 64 bytes in 3 s over 2 connections: 1,024 B/s each.
        let r = report(
            None,
            Tally {
                messages: 96,
                verified: 96,
                ..Tally::default()
            },
        );
        assert_eq!(r.bytes_per_sec_per_connection(), 1024.0);
        assert!(
            r.text().contains("each way, 1,024 B/s per connection"),
            "{}",
            r.text()
        );
        assert!(
            r.json().contains("\"bytes_per_sec_per_connection\":1024.0"),
            "{}",
            r.json()
        );
    }

    /// A churn report of one thread: `due` connections fell due in 3 s, `cycles` of them
    /// went round, `unsent` never started.
    fn churn(due: u64, cycles: u64, unsent: u64) -> Report {
        let opts = BenchOptions {
            connect_rate: Some(100.0),
            ..options(None)
        };
        let mut cycle = Histogram::default();
        for k in 1..=cycles {
            cycle.record(k * 1_000);
        }
        let tally = Tally {
            connected: cycles,
            verified: cycles,
            messages: cycles,
            window: (0, 3_000_000_000),
            due,
            unsent,
            cycles,
            cycle,
            ..Tally::default()
        };
        let second = Duration::from_secs(1);
        Report::new(&opts, 1, vec![tally], second, second, vec![])
    }

    #[test]
    fn a_churn_report_counts_connections_and_times_their_cycles() {
        let r = churn(300, 300, 0);
        assert!(r.success(), "{}", r.text());
        let text = r.text();
        assert!(
            text.contains("churn at 100 connections/s, at most 2 open, one 64-byte message each"),
            "{text}"
        );
        assert!(
            text.contains("  cycles                 300           100 connections/s"),
            "{text}"
        );
        assert!(
            text.contains("300  300 started, 0 never started (every slot busy)"),
            "{text}"
        );
        assert!(text.contains("  cycle       p50 150µs"), "{text}");
        assert!(
            text.contains("connect() to established, 300 connections"),
            "{text}"
        );
        let json = r.json();
        assert!(json.contains("\"mode\":\"churn\""), "{json}");
        assert!(
            json.contains("\"connect_rate\":100,\"cycles\":300,\"cycles_per_sec\":100.0,"),
            "{json}"
        );
        assert!(json.contains("\"cycle_us\":{\"p50\":150.0,"), "{json}");
    }

    #[test]
    fn churn_that_could_not_start_its_connections_fails_and_says_so() {
        let r = churn(300, 200, 100);
        assert!(!r.success());
        let text = r.text();
        assert!(
            text.contains("could not keep rate: 100 of 300 due connections not started"),
            "{text}"
        );
        assert!(
            text.contains("FAILED: 100 due connections never started"),
            "{text}"
        );
    }

    #[test]
    fn the_json_carries_each_histogram_whole_and_a_percentile_table() {
        let mut latency = Histogram::default();
        for v in [10_000, 20_000, 30_000] {
            latency.record(v);
        }
        let r = report(
            None,
            Tally {
                latency,
                messages: 3,
                verified: 3,
                ..Tally::default()
            },
        );
        let json = r.json();
        assert!(
            json.contains("\"latency_percentiles_us\":[[0,10.000],[50,20.015],"),
            "{json}"
        );
        assert!(json.contains("[100,30.000]]"), "{json}");
        assert!(
            json.contains("\"histograms\":{\"unit\":\"ns\",\"encoding\":\"hdrhistogram-v2-deflate-base64\",\"latency\":\"HISTF"),
            "{json}"
        );
        assert!(
            json.contains("\"tls_handshake\":null,\"ws_handshake\":null}"),
            "{json}"
        );
        assert!(json.contains("\"cycle_us\":null"), "no churn: {json}");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration(1500), "1.5µs");
        assert_eq!(duration(2_500_000), "2.50ms");
        assert_eq!(json_string("a\"b\n"), "\"a\\\"b\\u000a\"");
    }
}
