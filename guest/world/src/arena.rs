//! The guest's allocator inside the sandbox: first the free memory the instance starts
//! with, handed out in order, then Rust's usual allocator.
//!
//! Why: an instance lives for one request. Rust's wasm allocator (dlmalloc) gets every
//! byte by growing the linear memory, even when the module's initial memory has room
//! to spare, and each growth costs the host two `mprotect` calls (one to grow, one to
//! shrink the slot back for the next instance) — about a tenth of a request. The
//! linker gives the module enough initial memory (`host/build.rs`) that a request
//! normally never grows it. Memory freed here is reused only when it was the last
//! block handed out, which is the common case for a growing buffer; the rest waits for
//! the instance to end. With `--reuse-instances` the arena is used up once and dlmalloc
//! takes over, so an instance that lives long leaks at most the arena.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

unsafe extern "C" {
    /// Where the linker put the end of the static data and the start of the heap.
    static __heap_base: u8;
}

struct Arena {
    /// Next free byte, or 0 before the first allocation.
    next: Cell<usize>,
    /// End of the initial memory.
    end: Cell<usize>,
    /// Start of the block handed out last (it may grow or be given back in place).
    last: Cell<usize>,
}

// A component instance runs one thread: nothing here is ever shared.
unsafe impl Sync for Arena {}

#[global_allocator]
static ARENA: Arena = Arena {
    next: Cell::new(0),
    end: Cell::new(0),
    last: Cell::new(0),
};

impl Arena {
    fn take(&self, layout: Layout) -> Option<*mut u8> {
        if self.next.get() == 0 {
            let base = &raw const __heap_base as usize;
            self.next.set(base);
            self.end.set(core::arch::wasm32::memory_size(0) * 65536);
        }
        let start = self.next.get().checked_next_multiple_of(layout.align())?;
        let stop = start.checked_add(layout.size())?;
        if stop > self.end.get() {
            return None;
        }
        self.next.set(stop);
        self.last.set(start);
        Some(start as *mut u8)
    }

    /// Rust's dlmalloc on wasm32-unknown-unknown gets memory only by `memory.grow`, so
    /// its blocks all lie at or above `end`, which is fixed before its first use.
    fn owns(&self, ptr: *mut u8) -> bool {
        (ptr as usize) < self.end.get()
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.take(layout) {
            Some(ptr) => ptr,
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.owns(ptr) {
            return unsafe { System.dealloc(ptr, layout) };
        }
        if ptr as usize == self.last.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if self.owns(ptr) && ptr as usize == self.last.get() {
            if let Some(stop) = (ptr as usize).checked_add(new_size)
                && stop <= self.end.get()
            {
                self.next.set(stop);
                return ptr;
            }
        }
        if !self.owns(ptr) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}
