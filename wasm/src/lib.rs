//! JavaScript bindings over reverb-core, for the browser playground.
//!
//! This is the only crate that knows JavaScript, and it has no echo logic and no per-field
//! marshalling: every value that crosses is one of the core's own types, in the form the
//! core derives with its `serde` feature, converted by `serde-wasm-bindgen`. Each method
//! converts its arguments, calls [`reverb_core::Registry`] once (or reads one connection
//! of it), and converts the result back. A config section, an event or a close reason
//! added to the core reaches JavaScript with no change here. Two pieces stand in for what
//! serde-wasm-bindgen cannot do: an owned twin of [`Input`] (the core's borrows its bytes;
//! serde-wasm-bindgen makes owned values only), and a check of a config's names against
//! the core's defaults (it reads only the fields a struct knows, so it cannot refuse a
//! typo itself).
//!
//! # Conventions
//! - **Time** is a JS number of milliseconds since the page's epoch ([`Instant`]).
//!   Durations are milliseconds too; an optional timer that is off is `null`.
//! - **Connection ids** are [`ConnId::to_bits`] as a JS number (exact below 2^53).
//! - **Enums** are plain objects tagged by `kind` (snake_case); a variant's fields sit
//!   beside the tag, and a variant that wraps one value carries it under a field name:
//!   `{kind: "timed_out", timer: "idle"}`. Fieldless enums ([`Timer`], [`Framing`],
//!   [`Phase`]) are plain strings.
//! - **Config** is [`Config`] with its sections: `{stream: {…}, echo: {…}, faults: {…}}`,
//!   each with its section's field names ([`StreamConfig`], [`EchoConfig`],
//!   [`FaultConfig`]). A section or field left out keeps its default; an unknown name is an
//!   error naming it (`echo.framming: unknown field …`: a typo must not silently fall back
//!   to a default), and so is a bad value (`echo.max_line: invalid type …`). Words and
//!   affixes are read from a string (UTF-8), a `Uint8Array` or an array of numbers, and
//!   written as a string when they are UTF-8, else as a `Uint8Array`; `framing` is `"raw"`,
//!   `"line"` or `"collect"`. [`default_config`] gives every field. Every connection is
//!   the application under the fault layer ([`Faults`]), which passes the application's
//!   output through untouched while no fault is on; the UDP-only faults (`drop`,
//!   `duplicate`, `reorder`) are refused, since the playground's connections are streams
//!   and would silently ignore them.
//! - **The application** is the second argument of `new Registry(config, app)`:
//!   `{kind: "echo"}` (the default, also for `undefined`) or `{kind: "http", format}`,
//!   the HTTP/1.1 echo of [`reverb_http`] answering every request `200` with the request
//!   (`format` `"raw"`, the default, or `"json"`). The HTTP echo's other limits keep
//!   their defaults: `reverb_http::HttpConfig` has no serde forms, so only its format is
//!   read here. Its snapshots show its input (requests, whole or not yet) and its output
//!   (answers), without frame marks.
//! - **Inputs** mirror [`Input`]: `{kind: "received", bytes}` (a `Uint8Array`, an array
//!   of numbers or a string), `{kind: "peer_closed"}`, `{kind: "written", n}`,
//!   `{kind: "writable"}`, `{kind: "tick"}`, `{kind: "shutdown"}`, `{kind: "reset"}`.
//! - **Outputs** mirror [`Output`]: `{kind: "event", event}`, `{kind: "transmit", bytes}`
//!   (a `Uint8Array` copy: JS cannot hold the core's borrow), `{kind: "close_write"}`,
//!   `{kind: "release", reason, counters}`, `{kind: "timeout", at}` (`at` is `null` for
//!   "no deadline").
//! - **Events** mirror [`Event`]: `{kind: "echoed", frames, bytes}`,
//!   `{kind: "read_paused"}`, `{kind: "read_resumed"}`, `{kind: "timed_out", timer}`,
//!   `{kind: "peer_error", error}`, `{kind: "closing", reason}`,
//!   `{kind: "buffers_released", bytes}`, `{kind: "injected", fault}`. With
//!   `echo.record_frames` on (the page always sets it), also each frame queued,
//!   `{kind: "queued", frame, len}` (`frame` one of `"echo"`, `"partial"`, `"collected"`,
//!   `"error"`; `len` its bytes in the output stream, the last of the output queue until
//!   the next input), and what the fault layer's delay holds and lets go:
//!   `{kind: "held", bytes, until}` and `{kind: "released", bytes, held}`.
//! - **Close reasons** mirror [`CloseReason`] and come with the core's words for them and
//!   whether the peer got all it was owed (a connection that ends otherwise is reset):
//!   `{kind: "quit", text: "quit word", graceful: true}`, `{kind: "timed_out", timer:
//!   "frame", text: "frame timeout", graceful: false}`. **Peer errors** mirror
//!   [`PeerError`], with their words too: `{kind: "line_too_long", limit: 64, text: "line
//!   exceeds 64 bytes"}`.
//! - **Snapshots** mirror [`Snapshot`], with its field names: buffers (`input`,
//!   `collected`, `output`) are `Uint8Array` copies, `close_reason` is `null` until the
//!   connection closes, `deadlines` has every [`Timer`] (`{shutdown, handshake,
//!   write_stall, flush, linger, frame, idle}`) in ms, each `null` when that timer is not
//!   running.
//! - **Counters** mirror [`Counters`] and [`RegistryCounters`]: plain numbers.
//! - **The fault layer's deadline** ([`Registry::fault_deadline`]): when held output is
//!   released (`delay`) or paced output may go on (`rate`), in ms, or `undefined`. The
//!   snapshot's `deadlines` name the stream's and the echo's timers, not this one.
//!
//! The run-loop contract of the [core's crate docs](reverb_core) applies unchanged: after
//! every input drain [`Registry::poll_output`] until `timeout`, and answer every
//! `transmit` with a `written` input before polling again.
//!
//! # No TypeScript declarations
//! wasm-bindgen can write a `.d.ts` beside the glue (the xtask passes `--no-typescript`),
//! but every value that crosses here is a `JsValue` in a serde form, which it declares
//! `any`: the declarations would name the methods and their number arguments and say
//! nothing about configs, inputs, outputs, events or snapshots — the part worth typing.
//! Typing those would take derives that write TypeScript (`tsify`) on the core's public
//! types, in `reverb-core`, and a type-checking step for a page of plain ES modules. The
//! conventions above are the reference instead, and the node tests (`web/test/`) check
//! every form through the real module.
//!
//! [`Timer`]: reverb_core::Timer
//! [`Framing`]: reverb_core::Framing
//! [`Phase`]: reverb_core::Phase
//! [`StreamConfig`]: reverb_core::StreamConfig
//! [`EchoConfig`]: reverb_core::EchoConfig
//! [`FaultConfig`]: reverb_core::FaultConfig
//! [`Output`]: reverb_core::Output
//! [`Event`]: reverb_core::Event
//! [`Snapshot`]: reverb_core::Snapshot
//! [`Counters`]: reverb_core::Counters
//! [`RegistryCounters`]: reverb_core::RegistryCounters
//! [`CloseReason`]: reverb_core::CloseReason
//! [`PeerError`]: reverb_core::PeerError
//! [`Faults`]: reverb_core::Faults

