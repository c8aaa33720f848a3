//! The `privlink` subcommands other than `serve`; each is a client of the public HTTP API (or,
//! for `env` and `az-login`, of the files the server keeps in its data directory).

pub mod admin;
pub mod azcli;
pub mod backend;
pub mod client;
pub mod dns;
pub mod env;
pub mod gateway;
pub mod private_link;
pub mod shell;
pub mod table;
