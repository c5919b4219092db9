//! `hasura-jwt-auth hasura metadata <dir>`: Hasura metadata (`actions.graphql`,
//! `actions.yaml`) declaring the actions that `POST /hasura/actions` answers, so that
//! `hasura metadata apply` exposes sign-up, login, refresh, sign-out, password change, the
//! email flows, the session list and the second-factor steps as GraphQL mutations (and two
//! queries).

use std::path::Path;

use anyhow::Context;

use super::{ACTIONS_SECRET_ENV, ACTIONS_SECRET_HEADER};
use crate::config::Config;

/// The actions, with whether the unauthorized role may call them (the MFA steps: a session
/// that owes its second factor is that role to Hasura, and the handler checks the session).
pub const ACTIONS: [(&str, bool); 17] = [
    ("signup", true),
    ("login", true),
    ("refreshToken", true),
    ("logout", false),
    ("changePassword", false),
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
];

/// SDL of the actions and their types. All but `mySessions` and `myFactors` are mutations: Hasura only passes
/// `Set-Cookie` (the refresh-token cookie) on for mutation actions.
pub fn actions_graphql() -> String {
    r#"type Mutation {
  signup(email: String!, password: String!, redirect_to: String): SignUpOutput
}

type Mutation {
  login(email: String!, password: String!): AuthSession
}

type Mutation {
  refreshToken(refresh_token: String): AuthSession
}

type Mutation {
  logout(scope: LogoutScope): LogoutOutput
}

type Mutation {
  requestPasswordRecovery(email: String!, redirect_to: String): RequestOutput
}

type Mutation {
  requestSignInLink(email: String!, redirect_to: String, create_user: Boolean): RequestOutput
}

type Mutation {
  verifyEmailToken(type: String!, token_hash: String, email: String, token: String): AuthSession
}

type Mutation {
  changePassword(password: String!, current_password: String): ChangePasswordOutput
}

type Query {
  mySessions: [AuthSessionInfo!]!
}

type Mutation {
  endSession(id: String!): LogoutOutput
}

type Mutation {
  enrollFactor(friendly_name: String, issuer: String): EnrolledFactor
}

type Mutation {
  challengeFactor(factor_id: String!): FactorChallenge
}

type Mutation {
  verifyFactor(factor_id: String!, challenge_id: String!, code: String!): AuthSession
}

type Mutation {
  unenrollFactor(factor_id: String!): FactorOutput
}

type Query {
  myFactors: [MfaFactor!]!
}

type Mutation {
  generateRecoveryCodes: RecoveryCodesOutput
}

type Mutation {
  verifyRecoveryCode(code: String!): AuthSession
}

enum LogoutScope {
  local
  others
  global
}

type AuthSession {
  access_token: String!
  token_type: String!
  expires_in: Int!
  expires_at: Int!
  refresh_token: String
  user_id: String!
  email: String!
}

type SignUpOutput {
  user_id: String!
  email: String!
  confirmation_sent: Boolean!
  access_token: String
  token_type: String
  expires_in: Int
  expires_at: Int
  refresh_token: String
}

type RequestOutput {
  ok: Boolean!
}

type LogoutOutput {
  ok: Boolean!
}

type ChangePasswordOutput {
  ok: Boolean!
}

type EnrolledFactor {
  id: String!
  type: String!
  friendly_name: String!
  qr_code: String!
  secret: String!
  uri: String!
}

type FactorChallenge {
  id: String!
  type: String!
  expires_at: Int!
}

type FactorOutput {
  id: String!
}

type MfaFactor {
  id: String!
  friendly_name: String!
  factor_type: String!
  status: String!
  created_at: String!
  updated_at: String!
}

type RecoveryCodesOutput {
  recovery_codes: [String!]!
}

type AuthSessionInfo {
  id: String!
  created_at: String!
  refreshed_at: String!
  user_agent: String
  ip: String
  current: Boolean!
}
"#
    .to_owned()
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
        for role in &config.accounts.default_allowed_roles {
            if !roles.contains(&role.as_str()) {
                roles.push(role);
            }
        }
        for role in roles {
            out.push_str(&format!("  - role: '{}'\n", role.replace('\'', "''")));
        }
    }
    out.push_str(
        "custom_types:\n  enums:\n  - name: LogoutScope\n  input_objects: []\n  objects:\n  - name: AuthSession\n  - name: SignUpOutput\n  - name: RequestOutput\n  - name: LogoutOutput\n  - name: ChangePasswordOutput\n  - name: AuthSessionInfo\n  - name: EnrolledFactor\n  - name: FactorChallenge\n  - name: FactorOutput\n  - name: MfaFactor\n  - name: RecoveryCodesOutput\n  scalars: []\n",
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
