//! A client that stops reading must not keep its connection for ever. hyper times how long a
//! request head takes to arrive, but nothing while an answer is written: a client with a
//! tiny receive window that asks for a large page and never reads would hold the connection
//! (and its slot under the connection limit) indefinitely. [`StallGuard`] fails a write, a
//! flush or a shutdown that has made no progress for the configured time; the connection is
//! then closed. A slow answer is not a stall: the agent's long-poll writes nothing while it
//! waits, so nothing is pending and no timer runs.
//!
//! Hand-written because it is a few lines over hyper's own IO traits; no crate offers a
//! write-progress timeout for them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

/// Wraps a connection's IO; see the module documentation.
pub struct StallGuard<I> {
    io: I,
    limit: Duration,
    /// Set while a write is pending: when it fires, the write fails.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<I> StallGuard<I> {
    pub fn new(io: I, limit: Duration) -> Self {
        Self {
            io,
            limit,
            stalled: None,
        }
    }

    /// After the inner IO said `Pending`: start the stall timer if it is not running, and
    /// fail once it has run out.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.pending(cx),
        }
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for StallGuard<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for StallGuard<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.progress(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.progress(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.progress(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Write;
    use hyper_util::rt::TokioIo;
    use tokio::io::AsyncReadExt;

    async fn write_all(
        guard: &mut StallGuard<TokioIo<tokio::io::DuplexStream>>,
        data: &[u8],
    ) -> io::Result<()> {
        let mut sent = 0;
        while sent < data.len() {
            sent += std::future::poll_fn(|cx| Pin::new(&mut *guard).poll_write(cx, &data[sent..]))
                .await?;
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_reader_that_stops_fails_the_write() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut guard = StallGuard::new(TokioIo::new(ours), Duration::from_millis(100));
        let started = std::time::Instant::now();
        let err = write_all(&mut guard, &[7u8; 4096]).await.err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_slow_but_steady_reader_is_not_a_stall() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 32];
            let mut total = 0;
            while total < 4096 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                total += theirs.read(&mut buf).await.unwrap_or(0);
            }
            total
        });
        // Each step of progress is well within the limit, the whole far beyond it.
        let mut guard = StallGuard::new(TokioIo::new(ours), Duration::from_millis(100));
        write_all(&mut guard, &[7u8; 4096]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 4096);
    }
}
