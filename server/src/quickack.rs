//! Acknowledge at once what the peer sends, on the IMAP connections and
//! the delivery client's. A
//! client that writes one command in two pieces — imaplib sends an
//! APPEND's literal, then its closing CRLF — holds the second piece back
//! until the first is acknowledged (Nagle's algorithm), and Linux delays
//! that acknowledgement up to 40 ms while the server has nothing to send
//! yet: every APPEND took 45 ms where the work is 3. Asking for quick ACKs
//! after each read (they are not a lasting mode on Linux) removes the
//! wait; elsewhere this is the plain stream. The same stall met the
//! delivery client: Postfix answers a pipelined group in two writes (MAIL
//! and RCPT at once, the message's verdict once it is queued), the second
//! held until the first was acknowledged — 40 ms a message. (SMTP clients
//! measured with smtp-source gained nothing from it on the inbound side:
//! the SMTP listener keeps the plain stream.)

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct QuickAck {
    inner: TcpStream,
}

impl QuickAck {
    pub fn new(inner: TcpStream) -> QuickAck {
        QuickAck { inner }
    }

    #[cfg(target_os = "linux")]
    fn ack_now(&self) {
        let _ = socket2::SockRef::from(&self.inner).set_tcp_quickack(true);
    }

    #[cfg(not(target_os = "linux"))]
    fn ack_now(&self) {}
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.ack_now();
        }
        r
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
