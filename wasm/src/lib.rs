//! JavaScript bindings over reverb-core, for the browser playground.
//!
//! This is the only crate that knows JavaScript, and it has no echo logic of its own: each
//! method converts its arguments, calls [`reverb_core::Registry`] once, and converts the
//! result back into plain JS values.
//!
//! # Conventions
//! - **Time** is a JS number of milliseconds since the page's epoch ([`Instant`]).
//! - **Connection ids** are [`ConnId::to_bits`] as a JS number (exact below 2^53).
//! - **Config** is a plain object with [`Config`]'s field names; absent fields keep their
//!   defaults, unknown names are an error (a typo must not silently fall back to a
//!   default). Durations are ms or `null` (off); words and affixes are strings or
//!   `Uint8Array`s, words `null` for off; `framing` is `"raw"`, `"line"` or `"collect"`.
//! - **Inputs** are plain objects mirroring [`Input`]: `{kind: "received", bytes}`,
//!   `{kind: "peer_closed"}`, `{kind: "written", n}`, `{kind: "writable"}`,
//!   `{kind: "tick"}`, `{kind: "shutdown"}`, `{kind: "reset"}`.
//! - **Outputs** are plain objects mirroring [`Output`]: `{kind: "event", event, …}`,
//!   `{kind: "transmit", bytes}` (a copy: JS cannot hold the core's borrow),
//!   `{kind: "close_write"}`, `{kind: "release", reason, graceful}`,
//!   `{kind: "timeout", at}` (`at` is `null` for "no deadline").
//!
//! The run-loop contract of the [core's crate docs](reverb_core) applies unchanged: after
//! every input drain [`Registry::poll_output`] until `timeout`, and answer every
//! `transmit` with a `written` input before polling again.

use core::time::Duration;

use js_sys::{Array, Object, Reflect, Uint8Array};
use reverb_core::{
    CloseReason, Config, ConnId, Counters, Deadlines, Event, Framing, Input, Instant, Output,
    Snapshot, Timer,
};
use wasm_bindgen::prelude::*;

/// Every field name [`Config`] has, so that an unknown name can be refused.
const CONFIG_FIELDS: [&str; 19] = [
    "framing",
    "prefix",
    "suffix",
    "quit_word",
    "fault_word",
    "max_frames",
    "max_line",
    "high_watermark",
    "low_watermark",
    "max_collect",
    "idle_timeout",
    "frame_timeout",
    "write_stall_timeout",
    "flush_timeout",
    "linger",
    "shutdown_timeout",
    "max_connections",
    "max_datagram",
    "record_frames",
];

/// A [`reverb_core::Registry`] for JavaScript: the connections of one simulated server.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Registry {
    inner: reverb_core::Registry,
}

