//! `POST /oauth/token` and `/oauth/revoke`: clients authenticate (`client_secret_basic`,
//! `client_secret_post`, or `none` for public clients, which PKCE binds instead), exchange a
//! code once for a session of their own, refresh it with the same rotation and reuse rules as
//! any session, and revoke it.

use std::time::Instant;

use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::token_roles;
use crate::{
    auth::{
        assurance::{Aal, Assurance},
        claims::{HasuraClaims, CLIENT_ID},
        refresh::{
            standing_of,
            token::{RefreshToken, Standing},
        },
        tokens::client::ClientGrant,
        Auth, Session,
    },
    client::Client,
    error::{Code, Error, Result},
    secret::Secret,
    store::{
        self, oauth_clients::OAuthClient, organizations::ActiveOrg, sessions::ClientBinding,
        users::User,
    },
};

/// How a client proves itself at the token endpoint.
pub struct ClientCredentials {
    pub client_id: String,
    /// From `Authorization: Basic` or the body (`client_secret`); none for a public client.
    pub secret: Option<Secret>,
}

/// What a token request answers: the session's tokens, with the scopes granted and, for
/// `openid`, an ID token.
pub struct ClientTokens {
    pub session: Session,
    pub scopes: Vec<String>,
    pub id_token: Option<String>,
}

fn invalid_client() -> Error {
    Error::new(Code::OAuthInvalidClient, "Client authentication failed")
}

pub(super) fn invalid_grant(message: &str) -> Error {
    Error::new(Code::OAuthInvalidGrant, message.to_owned())
}

impl ClientBinding {
    /// The grant of a client's session (`None` for a user's own session).
    pub fn grant(&self) -> Option<ClientGrant<'_>> {
        Some(ClientGrant {
            client_id: self.oauth_client_id?,
            scopes: self.oauth_scopes.as_deref().unwrap_or_default(),
            resource: self.oauth_resource.as_deref(),
        })
    }
}

/// The roles a client's session may use, of `allowed` (the session's roles as they would be
/// without a client): those granted, or the unauthenticated role when none is left; and the
/// default role among them.
pub fn restrict_roles<'a>(
    default: &'a str,
    allowed: Vec<&'a str>,
    granted: &[String],
    fallback: &'a str,
) -> (&'a str, Vec<&'a str>) {
    let kept: Vec<&str> = allowed
        .into_iter()
        .filter(|r| granted.iter().any(|g| g == r))
        .collect();
    match kept.first() {
        None => (fallback, vec![fallback]),
        Some(first) if !kept.contains(&default) => (first, kept.clone()),
        Some(_) => (default, kept),
    }
}

impl Auth {
    /// The client, if the credentials are its own: a confidential client's secret (compared
    /// by its hash, in constant time), or no secret for a public client.
    pub async fn authenticate_client(&self, c: &ClientCredentials) -> Result<OAuthClient> {
        super::require_enabled(&self.config)?;
        let id = Uuid::parse_str(&c.client_id).map_err(|_| invalid_client())?;
        let (client, hash) = store::oauth_clients::find_with_secret(&self.pool, id)
            .await?
            .ok_or_else(invalid_client)?;
        match (hash, &c.secret) {
            (None, None) => Ok(client),
            (Some(hash), Some(secret)) => {
                let presented = Sha256::digest(secret.expose().as_bytes());
                if bool::from(presented.as_slice().ct_eq(&hash)) {
                    Ok(client)
                } else {
                    Err(invalid_client())
                }
            }
            _ => Err(invalid_client()),
        }
    }

    /// `grant_type=refresh_token` for a client: only a token of one of its own sessions,
    /// rotated as any refresh token is.
    pub async fn refresh_for_client(
        &self,
        oauth_client: &OAuthClient,
        presented: &str,
        client: &Client,
        arrived: Instant,
    ) -> Result<ClientTokens> {
        if !oauth_client
            .grant_types
            .iter()
            .any(|g| g == "refresh_token")
        {
            return Err(Error::new(
                Code::OAuthUnauthorizedClient,
                "This client may not use refresh tokens",
            ));
        }
        let (session, binding) = self
            .refresh_bound(presented, client, arrived, Some(oauth_client.id))
            .await?;
        Ok(ClientTokens {
            session,
            scopes: binding.oauth_scopes.unwrap_or_default(),
            id_token: None,
        })
    }

