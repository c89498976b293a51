//! The front's access log: one line per request, native or proxied, in the combined
//! format gunicorn writes by default, plus the microseconds from the request's head to
//! the response's (a proxied body may stream on after that). Behind the front,
//! gunicorn's own access log is off: it would miss every native answer and see the
//! front's socket as the client.
//!
//! A serving thread only appends a line to a bounded buffer; a background thread
//! writes the buffer to stdout every [`FLUSH_EVERY`], in whole lines of at most
//! `PIPE_BUF` bytes a write, so that gunicorn's output on the same pipe never splits a
//! line. A slow, full or closed stdout therefore never delays or changes a response:
//! past [`MAX_BUFFERED`] bytes, lines are dropped and counted in
//! `rustpath_front_access_log_dropped_total`; and a stop waits at most [`STOP_WAIT`]
//! for the last write.

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use hyper::header::{HeaderValue, REFERER, USER_AGENT};
use hyper::{Method, Request, Uri, Version};
use prometheus_client::metrics::counter::Counter;

/// Time between two writes to stdout.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Bytes waiting for a write at most: about 20,000 lines.
const MAX_BUFFERED: usize = 4 << 20;
/// Capacity kept between writes once a burst has passed.
const KEEP_CAPACITY: usize = 64 << 10;
/// Bytes the kernel writes to a pipe in one piece (POSIX `PIPE_BUF` on Linux).
const PIPE_BUF: usize = 4096;
/// Time a stop waits for the writer's last write before leaving it behind.
const STOP_WAIT: Duration = Duration::from_secs(2);
/// The status logged for a request whose client left before its answer (nginx's).
const CLIENT_CLOSED: u16 = 499;

/// What a line says about the request, taken before the request is handled.
struct RequestLine {
    method: Method,
    uri: Uri,
    version: Version,
    referer: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
}

