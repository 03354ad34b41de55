//! The bounds of a render: [`Limits`] (the largest string or list a template may build, and a
//! deadline) and [`Budget`] (what is left of them across the renders of one ExternalSecret),
//! plus the checks the executor and the functions make against them.
//!
//! A Kubernetes Secret holds at most 1 MiB, so no template has a use for a longer string; a
//! hostile one (`repeat 100000 (repeat 100000 "x")`, `printf "%1000000d"` in a loop,
//! `randAlphaNum 2000000000`) must fail alone instead of exhausting the process's memory or
//! time. Every function that builds a string or list asks [`reserve`] before allocating it, the
//! executor checks every function result ([`check_weight`]), its output and the deadline
//! ([`check_deadline`]) in its loops.
//!
//! The render runs on its own thread (see `lib.rs`), so the active limits live in a thread
//! local that the functions read without a context argument.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use crate::gostring::GoString;
use crate::value::Value;

/// A Secret's size limit: the default cap on every string, list and output.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// How long a render may take when the caller sets no deadline.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(5);

/// Bounds on one render (or on several sharing a [`Budget`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest string (in bytes) or list or map (in elements) a template may build, and
    /// the most output it may write.
    pub max_bytes: usize,
    /// When the render must have finished.
    pub deadline: Instant,
}

impl Limits {
    /// The default size cap (1 MiB) and a deadline `time` from now.
    pub fn with_time_budget(time: Duration) -> Limits {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            deadline: Instant::now() + time,
        }
    }
}

impl Default for Limits {
    /// 1 MiB and [`DEFAULT_TIME_BUDGET`] from now.
    fn default() -> Self {
        Limits::with_time_budget(DEFAULT_TIME_BUDGET)
    }
}

/// What is left of [`Limits`] across several renders: the output they may still write in
/// total, and the shared deadline. One ExternalSecret renders all its keys under one budget.
#[derive(Clone, Debug)]
pub struct Budget {
    limits: Limits,
    output_left: usize,
}

impl Budget {
    /// A fresh budget: `limits.max_bytes` of output in total.
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            output_left: limits.max_bytes,
        }
    }

    /// The limits this budget was made with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many more bytes of output the renders may write.
    pub fn output_left(&self) -> usize {
        self.output_left
    }

    /// Records `bytes` written by a render.
    pub(crate) fn spend(&mut self, bytes: usize) {
        self.output_left = self.output_left.saturating_sub(bytes);
    }
}

/// `1 MiB`, `512 KiB`, `1000 bytes`: a size as the limit errors show it.
pub(crate) fn human_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Which limit a render ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// A string, list or map, or the output, would be larger than allowed.
    Size(usize),
    /// The deadline passed.
    Time,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::Size(max) => write!(f, "result exceeds {}", human_size(*max)),
            Exceeded::Time => f.write_str("the template ran past its deadline"),
        }
    }
}

#[derive(Clone, Copy)]
struct Active {
    max_bytes: usize,
    deadline: Instant,
    exceeded: Option<Exceeded>,
}

thread_local! {
    static ACTIVE: Cell<Option<Active>> = const { Cell::new(None) };
}

/// Makes `limits` the active limits of this thread until the guard drops.
pub(crate) fn activate(limits: Limits) -> ActiveGuard {
    let previous = ACTIVE.with(|a| {
        a.replace(Some(Active {
            max_bytes: limits.max_bytes,
            deadline: limits.deadline,
            exceeded: None,
        }))
    });
    ActiveGuard { previous }
}

/// Restores the previous limits of the thread on drop.
pub(crate) struct ActiveGuard {
    previous: Option<Active>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.previous));
    }
}

fn active() -> Option<Active> {
    ACTIVE.with(Cell::get)
}

fn trip(exceeded: Exceeded) -> String {
    ACTIVE.with(|a| {
        if let Some(mut active) = a.get() {
            active.exceeded.get_or_insert(exceeded);
            a.set(Some(active));
        }
    });
    exceeded.to_string()
}

/// Which limit this thread's render ran into, if any (set by the failing check).
pub(crate) fn exceeded() -> Option<Exceeded> {
    active().and_then(|a| a.exceeded)
}

/// The size cap in force (unbounded outside a render).
pub(crate) fn max_bytes() -> usize {
    active().map_or(usize::MAX, |a| a.max_bytes)
}

/// Before building a string of `len` bytes (or a list of `len` elements): an error when it
/// would exceed the cap.
pub(crate) fn reserve(len: usize) -> Result<(), String> {
    let max = max_bytes();
    if len > max {
        return Err(trip(Exceeded::Size(max)));
    }
    Ok(())
}

/// [`reserve`] for a length computed as `count × each` (+ `extra`), without overflowing.
pub(crate) fn reserve_product(count: usize, each: usize, extra: usize) -> Result<(), String> {
    let total = count
        .checked_mul(each)
        .and_then(|n| n.checked_add(extra))
        .unwrap_or(usize::MAX);
    reserve(total)
}

/// An error once the deadline has passed.
pub(crate) fn check_deadline() -> Result<(), String> {
    match active() {
        Some(a) if Instant::now() >= a.deadline => Err(trip(Exceeded::Time)),
        _ => Ok(()),
    }
}

/// Checks a function's result: strings count their bytes, lists and maps their elements
/// (and keys) plus what those hold. Stops counting as soon as the cap is passed, so a check
/// costs at most the cap.
pub(crate) fn check_weight(value: &Value) -> Result<(), String> {
    let max = max_bytes();
    if max == usize::MAX {
        return Ok(());
    }
    let mut total = 0usize;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        total = total.saturating_add(shallow_weight(value));
        if total > max {
            return Err(trip(Exceeded::Size(max)));
        }
        match value {
            Value::List(items) => stack.extend(items.iter()),
            Value::Map(map) | Value::StringMap(map) => stack.extend(map.values()),
            Value::Struct(st) => stack.extend(st.fields.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    Ok(())
}

fn shallow_weight(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        // A list or map counts once, and each element (and key) again below.
        Value::List(_) => 1,
        Value::Map(map) | Value::StringMap(map) => 1 + map.keys().map(GoString::len).sum::<usize>(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_limit() {
        assert_eq!(human_size(1 << 20), "1 MiB");
        assert_eq!(human_size(4 << 10), "4 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn reserve_refuses_past_the_cap_only_inside_a_render() {
        assert!(reserve(usize::MAX).is_ok(), "no limits outside a render");
        let _guard = activate(Limits {
            max_bytes: 10,
            deadline: Instant::now() + Duration::from_secs(60),
        });
        assert!(reserve(10).is_ok());
        assert!(reserve(11).is_err());
        assert_eq!(exceeded(), Some(Exceeded::Size(10)));
        assert!(reserve_product(usize::MAX, 2, 0).is_err());
    }

    #[test]
    fn weight_counts_nested_strings_and_elements() {
        let _guard = activate(Limits {
            max_bytes: 8,
            deadline: Instant::now() + Duration::from_secs(60),
        });
        let small = Value::List(vec![Value::from("abc"), Value::from("de")]);
        assert!(check_weight(&small).is_ok());
        let large = Value::List(vec![small.clone(), small]);
        assert!(check_weight(&large).is_err());
    }
}
