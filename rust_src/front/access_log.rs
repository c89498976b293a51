//! The front's access log: one line per request, native or proxied, in the combined
//! format gunicorn writes by default, plus the microseconds from the request's head to
//! the response's (a proxied body may stream on after that). Behind the front,
//! gunicorn's own access log is off: it would miss every native answer and see the
//! front's socket as the client.
//!
//! A serving thread only appends a line to a bounded buffer; a background thread
//! writes the buffer to stdout every [`FLUSH_EVERY`]. A slow, full or closed stdout
//! therefore never delays or changes a response: past [`MAX_BUFFERED`] bytes, lines are
//! dropped and counted in `rustpath_front_access_log_dropped_total`.

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use hyper::header::{HeaderValue, REFERER, USER_AGENT};
use hyper::{Method, Request, Uri, Version};
use prometheus_client::metrics::counter::Counter;

/// Time between two writes to stdout.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Bytes waiting for a write at most: about 20,000 lines.
const MAX_BUFFERED: usize = 4 << 20;

/// What a line says about the request, taken before the request is handled.
pub struct RequestLine {
    method: Method,
    uri: Uri,
    version: Version,
    referer: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
}

impl RequestLine {
    #[must_use]
    pub fn of<B>(request: &Request<B>) -> Self {
        let headers = request.headers();
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            referer: headers.get(REFERER).cloned(),
            user_agent: headers.get(USER_AGENT).cloned(),
        }
    }
}

/// The answer's side of a line.
pub struct Outcome {
    pub status: u16,
    /// Body bytes when the response declares them (`-` otherwise, as gunicorn writes).
    pub length: Option<u64>,
    pub elapsed: Duration,
}

struct Pending {
    bytes: Vec<u8>,
    /// The second `stamp` was formatted for: one formatting per second, not per line.
    second: u64,
    stamp: String,
    stopping: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    dropped: Counter,
}

/// The log and its writer thread; dropping it writes what is left and stops the thread.
pub struct AccessLog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

impl AccessLog {
    /// Starts the writer thread; `dropped` counts lines the bound turned away.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start(dropped: Counter) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                bytes: Vec::new(),
                second: u64::MAX,
                stamp: String::new(),
                stopping: false,
            }),
            wake: Condvar::new(),
            dropped,
        });
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("rustpath-access-log".into())
                .spawn(move || write_until_stopped(&shared, &mut std::io::stdout()))?
        };
        Ok(Self {
            shared,
            writer: Some(writer),
        })
    }

    /// Appends one line; never blocks on stdout.
    pub fn record(&self, peer: IpAddr, line: &RequestLine, outcome: &Outcome) {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pending.bytes.len() >= MAX_BUFFERED {
            drop(pending);
            self.shared.dropped.inc();
            return;
        }
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if pending.second != second {
            pending.second = second;
            pending.stamp = httpdate::fmt_http_date(now);
        }
        let Pending { bytes, stamp, .. } = &mut *pending;
        format_line(bytes, peer, stamp, line, outcome);
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopping = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn write_until_stopped(shared: &Shared, out: &mut impl std::io::Write) {
    let mut spare = Vec::new();
    loop {
        let stopping = {
            let pending = shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (mut pending, _) = shared
                .wake
                .wait_timeout_while(pending, FLUSH_EVERY, |p| !p.stopping)
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut pending.bytes, &mut spare);
            pending.stopping
        };
        if !spare.is_empty() {
            // A broken stdout loses these lines and nothing else.
            let _ = out.write_all(&spare).and_then(|()| out.flush());
            spare.clear();
        }
        if stopping {
            return;
        }
    }
}

/// `peer - - [date] "METHOD target HTTP/1.1" status length "referer" "agent" µs`.
fn format_line(
    out: &mut Vec<u8>,
    peer: IpAddr,
    stamp: &str,
    line: &RequestLine,
    outcome: &Outcome,
) {
    let target = line.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let _ = write!(out, "{peer} - - [{stamp}] \"{} ", line.method);
    escaped(out, target.as_bytes());
    let _ = write!(out, " {:?}\" {} ", line.version, outcome.status);
    match outcome.length {
        Some(length) => {
            let _ = write!(out, "{length}");
        }
        None => out.push(b'-'),
    }
    for value in [&line.referer, &line.user_agent] {
        out.extend_from_slice(b" \"");
        match value {
            Some(value) => escaped(out, value.as_bytes()),
            None => out.push(b'-'),
        }
        out.push(b'"');
    }
    let _ = writeln!(out, " {}", outcome.elapsed.as_micros());
}

/// Bytes a client chose, with quotes, backslashes and anything unprintable escaped,
/// so a line cannot be split or forged.
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0x20..=0x7e => out.push(b),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(target: &str, agent: Option<&'static [u8]>) -> RequestLine {
        let mut request = Request::get(target).body(()).unwrap();
        if let Some(agent) = agent {
            request.headers_mut().insert(
                USER_AGENT,
                HeaderValue::from_bytes(agent).expect("a valid header value"),
            );
        }
        RequestLine::of(&request)
    }

    #[test]
    fn writes_the_combined_format_with_the_time_taken() {
        let mut out = Vec::new();
        let outcome = Outcome {
            status: 200,
            length: Some(21),
            elapsed: Duration::from_micros(37),
        };
        let stamp = "Sun, 22 Nov 2026 10:00:00 GMT";
        format_line(
            &mut out,
            "127.0.0.1".parse().unwrap(),
            stamp,
            &line("/rust/sum_of_primes/100000?x=1", Some(b"wrk")),
            &outcome,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "127.0.0.1 - - [Sun, 22 Nov 2026 10:00:00 GMT] \
             \"GET /rust/sum_of_primes/100000?x=1 HTTP/1.1\" 200 21 \"-\" \"wrk\" 37\n"
        );
    }

    #[test]
    fn a_client_cannot_split_or_forge_a_line() {
        let mut out = Vec::new();
        let outcome = Outcome {
            status: 404,
            length: None,
            elapsed: Duration::ZERO,
        };
        format_line(
            &mut out,
            "::1".parse().unwrap(),
            "d",
            &line("/a", Some(b"x\" 200 \"\\\xff\t")),
            &outcome,
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "::1 - - [d] \"GET /a HTTP/1.1\" 404 - \"-\" \"x\\\" 200 \\\"\\\\\\xff\\x09\" 0\n"
        );
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn drops_and_counts_lines_past_the_bound_and_stops_on_drop() {
        let dropped = Counter::default();
        let log = AccessLog::start(dropped.clone()).unwrap();
        let request = line("/", None);
        let outcome = Outcome {
            status: 200,
            length: Some(1),
            elapsed: Duration::ZERO,
        };
        // Fill the buffer directly, as a stdout that stopped reading would leave it.
        log.shared.pending.lock().unwrap().bytes = vec![b'.'; MAX_BUFFERED];
        log.record("127.0.0.1".parse().unwrap(), &request, &outcome);
        assert_eq!(dropped.get(), 1);
        log.shared.pending.lock().unwrap().bytes.clear(); // not onto the test's stdout
        drop(log); // returns: the writer thread stops after a last write
    }

    #[test]
    fn the_writer_writes_everything_buffered_before_it_stops() {
        let shared = Shared {
            pending: Mutex::new(Pending {
                bytes: b"one\ntwo\n".to_vec(),
                second: 0,
                stamp: String::new(),
                stopping: true,
            }),
            wake: Condvar::new(),
            dropped: Counter::default(),
        };
        let mut out = Vec::new();
        write_until_stopped(&shared, &mut out);
        assert_eq!(out, b"one\ntwo\n");
    }
}
