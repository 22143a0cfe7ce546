//! The counting global allocator of the allocation tests: the system allocator, counting
//! the allocations (and reallocations) of each thread, and of every thread together.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting.
struct Counting;

thread_local! {
    // `const` and a plain `Cell`: reading it allocates nothing and registers no destructor,
    // so the allocator may use it.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Allocations of every thread of the process.
static ALL: AtomicU64 = AtomicU64::new(0);

fn count() {
    // `try_with`: a thread being torn down has no counter left, and needs none.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    ALL.fetch_add(1, Ordering::Relaxed);
}

// SAFETY: every call is passed to `System` unchanged; the counting touches no memory that
// the allocation could overlap. A global allocator cannot be written without `unsafe`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations this thread made while `f` ran.
#[allow(dead_code)] // `alloc_server` counts every thread instead.
pub(crate) fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Allocations of every thread while `f` ran.
#[allow(dead_code)] // The core's tests count their own thread only.
pub(crate) fn all_allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALL.load(Ordering::SeqCst);
    f();
    ALL.load(Ordering::SeqCst) - before
}
