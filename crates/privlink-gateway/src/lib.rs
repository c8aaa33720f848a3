//! privlink's gateway: Azure Private Link's data plane, minus Azure. TCP connections reach a
//! backend only through a route the caller's [`Policy`] allows, and are cut when it stops
//! allowing them.
//!
//! The crate knows nothing about ARM, private endpoints or DNS. Its caller implements [`Policy`]
//! (routes are opaque strings, see [`RouteId`]) and opens:
//! - *route listeners* ([`Gateway::listen`]): one address per route; every connection is decided as
//!   [`Origin::Direct`] and either spliced to its backend or reset;
//! - *proxies* ([`Gateway::serve_proxy`]): one per view (a virtual network), speaking SOCKS5 and
//!   HTTP (CONNECT and absolute-form requests) on one port; every connection is decided as
//!   [`Origin::Proxy`] for the host and port the client asked for, and refused with a reply that
//!   gives the reason.
//!
//! When the policy's inputs change the caller calls [`Gateway::reauthorize`], which decides every
//! open tunnel again and resets those no longer allowed where they were going.
//!
//! Invariants:
//! - bytes flow only between a client and the backend of a [`Decision`] (`Forward` or
//!   `Passthrough`) taken for that client's request, and only while the latest decision for that
//!   request still points there (up to the moment `reauthorize` runs);
//! - nothing a client sends can panic the gateway or hold more than a fixed amount of it: a
//!   handshake is bounded in time (`handshake_timeout`) and size (`max_http_head`), connections in
//!   number (`max_connections`), and a tunnel holds at most two copy buffers of `buffer_size`
//!   bytes, or pipes in their place (at most `max_pipes` in the whole gateway), whatever its
//!   peers do;
//! - a refused or failed connection releases its sockets at once;
//! - the policy is asked synchronously and never while a lock of the gateway is held, and counting
//!   costs an atomic add on a connection's path ([`stats`]).

mod gateway;
pub mod http;
mod listener;
pub mod policy;
mod proxy;
mod pump;
pub mod socks5;
pub mod stats;
mod tunnel;
mod workers;

pub use gateway::{Gateway, GatewayConfig};
pub use policy::{ConnectRequest, Decision, Host, Origin, Policy, RefusalKind, RouteId};
pub use stats::{EntryStats, GatewayStats, LastRefusal, RouteStats, Totals};
