//! privlink's management plane: the ARM-compatible API (`arm`, `engine`, `router`), the
//! resource providers (`providers`), the reconciler and the `serve` entry point.
//!
//! Dependencies point one way: `providers` use `arm` and the store; `engine` drives providers;
//! `router` parses requests and calls `engine`; `server` wires it all together.

pub mod admin;
pub mod arm;
pub mod bootstrap;
pub mod catalogue;
pub mod config;
pub mod dataplane;
pub mod diagnostics;
pub mod engine;
pub mod identity;
pub mod observability;
pub mod operations;
pub mod platform;
pub mod private_link;
pub mod providers;
pub mod reconciler;
pub mod router;
pub mod server;
pub mod state;
pub mod tls;

pub use config::{FileConfig, Limits, ServeConfig, Settings, Timing};
pub use server::{serve, Started};
