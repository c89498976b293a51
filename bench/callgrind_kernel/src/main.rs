//! Per-call cost of a kernel's native door: `#[rustpath::kernel]` against the previous
//! scaffold's hand-written glue (`native` below, copied from tests/abi_v1_crate without
//! the part that exports it to Python), for the same kernels, called as the front calls
//! them (`rustpath::abi::Entry::call`). `kbench WHICH CALLS` warms up with 1,000 calls,
//! then makes CALLS more with callgrind's collection on (`kbench_toggle`, toggle.c)
//! only around them. See measure.sh and docs/kernel-crate.md.
use std::hint::black_box;
use std::sync::atomic::AtomicBool;

use rustpath::abi::{Entry, NativeEntry};

extern "C" {
    fn kbench_toggle();
}

#[rustpath::kernel]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[rustpath::kernel]
fn longest(words: &[String], limit: i64) -> String {
    words.iter().filter(|w| (w.len() as i64) <= limit).max_by_key(|w| w.len()).cloned().unwrap_or_default()
}

fn hand_add(a: i64, b: i64) -> i64 {
    a + b
}

fn hand_longest(words: &[String], limit: i64) -> String {
    words.iter().filter(|w| (w.len() as i64) <= limit).max_by_key(|w| w.len()).cloned().unwrap_or_default()
}

struct HandAdd;
impl native::Kernel for HandAdd {
    fn call(args: &native::Args, _stop: &native::Stop<'_>) -> Result<String, native::Failure> {
        let a: i64 = native::arg(args, "a")?;
        let b: i64 = native::arg(args, "b")?;
        native::json(&hand_add(a, b))
    }
}
struct HandLongest;
impl native::Kernel for HandLongest {
    fn call(args: &native::Args, _stop: &native::Stop<'_>) -> Result<String, native::Failure> {
        let words: Vec<String> = native::arg(args, "words")?;
        let limit: i64 = native::arg(args, "limit")?;
        native::json(&hand_longest(&words, limit))
    }
}


fn entry_of(native: NativeEntry) -> Entry {
    let boxed = Box::leak(Box::new(native));
    unsafe { Entry::from_pointer(boxed) }.unwrap()
}

