//! Organizations (the roles a member can have in one, invitations) and API keys.

use anyhow::ensure;
use clap::Args;

use std::time::Duration;

use super::parse::{parse_duration, parse_role};

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Organizations and API keys")]
pub struct OrganizationArgs {
    /// The roles a member of an organization can have there, comma-separated.
    #[arg(long, env = "AUTH_ORGANIZATION_ROLES", value_delimiter = ',',
          default_value = "org_admin,org_member", value_parser = parse_role)]
    pub organization_roles: Vec<String>,

    /// The role a member gets when none is named (one of AUTH_ORGANIZATION_ROLES).
    #[arg(long, env = "AUTH_ORGANIZATION_DEFAULT_ROLE", default_value = "org_member", value_parser = parse_role)]
    pub organization_default_role: String,

    /// The role that manages an organization: its members, their roles, deleting it (one of
    /// AUTH_ORGANIZATION_ROLES). Whoever creates an organization has it there.
    #[arg(long, env = "AUTH_ORGANIZATION_ADMIN_ROLE", default_value = "org_admin", value_parser = parse_role)]
    pub organization_admin_role: String,

    /// How long an invitation to join an organization can be accepted.
    #[arg(long, env = "AUTH_ORGANIZATION_INVITATION_TTL", default_value = "7d", value_parser = parse_duration)]
    pub organization_invitation_ttl: Duration,

    /// Requests per minute one API key may make (webhook checks and exchanges), shared by
    /// every instance; 0 for no limit.
    #[arg(long, env = "AUTH_API_KEY_RATE_LIMIT", default_value_t = 600)]
    pub api_key_rate_limit: u32,

    /// How many API keys one user may have.
    #[arg(long, env = "AUTH_API_KEYS_PER_USER", default_value_t = 25)]
    pub api_keys_per_user: u32,
}

impl OrganizationArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, role) in [
            (
                "AUTH_ORGANIZATION_DEFAULT_ROLE",
                &self.organization_default_role,
            ),
            (
                "AUTH_ORGANIZATION_ADMIN_ROLE",
                &self.organization_admin_role,
            ),
        ] {
            ensure!(
                self.organization_roles.contains(role),
                "{name} ({role}) must be one of AUTH_ORGANIZATION_ROLES"
            );
        }
        Ok(())
    }
}
