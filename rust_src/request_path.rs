//! The per-request path of paired views and kernel calls, in native code.
//!
//! Every request through the pairing middleware, and every kernel call a view makes,
//! runs this code, so it is the part of the extension a request pays for. In Python it
//! cost about 12k instructions for the middleware and 11k per kernel call (callgrind);
//! here it costs a few hundred each. The rules themselves stay in Python, which this
//! code defers to whenever a case is not its own:
//!
//! - [`SidePaths`] is the base of `flask_rustpath.middleware.PairingMiddleware`. It
//!   makes each request's [`CallRecord`] (with the side a `/python` or `/rust` URL
//!   pins), and wraps `start_response` in a [`Start`] that adds `X-RustPath-Backend`
//!   and `Server-Timing` and holds back a 404/405 when the app has JSON routes. The
//!   first request and a held-back routing error go to the Python subclass's
//!   `_first_request` and `_routing_answer`.
//! - [`KernelCall`] is the base of `flask_rustpath.core.kernel.Kernel`. Calling a kernel
//!   while a request is served runs the side the call policy picks, times it and
//!   records it, when the call passes no limit and no cap, its Rust side is imported and
//!   its backend is not `shadow`. Anything else goes to the Python subclass's
//!   `_call`, the one full policy (`flask_rustpath.core.policy.run`). A failure is
//!   recorded and mapped to its answer by the policy's own `failed_call`.
//!
//! The kernel's exception is taken from the interpreter directly, not through PyO3's
//! `PyErr::fetch`: that turns a `PanicException` of this module's own kernels back into
//! a Rust panic, printing it and calling `sys.excepthook` on the way.
//!
//! How a call finds the request it belongs to is installed once by the Flask face
//! ([`configure_request_path`]); until then every call takes the Python path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use pyo3::exceptions::{PyBaseException, PyRuntimeError, PySystemError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::PyTraverseError;
use pyo3::PyVisit;

const BACKEND_HEADER: &str = "X-RustPath-Backend";
const TIMING_HEADER: &str = "Server-Timing";

/// What the Flask face installs: how a call reaches its request's WSGI environ, and the
/// Python pieces this code hands over to.
struct RequestPath {
    /// Returns the request context being served, or `None` (no frame: a `partial` of a
    /// context variable's `get`).
    current: Py<PyAny>,
    /// Attributes from the request context to the WSGI environ.
    to_environ: Vec<Py<PyString>>,
    /// The environ key of the request's [`CallRecord`].
    record_key: Py<PyString>,
    /// The rule class of a paired view's side twins: a pinned request served by one
    /// gets the backend header even when it calls no kernel.
    side_rule: Py<PyAny>,
    /// `failed_call(kernel, side, exc, events, calls)`: records a failed call and
    /// returns what to raise for it.
    failed_call: Py<PyAny>,
    /// The `write` callable a held-back response gets (it refuses to write).
    no_write: Py<PyAny>,
}

static REQUEST_PATH: PyOnceLock<RequestPath> = PyOnceLock::new();

/// Install how kernel calls find their request. Once per process: the first call
/// wins (a module reloaded in a shell installs the same pieces again).
#[pyfunction]
#[pyo3(signature = (current, to_environ, record_key, side_rule, failed_call, no_write))]
pub fn configure_request_path(
    py: Python<'_>,
    current: Py<PyAny>,
    to_environ: Vec<Py<PyString>>,
    record_key: Py<PyString>,
    side_rule: Py<PyAny>,
    failed_call: Py<PyAny>,
    no_write: Py<PyAny>,
) {
    let path = RequestPath {
        current,
        to_environ,
        record_key,
        side_rule,
        failed_call,
        no_write,
    };
    let _first_wins = REQUEST_PATH.set(py, path);
}

/// One request: its app's runtime, the side its URL pinned (`None` on the plain URL)
/// and each kernel call made while serving it, as `(kernel, side, seconds, error)`
/// tuples (`seconds` is `None` for a call refused before it ran).
#[pyclass(frozen, module = "flask_rustpath._native")]
pub struct CallRecord {
    #[pyo3(get)]
    state: Py<PyAny>,
    #[pyo3(get)]
    side: Option<Py<PyString>>,
    #[pyo3(get)]
    calls: Py<PyList>,
    /// The runtime's `digests` (kernel -> what a call reads), read by the native call.
    digests: Py<PyDict>,
}