    /// RFC 7009 for a client: ends the session of a refresh or access token of the client's
    /// own. Anything else is ignored (the answer is the same).
    pub async fn revoke_for_client(&self, oauth_client: &OAuthClient, token: &str) -> Result<()> {
        let session_id = match RefreshToken::parse(token) {
            // A genuine token of one of the client's sessions, not just its id.
            Some(t) => {
                store::sessions::find_for_refresh(&self.pool, t.session_id, Some(oauth_client.id))
                    .await?
                    .filter(|row| standing_of(&t, row) != Standing::Unknown)
                    .map(|row| row.session_id)
            }
            None => self
                .tokens
                .verify(token)
                .ok()
                .filter(|t| t.client_id == Some(oauth_client.id))
                .map(|t| t.session_id),
        };
        if let Some(session_id) = session_id {
            store::sessions::delete_of_client(&self.pool, session_id, oauth_client.id).await?;
        }
        Ok(())
    }

    /// The Hasura claims of a client's session: the user's (in no organization), limited to
    /// the roles granted, with `x-hasura-client-id`.
    pub(crate) async fn client_claims(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        user: &User,
        binding: &ClientBinding,
        aal: Aal,
    ) -> Result<HasuraClaims> {
        let mut custom = self.custom_claims(db, user.id).await?;
        let (default, allowed) = self.client_roles(user, binding, aal);
        if let Some(id) = binding.oauth_client_id {
            custom.insert(CLIENT_ID.into(), json!(id.to_string()));
        }
        Ok(HasuraClaims {
            user_id: user.id.to_string(),
            default_role: default.to_owned(),
            allowed_roles: allowed.into_iter().map(str::to_owned).collect(),
            aal,
            custom,
        })
    }

    /// The default and allowed roles of a client's session of `user` at `aal`.
    pub fn client_roles<'a>(
        &'a self,
        user: &'a User,
        binding: &ClientBinding,
        aal: Aal,
    ) -> (&'a str, Vec<&'a str>) {
        // A client's session acts in no organization.
        static NONE: ActiveOrg = ActiveOrg {
            id: None,
            roles: None,
        };
        let (default, allowed) = self.session_roles(user, &NONE, aal);
        let granted = token_roles(binding.oauth_roles.as_deref(), user);
        let fallback = self.config.hasura.hasura_unauthorized_role.as_str();
        restrict_roles(default, allowed, &granted, fallback)
    }

    /// Signs a session's tokens: a client's when the session is bound to one.
    pub(crate) fn issue_bound(
        &self,
        claims: &HasuraClaims,
        user: User,
        session_id: Uuid,
        assurance: &Assurance,
        refresh: &RefreshToken,
        binding: &ClientBinding,
    ) -> Result<Session> {
        let Some(grant) = binding.grant() else {
            return self.issue(claims, user, session_id, assurance, refresh);
        };
        let access = self
            .tokens
            .issue_for_client(claims, &user, session_id, assurance, &grant)?;
        Ok(Session {
            access,
            refresh_token: Secret::new(refresh.encode()),
            user,
            session_id,
            aal: assurance.aal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::restrict_roles;

    #[test]
    fn a_client_gets_only_the_roles_granted() {
        let granted = vec!["editor".to_owned()];
        assert_eq!(
            restrict_roles(
                "user",
                vec!["user", "editor", "admin"],
                &granted,
                "anonymous"
            ),
            ("editor", vec!["editor"])
        );
        assert_eq!(
            restrict_roles("user", vec!["user"], &granted, "anonymous"),
            ("anonymous", vec!["anonymous"])
        );
        let both = vec!["user".to_owned(), "editor".to_owned()];
        assert_eq!(
            restrict_roles("user", vec!["user", "editor", "admin"], &both, "anonymous"),
            ("user", vec!["user", "editor"])
        );
    }
}
