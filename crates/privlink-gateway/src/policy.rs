//! What the caller decides: where a connection came from and where it wants to go
//! ([`ConnectRequest`]), and whether it may go there ([`Decision`], from the caller's [`Policy`]).
//!
//! Routes are opaque strings to the gateway: it counts per route and compares them, nothing else.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A route's id, opaque to the gateway (the caller uses an endpoint's or a target's key).
pub type RouteId = String;

/// The host a client asked for: a name (lower-case, without a trailing dot) or an address.
///
/// Every proxy handshake builds hosts with [`Host::parse`], so an address spelled as a name
/// (`"127.0.0.1"`, `"[::1]"`) is always an [`Host::Ip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

/// The longest host name accepted (RFC 1035 presentation form).
pub const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

impl Host {
    /// Reads a host as clients write it: an IPv4 address (dotted quad), an IPv6 address with or
    /// without brackets (no zone id), or a DNS name of letters, digits, `-` and `_` in labels of
    /// 1..=63 bytes (lower-cased, one trailing dot stripped). `None` for anything else.
    pub fn parse(text: &str) -> Option<Host> {
        if let Some(inner) = text.strip_prefix('[') {
            return inner.strip_suffix(']')?.parse::<Ipv6Addr>().ok().map(|ip| Host::Ip(IpAddr::V6(ip)));
        }
        if let Ok(ip) = text.parse::<Ipv4Addr>() {
            return Some(Host::Ip(IpAddr::V4(ip)));
        }
        if text.contains(':') {
            return text.parse::<Ipv6Addr>().ok().map(|ip| Host::Ip(IpAddr::V6(ip)));
        }
        let name = text.strip_suffix('.').unwrap_or(text);
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return None;
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !name.split('.').all(label_ok) {
            return None;
        }
        Some(Host::Name(name.to_ascii_lowercase()))
    }
}

impl fmt::Display for Host {
    /// Names as they are, IPv6 addresses in brackets (so `{host}:{port}` reads unambiguously).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// How a connection reached the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Straight to one of the gateway's route listeners (`listen`): `listener` is its id.
    Direct { listener: String, peer: SocketAddr },
    /// Through a view's proxy (`serve_proxy`): the client sits in `view`; `user` is the proxy user
    /// name if the client gave one (SOCKS5 user/password auth, or HTTP `Proxy-Authorization:
    /// Basic`), which the caller may use to pick a subnet. The password is never looked at.
    Proxy { view: String, user: Option<String>, peer: SocketAddr },
}

/// One connection's request, decided when it arrives and again at every
/// [`Gateway::reauthorize`](crate::Gateway::reauthorize) while its tunnel is open.
///
/// For [`Origin::Direct`], `host` is the listener's bound IP and `port` its bound port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub origin: Origin,
    pub host: Host,
    pub port: u16,
    /// Where a host name pointed when the connection arrived ([`Policy::pin`]): an open
    /// tunnel is decided again with this address, never with a fresh lookup, as a DNS change
    /// never moves an open TCP connection.
    pub pinned: Option<IpAddr>,
}

/// Why a connection is refused; also picks the reply (SOCKS5 code, HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RefusalKind {
    /// The policy forbids it (SOCKS5 0x02, HTTP 403).
    NotAllowed,
    /// Nothing there to route to (SOCKS5 0x04, HTTP 502).
    Unreachable,
    /// Something is there but will not take the connection, e.g. a backend that cannot be reached
    /// (SOCKS5 0x05, HTTP 502).
    Refused,
}

/// What the policy says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Forward {
        route: RouteId,
        backend: SocketAddr,
    },
    Refuse {
        route: Option<RouteId>,
        kind: RefusalKind,
        reason: String,
    },
    /// Not privlink's business: connect straight to `addr` (the caller only returns this for
    /// loopback addresses that are not routes, e.g. privlink's own API on 127.0.0.1:8443 reached by
    /// an SDK whose HTTPS_PROXY points at the proxy).
    Passthrough {
        addr: SocketAddr,
    },
}

impl Decision {
    /// Whether an open tunnel set up under `self` may stay open under `now`: the same route to the
    /// same backend, or a passthrough to the same address. A refusal never keeps a tunnel.
    pub fn keeps(&self, now: &Decision) -> bool {
        match (self, now) {
            (Decision::Forward { route, backend }, Decision::Forward { route: now_route, backend: now_backend }) => {
                route == now_route && backend == now_backend
            }
            (Decision::Passthrough { addr }, Decision::Passthrough { addr: now_addr }) => addr == now_addr,
            _ => false,
        }
    }
}

/// The caller's rules. `decide` runs on the connection's path (and for every open tunnel on
/// [`Gateway::reauthorize`](crate::Gateway::reauthorize)): it must be synchronous, in-memory and
/// cheap, and must not call back into the gateway.
pub trait Policy: Send + Sync + 'static {
    fn decide(&self, request: &ConnectRequest) -> Decision;
    /// The address a request's host name stands for now, kept with the connection as
    /// [`ConnectRequest::pinned`] (asked once, when it arrives). `None` (the default): nothing
    /// to pin.
    fn pin(&self, _request: &ConnectRequest) -> Option<IpAddr> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_as_clients_write_them() {
        let ip = |s: &str| Some(Host::Ip(s.parse().unwrap()));
        assert_eq!(Host::parse("127.0.0.1"), ip("127.0.0.1"));
        assert_eq!(Host::parse("[::1]"), ip("::1"));
        assert_eq!(Host::parse("::1"), ip("::1"));
        assert_eq!(Host::parse("Sa1.Blob.Core.Windows.Net."), Some(Host::Name("sa1.blob.core.windows.net".into())));
        assert_eq!(Host::parse("_acme.x-y.example"), Some(Host::Name("_acme.x-y.example".into())));
        for bad in [
            "",
            ".",
            "a..b",
            "a b",
            "a/b",
            "[::1",
            "::1]",
            "[127.0.0.1]",
            "[fe80::1%25eth0]",
            "fe80::1%eth0",
            "1.2.3.4:80",
            "host:80",
            "\u{e9}t\u{e9}.example",
            "a\0b",
        ] {
            assert_eq!(Host::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Host::parse(&"a".repeat(64)), None);
        assert!(Host::parse(&"a".repeat(63)).is_some());
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(long.len() > MAX_NAME_LEN);
        assert_eq!(Host::parse(&long), None);
    }

    #[test]
    fn hosts_display_with_brackets_for_ipv6() {
        assert_eq!(Host::parse("::1").unwrap().to_string(), "[::1]");
        assert_eq!(Host::parse("10.0.0.1").unwrap().to_string(), "10.0.0.1");
        assert_eq!(Host::parse("A.b").unwrap().to_string(), "a.b");
    }

    #[test]
    fn a_tunnel_is_kept_only_by_the_same_route_and_backend() {
        let backend: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let forward = |route: &str, backend| Decision::Forward { route: route.into(), backend };
        assert!(forward("r", backend).keeps(&forward("r", backend)));
        assert!(!forward("r", backend).keeps(&forward("s", backend)));
        assert!(!forward("r", backend).keeps(&forward("r", "127.0.0.1:2".parse().unwrap())));
        let refuse = Decision::Refuse { route: Some("r".into()), kind: RefusalKind::NotAllowed, reason: "no".into() };
        assert!(!forward("r", backend).keeps(&refuse));
        assert!(!refuse.keeps(&refuse));
        let pass = Decision::Passthrough { addr: backend };
        assert!(pass.keeps(&pass));
        assert!(!pass.keeps(&forward("r", backend)));
    }
}