#[pymethods]
impl CallRecord {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.state)?;
        visit.call(&self.side)?;
        visit.call(&self.calls)?;
        visit.call(&self.digests)
    }

    #[new]
    fn new(state: &Bound<'_, PyAny>, side: Option<Py<PyString>>) -> PyResult<Self> {
        let digests = state.getattr("digests")?.cast_into::<PyDict>()?.unbind();
        Ok(CallRecord {
            state: state.clone().unbind(),
            side,
            calls: PyList::empty(state.py()).unbind(),
            digests,
        })
    }
}

/// The base of the pairing middleware (see the module docs).
#[pyclass(frozen, subclass, module = "flask_rustpath._native")]
pub struct SidePaths {
    /// The app it wraps; replaceable (a profiler or test middleware put in between).
    wsgi_app: Mutex<Py<PyAny>>,
    state: Py<PyAny>,
    /// The runtime's `digests`, given to each request's record.
    digests: Py<PyDict>,
    /// `(prefix, side)`, e.g. `("/rust", "rust")`.
    prefixes: Vec<(String, Py<PyString>)>,
    /// Set by the subclass once its first request's checks are done.
    ready: AtomicBool,
    /// Whether the app has JSON routes, whose routing errors are answered in JSON (set
    /// with `ready`: no route is added once an app has served a request).
    hot: AtomicBool,
}

