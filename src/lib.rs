//! `hasura-jwt-auth`: an authentication server for Hasura GraphQL Engine with its users in
//! PostgreSQL.
//!
//! The crate is a library (so integration tests can build as many independent apps as they
//! like) plus a thin binary in `main.rs`. Requests flow one way, `http` → `auth`/`admin` →
//! `store`:
//!
//! - [`http`]: the axum routers, one module per route group, and the mapping of errors to
//!   HTTP responses;
//! - [`auth`]: the framework-free core of sessions (sign-in, refresh, sign-out, self-service),
//!   with passwords, signing keys and access tokens; [`admin`]: administration shared by the
//!   admin API and the CLI, and user imports;
//! - [`store`]: all SQL, one module per table.
//!
//! Beside them: [`app`] builds everything from the [`config`] (the one composition root),
//! [`cli`] is the command line, [`housekeeping`] the background pruning, [`hasura_config`]
//! generates Hasura's configuration, and the leaf modules [`error`], [`client`], [`api`],
//! [`roles`] and [`secret`] hold what every layer shares.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub mod hasura_config;
pub mod housekeeping;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod roles;
pub mod secret;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
