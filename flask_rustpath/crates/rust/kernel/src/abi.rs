//! The native entry point of a kernel: a versioned C ABI, so the Rust front can call a
//! kernel from any crate with no Python and no GIL.
//!
//! A crate exports, for each kernel the front may serve, a [`NativeEntry`] in a
//! `PyCapsule` named [`CAPSULE_NAME`] (`flask_rustpath.native.v1`), listed in its
//! module's `__rustpath_native__` dict under the function's name. `flask rustpath
//! serve` reads those capsules once at start-up; afterwards the front calls `call` from
//! its own threads. This module is the ABI's only definition: `_native` and every
//! kernel crate export through [`entry`], and the front reads through [`Entry`].
//!
//! # ABI version 1
//!
//! ```c
//! typedef struct { uint8_t *ptr; size_t len; size_t cap; } RustPathBuffer;
//! typedef struct {
//!     uint32_t abi_version;      /* 1 */
//!     int32_t (*call)(const uint8_t *args, size_t args_len, double timeout_seconds,
//!                     const _Atomic uint8_t *cancelled, RustPathBuffer *out);
//!     void (*release)(RustPathBuffer buffer);
//! } RustPathNativeEntry;
//! ```
//!
//! - `args` is a UTF-8 JSON object of the kernel's arguments by parameter name.
//! - `timeout_seconds` is the deadline from now; zero, negative or NaN means none.
//! - `cancelled` turns from 0 to 1 when the answer is no longer wanted (the client went
//!   away; it is only ever 0 or 1, so Rust may read it as an `AtomicBool`); a kernel
//!   may poll it between chunks of work, or ignore it.
//! - The return value is a [`Status`]. `out` receives UTF-8 bytes allocated by the
//!   callee and handed back to its `release`: the result as JSON for
//!   [`Status::Ok`], a message for [`Status::BadInput`] and [`Status::Failed`],
//!   nothing for [`Status::Deadline`].
//! - `call` must not unwind: a panic is caught and reported as [`Status::Failed`]
//!   ([`serve_call`] does both).
//!
//! The front builds `args` itself from a matched URL, so it is always a JSON object;
//! any other input is the callee's to refuse with [`Status::BadInput`].

use std::borrow::Cow;
use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::cancel::Deadline;
use crate::error::Error;

/// The `PyCapsule` name of a version-1 entry.
pub const CAPSULE_NAME: &CStr = c"flask_rustpath.native.v1";
/// [`NativeEntry::abi_version`] of this layout.
pub const ABI_VERSION: u32 = 1;

/// Bytes passed across the ABI; owned by the side that allocated them.
#[repr(C)]
#[derive(Debug)]
pub struct NativeBuffer {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

/// `call` of a version-1 entry (see the module documentation).
pub type CallFn = unsafe extern "C" fn(
    args: *const u8,
    args_len: usize,
    timeout_seconds: f64,
    cancelled: *const AtomicBool,
    out: *mut NativeBuffer,
) -> i32;
/// `release` of a version-1 entry.
pub type ReleaseFn = unsafe extern "C" fn(buffer: NativeBuffer);

/// What a capsule points to.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NativeEntry {
    pub abi_version: u32,
    pub call: CallFn,
    pub release: ReleaseFn,
}

/// How a call ended.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    BadInput = 1,
    Deadline = 2,
    Failed = 3,
}

/// A call's outcome, with the callee's bytes copied out.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The result, as JSON text.
    Ok(String),
    /// The input was refused; the kernel's message.
    BadInput(String),
    /// The deadline passed (or the call was cancelled).
    Deadline,
    /// The kernel failed (a panic, or an unknown status); a message for the log.
    Failed(String),
}

/// A checked version-1 entry the front may call from any thread.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    call: CallFn,
    release: ReleaseFn,
}

impl Entry {
    /// Reads the entry `pointer` refers to.
    ///
    /// # Safety
    /// `pointer` must come from a capsule named [`CAPSULE_NAME`] whose module stays
    /// loaded for the life of the process (extension modules are never unloaded).
    ///
    /// # Errors
    /// The entry declares another ABI version.
    #[allow(unsafe_code)]
    pub unsafe fn from_pointer(pointer: *const NativeEntry) -> Result<Self, String> {
        // SAFETY: every version starts with `abi_version`: read it alone first, since a
        // layout of another version may be smaller than this one.
        let version = unsafe { std::ptr::addr_of!((*pointer).abi_version).read() };
        if version != ABI_VERSION {
            return Err(format!(
                "native entry has ABI version {version}, this flask-rustpath speaks {ABI_VERSION}"
            ));
        }
        // SAFETY: a version-1 entry, which the caller guarantees is live.
        let entry = unsafe { &*pointer };
        Ok(Self {
            call: entry.call,
            release: entry.release,
        })
    }