#[pymethods]
impl SidePaths {
    #[new]
    #[pyo3(signature = (app, wsgi_app, state))]
    fn new(app: &Bound<'_, PyAny>, wsgi_app: Py<PyAny>, state: Py<PyAny>) -> PyResult<Self> {
        let py = app.py();
        let mut prefixes = Vec::new();
        for pair in state.bind(py).getattr("side_prefixes")?.try_iter()? {
            let (prefix, side): (String, Py<PyString>) = pair?.extract()?;
            prefixes.push((prefix, side));
        }
        let digests = state
            .bind(py)
            .getattr("digests")?
            .cast_into::<PyDict>()?
            .unbind();
        Ok(SidePaths {
            wsgi_app: Mutex::new(wsgi_app),
            state,
            digests,
            prefixes,
            ready: AtomicBool::new(false),
            hot: AtomicBool::new(true),
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(app) = self.wsgi_app.lock() {
            visit.call(&*app)?;
        }
        visit.call(&self.state)?;
        visit.call(&self.digests)?;
        for (_, side) in &self.prefixes {
            visit.call(side)?;
        }
        Ok(())
    }

    /// The WSGI app it wraps: Flask's own, or what was put in between since.
    #[getter]
    fn wsgi_app(&self, py: Python<'_>) -> Py<PyAny> {
        self.wsgi_app.lock().expect("not poisoned").clone_ref(py)
    }

    #[setter]
    fn set_wsgi_app(&self, app: Py<PyAny>) {
        *self.wsgi_app.lock().expect("not poisoned") = app;
    }

    /// The app's runtime (its `RustPathState`).
    #[getter]
    fn state(&self, py: Python<'_>) -> Py<PyAny> {
        self.state.clone_ref(py)
    }

    #[getter]
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    #[setter]
    fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    #[getter]
    fn hot(&self) -> bool {
        self.hot.load(Ordering::Acquire)
    }

    #[setter]
    fn set_hot(&self, hot: bool) {
        self.hot.store(hot, Ordering::Release);
    }

    /// The side whose prefix starts `path` as a whole segment.
    fn _side_of(&self, py: Python<'_>, path: &str) -> Option<Py<PyString>> {
        self.side_of(path).map(|side| side.clone_ref(py))
    }

    fn __call__(
        slf: &Bound<'_, Self>,
        environ: &Bound<'_, PyDict>,
        start_response: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if !slf.get().ready.load(Ordering::Acquire) {
            slf.call_method0(intern!(py, "_first_request"))?;
        }
        let Some(path) = REQUEST_PATH.get(py) else {
            return Err(PyRuntimeError::new_err(
                "flask-rustpath's request path is not configured (import flask_rustpath.state)",
            ));
        };
        let this = slf.get();
        let side = match environ.get_item(intern!(py, "PATH_INFO"))? {
            Some(info) => match info.cast::<PyString>() {
                Ok(info) => this.side_of(info.to_str()?).map(|s| s.clone_ref(py)),
                Err(_) => None,
            },
            None => None,
        };
        let record = Bound::new(
            py,
            CallRecord {
                state: this.state.clone_ref(py),
                side,
                calls: PyList::empty(py).unbind(),
                digests: this.digests.clone_ref(py),
            },
        )?;
        environ.set_item(path.record_key.bind(py), &record)?;
        // The app's JSON routes answer routing errors under their rules in JSON: a
        // 404/405 is held back until the subclass has looked.
        let hot = this.hot.load(Ordering::Acquire);
        let start = Bound::new(
            py,
            Start {
                record: record.clone().unbind(),
                environ: environ.clone().unbind(),
                respond: start_response.clone_ref(py),
                hot,
                held: Mutex::new(None),
            },
        )?;
        let wsgi_app = this.wsgi_app.lock().expect("not poisoned").clone_ref(py);
        let body = wsgi_app.bind(py).call1((environ, &start))?;
        let held = start.get().held.lock().expect("not poisoned").take();
        match held {
            None => Ok(body.unbind()),
            Some((status, headers, exc_info)) => Ok(slf
                .call_method1(
                    intern!(py, "_routing_answer"),
                    (environ, start_response, body, status, headers, exc_info),
                )?
                .unbind()),
        }
    }
}

impl SidePaths {
    fn side_of(&self, path: &str) -> Option<&Py<PyString>> {
        self.prefixes.iter().find_map(|(prefix, side)| {
            let rest = path.strip_prefix(prefix.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then_some(side)
        })
    }
}

/// A held-back `start_response` call: status, headers and `exc_info`.
type Held = (Py<PyAny>, Py<PyAny>, Py<PyAny>);

/// The `start_response` the app is given: adds the kernel headers while Flask still
/// holds the request, and holds back a routing error for the middleware to look at.
#[pyclass(frozen, module = "flask_rustpath._native")]
pub struct Start {
    record: Py<CallRecord>,
    environ: Py<PyDict>,
    respond: Py<PyAny>,
    hot: bool,
    held: Mutex<Option<Held>>,
}

#[pymethods]
impl Start {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.record)?;
        visit.call(&self.environ)?;
        visit.call(&self.respond)?;
        if let Ok(held) = self.held.lock() {
            if let Some((status, headers, exc_info)) = &*held {
                visit.call(status)?;
                visit.call(headers)?;
                visit.call(exc_info)?;
            }
        }
        Ok(())
    }

    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let exc_info = exc_info.unwrap_or_else(|| py.None());
        let record = self.record.get();
        let calls = record.calls.bind(py);
        let backend_header = intern!(py, BACKEND_HEADER);
        if !calls.is_empty() {
            let (backend, timing) = kernel_headers(calls)?;
            append_header(headers, backend_header, backend)?;
            append_header(headers, intern!(py, TIMING_HEADER), timing)?;
        } else if let Some(side) = &record.side {
            if self.served_pinned(py)? {
                append_header(headers, backend_header, side.bind(py).clone().into_any())?;
            }
        }
        if self.hot {
            let code = status.cast::<PyString>()?.to_str()?;
            if code.starts_with("404") || code.starts_with("405") {
                let held = (status.clone().unbind(), headers.clone().unbind(), exc_info);
                *self.held.lock().expect("not poisoned") = Some(held);
                let path = REQUEST_PATH.get(py).expect("configured before any request");
                return Ok(path.no_write.clone_ref(py));
            }
        }
        // A later call (an error page after a held-back 404, with exc_info) is the one
        // that stands: nothing is held back any more.
        self.held.lock().expect("not poisoned").take();
        Ok(self
            .respond
            .bind(py)
            .call1((status, headers, exc_info))?
            .unbind())
    }
}

impl Start {
    /// Whether the URL pinned a side and routed to a paired view's twin (a URL under a
    /// prefix that matched nothing is the app's 404, with no kernel header).
    fn served_pinned(&self, py: Python<'_>) -> PyResult<bool> {
        let Some(path) = REQUEST_PATH.get(py) else {
            return Ok(false);
        };
        let Some(request) = self
            .environ
            .bind(py)
            .get_item(intern!(py, "werkzeug.request"))?
        else {
            return Ok(false);
        };
        match request.getattr_opt(intern!(py, "url_rule"))? {
            Some(rule) => rule.is_instance(path.side_rule.bind(py)),
            None => Ok(false),
        }
    }
}