#[wasm_bindgen]
impl Registry {
    /// A registry whose connections use `config` (a plain object, see the crate docs).
    /// Throws with the core's message if the config is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<Registry, JsError> {
        let config = config_from_js(&config)?
            .validate()
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Registry {
            inner: reverb_core::Registry::new(config),
        })
    }

    /// Registers a new connection at `now`; returns its id. Throws if refused.
    pub fn accept(&mut self, now: f64) -> Result<f64, JsError> {
        let id = self
            .inner
            .accept(instant(now))
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(id.to_bits() as f64)
    }

    /// Feeds one input (a plain object, see the crate docs) to a connection; returns how
    /// many bytes of a `received` input were taken. Throws for a stale id.
    pub fn handle_input(&mut self, id: f64, now: f64, input: JsValue) -> Result<usize, JsError> {
        let kind = get_string(&input, "kind")?.unwrap_or_default();
        let bytes;
        let input = match kind.as_str() {
            "received" => {
                bytes = get_bytes(&input, "bytes")?.unwrap_or_default();
                Input::Received(&bytes)
            }
            "peer_closed" => Input::PeerClosed,
            "written" => Input::Written(get_usize(&input, "n")?.unwrap_or(0)),
            "writable" => Input::Writable,
            "tick" => Input::Tick,
            "shutdown" => Input::Shutdown,
            "reset" => Input::Reset,
            other => return Err(JsError::new(&format!("unknown input kind {other:?}"))),
        };
        self.inner
            .handle_input(conn_id(id), instant(now), input)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// The next output of a connection, as a plain object; `{kind: "timeout", at: null}`
    /// for a released or unknown id.
    pub fn poll_output(&mut self, id: f64) -> JsValue {
        output_to_js(self.inner.poll_output(conn_id(id)))
    }

    /// Fires the timers due at `now`; then drain every id [`Self::poll_ready`] returns.
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(instant(now));
    }

    /// A connection changed by a timer or a shutdown, to be drained; `undefined` when none.
    pub fn poll_ready(&mut self) -> Option<f64> {
        self.inner.poll_ready().map(|id| id.to_bits() as f64)
    }

    /// The earliest deadline of any connection (ms), or `undefined`.
    pub fn next_deadline(&mut self) -> Option<f64> {
        self.inner.next_deadline().map(millis)
    }

    /// Asks every connection to shut down; drain what [`Self::poll_ready`] names.
    pub fn shutdown(&mut self, now: f64) {
        self.inner.shutdown(instant(now));
    }

    /// How many bytes the connection takes now (0 for an unknown id). Read at most this.
    /// While lingering it is `usize::MAX` (2^32 − 1 on wasm32): anything is taken and dropped.
    pub fn receive_capacity(&self, id: f64) -> f64 {
        self.inner
            .get(conn_id(id))
            .map_or(0.0, |c| c.receive_capacity() as f64)
    }

    /// Whether output is pending: register for writability only then.
    pub fn wants_write(&self, id: f64) -> bool {
        self.inner.get(conn_id(id)).is_some_and(|c| c.wants_write())
    }

    /// A plain-object view of one connection's buffers, timers and counters, or
    /// `undefined` once it is released.
    pub fn snapshot(&self, id: f64) -> JsValue {
        self.inner
            .get(conn_id(id))
            .map_or(JsValue::UNDEFINED, |c| snapshot_to_js(&c.snapshot()))
    }

    /// The registry-wide counters as a plain object.
    pub fn counters(&self) -> JsValue {
        let c = self.inner.counters();
        let o = Object::new();
        set(&o, "accepted", c.accepted as f64);
        set(&o, "refused", c.refused as f64);
        set(&o, "active", c.active as f64);
        set(&o, "peak_active", c.peak_active as f64);
        set(&o, "closed", c.closed as f64);
        set(&o, "graceful", c.graceful as f64);
        set(&o, "faults", c.faults as f64);
        set(&o, "peer_errors", c.peer_errors as f64);
        set(&o, "timeouts", c.timeouts as f64);
        set(&o, "resets", c.resets as f64);
        set(&o, "bytes_in", c.bytes_in as f64);
        set(&o, "bytes_out", c.bytes_out as f64);
        set(&o, "frames", c.frames as f64);
        o.into()
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// The config the core uses when a field is left out, as a plain object: the page shows
/// these as its defaults.
#[wasm_bindgen]
pub fn default_config() -> JsValue {
    let c = Config::default();
    let o = Object::new();
    set(&o, "framing", c.echo.framing.name());
    set(&o, "prefix", text(&c.echo.prefix));
    set(&o, "suffix", text(&c.echo.suffix));
    set(
        &o,
        "quit_word",
        nullable(c.echo.quit_word.as_deref().map(text)),
    );
    set(
        &o,
        "fault_word",
        nullable(c.echo.fault_word.as_deref().map(text)),
    );
    set(
        &o,
        "max_frames",
        nullable(c.echo.max_frames.map(|n| n as f64)),
    );
    set(&o, "max_line", c.echo.max_line as f64);
    set(&o, "high_watermark", c.echo.high_watermark as f64);
    set(&o, "low_watermark", c.echo.low_watermark as f64);
    set(&o, "max_collect", c.echo.max_collect as f64);
    set(
        &o,
        "idle_timeout",
        nullable(c.stream.idle_timeout.map(duration_ms)),
    );
    set(
        &o,
        "frame_timeout",
        nullable(c.echo.frame_timeout.map(duration_ms)),
    );
    set(
        &o,
        "write_stall_timeout",
        nullable(c.stream.write_stall_timeout.map(duration_ms)),
    );
    set(&o, "flush_timeout", duration_ms(c.stream.flush_timeout));
    set(&o, "linger", nullable(c.stream.linger.map(duration_ms)));
    set(
        &o,
        "shutdown_timeout",
        duration_ms(c.stream.shutdown_timeout),
    );
    set(&o, "max_connections", c.stream.max_connections as f64);
    set(&o, "max_datagram", c.echo.max_datagram as f64);
    set(&o, "record_frames", c.echo.record_frames);
    o.into()
}

// ---- JS → core ----------------------------------------------------------------------------

fn instant(ms: f64) -> Instant {
    // `as` saturates: NaN and negatives become 0, which the core treats as "no later".
    Instant::from_millis(ms as u64)
}

fn millis(at: Instant) -> f64 {
    at.as_millis() as f64
}

fn conn_id(bits: f64) -> ConnId {
    ConnId::from_bits(bits as u64)
}

fn duration_ms(d: Duration) -> f64 {
    d.as_millis() as f64
}

fn config_from_js(js: &JsValue) -> Result<Config, JsError> {
    let mut c = Config::default();
    if js.is_undefined() || js.is_null() {
        return Ok(c);
    }
    if !js.is_object() {
        return Err(JsError::new("config must be an object"));
    }
    for key in Object::keys(js.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !CONFIG_FIELDS.contains(&key.as_str()) {
            return Err(JsError::new(&format!("unknown config field {key:?}")));
        }
    }
    if let Some(f) = get_string(js, "framing")? {
        c.echo.framing = f
            .parse::<Framing>()
            .map_err(|e| JsError::new(&e.to_string()))?;
    }
    if let Some(b) = get_bytes(js, "prefix")? {
        c.echo.prefix = b;
    }
    if let Some(b) = get_bytes(js, "suffix")? {
        c.echo.suffix = b;
    }
    if has(js, "quit_word") {
        c.echo.quit_word = get_bytes(js, "quit_word")?;
    }
    if has(js, "fault_word") {
        c.echo.fault_word = get_bytes(js, "fault_word")?;
    }
    if has(js, "max_frames") {
        c.echo.max_frames = get_usize(js, "max_frames")?.map(|n| n as u64);
    }
    for (name, field) in [
        ("max_line", &mut c.echo.max_line),
        ("high_watermark", &mut c.echo.high_watermark),
        ("low_watermark", &mut c.echo.low_watermark),
        ("max_collect", &mut c.echo.max_collect),
        ("max_connections", &mut c.stream.max_connections),
        ("max_datagram", &mut c.echo.max_datagram),
    ] {
        if let Some(n) = get_usize(js, name)? {
            *field = n;
        }
    }
    for (name, field) in [
        ("idle_timeout", &mut c.stream.idle_timeout),
        ("frame_timeout", &mut c.echo.frame_timeout),
        ("write_stall_timeout", &mut c.stream.write_stall_timeout),
        ("linger", &mut c.stream.linger),
    ] {
        if has(js, name) {
            *field = get_usize(js, name)?.map(|ms| Duration::from_millis(ms as u64));
        }
    }
    for (name, field) in [
        ("shutdown_timeout", &mut c.stream.shutdown_timeout),
        ("flush_timeout", &mut c.stream.flush_timeout),
    ] {
        if let Some(ms) = get_usize(js, name)? {
            *field = Duration::from_millis(ms as u64);
        }
    }
    if let Some(b) = Reflect::get(js, &"record_frames".into())
        .ok()
        .and_then(|v| v.as_bool())
    {
        c.echo.record_frames = b;
    }
    Ok(c)
}

/// Whether `obj` has the key at all (so that `null` can mean "off").
fn has(obj: &JsValue, key: &str) -> bool {
    Reflect::has(obj, &key.into()).unwrap_or(false)
}

/// The value under `key`, `None` when absent, `undefined` or `null`.
fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(obj, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn get_string(obj: &JsValue, key: &str) -> Result<Option<String>, JsError> {
    get(obj, key)
        .map(|v| {
            v.as_string()
                .ok_or_else(|| JsError::new(&format!("{key} must be a string")))
        })
        .transpose()
}

fn get_usize(obj: &JsValue, key: &str) -> Result<Option<usize>, JsError> {
    get(obj, key)
        .map(|v| match v.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= usize::MAX as f64 => Ok(n as usize),
            _ => Err(JsError::new(&format!(
                "{key} must be a whole number of at least 0"
            ))),
        })
        .transpose()
}

/// A string (as UTF-8) or a `Uint8Array`.
fn get_bytes(obj: &JsValue, key: &str) -> Result<Option<Vec<u8>>, JsError> {
    get(obj, key)
        .map(|v| {
            if let Some(s) = v.as_string() {
                Ok(s.into_bytes())
            } else if v.is_instance_of::<Uint8Array>() {
                Ok(Uint8Array::from(v).to_vec())
            } else {
                Err(JsError::new(&format!(
                    "{key} must be a string or a Uint8Array"
                )))
            }
        })
        .transpose()
}

// ---- core → JS ----------------------------------------------------------------------------

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &key.into(), &value.into());
}

