//! How the kernel picks, among a view's SO_REUSEPORT sockets, the one a datagram goes to.
//!
//! By default it hashes the client's address and port, so a client keeps to one socket (one UDP
//! thread). With few busy clients (a load generator's handful of sockets) that can leave one
//! thread with most of the work while the other idles. A view's queries are independent, so
//! privlink instead attaches a classic BPF program to the group that picks a socket at random
//! for every datagram: the threads share the load evenly whatever the number of clients.
//! Failing to attach it (an old kernel, another OS) only leaves the hash in place.

use std::io;
use std::net::UdpSocket;

/// Spread datagrams over the `sockets` sockets of the group `socket` belongs to, at random.
#[cfg(target_os = "linux")]
pub(super) fn spread_randomly(socket: &UdpSocket, sockets: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    let sockets = u32::try_from(sockets).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let statement = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let mut program = [
        // A = a random 32-bit number (a Linux "ancillary" load, not packet data)
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, (libc::SKF_AD_OFF + libc::SKF_AD_RANDOM) as u32),
        // A = A % sockets
        statement(libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K, sockets.max(1)),
        // the index of the socket in the group
        statement(libc::BPF_RET | libc::BPF_A, 0),
    ];
    let fprog = libc::sock_fprog { len: program.len() as libc::c_ushort, filter: program.as_mut_ptr() };
    // SAFETY: a valid fd, and a pointer to a sock_fprog (and the program it points to) that lives
    // for the duration of the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn spread_randomly(_: &UdpSocket, _: usize) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