    /// Calls the kernel with `args` (a JSON object) under `timeout`.
    #[allow(unsafe_code)]
    #[must_use]
    pub fn call(&self, args: &str, timeout: Option<Duration>, cancelled: &AtomicBool) -> Outcome {
        let mut out = NativeBuffer {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        };
        let seconds = timeout.map_or(0.0, |t| t.as_secs_f64());
        // SAFETY: the entry was checked in `from_pointer`; `args` and `out` outlive the
        // call, and `cancelled` is a live atomic for its duration.
        let status =
            unsafe { (self.call)(args.as_ptr(), args.len(), seconds, cancelled, &raw mut out) };
        let text = if out.ptr.is_null() {
            String::new()
        } else {
            // SAFETY: the callee filled `out` with `len` initialised bytes it owns; they
            // are copied before `release` hands them back.
            let bytes = unsafe { std::slice::from_raw_parts(out.ptr, out.len) };
            let text = String::from_utf8_lossy(bytes).into_owned();
            // SAFETY: `out` came from this entry's `call` and is released once.
            unsafe { (self.release)(out) };
            text
        };
        match status {
            0 => Outcome::Ok(text),
            1 => Outcome::BadInput(text),
            2 => Outcome::Deadline,
            3 => Outcome::Failed(text),
            other => Outcome::Failed(format!("native entry returned unknown status {other}")),
        }
    }
}

/// A kernel's native door: `args` is the JSON object the front sends.
///
/// [`kernel`](crate::kernel) implements it for each marked function, through
/// [`run_json`]; `_native` implements it by hand for `sum_of_primes`.
pub trait NativeKernel {
    /// Runs the kernel on `args` under `deadline`; a panic is caught by the caller.
    fn call(args: &str, deadline: &Deadline<'_>) -> Outcome;
}

/// The version-1 entry of kernel `K`, for a capsule (see
/// [`python::native_entries`](crate::python::native_entries)).
#[must_use]
pub const fn entry<K: NativeKernel>() -> NativeEntry {
    NativeEntry {
        abi_version: ABI_VERSION,
        call: call::<K>,
        release: release_buffer,
    }
}

#[allow(unsafe_code)]
unsafe extern "C" fn call<K: NativeKernel>(
    args: *const u8,
    args_len: usize,
    timeout_seconds: f64,
    cancelled: *const AtomicBool,
    out: *mut NativeBuffer,
) -> i32 {
    // SAFETY: the caller passes pointers as the ABI documents them.
    unsafe { serve_call(args, args_len, timeout_seconds, cancelled, out, K::call) }
}

/// A kernel's arguments, by parameter name.
pub type Args = serde_json::Map<String, serde_json::Value>;

/// The native door of kernel `name`: decodes `args` as a JSON object, runs `kernel`
/// and encodes its result as JSON, with [`Error`]'s mapping: bad input names the
/// kernel, a passed deadline is [`Outcome::Deadline`].
pub fn run_json<T: serde::Serialize>(
    name: &str,
    args: &str,
    kernel: impl FnOnce(&Args) -> Result<T, Error>,
) -> Outcome {
    let args: Args = match serde_json::from_str(args) {
        Ok(args) => args,
        Err(err) => return Outcome::BadInput(format!("arguments are not a JSON object: {err}")),
    };
    answer(name, kernel(&args))
}

/// A kernel's result as the front's outcome, with [`Error`]'s mapping.
fn answer<T: serde::Serialize>(name: &str, result: Result<T, Error>) -> Outcome {
    match result {
        Ok(value) => match serde_json::to_string(&value) {
            Ok(json) => Outcome::Ok(json),
            Err(err) => Outcome::Failed(format!("{name}: its result is not JSON: {err}")),
        },
        Err(Error::Deadline) => Outcome::Deadline,
        Err(err @ Error::BadInput(_)) => Outcome::BadInput(err.message(name)),
        Err(err @ Error::Failed(_)) => Outcome::Failed(err.message(name)),
    }
}

/// A kernel's arguments decoded straight from the front's JSON object, with no map
/// in between: one `Option` slot per parameter, which [`run_slots`] fills as it reads
/// the object. [`kernel`](crate::kernel) implements it for each marked function.
pub trait Slots: Default {
    /// Decodes the value of argument `key` from `map` into its slot; `Ok(false)` when
    /// no parameter is named `key` (its value is then skipped).
    ///
    /// # Errors
    /// The value does not decode as the parameter's type.
    fn decode<'de, M: MapAccess<'de>>(&mut self, key: &str, map: &mut M) -> Result<bool, M::Error>;
}

/// The native door of kernel `name`, as [`run_json`], with the arguments decoded
/// straight into `S`'s slots: the same answers, without building a map of values.
pub fn run_slots<S: Slots, T: serde::Serialize>(
    name: &str,
    args: &str,
    kernel: impl FnOnce(S) -> Result<T, Error>,
) -> Outcome {
    let mut slots = S::default();
    let mut refused = None;
    let mut reader = serde_json::Deserializer::from_str(args);
    let read = serde::Deserializer::deserialize_map(
        &mut reader,
        SlotVisitor {
            slots: &mut slots,
            refused: &mut refused,
        },
    )
    .and_then(|()| reader.end());
    if let Err(err) = read {
        // A value of the wrong type is the argument's fault; broken JSON inside a value
        // (a syntax error, the end of the text) is the whole object's.
        return Outcome::BadInput(match refused {
            Some(message) if err.is_data() => format!("{name}: {message}"),
            _ => format!("arguments are not a JSON object: {err}"),
        });
    }
    answer(name, kernel(slots))
}

/// The value of a slot [`run_slots`] filled; a missing one is bad input.
///
/// # Errors
/// [`Error::BadInput`] naming the missing argument.
pub fn required<T>(slot: Option<T>, name: &str) -> Result<T, Error> {
    slot.ok_or_else(|| Error::BadInput(format!("missing argument '{name}'")))
}

/// Reads a JSON object's keys and hands each value to its slot.
struct SlotVisitor<'a, S> {
    slots: &'a mut S,
    /// Why an argument was refused, in [`arg`]'s words.
    refused: &'a mut Option<String>,
}

