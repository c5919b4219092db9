//! Integration tests against a real PostgreSQL, one fresh database per test, in one test
//! binary (one link instead of one per file). Grouped by area:
//!
//! - `api`: the HTTP API (sign-up, sign-in, user endpoints, keys, settings, bad input);
//! - `refresh`, `rotation`, `batch`: refresh tokens and sessions, the one-statement refresh,
//!   and refreshes merged into one statement;
//! - `hasura`: claims, actions, webhook, cookie and CORS;
//! - `admin`: the admin API, the CLI, imports and the audit log;
//! - `email`: the email flows over a real SMTP server;
//! - `external`, `github`, `auth_js`: external sign-in against a real OpenID Connect provider,
//!   a stand-in of GitHub's API, and the real `@supabase/auth-js` client;
//! - `cache`, `cache_here`: session state in memory, seen changing on every instance, and at
//!   once on the instance that made the change;
//! - `faults`: the database going away and coming back.
mod admin;
mod api;
mod auth_js;
mod batch;
mod browser;
mod cache;
mod cache_here;
#[allow(dead_code)] // helpers shared by the modules; not every one uses all
mod common;
mod ddn;
mod email;
mod external;
mod faults;
mod github;
mod guards;
mod hasura;
mod openapi;
mod operations;
mod refresh;
mod rotation;
mod sessions;
mod takeover;
mod ui;
