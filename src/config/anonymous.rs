//! Anonymous users (try before signing up) and the account switches that go with them.

use clap::Args;

use super::parse::{parse_optional_duration, parse_role, OptionalDuration};

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Anonymous users and linking")]
pub struct AnonymousArgs {
    /// Let `POST /signup` with no address and no password create an anonymous user (Supabase
    /// Auth's `signInAnonymously`); off by default, as there.
    #[arg(long, env = "AUTH_ANONYMOUS_USERS")]
    pub anonymous_users: bool,

    /// The Hasura role of anonymous users, their only allowed role until they add a proven
    /// address or link an identity (then they get AUTH_DEFAULT_ROLE and
    /// AUTH_DEFAULT_ALLOWED_ROLES). Distinct from AUTH_HASURA_UNAUTHORIZED_ROLE, so that
    /// permissions can tell a visitor with an account from one without.
    #[arg(long, env = "AUTH_ANONYMOUS_ROLE", default_value = "anonymous_user", value_parser = parse_role)]
    pub anonymous_role: String,

    /// Anonymous sign-ins allowed per client address and hour (`0`: no limit); kept in
    /// PostgreSQL, shared by every instance.
    #[arg(long, env = "AUTH_RATE_LIMIT_ANONYMOUS_USERS", default_value_t = 30)]
    pub rate_limit_anonymous_users: u32,

    /// Delete anonymous users this long after they were created, with their sessions, unless
    /// they converted (`off`, the default, keeps them).
    #[arg(long, env = "AUTH_ANONYMOUS_USERS_MAX_AGE", default_value = "off", value_parser = parse_optional_duration)]
    pub anonymous_users_max_age: OptionalDuration,

    /// Let signed-in users link and unlink identities on request (`GET
    /// /user/identities/authorize`, `DELETE /user/identities/{id}`); `false` answers those
    /// with 404 `manual_linking_disabled`, as Supabase Auth does with manual linking off.
    #[arg(long, env = "AUTH_MANUAL_LINKING", default_value_t = true,
          num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub manual_linking: bool,
}
