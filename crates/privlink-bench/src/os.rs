//! The socket calls std does not offer, for the paced loads (DNS over UDP, the gateway's
//! request/response over TCP): kernel receive timestamps and fine-grained sleeps.

#[cfg(target_os = "linux")]
pub use linux::*;
#[cfg(not(target_os = "linux"))]
pub use other::*;

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::AsRawFd;

    /// Ask the kernel to stamp what arrives on `socket` with its arrival time (CLOCK_REALTIME).
    pub fn enable_timestamps(socket: &impl AsRawFd) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: a valid fd and a pointer to a c_int of the length given.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// This thread's sleeps end within about a microsecond of when asked (the default timer
    /// slack, 50 us, would bunch the schedule into bursts). Failing is harmless.
    pub fn precise_sleeps() {
        // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches no memory.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong);
        }
    }

    /// One datagram (or what a stream socket holds) without blocking: `None` when nothing is
    /// queued, `Some((0, _))` at a stream's end; with the kernel's receive time in nanoseconds
    /// since the epoch when it gave one (for TCP, that of the last segment read).
    pub fn recv(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Option<(usize, Option<u64>)>> {
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // Room for one control message holding a timespec, aligned for cmsghdr.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: msg points at live buffers of the lengths it states, for the call's duration.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(error) };
        }
        let mut stamp = None;
        // SAFETY: the CMSG_* helpers walk the control buffer the kernel filled, within
        // msg_controllen; the timestamp is read unaligned from inside it.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok(Some((n as usize, stamp)))
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    use std::io;

    pub fn enable_timestamps<T>(_: &T) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "paced loads need Linux (SO_TIMESTAMPNS)"))
    }

    pub fn precise_sleeps() {}

    pub fn recv<T>(_: &T, _: &mut [u8]) -> io::Result<Option<(usize, Option<u64>)>> {
        Ok(None)
    }
}
