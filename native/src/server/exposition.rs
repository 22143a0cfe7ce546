//! `/metrics`: every worker's cells added up per listener, in the Prometheus text format
//! (version 0.0.4) as `prometheus-client` writes it. The cells are read at scrape time
//! (a [`Collector`]), so counting costs the event loops nothing beyond their own cells.

use std::sync::Arc;
use std::time::Instant as StdInstant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use reverb_core::{CloseClass, Timer};

use super::metrics::{
    timer_name, ListenerCells, Refusal, UdpCells, Unanswered, WorkerMetrics, LATENCY_BOUNDS_NS,
};

/// The `Content-Type` of what [`Exposition::render`] writes.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A listener's labels: its URL (`tcp://127.0.0.1:7007`) and protocol (`tcp`).
#[derive(Debug, Clone)]
pub(crate) struct ListenerLabels {
    pub(crate) url: String,
    pub(crate) protocol: &'static str,
}

/// Renders `/metrics`.
#[derive(Debug)]
pub(crate) struct Exposition {
    registry: Registry,
}

impl Exposition {
    /// `tcp` and `udp` label the workers' cells by the same index.
    pub(crate) fn new(
        tcp: Vec<ListenerLabels>,
        udp: Vec<ListenerLabels>,
        workers: Vec<Arc<WorkerMetrics>>,
    ) -> Self {
        let mut registry = Registry::default();
        registry.register(
            "reverb_build",
            "The running reverb's version (the value is always 1)",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register_collector(Box::new(Cells {
            tcp,
            udp,
            workers,
            started: StdInstant::now(),
        }));
        Exposition { registry }
    }

    /// The whole exposition, as of now.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail, and every value is a number or a label
        // the encoder escapes.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The collector: reads every worker's cells on each scrape.
#[derive(Debug)]
struct Cells {
    tcp: Vec<ListenerLabels>,
    udp: Vec<ListenerLabels>,
    workers: Vec<Arc<WorkerMetrics>>,
    started: StdInstant,
}

impl Cells {
    /// One TCP listener's count over all workers.
    fn tcp_sum(&self, listener: usize, count: impl Fn(&ListenerCells) -> u64) -> u64 {
        self.workers
            .iter()
            .filter_map(|w| w.tcp.get(listener))
            .map(count)
            .sum()
    }

    fn udp_sum(&self, socket: usize, count: impl Fn(&UdpCells) -> u64) -> u64 {
        self.workers
            .iter()
            .filter_map(|w| w.udp.get(socket))
            .map(count)
            .sum()
    }

    /// A counter family with a value per TCP listener.
    fn tcp_counter(
        &self,
        encoder: &mut DescriptorEncoder<'_>,
        name: &str,
        help: &str,
        count: impl Fn(&ListenerCells) -> u64,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (i, l) in self.tcp.iter().enumerate() {
            let labels = [("listener", l.url.as_str()), ("protocol", l.protocol)];
            ConstCounter::new(self.tcp_sum(i, &count)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// A counter family with a value per TCP listener and per value of one more label.
    fn tcp_counter_by<T: Copy>(
        &self,
        encoder: &mut DescriptorEncoder<'_>,
        (name, help): (&str, &str),
        (key, values): (&str, &[(T, &str)]),
        count: impl Fn(&ListenerCells, T) -> u64,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (i, l) in self.tcp.iter().enumerate() {
            for &(value, label) in values {
                let labels = [
                    ("listener", l.url.as_str()),
                    ("protocol", l.protocol),
                    (key, label),
                ];
                let total = self.tcp_sum(i, |c| count(c, value));
                ConstCounter::new(total).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    /// Bytes in or out: TCP listeners and UDP addresses in one family.
    fn bytes(
        &self,
        encoder: &mut DescriptorEncoder<'_>,
        (name, help): (&str, &str),
        tcp: impl Fn(&ListenerCells) -> u64,
        udp: impl Fn(&UdpCells) -> u64,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (i, l) in self.tcp.iter().enumerate() {
            let labels = [("listener", l.url.as_str()), ("protocol", l.protocol)];
            ConstCounter::new(self.tcp_sum(i, &tcp)).encode(family.encode_family(&labels)?)?;
        }
        for (i, l) in self.udp.iter().enumerate() {
            let labels = [("listener", l.url.as_str()), ("protocol", l.protocol)];
            ConstCounter::new(self.udp_sum(i, &udp)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn latency(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "reverb_echo_latency_seconds",
            "Time from the event loop waking to read bytes to having written all of their \
             echo, measured inside the server",
            None,
            MetricType::Histogram,
        )?;
        for (i, l) in self.tcp.iter().enumerate() {
            let mut plain = [0u64; LATENCY_BOUNDS_NS.len() + 1];
            let mut sum_ns = 0u64;
            for worker in &self.workers {
                if let Some(cells) = worker.tcp.get(i) {
                    let (buckets, sum) = cells.latency.read();
                    for (total, n) in plain.iter_mut().zip(buckets) {
                        *total += n;
                    }
                    sum_ns += sum;
                }
            }
            // Plain counts per bucket: the encoder makes them cumulative, as Prometheus
            // reads them, and adds the `+Inf` bucket (the count).
            let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS_NS
                .iter()
                .map(|&ns| ns as f64 / 1e9)
                .zip(plain)
                .collect();
            let count = plain.iter().sum();
            let labels = [("listener", l.url.as_str()), ("protocol", l.protocol)];
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum_ns as f64 / 1e9, count, &buckets, None)?;
        }
        Ok(())
    }
}

impl Collector for Cells {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        let uptime = ConstGauge::new(self.started.elapsed().as_secs_f64());
        uptime.encode(e.encode_descriptor(
            "reverb_uptime_seconds",
            "Seconds since the server started",
            None,
            MetricType::Gauge,
        )?)?;
        let mut open = e.encode_descriptor(
            "reverb_connections_open",
            "TCP connections open now",
            None,
            MetricType::Gauge,
        )?;
        for (i, l) in self.tcp.iter().enumerate() {
            let labels = [("listener", l.url.as_str()), ("protocol", l.protocol)];
            let accepted = self.tcp_sum(i, |c| c.accepted.get());
            let closed = self.tcp_sum(i, |c| c.closed.iter().map(|n| n.get()).sum());
            // Each cell is read once, accepted first: a close counted in between can
            // only make the difference smaller, never negative.
            let now = accepted.saturating_sub(closed) as i64;
            ConstGauge::new(now).encode(open.encode_family(&labels)?)?;
        }
        self.tcp_counter(
            e,
            "reverb_connections_accepted",
            "TCP connections accepted",
            |c| c.accepted.get(),
        )?;
        let refusals = Refusal::ALL.map(|r| (r, r.name()));
        self.tcp_counter_by(
            e,
            (
                "reverb_connections_refused",
                "TCP connections closed at once, without reading, by reason",
            ),
            ("reason", &refusals),
            |c, r| c.refused[r as usize].get(),
        )?;
        let classes = CloseClass::ALL.map(|c| (c, c.name()));
        self.tcp_counter_by(
            e,
            (
                "reverb_connections_closed",
                "TCP connections closed, by how they ended",
            ),
            ("reason", &classes),
            |c, class| c.closed[class as usize].get(),
        )?;
        self.bytes(
            e,
            ("reverb_received_bytes", "Bytes read from clients"),
            |c| c.bytes_in.get(),
            |u| u.bytes_in.get(),
        )?;
        self.bytes(
            e,
            ("reverb_sent_bytes", "Bytes written to clients"),
            |c| c.bytes_out.get(),
            |u| u.bytes_out.get(),
        )?;
        self.tcp_counter(
            e,
            "reverb_frames_echoed",
            "Frames echoed over TCP (lines, chunks, messages, requests)",
            |c| c.frames.get(),
        )?;
        self.tcp_counter(
            e,
            "reverb_backpressure_pauses",
            "Times a connection stopped reading because its pending echo reached the high \
             watermark",
            |c| c.pauses.get(),
        )?;
        let timers = Timer::ALL.map(|t| (t, timer_name(t)));
        self.tcp_counter_by(
            e,
            (
                "reverb_timer_firings",
                "Connection timers that fired, by timer",
            ),
            ("timer", &timers),
            |c, t| c.timers[t as usize].get(),
        )?;
        self.latency(e)?;
        if self.udp.is_empty() {
            return Ok(());
        }
        let mut echoed = e.encode_descriptor(
            "reverb_datagrams_echoed",
            "UDP datagrams answered",
            None,
            MetricType::Counter,
        )?;
        for (i, l) in self.udp.iter().enumerate() {
            let labels = [("listener", l.url.as_str()), ("protocol", l.protocol)];
            let n = self.udp_sum(i, |u| u.echoed.get());
            ConstCounter::new(n).encode(echoed.encode_family(&labels)?)?;
        }
        let mut dropped = e.encode_descriptor(
            "reverb_datagrams_dropped",
            "UDP datagrams not answered, by reason",
            None,
            MetricType::Counter,
        )?;
        for (i, l) in self.udp.iter().enumerate() {
            for why in Unanswered::ALL {
                let labels = [
                    ("listener", l.url.as_str()),
                    ("protocol", l.protocol),
                    ("reason", why.name()),
                ];
                let n = self.udp_sum(i, |u| u.dropped[why as usize].get());
                ConstCounter::new(n).encode(dropped.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn labels(url: &str, protocol: &'static str) -> ListenerLabels {
        ListenerLabels {
            url: url.to_owned(),
            protocol,
        }
    }

    #[test]
    fn every_worker_is_added_up_per_listener() {
        let workers: Vec<_> = (0..2).map(|_| Arc::new(WorkerMetrics::new(1, 1))).collect();
        for (w, opened) in workers.iter().zip([3, 2]) {
            let cells = &w.tcp[0];
            cells.accepted.add(opened);
            cells.closed(CloseClass::Graceful);
            cells.bytes_in.add(100);
            cells.timer(Timer::Idle);
            cells.latency.observe(Duration::from_micros(20));
            cells.latency.observe(Duration::from_millis(2));
            w.udp[0].echoed.set(7);
        }
        let exposition = Exposition::new(
            vec![labels("tcp://127.0.0.1:7007", "tcp")],
            vec![labels("udp://127.0.0.1:7007", "udp")],
            workers,
        );
        let text = exposition.render();
        let tcp = r#"listener="tcp://127.0.0.1:7007",protocol="tcp""#;
        for line in [
            format!("reverb_connections_open{{{tcp}}} 3"),
            format!("reverb_connections_accepted_total{{{tcp}}} 5"),
            format!(r#"reverb_connections_closed_total{{{tcp},reason="graceful"}} 2"#),
            format!("reverb_received_bytes_total{{{tcp}}} 200"),
            format!(r#"reverb_timer_firings_total{{{tcp},timer="idle"}} 2"#),
            format!(r#"reverb_echo_latency_seconds_bucket{{{tcp},le="2.5e-05"}} 2"#),
            format!(r#"reverb_echo_latency_seconds_bucket{{{tcp},le="0.001"}} 2"#),
            format!(r#"reverb_echo_latency_seconds_bucket{{{tcp},le="0.0025"}} 4"#),
            format!(r#"reverb_echo_latency_seconds_bucket{{{tcp},le="+Inf"}} 4"#),
            format!("reverb_echo_latency_seconds_count{{{tcp}}} 4"),
            r#"reverb_datagrams_echoed_total{listener="udp://127.0.0.1:7007",protocol="udp"} 14"#
                .to_owned(),
            format!(
                r#"reverb_build_info{{version="{}"}} 1"#,
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
