//! privlink's DNS plane: the resolver each virtual network sees at Azure's 168.63.129.16.
//!
//! The crate knows nothing about ARM or Azure resources. Its caller feeds a [`Catalog`] with
//! opaque ids: *views* (one per virtual network), private *zones* and their record sets, *links*
//! attaching a zone to a view, *public data* (names that exist "on the internet" in privlink's
//! world) and the *authoritative suffixes* under which an unknown name is NXDOMAIN. Then:
//! - [`resolve()`] answers a question as one view would and explains every step, citing the
//!   `source` strings (ARM ids) the caller attached to each object;
//! - [`answer_packet`] turns a query packet into a reply packet (or a question for the upstream);
//! - [`DnsServer`] serves each view on its own UDP+TCP address and forwards what privlink does
//!   not know to an optional upstream.
//!
//! Invariants:
//! - answers come from memory only: resolving never does I/O, and the catalog lock is never held
//!   across an await;
//! - nothing a client sends can panic or stall the server: packets are parsed defensively,
//!   per-connection work is bounded in time and memory;
//! - a lookup costs a few hash lookups whatever the catalog's size (see [`model`]).

mod fast_hash;
pub mod model;
pub mod name;
mod packet;
pub mod resolve;
pub mod server;
pub mod wire;

/// The hickory-proto this crate speaks (its `RecordType` is the query type of [`resolve()`]).
pub use hickory_proto;
pub use model::{
    Catalog, CatalogCounts, LinkInfo, PublicRecord, RData, RecordSet, RecordType, ResolutionPolicy, UnknownRecordType,
    ViewInfo,
};
pub use name::NameError;
pub use resolve::{lookup_a, resolve, Answer, Lookup, Rcode, Resolution, Step, StepKind, MAX_CNAME_HOPS};
pub use server::{DnsServer, RcodeCounts, ServerConfig, Stats};
pub use wire::{answer_packet, ForwardRequest, Outcome, Transport};
