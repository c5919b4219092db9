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
        refresh::token::RefreshToken,
        session_cache::LiveUser,
        tokens::client::ClientGrant,
        Auth, Session,
    },
    client::Client,
    error::{Code, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        oauth_clients::OAuthClient,
        organizations::ActiveOrg,
        sessions::{ClientBinding, NewSession},
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

fn invalid_grant(message: &str) -> Error {
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

    /// `grant_type=authorization_code`: the code's single use opens the client's session. A
    /// second use of a code revokes the session the first one opened.
    pub async fn exchange_oauth_code(
        &self,
        oauth_client: &OAuthClient,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        client: &Client,
    ) -> Result<ClientTokens> {
        let hash = crate::auth::email::sha256(code.as_bytes());
        let mut tx = self.pool.begin().await?;
        let a = store::oauth_authorizations::lock_by_code(&mut tx, &hash)
            .await?
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        if let Some(used) = a.used_at {
            if let Some(session_id) = a.session_id {
                store::sessions::delete(&mut *tx, session_id).await?;
            }
            let detail = json!({"client_id": a.client_id, "first_used_at": used});
            audit::record(
                &mut *tx,
                event::OAUTH_CODE_REPLAYED,
                a.user_id,
                a.session_id,
                client,
                detail,
            )
            .await?;
            tx.commit().await?;
            return Err(invalid_grant(
                "Authorization code already used; the tokens it gave were revoked",
            ));
        }
        let pkce_ok = verifier.is_some_and(|v| {
            (43..=128).contains(&v.len()) && {
                use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
                B64.encode(Sha256::digest(v.as_bytes())) == a.code_challenge
            }
        });
        let usable = a.client_id == oauth_client.id
            && a.status == "approved"
            && !a.expired
            && redirect_uri.is_none_or(|r| r == a.redirect_uri);
        if !usable {
            return Err(invalid_grant("Invalid authorization code"));
        }
        if !pkce_ok {
            return Err(invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let user_id = a
            .user_id
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        let user = store::users::find_by_id(&mut *tx, user_id)
            .await?
            .filter(|u| u.is_active(chrono::Utc::now()))
            .ok_or_else(|| invalid_grant("The user can no longer sign in"))?;
        if store::oauth_grants::find(&mut *tx, user_id, a.client_id)
            .await?
            .is_none()
        {
            return Err(invalid_grant("The user revoked this application's access"));
        }
        let session_id = Uuid::new_v4();
        let chain = RefreshToken::new_chain(session_id);
        let new = NewSession {
            id: session_id,
            user_id,
            token_hash: &chain.token.hash(),
            token_salt: &chain.salt,
            client,
            password_hash: None,
            amr_method: "oauth",
        };
        store::oauth_authorizations::open_session(&mut *tx, &new, &a).await?;
        store::oauth_authorizations::mark_used(&mut *tx, a.id, session_id).await?;
        let detail = json!({"client_id": a.client_id, "scopes": a.scopes});
        audit::record(
            &mut *tx,
            event::OAUTH_TOKEN_ISSUED,
            Some(user_id),
            Some(session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        let binding = ClientBinding {
            oauth_client_id: Some(a.client_id),
            oauth_scopes: Some(a.scopes.clone()),
            oauth_roles: a.roles.clone(),
            oauth_resource: a.resource.clone(),
        };
        let assurance = Assurance::stored(a.aal.unwrap_or(1), a.amr.clone().unwrap_or_default());
        let claims = self
            .client_claims(&self.pool, &user, &binding, assurance.aal)
            .await?;
        let grant = binding
            .grant()
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        let id_token = match a.scopes.iter().any(|s| s == "openid") {
            true => Some(self.tokens.id_token(
                &user,
                session_id,
                &grant,
                a.nonce.as_deref(),
                a.auth_time.map(|t| t.timestamp()),
            )?),
            false => None,
        };
        let session = self.issue_bound(
            &claims,
            user,
            session_id,
            &assurance,
            &chain.token,
            &binding,
        )?;
        Ok(ClientTokens {
            session,
            scopes: a.scopes,
            id_token,
        })
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
            Some(t) => Some(t.session_id),
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

    /// The default and allowed roles of a live session at `aal`: a client's when it is bound
    /// to one (see [`Self::client_roles`]), else [`Self::session_roles`].
    pub fn live_roles<'a>(&'a self, user: &'a LiveUser, aal: Aal) -> (&'a str, Vec<&'a str>) {
        match user.binding().oauth_client_id {
            Some(_) => self.client_roles(user, user.binding(), aal),
            None => self.session_roles(user, user.org(), aal),
        }
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
