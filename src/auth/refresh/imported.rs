//! Refresh tokens of the server users moved in from (`admin::migrate`): the token a browser
//! holds from it is accepted once, for the session it belongs to, and answered with a token of
//! this server's chain; from then on the session follows this server's rotation and reuse
//! rules. Presented again after the reuse interval, it revokes the session as theft; within
//! it (a racing tab), it is refused without revoking anything (its successor cannot be
//! derived from it, unlike this server's own tokens).

use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{elapsed, not_found, token::RefreshToken};
use crate::{
    auth::{assurance::Assurance, Auth, Session},
    client::Client,
    error::{Code, Error, Result},
    store,
};

impl Auth {
    /// A presented token that is not one of ours: an imported one, or unknown.
    pub(super) async fn refresh_imported(
        &self,
        presented: &str,
        client: &Client,
        arrived: Instant,
    ) -> Result<Session> {
        let hash = Sha256::digest(presented.trim().as_bytes());
        let found = store::imported_tokens::find(&self.pool, &hash)
            .await?
            .ok_or_else(not_found)?;
        let row = store::sessions::find_for_refresh(&self.pool, found.session_id, None)
            .await?
            .ok_or_else(not_found)?;
        if let Some(used_at) = found.used_at {
            let waited = chrono::Duration::from_std(arrived.elapsed()).unwrap_or_default();
            let within = elapsed(found.db_now - waited, used_at)
                <= self.config.sessions.refresh_token_reuse_interval;
            if within {
                return Err(Error::new(
                    Code::RefreshTokenAlreadyUsed,
                    "Invalid Refresh Token: Already Used",
                ));
            }
            return Err(self
                .revoke_for_reuse(&row, 1, Some(used_at), client)
                .await?);
        }
        if found.expired {
            return Err(not_found());
        }
        self.end_unusable_session(&row, client).await?;
        let assurance = Assurance::stored(row.aal, row.amr.clone());
        let claims = self
            .claims_for(&self.pool, &row.user, &row.org, assurance.aal)
            .await?;
        // This server's chain from here: a fresh token (nobody held the chain's first one).
        let next = RefreshToken::restart(row.session_id, row.token_counter as u64 + 1);
        let mut tx = self.pool.begin().await?;
        let rotated = store::imported_tokens::use_once(&mut *tx, &hash, row.session_id).await?
            && store::sessions::rotate(
                &mut *tx,
                row.session_id,
                row.token_counter,
                &next.hash(),
                client,
            )
            .await?;
        if !rotated {
            // Another request used it first.
            return Err(Error::new(
                Code::RefreshTokenAlreadyUsed,
                "Invalid Refresh Token: Already Used",
            ));
        }
        tx.commit().await?;
        crate::metrics::refresh("imported");
        self.salt_cache
            .insert(row.session_id, row.user.id, &row.token_salt);
        self.issue(&claims, row.user, row.session_id, &assurance, &next)
    }
}
