//! Moving a tunnel's bytes both ways until both sides are done ([`both_ways`]).
//!
//! Each direction starts by copying through a small user-space buffer, allocated when its first
//! bytes arrive and never zeroed: request/response traffic and short connections cost neither
//! a large allocation nor a pipe. A read that fills the buffer means bulk: the direction then
//! moves to splice(2) through a pipe of its own ([`pipe`], Linux), so bulk bytes are never
//! copied into user space. Where no pipe can be had (not Linux, out of descriptors, the
//! gateway's pipe budget spent) it grows its buffer to `buffer_size` and keeps copying.
//!
//! The first direction to reach its end shuts down the other socket's write side while the
//! other direction carries on, as `tokio::io::copy_bidirectional` does; an error on either ends
//! both. Bytes are counted as they are written. What a direction holds is bounded whatever its
//! peers do: one buffer of at most `buffer_size` bytes, or one pipe holding at most one fill
//! (the pipe's capacity, `pipe_size`).

mod pipe;

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Relaxed};

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use pipe::Pipe;

/// A direction's first buffer. Larger reads mean bulk, which splices (or grows the buffer).
const FIRST_BUFFER: usize = 16 * 1024;
/// The most one splice into a pipe is asked for (the pipe's capacity bounds what it moves).
const FILL_MAX: usize = 1 << 20;

/// Where a direction counts the bytes it writes.
pub(crate) struct Count<'a> {
    pub route: Option<&'a AtomicU64>,
    pub total: &'a AtomicU64,
}

impl Count<'_> {
    fn add(&self, bytes: usize) {
        let bytes = bytes as u64;
        self.total.fetch_add(bytes, Relaxed);
        if let Some(route) = self.route {
            route.fetch_add(bytes, Relaxed);
        }
    }
}

/// How many pipes the gateway may hold at once (each is two descriptors), and how large.
pub(crate) struct PipeBudget {
    open: AtomicUsize,
    max: usize,
    size: usize,
}

/// A pipe taken from the budget; dropping it closes the pipe and gives the place back.
struct BudgetedPipe<'a> {
    pipe: Pipe,
    budget: &'a PipeBudget,
}

impl Drop for BudgetedPipe<'_> {
    fn drop(&mut self) {
        self.budget.open.fetch_sub(1, Relaxed);
    }
}

impl PipeBudget {
    pub fn new(max: usize, size: usize) -> PipeBudget {
        PipeBudget { open: AtomicUsize::new(0), max, size }
    }

    /// Pipes held now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.load(Relaxed)
    }

    fn take(&self) -> Option<BudgetedPipe<'_>> {
        if self.open.fetch_add(1, Relaxed) >= self.max {
            self.open.fetch_sub(1, Relaxed);
            return None;
        }
        match Pipe::new(self.size) {
            Ok(pipe) => Some(BudgetedPipe { pipe, budget: self }),
            Err(_) => {
                self.open.fetch_sub(1, Relaxed);
                None
            }
        }
    }
}

/// What both directions share.
pub(crate) struct Settings<'a> {
    /// The largest copy buffer a direction may hold.
    pub buffer_size: usize,
    pub pipes: &'a PipeBudget,
}

/// Copies (or splices) between `client` and `backend` until both directions have ended, or
/// either fails.
pub(crate) async fn both_ways(
    client: &mut TcpStream,
    backend: &mut TcpStream,
    to_client: Count<'_>,
    to_backend: Count<'_>,
    settings: &Settings<'_>,
) -> io::Result<()> {
    let (client_read, client_write) = client.split();
    let (backend_read, backend_write) = backend.split();
    let one_ended = AtomicBool::new(false);
    let up = one_way(client_read, backend_write, &to_backend, settings, &one_ended);
    let down = one_way(backend_read, client_write, &to_client, settings, &one_ended);
    tokio::try_join!(up, down).map(|_| ())
}

/// Writes all of `bytes` to `to`, counting them as they go.
pub(crate) async fn write_all(to: &mut TcpStream, bytes: &[u8], count: &Count<'_>) -> io::Result<()> {
    let (_, mut to) = to.split();
    write_counted(&mut to, bytes, count).await
}

async fn write_counted(to: &mut WriteHalf<'_>, mut bytes: &[u8], count: &Count<'_>) -> io::Result<()> {
    while !bytes.is_empty() {
        match to.write(bytes).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            written => {
                count.add(written);
                bytes = &bytes[written..];
            }
        }
    }
    Ok(())
}

/// One direction, `from` to `to`, until `from` ends. Reads go through tokio's `AsyncRead`,
/// which takes a short read as proof the socket is drained and waits for the next readiness
/// event instead of reading again only to be told to wait.
async fn one_way(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    count: &Count<'_>,
    settings: &Settings<'_>,
    one_ended: &AtomicBool,
) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut size = FIRST_BUFFER.min(settings.buffer_size).max(1);
    let mut may_splice = true;
    loop {
        if buf.capacity() < size {
            // Allocated once there is something to read: an idle direction holds no buffer.
            from.as_ref().readable().await?;
            buf = Vec::with_capacity(size);
        }
        buf.clear();
        // Into the buffer's spare capacity: nothing is zeroed first.
        let read = from.read_buf(&mut buf).await?;
        if read == 0 {
            break;
        }
        write_counted(&mut to, &buf[..read], count).await?;
        if read < buf.capacity() {
            continue;
        }
        // A full buffer: bulk.
        if let Some(pipe) = may_splice.then(|| settings.pipes.take()).flatten() {
            buf = Vec::new();
            match spliced(from.as_ref(), to.as_ref(), &pipe.pipe, count).await? {
                Spliced::End => break,
                Spliced::Unsupported => may_splice = false,
            }
        }
        size = settings.buffer_size.max(size);
    }
    // The direction ending second leaves the close that follows to send the FIN: nothing is
    // left unread on either socket by then, so it is a FIN, not a reset, and one call fewer.
    if !one_ended.swap(true, AcqRel) {
        to.shutdown().await?;
    }
    Ok(())
}

enum Spliced {
    /// `from` reached its end.
    End,
    /// These sockets cannot be spliced (nothing was moved): copy instead.
    Unsupported,
}

/// Splices from `from` through `pipe` into `to` until `from` ends. The pipe is filled only when
/// empty, so a fill that would block is waiting for `from`, and a drain that would block is
/// waiting for `to`.
async fn spliced(from: &TcpStream, to: &TcpStream, pipe: &Pipe, count: &Count<'_>) -> io::Result<Spliced> {
    let mut moved_any = false;
    loop {
        let filled = from.async_io(Interest::READABLE, || pipe.fill(from.as_fd(), FILL_MAX)).await;
        let mut held = match filled {
            Ok(0) => return Ok(Spliced::End),
            Ok(filled) => filled,
            Err(e) if !moved_any && matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) => {
                return Ok(Spliced::Unsupported)
            }
            Err(e) => return Err(e),
        };
        moved_any = true;
        while held > 0 {
            let drained = to.async_io(Interest::WRITABLE, || pipe.drain(to.as_fd(), held)).await?;
            if drained == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            count.add(drained);
            held -= drained;
        }
    }
}

#[cfg(test)]
mod tests;