fn append_header<'py>(
    headers: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    value: Bound<'py, PyAny>,
) -> PyResult<()> {
    let header = (name, value);
    match headers.cast::<PyList>() {
        Ok(list) => list.append(header),
        Err(_) => headers.call_method1("append", (header,)).map(drop),
    }
}

/// `X-RustPath-Backend` (the sides that ran kernels, in order, once each) and
/// `Server-Timing` (one entry per call) for a non-empty record.
fn kernel_headers<'py>(
    calls: &Bound<'py, PyList>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let py = calls.py();
    let mut sides: Vec<Bound<'py, PyString>> = Vec::with_capacity(2);
    let mut timing = String::with_capacity(64 * calls.len());
    for call in calls.iter() {
        let call = call.cast_into::<PyTuple>()?;
        let kernel = call.get_item(0)?.cast_into::<PyString>()?;
        let side = call.get_item(1)?.cast_into::<PyString>()?;
        let seconds = call.get_item(2)?;
        let seconds = if seconds.is_none() {
            None
        } else {
            Some(seconds.extract::<f64>()?)
        };
        if !timing.is_empty() {
            timing.push_str(", ");
        }
        crate::timing::write_entry(&mut timing, side.to_str()?, kernel.to_str()?, seconds);
        if !sides
            .iter()
            .any(|seen| seen.is(&side) || seen.to_str().ok() == side.to_str().ok())
        {
            sides.push(side);
        }
    }
    let backend = if let [side] = sides.as_slice() {
        side.clone().into_any() // the common case: the side's own string
    } else {
        let names: Vec<&str> = sides.iter().map(|s| s.to_str()).collect::<PyResult<_>>()?;
        PyString::new(py, &names.join(", ")).into_any()
    };
    Ok((backend, PyString::new(py, &timing).into_any()))
}

/// [`crate::timing::write_entry`] for Python, so a test can hold it to the reference.
#[pyfunction]
#[pyo3(name = "_timing_entry", signature = (side, kernel, seconds))]
#[must_use]
pub fn timing_entry_py(side: &str, kernel: &str, seconds: Option<f64>) -> String {
    let mut entry = String::new();
    crate::timing::write_entry(&mut entry, side, kernel, seconds);
    entry
}

/// The base of `Kernel` (see the module docs).
#[pyclass(frozen, subclass, module = "flask_rustpath._native")]
pub struct KernelCall {
    /// The Rust target last seen, its imported function and whether it takes
    /// `timeout=` (a target is imported once; the kernel's target is compared each call,
    /// so a target replaced, by a test's patch, is followed).
    rust: Mutex<Option<RustSide>>,
}

/// A kernel's Rust target, its imported function, and whether that takes `timeout=`.
type RustSide = (Py<PyAny>, Py<PyAny>, bool);

#[pymethods]
impl KernelCall {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        KernelCall {
            rust: Mutex::new(None),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(rust) = self.rust.lock() {
            if let Some((target, function, _)) = &*rust {
                visit.call(target)?;
                visit.call(function)?;
            }
        }
        Ok(())
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let kernel = slf.as_any();
        // A lookup that fails (an unexpected shape) is the policy's to report.
        if let Ok(Some(call)) = FastCall::of(slf) {
            return call.run(kernel, args, kwargs);
        }
        Ok(kernel
            .call_method1(intern!(py, "_call"), (args, kwargs))?
            .unbind())
    }
}

/// A call the native path serves, with everything it read to decide so.
struct FastCall<'py> {
    path: &'py RequestPath,
    record: Bound<'py, CallRecord>,
    side: Bound<'py, PyString>,
    name: Bound<'py, PyAny>,
    function: Bound<'py, PyAny>,
    /// The app's deadline, for a Rust side that takes `timeout=`.
    deadline: Option<Bound<'py, PyAny>>,
    events: Option<Bound<'py, PyAny>>,
    /// `events.append`, bound once per plan.
    append: Option<Bound<'py, PyAny>>,
}

// The plan's digest (see `KernelPlan.digest`): what a call reads, in one tuple.
const BACKEND: usize = 0;
const PYTHON_GUARDED: usize = 1;
const RUST_GUARDED: usize = 2;
const DEADLINE: usize = 3;
const EVENTS: usize = 4;
const NAME: usize = 5;
const EVENTS_APPEND: usize = 6;

