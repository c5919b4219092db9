//! Second factors (TOTP authenticator apps) and the assurance level sessions need.

use clap::Args;

use super::parse::parse_role;
use crate::secret::Secret;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Multi-factor authentication")]
pub struct MfaArgs {
    /// The key TOTP secrets are encrypted with in the database: 32 bytes in base64
    /// (`openssl rand -base64 32`), the same on every instance. Without it, a key is created in
    /// AUTH_DATA_DIR on first start (for development: other instances cannot read the factors).
    #[arg(long, env = "AUTH_MFA_KEY", hide_env_values = true)]
    pub mfa_key: Option<Secret>,

    /// The name authenticator apps show beside a factor (`issuer` in the enrolment request
    /// wins); default: the host of AUTH_SITE_URL.
    #[arg(long, env = "AUTH_MFA_ISSUER")]
    pub mfa_issuer: Option<String>,

    /// Most factors a user may have (verified or not).
    #[arg(long, env = "AUTH_MFA_MAX_FACTORS", default_value_t = 10)]
    pub mfa_max_factors: u32,

    /// Roles that need a second factor: in an aal1 session they are left out of the allowed
    /// roles (in tokens and in the webhook's answer); verifying a factor brings them in.
    #[arg(long, env = "AUTH_MFA_AAL2_ROLES", value_delimiter = ',', value_parser = parse_role)]
    pub mfa_aal2_roles: Vec<String>,

    /// Who must use a second factor: `off`, `all`, or the roles (comma-separated) whose users
    /// must. Their aal1 sessions can only enrol and verify a factor (every other call answers
    /// 403 insufficient_aal) and are only AUTH_HASURA_UNAUTHORIZED_ROLE to Hasura.
    #[arg(long, env = "AUTH_MFA_REQUIRED", default_value = "off", value_parser = MfaRequired::parse)]
    pub mfa_required: MfaRequired,
}

/// `AUTH_MFA_REQUIRED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MfaRequired {
    Off,
    All,
    /// The users with any of these roles among their allowed roles.
    Roles(Vec<String>),
}

impl MfaRequired {
    fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "off" | "false" => Ok(Self::Off),
            "all" | "true" => Ok(Self::All),
            list => list
                .split(',')
                .map(parse_role)
                .collect::<Result<Vec<_>, _>>()
                .map(Self::Roles),
        }
    }

    /// Whether a user with `allowed_roles` must use a second factor.
    pub fn applies_to(&self, allowed_roles: &[String]) -> bool {
        match self {
            Self::Off => false,
            Self::All => true,
            Self::Roles(roles) => allowed_roles.iter().any(|r| roles.contains(r)),
        }
    }
}

impl MfaArgs {
    pub fn validate(&self, default_role: &str) -> anyhow::Result<()> {
        use anyhow::ensure;
        if let Some(key) = &self.mfa_key {
            super::parse::key_bytes(key, "AUTH_MFA_KEY")?;
        }
        if let Some(issuer) = &self.mfa_issuer {
            ensure!(
                !issuer.trim().is_empty() && !issuer.contains(':'),
                "AUTH_MFA_ISSUER must be a name without ':' (got {issuer:?})"
            );
        }
        ensure!(
            (1..=100).contains(&self.mfa_max_factors),
            "AUTH_MFA_MAX_FACTORS must be 1 to 100"
        );
        ensure!(
            !self.mfa_aal2_roles.iter().any(|r| r == default_role),
            "AUTH_MFA_AAL2_ROLES may not hold AUTH_DEFAULT_ROLE ({default_role}): an aal1 session \
             needs a role"
        );
        Ok(())
    }
}
