//! What a driver tells a connection.

/// Everything that can happen to a connection, from the driver's side. Each is passed to
/// [`Connection::handle_input`](crate::Connection::handle_input) together with the current
/// time; afterwards the driver drains [`Output`](crate::Output)s until `Timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
pub enum Input<'a> {
    /// Bytes read from the socket. The connection takes at most
    /// [`receive_capacity`](crate::Connection::receive_capacity) of them and returns how
    /// many it took; a driver that reads no more than the capacity always sees all taken.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::named_bytes::serialize")
    )]
    Received(&'a [u8]),
    /// The peer's end-of-stream: a read returned 0.
    PeerClosed,
    /// `n` bytes of the last [`Output::Transmit`](crate::Output::Transmit) slice were
    /// written. A count shorter than the slice means the socket is full: no further
    /// `Transmit` is offered until [`Input::Writable`].
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::n::serialize")
    )]
    Written(usize),
    /// The socket reported it can take more bytes again (after a short write).
    Writable,
    /// Time has passed; the connection fires whatever timers are due. Early or repeated
    /// ticks are harmless no-ops.
    Tick,
    /// The server is shutting down: stop taking input, flush, FIN, release — all within
    /// `shutdown_timeout`.
    Shutdown,
    /// The socket failed (reset, broken pipe). The connection is released at once.
    Reset,
}
