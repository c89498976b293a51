//! The Python side of a kernel: the deadline from `timeout=`, [`Error`] as a Python
//! exception, and the module's `__rustpath_native__` capsules.

use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyModule};

use crate::abi::{Entry, NativeEntry, CAPSULE_NAME};
use crate::cancel::Deadline;
use crate::error::Error;
use crate::Kernel;

/// The deadline of a Python call from its `timeout=` keyword (seconds; `None`: none).
///
/// # Errors
/// `ValueError` for a timeout that is not a positive number of seconds.
pub fn deadline(timeout: Option<f64>) -> PyResult<Deadline<'static>> {
    match timeout {
        None => Ok(Deadline::never()),
        Some(t) if t.is_finite() && t > 0.0 => {
            Ok(Duration::try_from_secs_f64(t).map_or_else(|_| Deadline::never(), Deadline::after))
        }
        Some(t) => Err(PyValueError::new_err(format!(
            "timeout must be a positive number of seconds, got {t}"
        ))),
    }
}

/// `err` of kernel `name` as Python sees it: `ValueError` for bad input,
/// `TimeoutError` for a passed deadline, `RuntimeError` for a failure, with the
/// words the front uses.
#[must_use]
#[allow(clippy::needless_pass_by_value)] // shaped for `map_err`
pub fn to_pyerr(name: &str, err: Error) -> PyErr {
    match err {
        Error::BadInput(_) => PyValueError::new_err(err.message(name)),
        Error::Deadline => PyTimeoutError::new_err(err.message(name)),
        Error::Failed(_) => PyRuntimeError::new_err(err.message(name)),
    }
}

/// `{name: capsule}` of native entry points, for a module's `__rustpath_native__`.
///
/// # Errors
/// When Python cannot make the capsules.
pub fn native_entries(
    py: Python<'_>,
    entries: impl IntoIterator<Item = (&'static str, NativeEntry)>,
) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for (name, entry) in entries {
        dict.set_item(name, PyCapsule::new_with_value(py, entry, CAPSULE_NAME)?)?;
    }
    Ok(dict)
}

/// Adds each kernel's Python function to `module`, and their native entry points as
/// `__rustpath_native__` (what [`module!`](crate::module) does).
///
/// # Errors
/// When Python refuses an addition.
pub fn export(module: &Bound<'_, PyModule>, kernels: &[Kernel]) -> PyResult<()> {
    for kernel in kernels {
        (kernel.add)(module)?;
    }
    let entries = native_entries(module.py(), kernels.iter().map(|k| (k.name, k.native)))?;
    module.add("__rustpath_native__", entries)
}

/// The checked entry a `__rustpath_native__` capsule holds, for the front.
///
/// # Errors
/// `ValueError` when `capsule` is not a version-1 native entry.
pub fn entry_from_capsule(key: &str, capsule: &Bound<'_, PyAny>) -> PyResult<Entry> {
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| PyValueError::new_err(format!("native entry {key:?} is not a capsule")))?;
    let pointer = capsule.pointer_checked(Some(CAPSULE_NAME))?;
    // SAFETY: a capsule of that name holds a `NativeEntry`; the caller keeps it alive
    // while it uses the entry, and extension modules are never unloaded.
    #[allow(unsafe_code)]
    unsafe { Entry::from_pointer(pointer.cast().as_ptr()) }
        .map_err(|err| PyValueError::new_err(format!("native entry {key:?}: {err}")))
}
