//! The `privlink` subcommands other than `serve`; each is a client of the public HTTP API.

pub mod client;
pub mod private_link;
pub mod table;
