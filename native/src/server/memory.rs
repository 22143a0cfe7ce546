//! Giving freed memory back to the system.
//!
//! A connection that goes quiet after a burst gives its large buffers back
//! ([`Event::BuffersReleased`](reverb_core::Event::BuffersReleased)). glibc's `malloc`
//! keeps freed chunks in its heap, though, and there they still count as the process's
//! resident memory: measured on loopback, 500 connections that had each echoed 20 KB
//! stayed at 20.5 KiB each after their buffers were freed, and at 4.5 KiB once the free
//! pages were returned with `malloc_trim`. That call walks the heap, so an event loop makes
//! it at most once per [`INTERVAL`], and only after buffers were released.

use std::time::Duration;

use reverb_core::Instant;

/// Least time between two returns of free memory by one event loop.
const INTERVAL: Duration = Duration::from_secs(1);

/// Whether freed memory waits to be returned, and when that may next happen.
#[derive(Debug, Default)]
pub(crate) struct MemoryReturn {
    pending: bool,
    not_before: Instant,
}

impl MemoryReturn {
    /// A connection released buffers.
    pub(crate) fn released(&mut self) {
        self.pending = true;
    }

    /// When the loop should wake to return memory, if any waits.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.pending.then_some(self.not_before)
    }

    /// Returns free memory to the system if some was released and the interval allows.
    pub(crate) fn run(&mut self, now: Instant) {
        if self.pending && now >= self.not_before {
            self.pending = false;
            self.not_before = now + INTERVAL;
            return_free_memory();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_free_memory() {
    // SAFETY: `malloc_trim` takes no pointers, touches only the allocator's own state and
    // locks each arena while it works, so any thread may call it at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other C libraries' allocators (musl's among them) return freed pages on their own, or
/// offer no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_free_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_returned_after_a_release_at_most_once_per_interval() {
        let mut memory = MemoryReturn::default();
        assert_eq!(memory.deadline(), None, "nothing released, no wake-up");
        memory.released();
        let now = Instant::from_millis(5000);
        assert!(memory.deadline().is_some_and(|at| at <= now));
        memory.run(now);
        assert_eq!(memory.deadline(), None);
        memory.released();
        assert_eq!(memory.deadline(), Some(now + INTERVAL));
        memory.run(now + Duration::from_millis(10));
        assert_eq!(memory.deadline(), Some(now + INTERVAL), "still waiting");
        memory.run(now + INTERVAL);
        assert_eq!(memory.deadline(), None);
    }
}
