//! Rust's `log` records (the front's diagnostics) in Python's `logging`, through
//! pyo3-log: a record's target names the Python logger, with `::` as `.`.
//!
//! Binding layer: only [`crate`]'s module init uses it.

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

/// pyo3-log's logger, with one more care for the thread that serves the front, which
/// is Python's main thread. A record sent to Python there would first run the Python
/// handler of a signal that came in (SIGINT's, for one), and if that handler raised,
/// the record would be lost. So pending handlers run before the record goes in, and
/// what they raise stays pending for the caller (`serve_front` raises it on return).
/// Levels are cached per logger at its first record (pyo3-log's `LoggersAndLevels`):
/// configure logging before the front starts, as `flask rustpath serve` does.
struct Bridge(pyo3_log::Logger);

impl Log for Bridge {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        // Without the GIL for a level Python does not log (pyo3-log caches levels).
        if !self.0.enabled(record.metadata()) {
            return;
        }
        Python::attach(|py| {
            let earlier = PyErr::take(py);
            // Off the main thread this does nothing.
            let raised = py.check_signals().err();
            self.0.log(record);
            // A failure of logging itself (a broken handler) is reported as Python
            // reports one in a callback, and is not the caller's: it must not end the
            // front, nor be lost silently on a tokio thread.
            if let Some(failed) = PyErr::take(py) {
                failed.write_unraisable(py, None);
            }
            if let Some(err) = earlier.or(raised) {
                err.restore(py);
            }
        });
    }

    fn flush(&self) {}
}

/// Sends this module's `log` records to Python from now on; a logger already installed
/// (the module initialised again) stays.
///
/// # Errors
/// Python's `logging` cannot be imported.
pub fn install(py: Python<'_>) -> PyResult<()> {
    let logger = pyo3_log::Logger::new(py, pyo3_log::Caching::LoggersAndLevels)?;
    if log::set_boxed_logger(Box::new(Bridge(logger))).is_ok() {
        // pyo3-log's own default: Python decides from Debug up.
        log::set_max_level(LevelFilter::Debug);
    }
    Ok(())
}
