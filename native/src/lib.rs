//! The `reverb` binary's library: the mio shell around reverb-core.
