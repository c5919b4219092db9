//! `grant_type=authorization_code`: a code's single use opens the client's session. A second
//! use revokes the session the first one opened (OAuth 2.1 §4.1.3), since the code leaked.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::token::{invalid_grant, ClientTokens};
use crate::{
    auth::{assurance::Assurance, refresh::token::RefreshToken, Auth},
    client::Client,
    error::{Error, Result},
    store::{
        self,
        audit::{self, event},
        oauth_authorizations::Authorization,
        oauth_clients::OAuthClient,
        sessions::{ClientBinding, NewSession},
        users::User,
    },
};

/// What the client presents with its code.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// Whether `verifier` (RFC 7636: 43 to 128 characters) is the one `challenge` is the S256 of.
fn pkce_matches(verifier: Option<&str>, challenge: &str) -> bool {
    verifier.is_some_and(|v| {
        (43..=128).contains(&v.len()) && B64.encode(Sha256::digest(v.as_bytes())) == challenge
    })
}

impl ClientBinding {
    /// What an approved request grants the session its code opens.
    fn of(a: &Authorization) -> Self {
        Self {
            oauth_client_id: Some(a.client_id),
            oauth_scopes: Some(a.scopes.clone()),
            oauth_roles: a.roles.clone(),
            oauth_resource: a.resource.clone(),
        }
    }
}

impl Auth {
    /// Exchanges the code for the client's tokens (see the module documentation).
    pub async fn exchange_oauth_code(
        &self,
        oauth_client: &OAuthClient,
        presented: &CodeExchange<'_>,
        client: &Client,
    ) -> Result<ClientTokens> {
        let hash = crate::auth::email::sha256(presented.code.as_bytes());
        let mut tx = self.pool.begin().await?;
        let a = store::oauth_authorizations::lock_by_code(&mut tx, &hash)
            .await?
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        if a.used_at.is_some() {
            let refused = self.revoke_replayed(&mut tx, &a, client).await;
            tx.commit().await?;
            return Err(refused?);
        }
        let usable = a.client_id == oauth_client.id
            && a.status == "approved"
            && !a.expired
            && match presented.redirect_uri {
                Some(r) => r == a.redirect_uri,
                // Named in the request: it must be named again (RFC 6749 §4.1.3).
                None => !a.redirect_uri_given,
            };
        if !usable {
            return Err(invalid_grant("Invalid authorization code"));
        }
        if !pkce_matches(presented.code_verifier, &a.code_challenge) {
            return Err(invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let user = self.granting_user(&mut tx, &a).await?;
        let binding = ClientBinding::of(&a);
        let assurance = Assurance::stored(a.aal.unwrap_or(1), a.amr.clone().unwrap_or_default());
        // Read before the code is used up: should it fail, the code can be tried again.
        let claims = self
            .client_claims(&mut *tx, &user, &binding, assurance.aal)
            .await?;
        let (session_id, chain) = open_client_session(&mut tx, &a, client).await?;
        tx.commit().await?;
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
        let session = self.issue_bound(&claims, user, session_id, &assurance, &chain, &binding)?;
        Ok(ClientTokens {
            session,
            scopes: a.scopes,
            id_token,
        })
    }

    /// A used code presented again: the session its first use opened is revoked, and the
    /// event audited. The error to answer with (the caller commits).
    async fn revoke_replayed(
        &self,
        tx: &mut sqlx::PgConnection,
        a: &Authorization,
        client: &Client,
    ) -> Result<Error> {
        if let Some(session_id) = a.session_id {
            store::sessions::delete(&mut *tx, session_id).await?;
        }
        let detail = json!({"client_id": a.client_id, "first_used_at": a.used_at});
        audit::record(
            &mut *tx,
            event::OAUTH_CODE_REPLAYED,
            a.user_id,
            a.session_id,
            client,
            detail,
        )
        .await?;
        tracing::warn!(client_id = %a.client_id, "OAuth code replayed: its session was revoked");
        Ok(invalid_grant(
            "Authorization code already used; the tokens it gave were revoked",
        ))
    }

    /// The user who approved the request, still active and still granting the client access.
    async fn granting_user(&self, tx: &mut sqlx::PgConnection, a: &Authorization) -> Result<User> {
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
        Ok(user)
    }
}

/// Opens the client's session for `a` and uses the code up, audited: the session's id and
/// first refresh token.
async fn open_client_session(
    tx: &mut sqlx::PgConnection,
    a: &Authorization,
    client: &Client,
) -> Result<(Uuid, RefreshToken)> {
    let user_id = a
        .user_id
        .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
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
    store::oauth_authorizations::open_session(&mut *tx, &new, a).await?;
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
    Ok((session_id, chain.token))
}
