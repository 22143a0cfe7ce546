//! What a run measured, as text for people and JSON for machines.

use std::fmt::Write as _;
use std::time::Duration;

use super::histogram::Histogram;
use super::worker::Tally;
use super::BenchOptions;

/// The merged result of every thread.
#[derive(Debug)]
pub struct Report {
    /// The server.
    pub addr: String,
    /// `load` or `idle`.
    pub mode: &'static str,
    /// Connections asked for.
    pub connections: usize,
    /// Connections that were established.
    pub connected: u64,
    /// Bytes per message.
    pub size: usize,
    /// Messages in flight per connection.
    pub pipeline: usize,
    /// Bench threads.
    pub threads: usize,
    /// Open-loop rate asked for.
    pub rate: Option<f64>,
    /// Length of the measured window.
    pub measured: Duration,
    /// Messages echoed and verified in the window.
    pub messages: u64,
    /// Messages echoed and verified in the whole run (warmup and drain included).
    pub verified: u64,
    /// Round-trip latency, ns.
    pub latency: Histogram,
    /// Connect time, ns.
    pub connect: Histogram,
    /// Connects that failed or timed out.
    pub connect_failures: u64,
    /// Connections reset by the server.
    pub resets: u64,
    /// Connections that waited too long for an owed echo.
    pub timeouts: u64,
    /// Echoes that differed from what was sent.
    pub mismatches: u64,
    /// Messages sent and never echoed.
    pub lost: u64,
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
            addr: opts.addr.to_string(),
            mode: if opts.idle.is_some() { "idle" } else { "load" },
            connections: opts.idle.map_or(opts.connections, |(n, _)| n),
            connected: 0,
            size: opts.size,
            pipeline: opts.pipeline,
            threads,
            rate: opts.rate,
            measured: Duration::ZERO,
            messages: 0,
            verified: 0,
            latency: Histogram::default(),
            connect: Histogram::default(),
            connect_failures: 0,
            resets: 0,
            timeouts: 0,
            mismatches: 0,
            lost: 0,
            open_at_end: 0,
            errors: Vec::new(),
            cpu,
            wall,
            notes,
        };
        let (mut from, mut to) = (u64::MAX, 0u64);
        for t in tallies {
            r.latency.merge(&t.latency);
            r.connect.merge(&t.connect);
            r.messages += t.messages;
            r.verified += t.verified;
            r.connected += t.connected;
            r.connect_failures += t.connect_failures;
            r.resets += t.resets;
            r.timeouts += t.timeouts;
            r.mismatches += t.mismatches;
            r.lost += t.lost;
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

    /// Whether the server echoed everything right: no mismatch, loss, reset, timeout or
    /// failed connect. The process exit status follows this.
    pub fn success(&self) -> bool {
        self.mismatches == 0
            && self.lost == 0
            && self.resets == 0
            && self.timeouts == 0
            && self.connect_failures == 0
            && self.connected > 0
    }

    fn per_sec(&self, n: u64) -> f64 {
        let secs = self.measured.as_secs_f64();
        if secs > 0.0 {
            n as f64 / secs
        } else {
            0.0
        }
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
        if self.mode == "idle" {
            writeln!(
                s,
                "reverb bench {}: holding {} connections for {:.1} s",
                self.addr,
                self.connections,
                self.measured.as_secs_f64()
            )?;
            writeln!(
                s,
                "  connections  {} opened, {} failed, {} echoed, {} still open at the end",
                self.connected, self.connect_failures, self.verified, self.open_at_end
            )?;
        } else {
            let loop_kind = match self.rate {
                Some(r) => format!("open loop at {} msg/s", thousands(r as u64)),
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
            let rate = self.per_sec(self.messages);
            writeln!(
                s,
                "  messages    {:>14}  {:>12} msg/s",
                thousands(self.messages),
                thousands(rate as u64)
            )?;
            writeln!(
                s,
                "  throughput  {:>11.2} MB/s each way",
                rate * self.size as f64 / 1e6
            )?;
            writeln!(
                s,
                "  latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                lat(&self.latency, 50.0),
                lat(&self.latency, 90.0),
                lat(&self.latency, 99.0),
                lat(&self.latency, 99.9),
                duration(self.latency.max())
            )?;
        }
        writeln!(
            s,
            "  connect     p50 {}  p99 {}  max {}",
            lat(&self.connect, 50.0),
            lat(&self.connect, 99.0),
            duration(self.connect.max())
        )?;
        writeln!(
            s,
            "  errors      connect {}, reset {}, timeout {}, mismatch {}, lost {}",
            self.connect_failures, self.resets, self.timeouts, self.mismatches, self.lost
        )?;
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
        let verdict = if self.success() {
            format!(
                "ok: every echoed byte verified ({} messages)",
                thousands(self.verified)
            )
        } else {
            "FAILED: the echo was not exact or not complete".to_owned()
        };
        writeln!(s, "  {verdict}")
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
        let errors: Vec<String> = self
            .errors
            .iter()
            .chain(&self.notes)
            .map(|e| json_string(e))
            .collect();
        format!(
            concat!(
                "{{\"addr\":{},\"mode\":\"{}\",\"connections\":{},\"connected\":{},\"size\":{},",
                "\"pipeline\":{},\"threads\":{},\"rate\":{},\"seconds\":{:.3},\"messages\":{},",
                "\"verified\":{},\"messages_per_sec\":{:.1},\"mb_per_sec\":{:.3},",
                "\"latency_us\":{},\"connect_us\":{},\"connect_failures\":{},\"resets\":{},",
                "\"timeouts\":{},\"mismatches\":{},\"lost\":{},\"open_at_end\":{},",
                "\"cpu_seconds\":{:.3},\"wall_seconds\":{:.3},\"round_trips_per_cpu_second\":{:.0},",
                "\"ok\":{},\"errors\":[{}]}}"
            ),
            json_string(&self.addr),
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
            pcts(&self.latency),
            pcts(&self.connect),
            self.connect_failures,
            self.resets,
            self.timeouts,
            self.mismatches,
            self.lost,
            self.open_at_end,
            self.cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.round_trips_per_cpu_second(),
            self.success(),
            errors.join(",")
        )
    }
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

/// Nanoseconds in the unit that reads best.
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

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration(1500), "1.5µs");
        assert_eq!(duration(2_500_000), "2.50ms");
        assert_eq!(json_string("a\"b\n"), "\"a\\\"b\\u000a\"");
    }
}
