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
//!   `_call`, the one full policy (`flask_rustpath.core.policy.run`); so does a
//!   failure, which `raise_mapped` records and maps to its answer.
//!
//! How a call finds the request it belongs to is installed once by the Flask face
//! ([`configure_request_path`]); until then every call takes the Python path.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::intern;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

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
    /// `raise_mapped(kernel, side, exc, events, calls)`: records a failed call and
    /// raises what it maps to.
    raise_mapped: Py<PyAny>,
    /// The `write` callable a held-back response gets (it refuses to write).
    no_write: Py<PyAny>,
}

static REQUEST_PATH: PyOnceLock<RequestPath> = PyOnceLock::new();

/// Install how kernel calls find their request. Once per process: the first call
/// wins (a module reloaded in a shell installs the same pieces again).
#[pyfunction]
#[pyo3(signature = (current, to_environ, record_key, side_rule, raise_mapped, no_write))]
pub fn configure_request_path(
    py: Python<'_>,
    current: Py<PyAny>,
    to_environ: Vec<Py<PyString>>,
    record_key: Py<PyString>,
    side_rule: Py<PyAny>,
    raise_mapped: Py<PyAny>,
    no_write: Py<PyAny>,
) {
    let path = RequestPath {
        current,
        to_environ,
        record_key,
        side_rule,
        raise_mapped,
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
    wsgi_app: Py<PyAny>,
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
            wsgi_app,
            state,
            digests,
            prefixes,
            ready: AtomicBool::new(false),
            hot: AtomicBool::new(true),
        })
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
        let body = this.wsgi_app.bind(py).call1((environ, &start))?;
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
        write_timing(&mut timing, side.to_str()?, kernel.to_str()?, seconds);
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

/// One `Server-Timing` entry, as `flask_rustpath.support.headers.timing` writes it: the
/// duration in milliseconds with three decimals, from the microseconds rounded half to
/// even (integer formatting: a float's costs about 1k instructions more per request).
pub fn write_timing(out: &mut String, side: &str, kernel: &str, seconds: Option<f64>) {
    out.push_str(side);
    if let Some(seconds) = seconds {
        let micros = (seconds * 1e6).round_ties_even().max(0.0) as u64;
        out.push_str(";dur=");
        push_decimal(out, micros / 1000);
        out.push('.');
        let fraction = micros % 1000;
        for digit in [fraction / 100, fraction / 10 % 10, fraction % 10] {
            out.push(char::from(b'0' + digit as u8));
        }
    }
    out.push_str(";desc=\"");
    out.push_str(kernel);
    out.push('"');
}

/// `value` in decimal digits (what `write!` does, without its formatting machinery).
fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&digit| char::from(digit)));
}

/// [`write_timing`] for Python, so a test can hold it to the reference.
#[pyfunction]
#[pyo3(name = "_timing_entry", signature = (side, kernel, seconds))]
#[must_use]
pub fn timing_entry_py(side: &str, kernel: &str, seconds: Option<f64>) -> String {
    let mut entry = String::new();
    write_timing(&mut entry, side, kernel, seconds);
    entry
}

/// The base of `Kernel` (see the module docs).
#[pyclass(frozen, subclass, module = "flask_rustpath._native")]
pub struct KernelCall {
    /// The Rust side's function and whether it takes `timeout=`, once imported (a
    /// target is imported once and never changes).
    rust: PyOnceLock<(Py<PyAny>, bool)>,
}

