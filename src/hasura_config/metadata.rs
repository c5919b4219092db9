//! `hasura-jwt-auth hasura metadata <dir>`: Hasura metadata (`actions.graphql`,
//! `actions.yaml`) declaring the actions that `POST /hasura/actions` answers, so that
//! `hasura metadata apply` exposes sign-up, login, refresh, sign-out, password change, the
//! email flows, the session list, the second-factor steps and organizations as GraphQL
//! mutations (and queries for the lists).

use std::path::Path;

use anyhow::Context;

use super::{ACTIONS_SECRET_ENV, ACTIONS_SECRET_HEADER};
use crate::config::Config;

/// The actions, with whether the unauthorized role may call them (the MFA steps: a session
/// that owes its second factor is that role to Hasura, and the handler checks the session).
pub const ACTIONS: [(&str, bool); 30] = [
    ("signup", true),
    ("signInAnonymously", true),
    ("login", true),
    ("refreshToken", true),
    ("logout", false),
    ("changePassword", false),
    ("reauthenticate", false),
    ("mySessions", false),
    ("endSession", false),
    ("requestPasswordRecovery", true),
    ("requestSignInLink", true),
    ("verifyEmailToken", true),
    ("enrollFactor", true),
    ("challengeFactor", true),
    ("verifyFactor", true),
    ("unenrollFactor", true),
    ("myFactors", true),
    ("generateRecoveryCodes", true),
    ("verifyRecoveryCode", true),
    ("createOrganization", false),
    ("myOrganizations", false),
    ("organizationMembers", false),
    ("setOrganizationMemberRoles", false),
    ("removeOrganizationMember", false),
    ("leaveOrganization", false),
    ("deleteOrganization", false),
    ("inviteToOrganization", false),
    ("organizationInvitations", false),
    ("acceptInvitation", false),
    ("activateOrganization", false),
];

/// SDL of the actions and their types (`templates/hasura/actions.graphql`). All but the
/// lists (`mySessions`, `myFactors`, `myOrganizations`, `organizationMembers`,
/// `organizationInvitations`) are mutations: Hasura only passes
/// `Set-Cookie` (the refresh-token cookie) on for mutation actions.
pub fn actions_graphql() -> String {
    include_str!("../../templates/hasura/actions.graphql").to_owned()
}

/// `actions.yaml`: handler, secret header from Hasura's environment, forwarded client headers
/// (so the refresh-token cookie arrives), and permissions.
pub fn actions_yaml(config: &Config) -> String {
    let mut out = String::from("actions:\n");
    for (name, anonymous) in ACTIONS {
        out.push_str(&format!(
            "- name: {name}\n  definition:\n    kind: synchronous\n    handler: '{}'\n    forward_client_headers: true\n    headers:\n    - name: {ACTIONS_SECRET_HEADER}\n      value_from_env: {ACTIONS_SECRET_ENV}\n  permissions:\n",
            config.hasura.hasura_actions_handler_url.replace('\'', "''")
        ));
        let mut roles: Vec<&str> = Vec::new();
        if anonymous {
            roles.push(&config.hasura.hasura_unauthorized_role);
        }
        // Anonymous users are signed in, with their own role.
        let anonymous_users = config
            .anonymous
            .anonymous_users
            .then_some(&config.anonymous.anonymous_role);
        for role in config
            .accounts
            .default_allowed_roles
            .iter()
            .chain(anonymous_users)
        {
            if !roles.contains(&role.as_str()) {
                roles.push(role);
            }
        }
        for role in roles {
            out.push_str(&format!("  - role: '{}'\n", role.replace('\'', "''")));
        }
    }
    out.push_str(
        "custom_types:\n  enums:\n  - name: LogoutScope\n  input_objects: []\n  objects:\n  - name: AuthSession\n  - name: SignUpOutput\n  - name: RequestOutput\n  - name: LogoutOutput\n  - name: ChangePasswordOutput\n  - name: AuthSessionInfo\n  - name: EnrolledFactor\n  - name: FactorChallenge\n  - name: FactorOutput\n  - name: MfaFactor\n  - name: RecoveryCodesOutput\n  - name: Organization\n  - name: OrganizationMember\n  - name: OrganizationInvitation\n  scalars: []\n",
    );
    out
}

/// Writes both files into `dir` (Hasura's `metadata/` directory).
pub fn write(config: &Config, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, content) in [
        ("actions.graphql", actions_graphql()),
        ("actions.yaml", actions_yaml(config)),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
