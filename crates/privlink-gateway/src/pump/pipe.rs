//! splice(2) through a pipe, behind a safe interface: bytes move from a socket into the pipe and
//! from the pipe into another socket as references to the kernel's pages, never copied into
//! user space. Linux only; elsewhere [`Pipe::new`] fails and callers copy.

use std::io;
use std::os::fd::BorrowedFd;
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// The smallest pipe worth splicing through: the kernel's default capacity.
#[cfg(target_os = "linux")]
const MIN_CAPACITY: usize = 64 * 1024;

/// A pipe whose two ends are non-blocking and closed when it is dropped.
pub(crate) struct Pipe {
    #[cfg(target_os = "linux")]
    read: OwnedFd,
    #[cfg(target_os = "linux")]
    write: OwnedFd,
}

#[cfg(target_os = "linux")]
impl Pipe {
    /// A pipe of about `size` bytes (the kernel rounds up to a power of two pages; 0 keeps its
    /// default).
    pub fn new(size: usize) -> io::Result<Pipe> {
        let mut fds: [libc::c_int; 2] = [-1, -1];
        // SAFETY: pipe2 writes two descriptors into the array, which lives for the call.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: on success both descriptors are new, open, and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        if size > 0 {
            // Best effort: a size over `fs.pipe-max-size` keeps the capacity the pipe has.
            let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
            // SAFETY: F_SETPIPE_SZ takes an integer and touches no memory of ours.
            unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
        }
        // A user past `fs.pipe-user-pages-soft` (64 MiB of pipes by default, shared by all of
        // that user's processes) gets pipes of two pages, through which splicing costs more
        // calls than copying through a buffer: refuse those, and the caller copies.
        // SAFETY: F_GETPIPE_SZ takes no argument and touches no memory of ours.
        let capacity = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ) };
        if usize::try_from(capacity).map_or(true, |capacity| capacity < MIN_CAPACITY) {
            return Err(io::Error::other("the pipe is too small to splice through"));
        }
        Ok(Pipe { read, write })
    }

    /// Moves at most `max` bytes that `from` holds into the pipe. `Ok(0)` is `from`'s end;
    /// `WouldBlock` means `from` has nothing now (or the pipe is full).
    pub fn fill(&self, from: BorrowedFd<'_>, max: usize) -> io::Result<usize> {
        splice(from, self.write.as_fd(), max)
    }

    /// Moves at most `max` bytes from the pipe into `to`; `WouldBlock` means `to` takes nothing
    /// now (or the pipe is empty).
    pub fn drain(&self, to: BorrowedFd<'_>, max: usize) -> io::Result<usize> {
        splice(self.read.as_fd(), to, max)
    }
}

#[cfg(target_os = "linux")]
fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: both descriptors are open for the lifetime of their borrows, which outlive the
    // call; the offsets are null, as they must be for pipes and sockets; no memory of ours is
    // read or written.
    let moved = unsafe {
        libc::splice(from.as_raw_fd(), std::ptr::null_mut(), to.as_raw_fd(), std::ptr::null_mut(), len, flags)
    };
    usize::try_from(moved).map_err(|_| io::Error::last_os_error())
}

#[cfg(not(target_os = "linux"))]
impl Pipe {
    pub fn new(_: usize) -> io::Result<Pipe> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "splice(2) is Linux only"))
    }

    pub fn fill(&self, _: BorrowedFd<'_>, _: usize) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "splice(2) is Linux only"))
    }

    pub fn drain(&self, _: BorrowedFd<'_>, _: usize) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "splice(2) is Linux only"))
    }
}
