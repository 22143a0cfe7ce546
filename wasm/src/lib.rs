//! JavaScript bindings over reverb-core.
