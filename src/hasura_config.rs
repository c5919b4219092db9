//! What Hasura needs to be told about this server, generated from the same settings the
//! server runs with: `HASURA_GRAPHQL_JWT_SECRET` ([`jwt_secret`]) and the actions metadata
//! ([`metadata`]) for Hasura v2, and the `AuthConfig` object for Hasura DDN ([`ddn`]).

pub mod ddn;
pub mod jwt_secret;
pub mod metadata;

pub use jwt_secret::{hasura_jwt_secret, SecretMode};

/// Header that carries `AUTH_HASURA_ACTIONS_SECRET` from Hasura to the actions handler.
pub const ACTIONS_SECRET_HEADER: &str = "x-auth-actions-secret";

/// Environment variable (in Hasura's environment) holding the actions secret.
pub const ACTIONS_SECRET_ENV: &str = "HASURA_JWT_AUTH_ACTIONS_SECRET";