impl<'py> FastCall<'py> {
    /// `None` for a call the Python policy serves: outside a request, a kernel with no
    /// plan yet, a shadowed backend, a side with limits or caps, a Rust side not
    /// imported yet.
    fn of(slf: &Bound<'py, KernelCall>) -> PyResult<Option<Self>> {
        let py = slf.py();
        let kernel = slf.as_any();
        let Some(path) = REQUEST_PATH.get(py) else {
            return Ok(None);
        };
        let Some(record) = Self::record_of_request(path, py)? else {
            return Ok(None);
        };
        let Ok(record) = record.cast_into::<CallRecord>() else {
            return Ok(None);
        };
        let Some(digest) = record.get().digests.bind(py).get_item(kernel)? else {
            return Ok(None); // no plan yet: the first call makes it
        };
        let digest = digest.cast_into::<PyTuple>()?;
        let side = if let Some(pinned) = &record.get().side {
            pinned.bind(py).clone()
        } else {
            digest.get_item(BACKEND)?.cast_into::<PyString>()?
        };
        let rust = match side.to_str()? {
            "python" => false,
            "rust" => true,
            _ => return Ok(None), // "shadow": the policy offers the call to shadow mode
        };
        let guarded = if rust { RUST_GUARDED } else { PYTHON_GUARDED };
        if digest.get_item(guarded)?.is_truthy()? {
            return Ok(None);
        }
        let (function, deadline) = if rust {
            let Some((function, takes)) = Self::rust_side(slf)? else {
                return Ok(None);
            };
            let deadline = digest.get_item(DEADLINE)?;
            (function, (takes && !deadline.is_none()).then_some(deadline))
        } else {
            (kernel.getattr(intern!(py, "python"))?, None)
        };
        let events = digest.get_item(EVENTS)?;
        let append = digest.get_item(EVENTS_APPEND)?;
        Ok(Some(FastCall {
            path,
            record,
            side,
            name: digest.get_item(NAME)?,
            function,
            deadline,
            events: (!events.is_none()).then_some(events),
            append: (!append.is_none()).then_some(append),
        }))
    }

    /// The record of the request being served, in its WSGI environ, found through the
    /// request context (which follows a streamed body and a thread started with the
    /// request's context).
    fn record_of_request(
        path: &RequestPath,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut found = path.current.bind(py).call0()?;
        if found.is_none() {
            return Ok(None);
        }
        for name in &path.to_environ {
            found = found.getattr(name.bind(py))?;
        }
        let Ok(environ) = found.cast::<PyDict>() else {
            return Ok(None);
        };
        environ.get_item(path.record_key.bind(py))
    }

    /// The Rust side's function and whether it takes `timeout=`, once it is imported.
    fn rust_side(slf: &Bound<'py, KernelCall>) -> PyResult<Option<(Bound<'py, PyAny>, bool)>> {
        let py = slf.py();
        let target = slf.as_any().getattr(intern!(py, "rust"))?;
        // The lock is never held while Python runs (an attribute read, or an old value
        // dropped, could run Python code that waits on it).
        {
            let cached = slf.get().rust.lock().expect("not poisoned");
            if let Some((known, function, takes)) = &*cached {
                if known.is(&target) {
                    return Ok(Some((function.bind(py).clone(), *takes)));
                }
            }
        }
        let function = target.getattr(intern!(py, "function"))?;
        if function.is_none() {
            return Ok(None); // not imported yet: the policy imports it
        }
        let takes = target.getattr(intern!(py, "takes_timeout"))?.is_truthy()?;
        let fresh = Some((target.unbind(), function.clone().unbind(), takes));
        let replaced = std::mem::replace(&mut *slf.get().rust.lock().expect("not poisoned"), fresh);
        drop(replaced);
        Ok(Some((function, takes)))
    }

    fn run(
        self,
        kernel: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = kernel.py();
        let record = self.record.get();
        let calls = record.calls.bind(py);
        let started = Instant::now();
        let outcome = call_kernel(&self.function, args, kwargs, self.deadline.as_ref());
        let seconds = started.elapsed().as_secs_f64();
        let result = match outcome {
            Ok(result) => result,
            Err(exc) => {
                let events = self
                    .events
                    .as_ref()
                    .map_or_else(|| py.None(), |e| e.clone().unbind());
                let raised = self
                    .path
                    .failed_call
                    .bind(py)
                    .call1((kernel, &self.side, &exc, events, calls))?;
                return Err(PyErr::from_value(raised));
            }
        };
        let call = PyTuple::new(
            py,
            [
                self.name,
                self.side.into_any(),
                seconds.into_pyobject(py)?.into_any(),
                py.None().into_bound(py),
            ],
        )?;
        calls.append(&call)?;
        if let Some(append) = &self.append {
            append.call1((&call,))?;
        }
        Ok(result.unbind())
    }
}

