//! Buffering a proxied response the way nginx does (`proxy_buffering on`): the app's
//! body is read as fast as the app writes it, kept in memory up to
//! [`MEMORY_BYTES`], then in an unnamed temporary file up to [`FILE_BYTES`], and
//! handed to the client as fast as the client reads it. A client that reads slowly,
//! or not at all, then holds only its own buffers, never a gunicorn thread.
//!
//! One [`Spool`] per response: a pump task writes into it ([`Spool::push`]), the
//! response's [`SpoolBody`] reads from it. Data leaves in the order it came: once a
//! chunk has gone to the file, every later one goes there too.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::sync::Notify;

use super::body::BodyError;

/// Bytes of one response kept in memory before the rest goes to a temporary file (as
/// nginx's `proxy_buffers 8 8k`): at most this much per client connection.
pub const MEMORY_BYTES: usize = 64 * 1024;
/// Bytes of one response buffered at most, memory and file together (nginx's
/// `proxy_max_temp_file_size`, 1 GiB). Beyond it the app waits for the client.
pub const FILE_BYTES: u64 = 1 << 30;
/// Bytes read back from the file per frame.
const READ_BYTES: usize = 64 * 1024;

/// What the client has not read yet.
pub struct Spool {
    state: Mutex<State>,
    /// Woken when there is more to read (or the end).
    readable: Notify,
    /// Woken when the reader took something (or left).
    writable: Notify,
}

/// How the app's body ended.
enum Ended {
    Whole,
    Short(String),
}

#[derive(Default)]
struct State {
    memory: VecDeque<Bytes>,
    memory_bytes: usize,
    file: Option<Arc<File>>,
    /// Offsets in the file: written by the pump, read by the body.
    written: u64,
    read: u64,
    /// Set once the app's body ended.
    ended: Option<Ended>,
    /// The client's response was dropped: stop reading the app.
    reader_gone: bool,
}

enum Place {
    Gone,
    Memory,
    Full,
    File(Option<Arc<File>>, u64),
}

/// The client left before the whole body was read.
#[derive(Debug)]
pub struct ReaderGone;

impl Spool {
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            readable: Notify::new(),
            writable: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while locked leaves consistent counters: go on with them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Buffers `data`, waiting only while [`FILE_BYTES`] are buffered already.
    ///
    /// # Errors
    /// The client left, or the temporary file failed (the body then ends short).
    pub async fn push(&self, data: Bytes) -> Result<(), ReaderGone> {
        if data.is_empty() {
            return Ok(());
        }
        loop {
            let (file, offset) = match self.place(&data) {
                Place::Gone => return Err(ReaderGone),
                Place::Memory => {
                    self.readable.notify_one();
                    return Ok(());
                }
                Place::Full => {
                    self.writable.notified().await;
                    continue;
                }
                Place::File(file, offset) => (file, offset),
            };
            let file = if let Some(file) = file {
                file
            } else {
                let created = tokio::task::spawn_blocking(tempfile::tempfile).await;
                let file = match created {
                    Ok(Ok(file)) => Arc::new(file),
                    Ok(Err(err)) => return Err(self.fail(&err.to_string())),
                    Err(err) => return Err(self.fail(&err.to_string())),
                };
                self.lock().file = Some(Arc::clone(&file));
                file
            };
            let len = data.len() as u64;
            let writer = Arc::clone(&file);
            let written =
                tokio::task::spawn_blocking(move || writer.write_all_at(&data, offset)).await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(err)) => return Err(self.fail(&err.to_string())),
                Err(err) => return Err(self.fail(&err.to_string())),
            }
            self.lock().written += len;
            self.readable.notify_one();
            return Ok(());
        }
    }

    /// Where `data` goes: memory (done here), the file at an offset, or nowhere yet.
    fn place(&self, data: &Bytes) -> Place {
        let mut state = self.lock();
        if state.reader_gone {
            return Place::Gone;
        }
        if state.file.is_none() && state.memory_bytes + data.len() <= MEMORY_BYTES {
            state.memory_bytes += data.len();
            state.memory.push_back(data.clone());
            return Place::Memory;
        }
        let buffered = state.memory_bytes as u64 + (state.written - state.read);
        if buffered + data.len() as u64 > FILE_BYTES && buffered > 0 {
            return Place::Full;
        }
        Place::File(state.file.clone(), state.written)
    }

    /// The app's body ended; `short` says why if it ended before its end.
    pub fn finish(&self, short: Option<String>) {
        let ended = short.map_or(Ended::Whole, Ended::Short);
        self.lock().ended.get_or_insert(ended);
        self.readable.notify_one();
    }

    fn fail(&self, why: &str) -> ReaderGone {
        self.finish(Some(format!("the response's temporary file failed: {why}")));
        ReaderGone
    }

    /// The next chunk for the client, `None` at the end.
    async fn next(self: Arc<Self>) -> Option<Result<Bytes, BodyError>> {
        loop {
            let (file, offset, len) = match self.take() {
                Take::Memory(data) => {
                    self.writable.notify_one();
                    return Some(Ok(data));
                }
                Take::File(file, offset, len) => (file, offset, len),
                Take::End(end) => return end,
                Take::Wait => {
                    self.readable.notified().await;
                    continue;
                }
            };
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0; len];
                file.read_exact_at(&mut buf, offset).map(|()| buf)
            })
            .await;
            let data = match read {
                Ok(Ok(data)) => Bytes::from(data),
                Ok(Err(err)) => return Some(Err(err.into())),
                Err(err) => return Some(Err(io::Error::other(err).into())),
            };
            self.lock().read += len as u64;
            self.writable.notify_one();
            return Some(Ok(data));
        }
    }

    /// What the reader may take now.
    fn take(&self) -> Take {
        let mut state = self.lock();
        if let Some(data) = state.memory.pop_front() {
            state.memory_bytes -= data.len();
            return Take::Memory(data);
        }
        if state.read < state.written {
            let len = (state.written - state.read).min(READ_BYTES as u64) as usize;
            let file = state.file.clone().expect("written bytes are in the file");
            return Take::File(file, state.read, len);
        }
        match &state.ended {
            Some(Ended::Whole) => Take::End(None),
            Some(Ended::Short(why)) => Take::End(Some(Err(why.clone().into()))),
            None => Take::Wait,
        }
    }
}