#[pymethods]
impl KernelCall {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        KernelCall {
            rust: PyOnceLock::new(),
        }
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let kernel = slf.as_any();
        if let Some(call) = FastCall::of(slf)? {
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
const RUST_TARGET: usize = 5;
const PYTHON_FUNCTION: usize = 6;
const NAME: usize = 7;
const EVENTS_APPEND: usize = 8;

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
            let backend = digest.get_item(BACKEND)?.cast_into::<PyString>()?;
            if backend.to_str()? == "shadow" {
                return Ok(None);
            }
            backend
        };
        let rust = match side.to_str()? {
            "python" => false,
            "rust" => true,
            _ => return Ok(None),
        };
        let guarded = if rust { RUST_GUARDED } else { PYTHON_GUARDED };
        if digest.get_item(guarded)?.is_truthy()? {
            return Ok(None);
        }
        let (function, deadline) = if rust {
            let Some((function, takes)) = Self::rust_side(slf, &digest)? else {
                return Ok(None);
            };
            let deadline = digest.get_item(DEADLINE)?;
            (
                function.bind(py).clone(),
                (*takes && !deadline.is_none()).then_some(deadline),
            )
        } else {
            (digest.get_item(PYTHON_FUNCTION)?, None)
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
    fn rust_side<'a>(
        slf: &'a Bound<'py, KernelCall>,
        digest: &Bound<'py, PyTuple>,
    ) -> PyResult<Option<&'a (Py<PyAny>, bool)>> {
        let py = slf.py();
        let cached = &slf.get().rust;
        if let Some(known) = cached.get(py) {
            return Ok(Some(known));
        }
        let target = digest.get_item(RUST_TARGET)?;
        let function = target.getattr(intern!(py, "function"))?;
        if function.is_none() {
            return Ok(None); // not imported yet: the policy imports it
        }
        let takes = target.getattr(intern!(py, "takes_timeout"))?.is_truthy()?;
        Ok(Some(cached.get_or_init(py, || (function.unbind(), takes))))
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
        // A panic in a kernel of this same module comes back as its PanicException, which
        // PyO3 turns into a panic again as it fetches it: caught here, it is raised as a
        // PanicException once more, so the policy maps it to a 500 like any other.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            call_with_deadline(&self.function, args, kwargs, self.deadline.as_ref())
        }))
        .unwrap_or_else(|payload| Err(panic_error(payload.as_ref())));
        let seconds = started.elapsed().as_secs_f64();
        let result = match outcome {
            Ok(result) => result,
            Err(err) => {
                let exc = err.into_value(py);
                let events = self
                    .events
                    .as_ref()
                    .map_or_else(|| py.None(), |e| e.clone().unbind());
                let raised = self.path.raise_mapped.bind(py).call1((
                    kernel,
                    &self.side,
                    exc.clone_ref(py),
                    events,
                    calls,
                ));
                return Err(raised
                    .err()
                    .unwrap_or_else(|| PyErr::from_value(exc.into_bound(py).into_any())));
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
/// (the caller's wins, as in the Python policy).
fn call_with_deadline<'py>(
    function: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
    deadline: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    static KWNAMES: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
    let py = function.py();
    let Some(deadline) = deadline else {
        return function.call(args, kwargs);
    };
    if let Some(given) = kwargs.filter(|given| !given.is_empty()) {
        let merged = PyDict::new(py);
        merged.set_item(intern!(py, "timeout"), deadline)?;
        merged.update(given.as_mapping())?;
        return function.call(args, Some(&merged));
    }
    // The common case, with no dict: the positional arguments, then the deadline named
    // by `kwnames`, as the vectorcall protocol passes keywords.
    let kwnames = KWNAMES.get_or_init(py, || {
        PyTuple::new(py, ["timeout"]).expect("a tuple").unbind()
    });
    let mut stack: Vec<*mut ffi::PyObject> = Vec::with_capacity(args.len() + 1);
    stack.extend(args.iter_borrowed().map(pyo3::Borrowed::as_ptr));
    stack.push(deadline.as_ptr());
    let positional = args.len();
    // SAFETY: `stack` holds borrowed pointers to live objects for the whole call: the
    // items of `args` (held by the caller) and `deadline` (held by the plan's digest).
    // `kwnames` is a tuple of one `str` naming the last entry, and `positional` counts
    // the others, as `PyObject_Vectorcall` requires. The result is a new reference or
    // NULL with an exception set, which `from_owned_ptr_or_err` takes over.
    #[allow(unsafe_code)]
    unsafe {
        let result = ffi::PyObject_Vectorcall(
            function.as_ptr(),
            stack.as_ptr(),
            positional,
            kwnames.as_ptr(),
        );
        Bound::from_owned_ptr_or_err(py, result)
    }
}

/// The PanicException a caught panic's payload says, worded as PyO3 words it.
#[cold]
fn panic_error(payload: &(dyn std::any::Any + Send)) -> PyErr {
    let message = if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else {
        "panic from Rust code".to_owned()
    };
    PanicException::new_err((message,))
}
