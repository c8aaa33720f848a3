//! The threads the gateway's connections run on, and the sockets they accept from.
//!
//! Each worker is a thread running a current-thread tokio runtime, and every listener and proxy
//! is bound once per worker on the same address with SO_REUSEPORT: the kernel hands each new
//! connection to one worker's socket, and that connection's accept, decision, backend connect
//! and tunnel then stay on that thread. On the caller's multi-thread runtime a connection's
//! tasks were woken across threads (futex and eventfd hand-offs), and a connection cost about a
//! fifth more of the gateway's CPU with two workers than with one (docs/benchmarks.md,
//! "Gateway: privlink vs direct vs haproxy").
//!
//! The threads ([`privlink_workers::Workers`]) start with the first listener or proxy and stop
//! with the gateway: each runtime then drops its tasks, which closes their sockets.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// The accept queue of each listening socket.
const BACKLOG: i32 = 1024;
/// Tries at binding a free port (port 0) for all workers before giving up.
const PORT_TRIES: usize = 16;

/// One listening socket per worker on `addr` (port 0: a free port, the same for all), not yet
/// registered with a runtime. With more than one worker they set SO_REUSEPORT, and a port held
/// by anyone else is refused first by a plain bind: the kernel would otherwise let another
/// socket of the same user with SO_REUSEPORT share it silently.
pub(crate) fn bind(addr: SocketAddr, workers: usize) -> io::Result<Vec<std::net::TcpListener>> {
    if workers <= 1 {
        return Ok(vec![listening(addr, false)?]);
    }
    let mut last_error = io::Error::new(io::ErrorKind::AddrInUse, "no port free for every worker");
    for _ in 0..PORT_TRIES {
        let probe = socket(addr, false)?;
        probe.bind(&addr.into())?;
        let port = probe.local_addr()?.as_socket().map_or(addr.port(), |bound| bound.port());
        drop(probe);
        let at = SocketAddr::new(addr.ip(), port);
        match (0..workers).map(|_| listening(at, true)).collect::<io::Result<Vec<_>>>() {
            Ok(sockets) => return Ok(sockets),
            // Someone took the port between the probe and the binds: another one, if any port.
            Err(error) if error.kind() == io::ErrorKind::AddrInUse && addr.port() == 0 => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std and tokio do: a restarted gateway binds again while old connections linger.
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn listening(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = socket(addr, reuse_port)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_gets_a_socket_on_one_port_nobody_else_holds() {
        let sockets = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let ports: Vec<u16> = sockets.iter().map(|s| s.local_addr().unwrap().port()).collect();
        assert!(ports.iter().all(|p| *p == ports[0] && *p != 0), "{ports:?}");
        // A plain listener elsewhere keeps its port to itself.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let error = bind(taken.local_addr().unwrap(), 2).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(bind("127.0.0.1:0".parse().unwrap(), 1).unwrap().len(), 1);
    }
}