impl RequestLine {
    fn of<B>(request: &Request<B>) -> Self {
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
struct Outcome {
    status: u16,
    /// Body bytes when the response declares them (`-` otherwise, as gunicorn writes).
    length: Option<u64>,
    elapsed: Duration,
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

impl Shared {
    fn new(dropped: Counter) -> Self {
        Self {
            pending: Mutex::new(Pending {
                bytes: Vec::new(),
                second: u64::MAX,
                stamp: String::new(),
                stopping: false,
            }),
            wake: Condvar::new(),
            dropped,
        }
    }

    /// Appends one line; never blocks on stdout.
    fn record(&self, peer: IpAddr, line: &RequestLine, outcome: &Outcome) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.bytes.len() >= MAX_BUFFERED {
            drop(pending);
            self.dropped.inc();
            return;
        }
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if pending.second != second {
            pending.second = second;
            pending.stamp = common_log_time(&httpdate::fmt_http_date(now));
        }
        let Pending { bytes, stamp, .. } = &mut *pending;
        format_line(bytes, peer, stamp, line, outcome);
    }
}

/// The log and its writer thread; dropping it writes what is left and stops the thread.
pub struct AccessLog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

/// One request's line, written by [`Entry::finish`], or with status 499 if the request
/// is dropped unanswered (its client went away, or the drain's time ran out).
pub struct Entry {
    shared: Arc<Shared>,
    peer: IpAddr,
    line: RequestLine,
    started: Instant,
    written: bool,
}

impl Entry {
    /// Logs the answer: its status and, when the response declares it, its length.
    pub fn finish(mut self, status: u16, length: Option<u64>) {
        self.write(status, length);
    }

    fn write(&mut self, status: u16, length: Option<u64>) {
        let outcome = Outcome {
            status,
            length,
            elapsed: self.started.elapsed(),
        };
        self.shared.record(self.peer, &self.line, &outcome);
        self.written = true;
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.written {
            self.write(CLIENT_CLOSED, None);
        }
    }
}

impl AccessLog {
    /// Starts the writer thread; `dropped` counts lines the bound turned away.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start(dropped: Counter) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(dropped));
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

    /// The line of a request the front has just read.
    #[must_use]
    pub fn begin<B>(&self, peer: IpAddr, request: &Request<B>) -> Entry {
        Entry {
            shared: Arc::clone(&self.shared),
            peer,
            line: RequestLine::of(request),
            started: Instant::now(),
            written: false,
        }
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
        let Some(writer) = self.writer.take() else {
            return;
        };
        // A stdout nobody reads would block the last write for ever: leave it behind
        // rather than hold up the stop.
        let waited = Instant::now();
        while !writer.is_finished() && waited.elapsed() < STOP_WAIT {
            std::thread::sleep(Duration::from_millis(5));
        }
        if writer.is_finished() {
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
        // A broken stdout loses these lines and nothing else.
        let _ = write_lines(out, &spare);
        spare.clear();
        spare.shrink_to(KEEP_CAPACITY);
        if stopping {
            return;
        }
    }
}

/// Writes whole lines, as many as fit in `PIPE_BUF` bytes a write (a longer line alone).
fn write_lines(out: &mut impl std::io::Write, mut lines: &[u8]) -> std::io::Result<()> {
    while !lines.is_empty() {
        let window = &lines[..lines.len().min(PIPE_BUF)];
        let end = match window.iter().rposition(|&b| b == b'\n') {
            Some(newline) => newline + 1,
            None => lines
                .iter()
                .position(|&b| b == b'\n')
                .map_or(lines.len(), |newline| newline + 1),
        };
        out.write_all(&lines[..end])?;
        lines = &lines[end..];
    }
    out.flush()
}

/// gunicorn's `[22/Nov/2026:10:00:00 +0000]` from an HTTP date's fixed-width
/// `Sun, 22 Nov 2026 10:00:00 GMT`.
fn common_log_time(http_date: &str) -> String {
    match (
        http_date.get(5..7),
        http_date.get(8..11),
        http_date.get(12..16),
        http_date.get(17..25),
    ) {
        (Some(day), Some(month), Some(year), Some(time)) => {
            format!("{day}/{month}/{year}:{time} +0000")
        }
        _ => http_date.to_owned(), // years past 9999 are wider: keep the date as it is
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

    fn request(target: &str, agent: Option<&'static [u8]>) -> Request<()> {
        let mut request = Request::get(target).body(()).unwrap();
        if let Some(agent) = agent {
            request.headers_mut().insert(
                USER_AGENT,
                HeaderValue::from_bytes(agent).expect("a valid header value"),
            );
        }
        request
    }

    fn shared() -> Shared {
        Shared::new(Counter::default())
    }

    #[test]
    fn writes_the_combined_format_with_the_time_taken() {
        let mut out = Vec::new();
        let outcome = Outcome {
            status: 200,
            length: Some(21),
            elapsed: Duration::from_micros(37),
        };
        let line = RequestLine::of(&request("/rust/sum_of_primes/100000?x=1", Some(b"wrk")));
        let stamp = common_log_time("Sun, 22 Nov 2026 10:00:00 GMT");
        format_line(
            &mut out,
            "127.0.0.1".parse().unwrap(),
            &stamp,
            &line,
            &outcome,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \
             \"GET /rust/sum_of_primes/100000?x=1 HTTP/1.1\" 200 21 \"-\" \"wrk\" 37\n"
        );
    }

    #[test]
    fn the_time_is_gunicorns_and_any_http_date_converts() {
        assert_eq!(
            common_log_time("Mon, 01 Jan 2029 00:00:09 GMT"),
            "01/Jan/2029:00:00:09 +0000"
        );
        let now = httpdate::fmt_http_date(SystemTime::now());
        let converted = common_log_time(&now);
        assert_eq!(converted.len(), 26, "{converted}");
        assert!(converted.ends_with(" +0000"), "{converted}");
    }

    #[test]
    fn a_client_cannot_split_or_forge_a_line() {
        let mut out = Vec::new();
        let outcome = Outcome {
            status: 404,
            length: None,
            elapsed: Duration::ZERO,
        };
        let line = RequestLine::of(&request("/a", Some(b"x\" 200 \"\\\xff\t")));
        format_line(&mut out, "::1".parse().unwrap(), "d", &line, &outcome);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "::1 - - [d] \"GET /a HTTP/1.1\" 404 - \"-\" \"x\\\" 200 \\\"\\\\\\xff\\x09\" 0\n"
        );
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn a_request_dropped_unanswered_is_logged_as_499() {
        let log = AccessLog {
            shared: Arc::new(shared()),
            writer: None,
        };
        log.begin("127.0.0.1".parse().unwrap(), &request("/slow", None))
            .finish(200, Some(2));
        drop(log.begin("127.0.0.1".parse().unwrap(), &request("/gone", None)));
        let text = String::from_utf8(log.shared.pending.lock().unwrap().bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("\"GET /slow HTTP/1.1\" 200 2 "), "{text}");
        assert!(lines[1].contains("\"GET /gone HTTP/1.1\" 499 - "), "{text}");
    }

    #[test]
    fn drops_and_counts_lines_past_the_bound() {
        let log = AccessLog {
            shared: Arc::new(shared()),
            writer: None,
        };
        // Fill the buffer, as a stdout that stopped reading would leave it.
        log.shared.pending.lock().unwrap().bytes = vec![b'.'; MAX_BUFFERED];
        log.begin("127.0.0.1".parse().unwrap(), &request("/", None))
            .finish(200, Some(1));
        assert_eq!(log.shared.dropped.get(), 1);
        assert_eq!(log.shared.pending.lock().unwrap().bytes.len(), MAX_BUFFERED);
    }

    /// Records every write it is given.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl std::io::Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_whole_lines_of_at_most_pipe_buf_bytes_a_write() {
        let mut text = Vec::new();
        for i in 0..500 {
            text.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 90)).as_bytes());
        }
        let long = format!("{}\n", "y".repeat(3 * PIPE_BUF));
        text.extend_from_slice(long.as_bytes());
        text.extend_from_slice(b"last\n");
        let mut out = Writes::default();
        write_lines(&mut out, &text).unwrap();
        assert_eq!(out.0.concat(), text);
        for write in &out.0 {
            assert!(write.ends_with(b"\n"));
            assert!(write.len() <= PIPE_BUF || write == long.as_bytes());
        }
        assert!(out.0.len() < 20, "{} writes", out.0.len()); // not a write per line
    }

    #[test]
    fn the_writer_writes_everything_buffered_before_it_stops() {
        let shared = shared();
        {
            let mut pending = shared.pending.lock().unwrap();
            pending.bytes = b"one\ntwo\n".to_vec();
            pending.stopping = true;
        }
        let mut out = Vec::new();
        write_until_stopped(&shared, &mut out);
        assert_eq!(out, b"one\ntwo\n");
    }

    #[test]
    fn a_stop_does_not_wait_for_ever_on_a_stdout_nobody_reads() {
        let shared = Arc::new(shared());
        let stuck = std::thread::spawn(|| std::thread::sleep(STOP_WAIT * 3));
        let log = AccessLog {
            shared,
            writer: Some(stuck),
        };
        let started = Instant::now();
        drop(log);
        let waited = started.elapsed();
        assert!(waited >= STOP_WAIT && waited < STOP_WAIT * 3, "{waited:?}");
    }
}