enum Take {
    Memory(Bytes),
    File(Arc<File>, u64, usize),
    End(Option<Result<Bytes, BodyError>>),
    Wait,
}

type Next = Pin<Box<dyn Future<Output = Option<Result<Bytes, BodyError>>> + Send>>;

/// The client's side of a [`Spool`].
pub struct SpoolBody {
    spool: Arc<Spool>,
    next: Option<Next>,
    size: SizeHint,
    done: bool,
}

impl SpoolBody {
    /// `size` is the app's `Content-Length`, when it sent one.
    #[must_use]
    pub fn new(spool: &Arc<Spool>, size: SizeHint) -> Self {
        Self {
            spool: Arc::clone(spool),
            next: None,
            size,
            done: false,
        }
    }
}

impl hyper::body::Body for SpoolBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let spool = Arc::clone(&self.spool);
        let next = self.next.get_or_insert_with(|| Box::pin(spool.next()));
        let polled = std::task::ready!(next.as_mut().poll(cx));
        self.next = None;
        match polled {
            None => {
                self.done = true;
                Poll::Ready(None)
            }
            Some(Err(err)) => {
                self.done = true;
                Poll::Ready(Some(Err(err)))
            }
            Some(Ok(data)) => Poll::Ready(Some(Ok(Frame::data(data)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        self.size
    }
}

impl Drop for SpoolBody {
    fn drop(&mut self) {
        self.spool.lock().reader_gone = true;
        self.spool.writable.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn memory_then_file_in_order() {
        let spool = Spool::new();
        let body = SpoolBody::new(&spool, SizeHint::default());
        let chunks: Vec<Bytes> = (0..40u8)
            .map(|i| Bytes::from(vec![i; 10_000 + usize::from(i)]))
            .collect();
        let expected: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        for chunk in chunks {
            spool.push(chunk).await.unwrap();
        }
        assert!(
            spool.lock().file.is_some(),
            "beyond the memory bound: a file"
        );
        spool.finish(None);
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected);
    }

    #[tokio::test]
    async fn a_short_body_ends_in_an_error_and_a_gone_reader_stops_the_pump() {
        let spool = Spool::new();
        let body = SpoolBody::new(&spool, SizeHint::default());
        spool.push(Bytes::from_static(b"abc")).await.unwrap();
        spool.finish(Some("broken".into()));
        assert!(body.collect().await.is_err());
        let spool = Spool::new();
        drop(SpoolBody::new(&spool, SizeHint::default()));
        assert!(spool.push(Bytes::from_static(b"abc")).await.is_err());
    }
}