/// `null` for "none", so that JSON and the config round-trip keep the key.
fn nullable<T: Into<JsValue>>(value: Option<T>) -> JsValue {
    value.map_or(JsValue::NULL, Into::into)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn bytes_to_js(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

fn output_to_js(output: Output<'_>) -> JsValue {
    let o = Object::new();
    match output {
        Output::Event(event) => {
            set(&o, "kind", "event");
            event_fields(&o, event);
        }
        Output::Transmit(bytes) => {
            set(&o, "kind", "transmit");
            set(&o, "bytes", bytes_to_js(bytes));
        }
        Output::CloseWrite => set(&o, "kind", "close_write"),
        Output::Release { reason, counters } => {
            set(&o, "kind", "release");
            set(&o, "reason", reason.to_string());
            set(&o, "graceful", reason.is_graceful());
            set(&o, "counters", counters_to_js(&counters));
        }
        Output::Timeout(at) => {
            set(&o, "kind", "timeout");
            set(&o, "at", nullable(at.map(millis)));
        }
    }
    o.into()
}

/// `event` is a short snake_case name; the other fields depend on it.
fn event_fields(o: &Object, event: Event) {
    match event {
        Event::Echoed { frames, bytes } => {
            set(o, "event", "echoed");
            set(o, "frames", frames as f64);
            set(o, "bytes", bytes as f64);
        }
        Event::ReadPaused => set(o, "event", "read_paused"),
        Event::BuffersReleased { bytes } => {
            set(o, "event", "buffers_released");
            set(o, "bytes", bytes as f64);
        }
        Event::ReadResumed => set(o, "event", "read_resumed"),
        Event::TimedOut(timer) => {
            set(o, "event", "timed_out");
            set(o, "timer", timer_name(timer));
        }
        Event::PeerError(e) => {
            set(o, "event", "peer_error");
            set(o, "error", e.to_string());
        }
        Event::Closing(reason) => {
            set(o, "event", "closing");
            set(o, "reason", reason.to_string());
        }
    }
}

fn timer_name(timer: Timer) -> &'static str {
    match timer {
        Timer::Idle => "idle",
        Timer::Frame => "frame",
        Timer::WriteStall => "write_stall",
        Timer::Flush => "flush",
        Timer::Linger => "linger",
        Timer::Shutdown => "shutdown",
    }
}

fn reason_to_js(reason: Option<CloseReason>) -> JsValue {
    reason.map_or(JsValue::NULL, |r| r.to_string().into())
}

fn deadlines_to_js(d: &Deadlines) -> Object {
    let o = Object::new();
    for timer in Timer::ALL {
        set(&o, timer_name(timer), nullable(d.get(timer).map(millis)));
    }
    o
}

fn snapshot_to_js(s: &Snapshot<'_>) -> JsValue {
    let o = Object::new();
    set(&o, "phase", s.phase.name());
    set(&o, "framing", s.framing.name());
    set(&o, "reading_paused", s.reading_paused);
    set(&o, "read_closed", s.read_closed);
    set(&o, "write_closed", s.write_closed);
    set(&o, "write_blocked", s.write_blocked);
    set(&o, "receive_capacity", s.receive_capacity as f64);
    set(&o, "input", bytes_to_js(s.input));
    set(&o, "partial_len", s.partial_len as f64);
    set(&o, "collected", bytes_to_js(s.collected));
    set(&o, "output", bytes_to_js(s.output));
    let ends: Array = s
        .frame_ends
        .iter()
        .map(|&e| JsValue::from(e as f64))
        .collect();
    set(&o, "frame_ends", ends);
    set(&o, "input_capacity", s.input_capacity as f64);
    set(&o, "high_watermark", s.high_watermark as f64);
    set(&o, "low_watermark", s.low_watermark as f64);
    set(&o, "output_bound", s.output_bound as f64);
    set(&o, "close_reason", reason_to_js(s.close_reason));
    set(&o, "counters", counters_to_js(&s.counters));
    set(&o, "deadlines", deadlines_to_js(&s.deadlines));
    set(
        &o,
        "next_deadline",
        nullable(s.deadlines.earliest().map(|(at, _)| millis(at))),
    );
    o.into()
}

/// One connection's counters as a plain object.
fn counters_to_js(c: &Counters) -> Object {
    let o = Object::new();
    set(&o, "bytes_in", c.bytes_in as f64);
    set(&o, "bytes_out", c.bytes_out as f64);
    set(&o, "bytes_discarded", c.bytes_discarded as f64);
    set(&o, "frames", c.frames as f64);
    set(&o, "reads", c.reads as f64);
    set(&o, "writes", c.writes as f64);
    set(&o, "peak_input", c.peak_input as f64);
    set(&o, "peak_output", c.peak_output as f64);
    o
}
