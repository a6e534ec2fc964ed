//! Connections of the server whose reads take at most [`MAX_READ`] bytes
//! per system call.
//!
//! The server often shares a host, and cores, with the model servers and
//! sidecars it watches, and may run at a low priority (`SCHED_IDLE`) so as
//! to take only the CPU time they leave. A kernel without kernel preemption
//! (the common server configuration) still finishes each system call it is
//! in before a woken latency-sensitive process gets the core: reading a
//! capture batch of a few hundred kilobytes in one call is that long a
//! stall. Read in pieces of [`MAX_READ`], a stall lasts one piece.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Most bytes taken by one read.
pub const MAX_READ: usize = 16 * 1024;

/// A TCP listener whose connections read at most [`MAX_READ`] bytes at a time.
pub struct BoundedListener(pub TcpListener);

impl axum::serve::Listener for BoundedListener {
    type Io = BoundedReads<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (BoundedReads(io), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// `T` with each read limited to [`MAX_READ`] bytes; writes as they are.
pub struct BoundedReads<T>(pub T);

impl<T: AsyncRead + Unpin> AsyncRead for BoundedReads<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() <= MAX_READ {
            return Pin::new(&mut self.0).poll_read(cx, buf);
        }
        // A window of the caller's buffer (initialized first: safe code
        // cannot hand on uninitialized memory).
        let window = buf.initialize_unfilled_to(MAX_READ);
        let mut part = ReadBuf::new(window);
        match Pin::new(&mut self.0).poll_read(cx, &mut part) {
            Poll::Ready(Ok(())) => {
                let n = part.filled().len();
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BoundedReads<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_take_at_most_max_read_and_lose_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data: Vec<u8> = (0..(5 * MAX_READ + 123)).map(|i| (i % 253) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(&sent).await.unwrap();
            c.shutdown().await.unwrap();
        });
        let mut l = BoundedListener(listener);
        let (mut io, _) = axum::serve::Listener::accept(&mut l).await;
        writer.await.unwrap();
        // Everything is in the socket: an unbounded read would take it all.
        let mut got = Vec::new();
        let mut buf = vec![0u8; 8 * MAX_READ];
        let mut reads = 0;
        loop {
            let n = io.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= MAX_READ, "{n}");
            got.extend_from_slice(&buf[..n]);
            reads += 1;
        }
        assert_eq!(got, data);
        assert!(reads >= 6, "{reads}");
        // Small reads go straight through.
        let mut small = [0u8; 10];
        assert_eq!(io.read(&mut small).await.unwrap(), 0);
        io.write_all(b"ok").await.unwrap();
    }
}