impl<'de, S: Slots> Visitor<'de> for SlotVisitor<'_, S> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a map")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(Key(key)) = map.next_key()? {
            match self.slots.decode(&key, &mut map) {
                Ok(true) => {}
                Ok(false) => {
                    map.next_value::<IgnoredAny>()?;
                }
                Err(err) => {
                    let text = err.to_string();
                    *self.refused = Some(format!("argument '{key}': {}", without_position(&text)));
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

/// An object's key: borrowed from the arguments unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// serde_json's message without the " at line L column C" it adds while reading text,
/// as [`arg`] words it from a decoded value.
fn without_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .filter(|&at| {
            let rest = &message[at + " at line ".len()..];
            rest.split_once(" column ").is_some_and(|(line, column)| {
                !line.is_empty()
                    && line.bytes().all(|b| b.is_ascii_digit())
                    && !column.is_empty()
                    && column.bytes().all(|b| b.is_ascii_digit())
            })
        })
        .map_or(message, |at| &message[..at])
}

/// The argument `name` of `args`, decoded as a `T`; a missing or mistyped one is
/// bad input.
///
/// # Errors
/// [`Error::BadInput`] saying which argument and why.
pub fn arg<T: serde::de::DeserializeOwned>(args: &Args, name: &str) -> Result<T, Error> {
    let value = args
        .get(name)
        .ok_or_else(|| Error::BadInput(format!("missing argument '{name}'")))?;
    T::deserialize(value).map_err(|err| Error::BadInput(format!("argument '{name}': {err}")))
}

/// The exporting side of `call`: runs `kernel` on the decoded arguments, catching
/// panics, and writes its answer to `out`.
///
/// # Safety
/// The pointers must be as the ABI documents them.
#[allow(unsafe_code)]
pub unsafe fn serve_call(
    args: *const u8,
    args_len: usize,
    timeout_seconds: f64,
    cancelled: *const AtomicBool,
    out: *mut NativeBuffer,
    kernel: fn(&str, &Deadline<'_>) -> Outcome,
) -> i32 {
    let answer = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller passes `args_len` readable bytes at `args`.
        let bytes = unsafe { std::slice::from_raw_parts(args, args_len) };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Outcome::BadInput("arguments are not UTF-8".into());
        };
        let mut deadline = if timeout_seconds > 0.0 {
            Duration::try_from_secs_f64(timeout_seconds)
                .map_or_else(|_| Deadline::never(), Deadline::after)
        } else {
            Deadline::never()
        };
        if !cancelled.is_null() {
            // SAFETY: the caller keeps the atomic alive for the duration of the call,
            // and the deadline borrowing it does not outlive the call.
            deadline = deadline.with_flag(unsafe { &*cancelled });
        }
        kernel(text, &deadline)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-text payload".into());
        Outcome::Failed(format!("the kernel panicked: {message}"))
    });
    let (status, text) = match answer {
        Outcome::Ok(json) => (Status::Ok, json),
        Outcome::BadInput(message) => (Status::BadInput, message),
        Outcome::Deadline => (Status::Deadline, String::new()),
        Outcome::Failed(message) => (Status::Failed, message),
    };
    let mut bytes = std::mem::ManuallyDrop::new(text.into_bytes());
    // SAFETY: `out` is writable; `release` rebuilds this `Vec` from these parts.
    unsafe {
        out.write(NativeBuffer {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        });
    }
    status as i32
}

/// The exporting side of `release`, for buffers made by [`serve_call`].
///
/// # Safety
/// `buffer` must come from [`serve_call`] and be released once.
#[allow(unsafe_code)]
pub unsafe extern "C" fn release_buffer(buffer: NativeBuffer) {
    if !buffer.ptr.is_null() {
        // SAFETY: the parts of a `Vec<u8>` leaked by `serve_call`.
        drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
    }
}
