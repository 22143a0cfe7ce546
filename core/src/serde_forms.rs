//! How the core's types look serialized (the `serde` feature), where a derive alone cannot
//! say it. The forms are chosen for a JavaScript or JSON reader:
//!
//! - **Durations** are whole milliseconds (`millis`), rounded up like [`Instant`]
//!   arithmetic; an optional timer that is off is `null` (`millis_opt`).
//! - **Words and affixes**, the config's byte strings, are written as text when they are
//!   UTF-8 and as bytes otherwise; text, bytes and a sequence of numbers are all read
//!   (`text_or_bytes`, `text_or_bytes_opt`).
//! - **Buffers** (what a snapshot holds, what a transmit offers) are bytes (`bytes`): a
//!   `Uint8Array` in JavaScript.
//! - **Enums** are objects tagged by `kind`. A variant that wraps one value carries it
//!   under a field name — `{kind: "timed_out", timer: "idle"}` — which serde's internal
//!   tagging cannot do by itself for a value that is not an object (`timer`, `error`,
//!   `reason`, `event`, `at`, `n`, `named_bytes`).
//! - **Close reasons and peer errors**, where an output, an event or a snapshot carries
//!   them, come with the core's words for them (`text`) and, for a close reason, whether
//!   it is `graceful`: `{kind: "timed_out", timer: "frame", text: "frame timeout",
//!   graceful: false}`. Read back, the extra fields are ignored.
//! - **Deadlines** are an object keyed by timer name, `null` for a timer not running.

use core::fmt;
use core::time::Duration;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::PeerError;
use crate::output::{CloseReason, Event, Fault};
use crate::time::Instant;
use crate::timers::{Deadlines, Timer};

/// Milliseconds in `d`, rounded up: a timer read back never fires before it was asked to.
fn whole_millis(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// A [`Duration`] as whole milliseconds.
pub(crate) mod millis {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(whole_millis(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// An optional [`Duration`] as whole milliseconds, `null` for off.
pub(crate) mod millis_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(whole_millis).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

/// Written as bytes (not as a sequence of numbers).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Written as text when UTF-8, else as bytes.
struct TextOrBytes<'a>(&'a [u8]);

impl Serialize for TextOrBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match core::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_bytes(self.0),
        }
    }
}

/// Read from text (as UTF-8), bytes, or a sequence of numbers.
struct OwnedBytes(Vec<u8>);

impl<'de> Deserialize<'de> for OwnedBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BytesVisitor).map(OwnedBytes)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or bytes")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(v.as_bytes().to_vec())
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Vec<u8>, E> {
        Ok(v.into_bytes())
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        // The hint comes from the input: trust it only as far as a config value can go.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element()? {
            out.push(b);
        }
        Ok(out)
    }
}

/// A config byte string (prefix, suffix): text when UTF-8, else bytes.
pub(crate) mod text_or_bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        TextOrBytes(v).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        OwnedBytes::deserialize(d).map(|b| b.0)
    }
}

/// An optional config byte string (a word): text when UTF-8, else bytes; `null` for off.
pub(crate) mod text_or_bytes_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_deref().map(TextOrBytes).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<OwnedBytes>::deserialize(d).map(|b| b.map(|b| b.0))
    }
}

/// A buffer, written as bytes.
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
}

/// A newtype variant holding a buffer, as `{bytes: <bytes>}` beside the variant's tag.
pub(crate) mod named_bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut fields = s.serialize_struct("Named", 1)?;
        fields.serialize_field("bytes", &Bytes(v))?;
        fields.end()
    }
}

/// A value in its derived form with the core's words for it beside its fields: `text`
/// (its `Display`) and, for a close reason, `graceful`. A reader shows the core's words
/// and knows whether the peer got all it was owed without a table of its own.
#[derive(Serialize)]
struct Said<'a, T> {
    #[serde(flatten)]
    value: &'a T,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    graceful: Option<bool>,
}

fn said_error(error: &PeerError) -> Said<'_, PeerError> {
    Said {
        value: error,
        text: error.to_string(),
        graceful: None,
    }
}

fn said_close(reason: &CloseReason) -> Said<'_, CloseReason> {
    Said {
        value: reason,
        text: reason.to_string(),
        graceful: Some(reason.is_graceful()),
    }
}

fn as_is<T>(value: &T) -> &T {
    value
}

/// A close reason where an output or a snapshot carries it: with `text` and `graceful`.
pub(crate) mod close_reason {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(reason: &CloseReason, s: S) -> Result<S::Ok, S::Error> {
        said_close(reason).serialize(s)
    }
}

/// An optional close reason (a snapshot's): `null` while the connection is open.
pub(crate) mod close_reason_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        reason: &Option<CloseReason>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        reason.as_ref().map(said_close).serialize(s)
    }
}

/// Modules that put a newtype variant's value under one field name, beside the tag of an
/// internally tagged enum: `{kind: "timed_out", timer: "idle"}`. `form` says how the
/// value is written (as it is, or with the core's words for it); it is read as it is.
macro_rules! named {
    ($($module:ident: $ty:ty => $name:tt, $form:ident;)*) => {$(
        #[doc = concat!("A newtype variant's value as `{", $name, ": value}`.")]
        pub(crate) mod $module {
            use super::*;

            pub(crate) fn serialize<S: Serializer>(value: &$ty, s: S) -> Result<S::Ok, S::Error> {
                let mut fields = s.serialize_struct("Named", 1)?;
                fields.serialize_field($name, &$form(value))?;
                fields.end()
            }

            // Outputs and inputs are only written, so not every module is read back.
            #[allow(dead_code)]
            pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                // Unknown fields are ignored: they are the words `Said` adds.
                #[derive(Deserialize)]
                struct Named {
                    #[serde(rename = $name)]
                    value: $ty,
                }
                Named::deserialize(d).map(|n| n.value)
            }
        }
    )*};
}

named! {
    timer: Timer => "timer", as_is;
    error: PeerError => "error", said_error;
    reason: CloseReason => "reason", said_close;
    event: Event => "event", as_is;
    at: Option<Instant> => "at", as_is;
    n: usize => "n", as_is;
    fault: Fault => "fault", as_is;
}

/// A protocol's close as `{protocol: {layer, code, text, graceful}}`.
pub(crate) mod protocol {
    use super::*;
    use crate::output::ProtocolClose;

    pub(crate) fn serialize<S: Serializer>(p: &ProtocolClose, s: S) -> Result<S::Ok, S::Error> {
        let mut fields = s.serialize_struct("Protocol", 1)?;
        fields.serialize_field("protocol", &Close(p))?;
        return fields.end();

        struct Close<'a>(&'a ProtocolClose);
        impl Serialize for Close<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut fields = s.serialize_struct("ProtocolClose", 4)?;
                fields.serialize_field("layer", self.0.layer)?;
                fields.serialize_field("code", &self.0.code)?;
                fields.serialize_field("text", self.0.text)?;
                fields.serialize_field("graceful", &self.0.graceful)?;
                fields.end()
            }
        }
    }
}

impl Serialize for Deadlines {
    /// `{shutdown: null, write_stall: 1250, …}`: every timer, most severe first.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(Timer::ALL.len()))?;
        for timer in Timer::ALL {
            map.serialize_entry(&timer, &self.get(timer))?;
        }
        map.end()
    }
}

/// A probability as the number it is (`0.01`), read back through the same check as the
/// command line's.
impl Serialize for crate::config::Probability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.get())
    }
}

impl<'de> Deserialize<'de> for crate::config::Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = f64::deserialize(d)?;
        crate::config::Probability::new(p).map_err(serde::de::Error::custom)
    }
}
