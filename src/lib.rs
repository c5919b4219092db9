//! `hasura-jwt-auth`: an authentication server for Hasura GraphQL Engine with its users in
//! PostgreSQL.
//!
//! The crate is a library (so integration tests can build as many independent apps as they
//! like with [`http::app`]) plus a thin binary in `main.rs`.
//!
//! - [`config`]: typed settings from flags and `AUTH_*` environment variables.
//! - [`auth`]: the framework-free core: passwords, signing keys and access tokens, refresh
//!   tokens and sessions.
//! - [`store`]: all SQL, one module per table.
//! - [`http`]: the axum routers, one module per route group, and the error type.
#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod cli;
pub mod cli_admin;
pub mod config;
pub mod error;
pub mod hasura_metadata;
pub mod http;
pub mod import;
pub mod secret;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