fn hand_entry(e: native::NativeEntryHand) -> Entry {
    let boxed = Box::leak(Box::new(e));
    unsafe { Entry::from_pointer((boxed as *const native::NativeEntryHand).cast()) }.unwrap()
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let which = argv.next().unwrap();
    let calls: usize = argv.next().unwrap().parse().unwrap();
    let (entry, args): (Entry, String) = match which.as_str() {
        "add-macro" => (entry_of(add::KERNEL.native), r#"{"a":20,"b":22}"#.into()),
        "add-hand" => (hand_entry(native::entry::<HandAdd>()), r#"{"a":20,"b":22}"#.into()),
        "longest-macro" => (entry_of(longest::KERNEL.native), words()),
        "longest-hand" => (hand_entry(native::entry::<HandLongest>()), words()),
        _ => panic!("which"),
    };
    let flag = AtomicBool::new(false);
    let first = entry.call(&args, None, &flag);
    eprintln!("{which}: {first:?}");
    for _ in 0..1000 {
        black_box(entry.call(black_box(&args), None, &flag));
    }
    unsafe { kbench_toggle() };
    for _ in 0..calls {
        black_box(entry.call(black_box(&args), None, &flag));
    }
    unsafe { kbench_toggle() };
}

fn words() -> String {
    let words: Vec<String> = (0..20).map(|i| format!("word{}", "x".repeat(i % 7))).collect();
    serde_json::json!({"words": words, "limit": 8}).to_string()
}

/// The previous scaffold's glue (ABI v1 written out by hand).
#[allow(dead_code, unused_imports, clippy::all, unsafe_op_in_unsafe_fn)]
pub mod native {
    pub type NativeEntryHand = Entry;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::time::{Duration, Instant};

    /// The capsule name of a version-1 entry; flask-rustpath checks it.
    pub const ABI_VERSION: u32 = 1;

    /// Bytes handed to the caller: a `Vec<u8>` taken apart, rebuilt by [`release`].
    #[repr(C)]
    #[derive(Debug)]
    pub struct Buffer {
        ptr: *mut u8,
        len: usize,
        cap: usize,
    }

    /// What the capsule holds.
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct Entry {
        abi_version: u32,
        call: unsafe extern "C" fn(*const u8, usize, f64, *const AtomicU8, *mut Buffer) -> i32,
        release: unsafe extern "C" fn(Buffer),
    }

    /// A kernel's arguments, by parameter name.
    pub type Args = serde_json::Map<String, serde_json::Value>;

    /// Why a native call gave no result.
    #[derive(Debug)]
    pub enum Failure {
        /// The input was refused (HTTP 400); the message says why.
        BadInput(String),
        /// The deadline passed or the call was cancelled (HTTP 504).
        Deadline,
        /// Something else went wrong (HTTP 500); the message goes to the server log.
        Failed(String),
    }

    impl From<Stopped> for Failure {
        fn from(_: Stopped) -> Self {
            Self::Deadline
        }
    }

    /// A kernel's native door: decode `args`, compute, encode the result as JSON.
    pub trait Kernel {
        fn call(args: &Args, stop: &Stop<'_>) -> Result<String, Failure>;
    }

    /// The argument `name`, decoded as a `T`; a missing or mistyped one is bad input.
    pub fn arg<'a, T: serde::Deserialize<'a>>(args: &'a Args, name: &str) -> Result<T, Failure> {
        let value = args
            .get(name)
            .ok_or_else(|| Failure::BadInput(format!("missing argument '{name}'")))?;
        T::deserialize(value).map_err(|err| Failure::BadInput(format!("argument '{name}': {err}")))
    }

    /// `value` as JSON text.
    pub fn json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
        serde_json::to_string(value).map_err(|err| Failure::Failed(format!("result: {err}")))
    }

    /// The deadline and cancellation of a call.
    #[derive(Clone, Copy, Debug)]
    pub struct Stop<'a> {
        deadline: Option<Instant>,
        cancelled: Option<&'a AtomicU8>,
    }

    /// The call should stop: its deadline passed or its answer is no longer wanted.
    #[derive(Clone, Copy, Debug)]
    pub struct Stopped;

    impl Stop<'_> {
        pub fn never() -> Self {
            Stop {
                deadline: None,
                cancelled: None,
            }
        }

        /// A deadline `seconds` from now; none if that is not a positive time (or is
        /// too far away for the clock to represent).
        pub fn within_seconds(seconds: f64) -> Self {
            let deadline = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|d| !d.is_zero())
                .and_then(|d| Instant::now().checked_add(d));
            Stop {
                deadline,
                cancelled: None,
            }
        }

        /// `Err(Stopped)` once the call should stop; call it between chunks of work.
        pub fn check(&self) -> Result<(), Stopped> {
            let late = self.deadline.is_some_and(|at| Instant::now() >= at);
            let cancelled = self
                .cancelled
                .is_some_and(|flag| flag.load(Ordering::Relaxed) != 0);
            if late || cancelled {
                Err(Stopped)
            } else {
                Ok(())
            }
        }
    }

    /// The [`Entry`] of kernel `K`.
    pub fn entry<K: Kernel>() -> Entry {
        Entry {
            abi_version: ABI_VERSION,
            call: call::<K>,
            release,
        }
    }

    /// Sets the module's `__rustpath_native__` to `{name: capsule}` for `entries`.
    unsafe extern "C" fn call<K: Kernel>(
        args: *const u8,
        args_len: usize,
        timeout_seconds: f64,
        cancelled: *const AtomicU8,
        out: *mut Buffer,
    ) -> i32 {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let bytes = if args.is_null() {
                &[][..]
            } else {
                // SAFETY: the caller passes `args_len` readable bytes at `args`, which
                // stay valid and unchanged for the call.
                unsafe { std::slice::from_raw_parts(args, args_len) }
            };
            let args: Args = serde_json::from_slice(bytes).map_err(|err| {
                Failure::BadInput(format!("arguments are not a JSON object: {err}"))
            })?;
            let mut stop = Stop::within_seconds(timeout_seconds);
            // SAFETY: the caller keeps the atomic alive for the call, and `stop`, which
            // borrows it, does not outlive the call.
            stop.cancelled = unsafe { cancelled.as_ref() };
            K::call(&args, &stop)
        }))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-text payload".into());
            Err(Failure::Failed(format!("the kernel panicked: {message}")))
        });
        let (status, text) = match result {
            Ok(json) => (0, json),
            Err(Failure::BadInput(message)) => (1, message),
            Err(Failure::Deadline) => (2, String::new()),
            Err(Failure::Failed(message)) => (3, message),
        };
        if !out.is_null() {
            let mut bytes = std::mem::ManuallyDrop::new(text.into_bytes());
            // SAFETY: `out` is writable; `release` rebuilds this `Vec` from its parts.
            unsafe {
                out.write(Buffer {
                    ptr: bytes.as_mut_ptr(),
                    len: bytes.len(),
                    cap: bytes.capacity(),
                });
            }
        }
        status
    }

    /// `release` of the ABI: frees a buffer `call` wrote.
    ///
    /// # Safety
    /// `buffer` came from [`call`] and is released once.
    unsafe extern "C" fn release(buffer: Buffer) {
        if !buffer.ptr.is_null() {
            // SAFETY: the parts of a `Vec<u8>` that `call` took apart.
            drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
        }
    }

    /// Calls `entry` through the C ABI as the Rust front does: `(status, text)`.
    #[cfg(test)]
    pub fn call_as_the_front(
        entry: Entry,
        args: &str,
        timeout_seconds: f64,
        cancelled: bool,
    ) -> (i32, String) {
        let flag = AtomicU8::new(cancelled.into());
        let mut out = Buffer {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        };
        // SAFETY: `args`, `flag` and `out` outlive the call.
        let status =
            unsafe { (entry.call)(args.as_ptr(), args.len(), timeout_seconds, &flag, &mut out) };
        // SAFETY: `call` wrote `len` initialised bytes at `ptr`; they are copied before
        // `release` gets the buffer back, once.
        let text = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
        unsafe { (entry.release)(out) };
        (status, String::from_utf8(text).unwrap())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        struct Panics;

        impl Kernel for Panics {
            fn call(_: &Args, _: &Stop<'_>) -> Result<String, Failure> {
                panic!("on purpose")
            }
        }

        #[test]
        fn a_panic_is_reported_not_unwound_into_the_caller() {
            let (status, message) = call_as_the_front(entry::<Panics>(), "{}", 0.0, false);
            assert_eq!(
                (status, message.as_str()),
                (3, "the kernel panicked: on purpose")
            );
        }

        #[test]
        fn arguments_that_are_not_a_json_object_are_bad_input() {
            for args in ["", "[1]", "7", "{"] {
                let (status, message) = call_as_the_front(entry::<Panics>(), args, 0.0, false);
                assert_eq!(status, 1, "{args}");
                assert!(
                    message.starts_with("arguments are not a JSON object"),
                    "{message}"
                );
            }
        }
    }
}
