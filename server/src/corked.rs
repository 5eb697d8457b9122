//! A socket whose writes wait for the end of a command: one `write` per Sync (or per simple
//! query) where pgwire would flush each message it sends, as PostgreSQL holds its output until
//! ReadyForQuery or a Flush.
//!
//! While corked, flushes keep the bytes unless more than [`FLUSH_AT`] wait (a large result still
//! streams in bounded pieces); [`Corked::uncork`] and a flush then write everything at once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this many waiting bytes a flush writes them even while corked.
const FLUSH_AT: usize = 64 * 1024;

/// A stream whose output is held while corked.
#[derive(Debug)]
pub struct Corked<S> {
    inner: S,
    /// Bytes written but not yet handed to `inner`.
    waiting: Vec<u8>,
    /// How many of `waiting` `inner` has taken.
    written: usize,
    corked: bool,
}

impl<S> Corked<S> {
    pub fn new(inner: S) -> Corked<S> {
        Corked {
            inner,
            waiting: Vec::new(),
            written: 0,
            corked: false,
        }
    }

    /// Holds what is written until [`Corked::uncork`].
    pub fn cork(&mut self) {
        self.corked = true;
    }

    /// Lets the next flush write everything held.
    pub fn uncork(&mut self) {
        self.corked = false;
    }
}

impl<S: AsyncWrite + Unpin> Corked<S> {
    /// Hands every waiting byte to the inner stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.waiting.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.waiting[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.waiting.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Corked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Corked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.corked && self.waiting.is_empty() {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        self.waiting.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.corked && self.waiting.len() < FLUSH_AT {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Counts the writes that reach it.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn corked_writes_reach_the_stream_once_at_the_flush_after_uncorking() {
        let mut corked = Corked::new(Recorder::default());
        corked.cork();
        for message in [&b"parse"[..], b"bind", b"rows"] {
            corked.write_all(message).await.unwrap();
            corked.flush().await.unwrap();
        }
        assert!(corked.inner.writes.is_empty());
        corked.uncork();
        corked.flush().await.unwrap();
        assert_eq!(corked.inner.writes, [b"parsebindrows".to_vec()]);
        // Uncorked, a write goes straight through.
        corked.write_all(b"ready").await.unwrap();
        assert_eq!(corked.inner.writes.len(), 2);
    }

    #[tokio::test]
    async fn a_large_corked_output_still_goes_out_in_bounded_pieces() {
        let mut corked = Corked::new(Recorder::default());
        corked.cork();
        let row = vec![7u8; 1000];
        for _ in 0..200 {
            corked.write_all(&row).await.unwrap();
            corked.flush().await.unwrap();
        }
        let written: usize = corked.inner.writes.iter().map(Vec::len).sum();
        assert!(written >= 200_000 - FLUSH_AT, "{written} bytes written");
        assert!(corked.waiting.len() < FLUSH_AT);
    }
}
