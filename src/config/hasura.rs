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

/// How the values of session variables are written: custom claims in tokens, and the
/// webhook's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionValues {
    /// Every value a string (arrays as PostgreSQL array literals): what Hasura v2 requires,
    /// and what Hasura DDN requires before its JSON session variables.
    Strings,
    /// Every value as its JSON type (a number stays a number): what Hasura DDN requires from
    /// compatibility date 2024-10-16, where the string `"42"` no longer matches an `Int`.
    Json,
}

/// The compatibility dates of Hasura DDN that change how it reads this server's tokens (from
/// its `v3/crates/auth` and the flags its metadata build derives from a project's date; a
/// behaviour applies to projects whose date is on or after its date).
pub mod ddn_dates {
    use chrono::NaiveDate;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
    }

    /// `JsonSessionVariables`: session variables are compared as typed JSON (a string claim
    /// no longer matches an `Int` column; arrays work); before it, only strings work.
    pub fn json_session_variables() -> NaiveDate {
        date(2024, 10, 16)
    }

    /// `DisallowUnknownValuesInArguments`: an object session variable used as an object type
    /// may not have fields the type does not declare.
    pub fn unknown_fields_refused() -> NaiveDate {
        date(2025, 2, 20)
    }

    /// `RequireJwtAudienceValidationIfAudClaimPresent`: a token with `aud` is refused unless
    /// the AuthConfig names an audience that contains it; before it, `aud` is not checked.
    /// `DisallowInvalidHeadersInAuthConfig` begins the same day.
    pub fn audience_checked() -> NaiveDate {
        date(2025, 3, 11)
    }
}

/// A `YYYY-MM-DD` date.
fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| format!("{e}: expected a date such as 2025-03-11"))
}

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

    /// The compatibility date (`YYYY-MM-DD`) of the Hasura DDN project that verifies the
    /// tokens, when DDN does. From 2024-10-16 DDN compares session variables as typed JSON:
    /// custom claims (and the webhook's answers) then keep their JSON types instead of
    /// becoming strings, as Hasura v2 and older DDN projects require. `hasura
    /// ddn-auth-config` writes the AuthConfig for the same date.
    #[arg(long, env = "AUTH_DDN_COMPATIBILITY_DATE", value_parser = parse_date)]
    pub ddn_compatibility_date: Option<chrono::NaiveDate>,
}

impl HasuraArgs {
    /// How session variables carry their values, for the engine that reads the tokens.
    pub fn session_values(&self) -> SessionValues {
        match self.ddn_compatibility_date {
            Some(d) if d >= ddn_dates::json_session_variables() => SessionValues::Json,
            _ => SessionValues::Strings,
        }
    }
}
