//! Counting the copies of a value that were freed without being wiped (design invariant 1:
//! values are zeroized wherever they were copied).
//!
//! [`WipeCheck`] is a global allocator over the system's that, while a measurement is armed,
//! looks into every block handed back to it for a needle (a canary value planted by the test).
//! A block that still holds the needle when it is freed is a copy of the value that nobody
//! wiped: it stays readable in the process's free memory (and in a core dump) until reused.
//! Growing a buffer counts too, because the old block is freed by `realloc`.
//!
//! A test binary installs it and measures a piece of work:
//!
//! ```no_run
//! use keyward_test_support::wipe_check::{WipeCheck, count_unwiped};
//!
//! #[global_allocator]
//! static ALLOCATOR: WipeCheck = WipeCheck;
//!
//! let ((), unwiped) = count_unwiped(b"kw-canary-3f9a", || {
//!     let copy = String::from("kw-canary-3f9a");
//!     drop(copy); // freed unwiped: counted
//! });
//! assert_eq!(unwiped.blocks, 1);
//! ```
//!
//! With `KEYWARD_WIPE_CHECK_BACKTRACE=1` in the environment, each unwiped block found prints
//! the backtrace of the code that freed it on stderr (run the test with `--nocapture`): that
//! is where the copy to wipe was made or dropped.
//!
//! While a measurement is armed, new blocks start zeroed and a counted block is wiped before
//! it is freed, so each copy counts once and stale bytes in reused memory count never.
//!
//! Blocks still alive when the work returns are not seen (nothing was freed); the work should
//! drop what it made. Only one measurement runs at a time in a process; others wait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// The longest needle a measurement can look for.
pub const MAX_NEEDLE: usize = 64;

/// How many sizes of unwiped blocks a measurement keeps (the count goes on past it).
const KEPT_SIZES: usize = 32;

static ARMED: AtomicBool = AtomicBool::new(false);
static NEEDLE_LEN: AtomicUsize = AtomicUsize::new(0);
static NEEDLE: [AtomicU8; MAX_NEEDLE] = [const { AtomicU8::new(0) }; MAX_NEEDLE];
static BLOCKS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static INLINE: AtomicUsize = AtomicUsize::new(0);
static SIZES: [AtomicUsize; KEPT_SIZES] = [const { AtomicUsize::new(0) }; KEPT_SIZES];
/// Whether to print a backtrace for each unwiped block (read when a measurement is armed).
static BACKTRACES: AtomicBool = AtomicBool::new(false);
/// One measurement at a time: the counters are process-wide.
static MEASURING: Mutex<()> = Mutex::new(());

/// The global allocator that sees unwiped frees; install it with `#[global_allocator]`.
pub struct WipeCheck;

