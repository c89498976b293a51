//! JSON on the wire: JSON in place of the empty answers hyper gives to malformed HTTP,
//! and the busy count of the responses being written.
//!
//! hyper answers a request head it cannot parse with a bodiless `400`, `414` or `431`
//! and closes, and closes silently on a header timeout or a framing error. [`JsonIo`]
//! sits between hyper and the socket: it swaps that automatic answer for the same status
//! with a JSON body, and when hyper closed with no answer after part of a request had
//! arrived, it writes one as the connection is dropped.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::body::{error_body, Body, BodyError};

/// A whole `Connection: close` response, for writing below hyper.
fn raw_json_error(status: u16) -> Vec<u8> {
    let (code, message) = match status {
        408 => ("request_timeout", "the request was not received in time"),
        414 => ("uri_too_long", "the request target is too long"),
        431 => ("headers_too_large", "the request head is too large"),
        _ => ("bad_request", "the request is not valid HTTP/1.1"),
    };
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Bad Request");
    let body = error_body(code, message, &[]);
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What the serving task tells the [`JsonIo`] it drops after hyper gave up.
pub const CLOSED_CLEANLY: u8 = 0;
pub const CLOSED_MALFORMED: u8 = 1;
pub const CLOSED_TIMED_OUT: u8 = 2;

/// The socket of one client connection, as hyper sees it.
pub struct JsonIo {
    inner: TcpStream,
    /// Bytes read since the last write: a partial request when hyper gives up.
    unanswered: usize,
    /// Our answer, replacing hyper's, still to be written.
    pending: Vec<u8>,
    /// Set by the serving task before it drops the connection: see `CLOSED_*`.
    pub closed: Arc<AtomicU8>,
    /// Responses of this connection not yet written in full ([`Tracked`] bodies alive).
    pub busy: Arc<AtomicUsize>,
    /// Time a write may wait for the client to take more (nginx's `send_timeout`).
    send_timeout: Duration,
    /// Running while a write waits: the connection fails when it fires.
    stalled: Option<Pin<Box<Sleep>>>,
}

/// A response body that counts as busy on its connection until hyper drops it.
pub struct Tracked {
    inner: Body,
    busy: Arc<AtomicUsize>,
}

impl Tracked {
    #[must_use]
    pub fn new(inner: Body, busy: &Arc<AtomicUsize>) -> Self {
        busy.fetch_add(1, Ordering::Relaxed);
        Self {
            inner,
            busy: Arc::clone(busy),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl JsonIo {
    #[must_use]
    pub fn new(inner: TcpStream, send_timeout: Duration) -> Self {
        Self {
            inner,
            unanswered: 0,
            pending: Vec::new(),
            closed: Arc::new(AtomicU8::new(CLOSED_CLEANLY)),
            busy: Arc::new(AtomicUsize::new(0)),
            send_timeout,
            stalled: None,
        }
    }

    /// `polled`, a write to the client; past the send timeout with no progress, an error.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let timeout = self.send_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_ready() {
            self.stalled = None;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took none of the response in time",
            )));
        }
        Poll::Pending
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let written =
                std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..written);
        }
        Poll::Ready(Ok(()))
    }
}

/// The status of hyper's automatic answer to a parse error, if `buf` is one: a status
/// line, `content-length: 0`, `date` and perhaps `connection`, nothing else. Responses
/// the front builds or proxies always carry other headers, and this is only asked
/// while none of them is being written ([`JsonIo::busy`]), so an app's body can never
/// pass for one.
fn automatic_error(buf: &[u8]) -> Option<(usize, u16)> {
    let start = 0;
    if !buf.starts_with(b"HTTP/1.1 ") {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?;
    let head = head.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.get(9..12)?.parse().ok()?;
    if !matches!(status, 400 | 414 | 431) {
        return None;
    }
    let mut rest: Vec<&str> = lines
        .map(|line| line.split(':').next().unwrap_or(""))
        .collect();
    rest.sort_unstable();
    let only_framing =
        rest == ["connection", "content-length", "date"] || rest == ["content-length", "date"];
    (only_framing && head.contains("content-length: 0")).then_some((start, status))
}

impl AsyncRead for JsonIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.unanswered += read;
        polled
    }
}

impl AsyncWrite for JsonIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        self.unanswered = 0;
        let idle = self.busy.load(Ordering::Relaxed) == 0;
        if let Some((start, status)) = automatic_error(buf).filter(|_| idle) {
            let mut replaced = buf[..start].to_vec();
            replaced.extend_from_slice(&raw_json_error(status));
            self.pending = replaced;
            // Whatever part goes out now, the rest follows on flush or shutdown.
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = self.poll_pending(cx);
        std::task::ready!(self.timed(cx, polled))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Drop for JsonIo {
    fn drop(&mut self) {
        if self.unanswered == 0 || !self.pending.is_empty() {
            return; // idle between requests, or our answer is already on its way
        }
        let status = match self.closed.load(Ordering::Relaxed) {
            CLOSED_MALFORMED => 400,
            CLOSED_TIMED_OUT => 408,
            _ => return,
        };
        // Best effort, without blocking: a small answer fits the socket's send buffer.
        let _ = self.inner.try_write(&raw_json_error(status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_that_takes_nothing_times_the_write_out() {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut io = JsonIo::new(server, Duration::from_millis(200));
        let chunk = vec![b'x'; 1 << 20];
        // The socket buffers fill, then the write waits for a reader that never reads.
        let written = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Err(err) = io.write_all(&chunk).await {
                    return err;
                }
            }
        })
        .await
        .expect("the send timeout ends the write");
        assert_eq!(written.kind(), io::ErrorKind::TimedOut);
        drop(client);
    }

    #[test]
    fn recognises_only_hypers_automatic_answer() {
        let auto = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 22 Nov 2026 12:00:00 GMT\r\n\r\n";
        assert_eq!(automatic_error(auto), Some((0, 400)));
        let mut pipelined = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec();
        pipelined.extend_from_slice(auto);
        // Behind another answer it is left alone: hyper's empty 400 goes out as it is.
        assert_eq!(automatic_error(&pipelined), None);
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_error(ours), None);
        assert_eq!(
            automatic_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ndate: x\r\n\r\n"),
            None
        );
    }

    #[test]
    fn raw_errors_read_like_flasks() {
        let raw = String::from_utf8(raw_json_error(431)).unwrap();
        assert!(raw.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(raw.ends_with(
            "\"error\":\"headers_too_large\",\"message\":\"the request head is too large\"}\n"
        ));
    }
}