/// `function(*args, **kwargs)`, with `timeout=deadline` unless the caller gave its own
/// (the caller's wins, as in the Python policy); what it raised, as the exception.
fn call_kernel<'py>(
    function: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
    deadline: Option<&Bound<'py, PyAny>>,
) -> Result<Bound<'py, PyAny>, Bound<'py, PyBaseException>> {
    static KWNAMES: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
    let py = function.py();
    let given = kwargs.filter(|given| !given.is_empty());
    let result = match (deadline, given) {
        (None, _) => call_object(function, args, given),
        (Some(deadline), Some(given)) => {
            let merged = PyDict::new(py);
            let merge = merged
                .set_item(intern!(py, "timeout"), deadline)
                .and_then(|()| merged.update(given.as_mapping()));
            if let Err(err) = merge {
                return Err(err.into_value(py).into_bound(py));
            }
            call_object(function, args, Some(&merged))
        }
        (Some(deadline), None) => {
            // The common case, with no dict: the positional arguments, then the deadline
            // named by `kwnames`, as the vectorcall protocol passes keywords.
            let kwnames = KWNAMES.get_or_init(py, || {
                PyTuple::new(py, [intern!(py, "timeout")])
                    .expect("a tuple of one str")
                    .unbind()
            });
            let mut stack: Vec<*mut ffi::PyObject> = Vec::with_capacity(args.len() + 1);
            stack.extend(args.iter_borrowed().map(pyo3::Borrowed::as_ptr));
            stack.push(deadline.as_ptr());
            // SAFETY: `stack` holds borrowed pointers to live objects for the whole call:
            // the items of `args` (held by the caller) and `deadline` (held by the plan's
            // digest). `kwnames` is a tuple of one `str` naming the last entry, and
            // `args.len()` counts the others, as `PyObject_Vectorcall` requires.
            #[allow(unsafe_code)]
            unsafe {
                ffi::PyObject_Vectorcall(
                    function.as_ptr(),
                    stack.as_ptr(),
                    args.len(),
                    kwnames.as_ptr(),
                )
            }
        }
    };
    if result.is_null() {
        return Err(take_raised(py));
    }
    // SAFETY: a non-NULL result of a call is a new reference.
    #[allow(unsafe_code)]
    Ok(unsafe { Bound::from_owned_ptr(py, result) })
}

/// `PyObject_Call(function, args, kwargs)`: a new reference, or NULL with an exception set.
fn call_object(
    function: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> *mut ffi::PyObject {
    let kwargs = kwargs.map_or(std::ptr::null_mut(), Bound::as_ptr);
    // SAFETY: `function`, `args` (a tuple) and `kwargs` (a dict, or NULL) are live.
    #[allow(unsafe_code)]
    unsafe {
        ffi::PyObject_Call(function.as_ptr(), args.as_ptr(), kwargs)
    }
}

/// The exception a call just raised, taken from the interpreter, with its traceback.
fn take_raised(py: Python<'_>) -> Bound<'_, PyBaseException> {
    let mut kind: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    let mut traceback: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: called with the GIL held, right after a call returned NULL. Fetch hands
    // over new references (or NULL) and clears the error; normalizing makes `value` an
    // instance of `kind`; the traceback is attached to it, and the references to the
    // type and traceback released. `value` is then owned by the returned Bound.
    #[allow(unsafe_code, deprecated)]
    unsafe {
        ffi::PyErr_Fetch(&raw mut kind, &raw mut value, &raw mut traceback);
        if kind.is_null() {
            return PySystemError::new_err("a kernel call failed without an exception")
                .into_value(py)
                .into_bound(py);
        }
        ffi::PyErr_NormalizeException(&raw mut kind, &raw mut value, &raw mut traceback);
        if !traceback.is_null() {
            ffi::PyException_SetTraceback(value, traceback);
            ffi::Py_DECREF(traceback);
        }
        ffi::Py_DECREF(kind);
        Bound::from_owned_ptr(py, value).cast_into_unchecked()
    }
}
