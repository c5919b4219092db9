//! How tokens, webhook and actions fit Hasura.

use clap::{Args, ValueEnum};

use super::parse::parse_role;
use crate::secret::Secret;

/// Shape of the Hasura claims value in the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClaimsFormat {
    /// A JSON object (Hasura's default).
    Json,
    /// A string holding the JSON object (`claims_format: stringified_json`).
    #[value(name = "stringified_json", alias = "stringified-json")]
    StringifiedJson,
}

/// Hasura's default claims namespace.
pub const DEFAULT_CLAIMS_NAMESPACE: &str = "https://hasura.io/jwt/claims";

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Hasura")]
pub struct HasuraArgs {
    /// Key of the Hasura claims object in the token.
    #[arg(
        long,
        env = "AUTH_HASURA_CLAIMS_NAMESPACE",
        default_value = DEFAULT_CLAIMS_NAMESPACE
    )]
    pub hasura_claims_namespace: String,

    /// `json` (an object) or `stringified_json` (a string holding the object).
    #[arg(
        long,
        env = "AUTH_HASURA_CLAIMS_FORMAT",
        value_enum,
        default_value = "json"
    )]
    pub hasura_claims_format: ClaimsFormat,

    /// SQL that returns custom claims: takes the user id as `$1` and returns one JSON object
    /// (e.g. `SELECT json_build_object('organization-id', org_id) FROM public.members WHERE user_id = $1`).
    /// Evaluated at sign-in and at every refresh.
    #[arg(long, env = "AUTH_CUSTOM_CLAIMS_SQL")]
    pub custom_claims_sql: Option<String>,

    /// Shared secret that Hasura sends to `POST /hasura/actions` in the
    /// `x-auth-actions-secret` header. Without it the actions handler is off.
    #[arg(long, env = "AUTH_HASURA_ACTIONS_SECRET", hide_env_values = true)]
    pub hasura_actions_secret: Option<Secret>,

    /// Handler URL written into the generated actions metadata (Hasura expands `{{VAR}}`
    /// from its own environment).
    #[arg(
        long,
        env = "AUTH_HASURA_ACTIONS_HANDLER_URL",
        default_value = "{{HASURA_JWT_AUTH_URL}}/hasura/actions"
    )]
    pub hasura_actions_handler_url: String,

    /// Role for requests without a token (Hasura's HASURA_GRAPHQL_UNAUTHORIZED_ROLE): the
    /// webhook answers with it, the actions metadata grants it sign-up, login and refresh.
    #[arg(long, env = "AUTH_HASURA_UNAUTHORIZED_ROLE", default_value = "anonymous", value_parser = parse_role)]
    pub hasura_unauthorized_role: String,
}