use js_sys::{Array, Object, Reflect, Uint8Array};
use reverb_core::{Config, ConnId, Echo, Faults, Input, Instant, Layer};
use reverb_http::{Format, Http, HttpConfig, HttpConfigError, Peer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// Every connection's stack: the application (the echo, or the HTTP echo) under the fault
/// layer, as the native server stacks it when a fault is on. With none on, the layer hands
/// on the application's own slice, so one type serves every config and the page needs no
/// second registry to turn a fault on. The application is boxed, chosen per registry: one
/// indirect call per layer method, nothing beside a browser's drawing.
type Stack = Faults<Box<dyn Layer>>;

/// The application at the top of every connection's stack.
#[derive(Debug, Clone, Copy)]
enum App {
    Echo,
    Http(HttpConfig),
}

/// [`App`] as JavaScript writes it (see the crate docs).
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum AppData {
    Echo,
    Http {
        #[serde(default)]
        format: Option<String>,
    },
}

impl AppData {
    fn app(self) -> Result<App, HttpConfigError> {
        Ok(match self {
            AppData::Echo => App::Echo,
            AppData::Http { format } => {
                let format: Format = match format {
                    Some(name) => name.parse()?,
                    None => Format::default(),
                };
                App::Http(HttpConfig {
                    format,
                    ..HttpConfig::default()
                })
            }
        })
    }
}

/// The UDP-only faults, and why the playground refuses them.
const DATAGRAM_ONLY: &str =
    "UDP only; the playground's connections are TCP streams, which would silently ignore it";

/// A [`reverb_core::Registry`] for JavaScript: the connections of one simulated server.
#[wasm_bindgen]
pub struct Registry {
    inner: reverb_core::Registry<Stack>,
    app: App,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The boxed stacks have no Debug of their own; the counters say what is inside.
        f.debug_struct("Registry")
            .field("app", &self.app)
            .field("counters", self.inner.counters())
            .finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl Registry {
    /// A registry whose connections use `config` (see the crate docs; `undefined` for the
    /// defaults) and run `app` (`{kind: "echo"}` or `{kind: "http", format}`; `undefined`
    /// for the echo). Throws with the core's message if the config is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, app: JsValue) -> Result<Registry, JsError> {
        let app = if app.is_undefined() || app.is_null() {
            App::Echo
        } else {
            from_js::<AppData>(app)?.app().map_err(error)?
        };
        let config = config_from_js(config)?;
        let faults = &config.faults;
        for (name, on) in [
            ("drop", faults.drop.is_some()),
            ("duplicate", faults.duplicate.is_some()),
            ("reorder", faults.reorder.is_some()),
        ] {
            // A fault that is set and has no effect would teach the wrong thing.
            if on {
                return Err(JsError::new(&format!("faults.{name}: {DATAGRAM_ONLY}")));
            }
        }
        Ok(Registry {
            inner: reverb_core::Registry::new(config.validate().map_err(error)?),
            app,
        })
    }

    /// Registers a new connection at `now`; returns its id. Throws if refused.
    pub fn accept(&mut self, now: f64) -> Result<f64, JsError> {
        let now = instant(now);
        let config = self.inner.config();
        // Numbered by arrival from 0, as the native server's first thread numbers its
        // connections: with the config's seed, the number makes each connection's random
        // choices its own, and the same as under `reverb serve --seed N --threads 1`.
        let number = self.inner.counters().accepted;
        let app: Box<dyn Layer> = match &self.app {
            App::Echo => Box::new(Echo::new(config.clone(), now)),
            // No socket addresses in the playground: the JSON answer says `null` for them.
            App::Http(http) => Box::new(Http::new(http, config, now, Peer::default())),
        };
        let stack = Faults::new(&config.faults, number, now, app);
        // The views' reports (frames queued, output held and released) come with frame
        // recording, which the page always asks for.
        let stack = if config.echo.record_frames {
            stack.recording()
        } else {
            stack
        };
        let id = self.inner.accept_with(now, stack).map_err(error)?;
        Ok(id.to_bits() as f64)
    }

    /// Feeds one input (see the crate docs) to a connection; returns how many bytes of a
    /// `received` input were taken. Throws for a stale id or a malformed input.
    pub fn handle_input(&mut self, id: f64, now: f64, input: JsValue) -> Result<usize, JsError> {
        let input: InputData = from_js(input)?;
        self.inner
            .handle_input(conn_id(id), instant(now), input.as_input())
            .map_err(error)
    }

    /// The next output of a connection; `{kind: "timeout", at: null}` for a released or
    /// unknown id.
    pub fn poll_output(&mut self, id: f64) -> Result<JsValue, JsError> {
        to_js(&self.inner.poll_output(conn_id(id)))
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
        self.inner.next_deadline().map(|at| at.as_millis() as f64)
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

    /// One connection's buffers, timers and counters, or `undefined` once it is released.
    pub fn snapshot(&self, id: f64) -> Result<JsValue, JsError> {
        match self.inner.get(conn_id(id)) {
            Some(c) => to_js(&c.snapshot()),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The fault layer's own deadline (ms): when delayed output is released or paced
    /// output may go on; `undefined` when it has none, or for an unknown id. The layer
    /// reports the earlier of its deadline and the echo's (the frame timer, giving back
    /// idle buffers), so one equal to the echo's is taken for the echo's.
    pub fn fault_deadline(&self, id: f64) -> Option<f64> {
        let conn = self.inner.get(conn_id(id))?;
        conn.next_deadline()?;
        let faults = conn.stack();
        let at = faults.deadline()?;
        let own = faults.inner().deadline().is_none_or(|echo| at < echo);
        own.then(|| at.as_millis() as f64)
    }

    /// The registry-wide counters.
    pub fn counters(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.counters())
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

/// The config the core uses for what is left out, every section and field: the page shows
/// these as its defaults, and builds its form and its URL from their names.
#[wasm_bindgen]
pub fn default_config() -> Result<JsValue, JsError> {
    to_js(&Config::default())
}

/// An [`Input`] as JavaScript sends it, in the form reverb-core writes one. The core's
/// `Input` borrows its received bytes (no copy between the socket and the core), and
/// serde-wasm-bindgen makes owned values only: this owned twin is read instead, and lends
/// itself out as an `Input`. A test checks that the two forms agree.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum InputData {
    Received {
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    PeerClosed,
    Written {
        n: usize,
    },
    Writable,
    Tick,
    Shutdown,
    Reset,
}

impl InputData {
    fn as_input(&self) -> Input<'_> {
        match self {
            InputData::Received { bytes } => Input::Received(bytes),
            InputData::PeerClosed => Input::PeerClosed,
            InputData::Written { n } => Input::Written(*n),
            InputData::Writable => Input::Writable,
            InputData::Tick => Input::Tick,
            InputData::Shutdown => Input::Shutdown,
            InputData::Reset => Input::Reset,
        }
    }
}

/// Plain objects for maps (the deadlines) and `null` for `None` (a timer that is off), so
/// that a value read back and every key of the config survive a round trip.
const JS: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::new()
    .serialize_missing_as_null(true)
    .serialize_maps_as_objects(true);

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value.serialize(&JS).map_err(|e| JsError::new(&message(e)))
}

/// Reads a `T` that code wrote (an input).
fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, JsError> {
    T::deserialize(serde_wasm_bindgen::Deserializer::from(value))
        .map_err(|e| JsError::new(&message(e)))
}

/// Reads the config a person may have written: an error names the path to the bad value
/// (`echo.max_line: invalid type …`), and an unknown name is refused. Only here: tracking
/// the path compiles the reading of a type once more, and an input's errors are the
/// shim's bugs, not a user's.
fn config_from_js(value: JsValue) -> Result<Config, JsError> {
    check_names(&value, &to_js(&Config::default())?, "")?;
    let config: Option<Config> = serde_path_to_error::deserialize(
        serde_wasm_bindgen::Deserializer::from(value),
    )
    .map_err(|e| {
        // The path is "." when the whole value is wrong (not an object at all).
        let path = e.path().to_string();
        let what = message(e.into_inner());
        JsError::new(&if path == "." {
            what
        } else {
            format!("{path}: {what}")
        })
    })?;
    Ok(config.unwrap_or_default())
}

/// Refuses a name in `given` that `known` (the default config, as the core writes it) does
/// not have, section by section. serde-wasm-bindgen reads only the fields a struct knows,
/// so the core's `deny_unknown_fields` never sees a typo (RReverser/serde-wasm-bindgen#39):
/// the check is made here instead, as generic as the derive, from the core's own names. A
/// value whose default is `null` (a fault's `chunk`) is not looked into.
fn check_names(given: &JsValue, known: &JsValue, path: &str) -> Result<(), JsError> {
    if !is_record(given) || !is_record(known) {
        return Ok(());
    }
    let names = |v: &JsValue| Object::keys(v.unchecked_ref::<Object>());
    for key in names(given).iter() {
        let name = key.as_string().unwrap_or_default();
        let at = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        if !Object::has_own(known.unchecked_ref::<Object>(), &key) {
            let expected: Vec<String> = names(known)
                .iter()
                .filter_map(|k| k.as_string())
                .map(|k| format!("`{k}`"))
                .collect();
            return Err(JsError::new(&format!(
                "{at}: unknown field `{name}`, expected one of {}",
                expected.join(", ")
            )));
        }
        let get = |v: &JsValue| Reflect::get(v, &key).unwrap_or(JsValue::UNDEFINED);
        check_names(&get(given), &get(known), &at)?;
    }
    Ok(())
}

/// A plain object: not an array, not bytes.
fn is_record(v: &JsValue) -> bool {
    v.is_object() && !Array::is_array(v) && !v.is_instance_of::<Uint8Array>()
}

fn error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// What a serde-wasm-bindgen error says. It holds a JS `Error`, whose `String()` (and so its
/// `Display`) would start with "Error: ", said again when it is thrown.
fn message(e: serde_wasm_bindgen::Error) -> String {
    let value = JsValue::from(e);
    match value.dyn_ref::<js_sys::Error>() {
        Some(e) => e.message().into(),
        None => format!("{value:?}"),
    }
}

fn instant(ms: f64) -> Instant {
    // `as` saturates: NaN and negatives become 0, which the core treats as "no later".
    Instant::from_millis(ms as u64)
}

fn conn_id(bits: f64) -> ConnId {
    ConnId::from_bits(bits as u64)
}

#[cfg(test)]
mod tests;
