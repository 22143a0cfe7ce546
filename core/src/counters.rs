//! Per-connection counters: plain integers, updated as the connection works.

/// What one connection has done so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counters {
    /// Bytes taken from the peer.
    pub bytes_in: u64,
    /// Bytes the driver reported written.
    pub bytes_out: u64,
    /// Bytes taken and dropped while lingering after our FIN.
    pub bytes_discarded: u64,
    /// Frames echoed (queued for writing).
    pub frames: u64,
    /// `Received` inputs that took at least one byte.
    pub reads: u64,
    /// `Written` inputs that wrote at least one byte.
    pub writes: u64,
    /// Most input bytes held at once (partial line, unprocessed lines, collection).
    pub peak_input: usize,
    /// Most output bytes queued at once.
    pub peak_output: usize,
}