// SAFETY: every call is passed on unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; `dealloc` only reads the block (which the caller still owns until the call
// returns) before handing it back.
unsafe impl GlobalAlloc for WipeCheck {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // While measuring, every new block starts zeroed: a block then holds the needle only
        // if the value was written into it during the measurement, never because it reuses
        // memory freed earlier (before the measurement, or a copy already counted).
        if ARMED.load(Ordering::Acquire) {
            // SAFETY: same contract as ours.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY (for the reads below): `ptr` is a live block of `layout.size()` bytes that we
        // allocated (the caller's contract) and that the caller still owns until this call
        // returns.
        let found = if ARMED.load(Ordering::Acquire) && !PRINTING.with(std::cell::Cell::get) {
            // SAFETY: as above.
            unsafe { holds_needle(ptr, layout.size()) }
        } else {
            Found::No
        };
        if found != Found::No {
            record(layout.size(), found == Found::Inline);
            if BACKTRACES.load(Ordering::Acquire) {
                // SAFETY: as for `holds_needle`.
                let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
                print_backtrace(block);
            }
            // Wiped now, so that the memory, when reused, is not counted again.
            // SAFETY: the block is still ours, `layout.size()` bytes, writable.
            unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    // `realloc` is left to the default, which allocates, copies and calls `dealloc` on the
    // old block: a buffer that grows while holding a value leaves its old block to be seen.
}

/// Whether the `size` bytes at `block` contain the armed needle (no allocation: this runs
/// inside `dealloc`).
///
/// # Safety
///
/// `block` must be valid for reads of `size` bytes. Bytes never written are read too (a
/// block freed before it was filled): they are read with volatile reads, only compared, and
/// the result is a test's count, so no code is optimised on their values.
unsafe fn holds_needle(block: *const u8, size: usize) -> Found {
    let len = NEEDLE_LEN.load(Ordering::Acquire);
    if len == 0 || size < len {
        return Found::No;
    }
    let mut needle = [0u8; MAX_NEEDLE];
    for (byte, stored) in needle.iter_mut().zip(NEEDLE.iter()).take(len) {
        *byte = stored.load(Ordering::Relaxed);
    }
    // SAFETY: every offset read is below `size` (the caller's contract).
    let byte_at = |offset: usize| unsafe { block.add(offset).read_volatile() };
    let Some(at) =
        (0..=size - len).find(|&start| (0..len).all(|i| byte_at(start + i) == needle[i]))
    else {
        return Found::No;
    };
    let prefix = (len as u64).to_le_bytes();
    let length_prefixed = at >= prefix.len()
        && (0..prefix.len()).all(|i| byte_at(at - prefix.len() + i) == prefix[i]);
    if length_prefixed {
        Found::Inline
    } else {
        Found::Buffer
    }
}

/// What a freed block held.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    No,
    /// The needle right after its own length as a little-endian `u64`: an inline small
    /// buffer (a `SmallVec`-like copy) inside a larger structure.
    Inline,
    /// The needle anywhere else: a buffer holding the value.
    Buffer,
}

thread_local! {
    /// Set while this thread prints a backtrace, whose own frees must not be looked at.
    static PRINTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Prints where an unwiped `block` was freed, and the bytes around the needle in it (the
/// needle is a test's canary, not a secret). Capturing and printing allocate; that goes
/// through `alloc` and `dealloc` here again, which skip the scan while printing.
fn print_backtrace(block: &[u8]) {
    if PRINTING.with(|printing| printing.replace(true)) {
        return;
    }
    let len = NEEDLE_LEN.load(Ordering::Acquire);
    let mut needle = [0u8; MAX_NEEDLE];
    for (byte, stored) in needle.iter_mut().zip(NEEDLE.iter()).take(len) {
        *byte = stored.load(Ordering::Relaxed);
    }
    let at = block
        .windows(len.max(1))
        .position(|window| window == &needle[..len])
        .unwrap_or(0);
    let around = &block[at.saturating_sub(144)..(at + len + 48).min(block.len())];
    let trace = std::backtrace::Backtrace::force_capture();
    eprintln!(
        "wipe_check: an unwiped block of {} bytes (needle at {at}: {:?}) was freed at:\n{trace}",
        block.len(),
        String::from_utf8_lossy(around)
    );
    drop(trace);
    PRINTING.with(|printing| printing.set(false));
}

fn record(size: usize, inline: bool) {
    if inline {
        INLINE.fetch_add(1, Ordering::AcqRel);
    }
    let index = BLOCKS.fetch_add(1, Ordering::AcqRel);
    BYTES.fetch_add(size, Ordering::AcqRel);
    if let Some(slot) = SIZES.get(index) {
        slot.store(size, Ordering::Release);
    }
}

/// What a measurement saw: blocks freed while still holding the needle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unwiped {
    /// How many blocks.
    pub blocks: usize,
    /// Their total size in bytes.
    pub bytes: usize,
    /// How many of them hold the needle inline in a larger structure, right after its own
    /// length as a little-endian `u64` (a `SmallVec`-like small buffer), rather than as a
    /// buffer of the value: seen where a structure built on the stack, over memory that held
    /// such a buffer, is moved to the heap.
    pub inline: usize,
    /// The sizes of the first few, in the order they were freed (a clue to which copy).
    pub sizes: Vec<usize>,
}

/// Runs `work` and counts the blocks freed during it that still held `needle`.
///
/// # Panics
///
/// If `needle` is empty or longer than [`MAX_NEEDLE`], or if [`WipeCheck`] is not the global
/// allocator (checked first by freeing a block that holds the needle unwiped: a measurement
/// that cannot see such a block would pass whatever the code did).
pub fn count_unwiped<T>(needle: &[u8], work: impl FnOnce() -> T) -> (T, Unwiped) {
    assert!(
        !needle.is_empty() && needle.len() <= MAX_NEEDLE,
        "a needle is 1 to {MAX_NEEDLE} bytes"
    );
    let _one_at_a_time = MEASURING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    arm(needle);
    drop(std::hint::black_box(needle.to_vec()));
    let probe = disarm();
    assert_eq!(
        probe.blocks, 1,
        "WipeCheck is not this binary's #[global_allocator]: it cannot see unwiped frees"
    );
    BACKTRACES.store(
        std::env::var_os("KEYWARD_WIPE_CHECK_BACKTRACE").is_some_and(|v| v == "1"),
        Ordering::Release,
    );
    arm(needle);
    let result = work();
    BACKTRACES.store(false, Ordering::Release);
    (result, disarm())
}

fn arm(needle: &[u8]) {
    for (stored, byte) in NEEDLE.iter().zip(needle) {
        stored.store(*byte, Ordering::Relaxed);
    }
    NEEDLE_LEN.store(needle.len(), Ordering::Release);
    BLOCKS.store(0, Ordering::Release);
    BYTES.store(0, Ordering::Release);
    INLINE.store(0, Ordering::Release);
    ARMED.store(true, Ordering::Release);
}

fn disarm() -> Unwiped {
    ARMED.store(false, Ordering::Release);
    let blocks = BLOCKS.load(Ordering::Acquire);
    Unwiped {
        blocks,
        bytes: BYTES.load(Ordering::Acquire),
        inline: INLINE.load(Ordering::Acquire),
        sizes: SIZES
            .iter()
            .take(blocks.min(KEPT_SIZES))
            .map(|size| size.load(Ordering::Acquire))
            .collect(),
    }
}
