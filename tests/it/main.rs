//! Integration tests against a real PostgreSQL, one fresh database per test, in one test
//! binary (one link instead of one per file). Grouped as `src/` is:
//!
//! - `token`, `user`, `sessions`, `keys`, `errors`, `limits`, `startup`: the HTTP API (sign-up
//!   and sign-in, the user endpoints, a user's sessions, signing keys and tokens, bad input,
//!   limits on attempts, starting up);
//! - `refresh`, `rotation`, `batch`: refresh tokens and sessions, the one-statement refresh,
//!   and refreshes merged into one statement;
//! - `hasura` (claims, actions, webhook), `ddn`: Hasura v2 and DDN; `cookie`: the refresh
//!   token in a cookie, CORS;
//! - `email` (links and codes, address changes, delivery), `guards`, `takeover`: the email
//!   flows over a real SMTP server, their limits, and proofs of an address;
//! - `external` (browser flow, linking, tokens), `github`, `auth_js`: external sign-in against
//!   a real OpenID Connect provider, a stand-in of GitHub's API, and the real
//!   `@supabase/auth-js` client;
//! - `passkeys`: passkeys over HTTP (their ceremonies in Chromium: `browser`);
//! - `mfa`: second factors and the assurance level of sessions, in tokens and in Hasura;
//! - `ui`, `browser`: the hosted pages, over HTTP and in Chromium;
//! - `admin`, `cli`, `import`: the admin API, the command line, imports;
//! - `cache`, `cache_here`: session state in memory, seen changing on every instance, and at
//!   once on the instance that made the change;
//! - `operations`, `openapi`, `faults`: request ids, probes, metrics and shutdown; the
//!   document against every answer; the database going away and coming back.
mod admin;
mod anonymous;
mod api_keys;
mod auth_js;
mod batch;
mod browser;
mod cache;
mod cache_here;
mod cli;
#[allow(dead_code)] // helpers shared by the modules; not every one uses all
mod common;
mod cookie;
mod ddn;
mod email;
mod errors;
mod external;
mod faults;
mod github;
mod guards;
mod hasura;
mod import;
mod keys;
mod limits;
mod mfa;
mod migrate;
mod oauth;
mod openapi;
mod operations;
mod organizations;
mod passkeys;
mod refresh;
mod rotation;
mod sessions;
mod startup;
mod takeover;
mod token;
pub(crate) mod ui;
mod user;
