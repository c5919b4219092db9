//! An address is proven, or it proves nothing.
//!
//! Anyone can sign up with anyone's address. Where the settings let such an account sign in
//! before its address is proven, whoever made it may have set things up in it: a password,
//! sessions, provider identities, an email change under way. When the owner later proves the
//! address (a link or code sent there, recovery, an invitation, a provider that verified it),
//! they must not land in an account that someone else can still use. So the first proof of an
//! address removes what was set up before it:
//!
//! - every session, and every way to open one later: authorization codes not yet exchanged,
//!   provider links under way, links and codes sent before (perhaps asked for by someone else,
//!   with their own PKCE challenge);
//! - every provider identity, except those whose provider verified this very address;
//! - a pending email change;
//! - the password, except when the proof is a sign-up confirmation followed as such (`type`
//!   `signup`): a confirmation activates the password of the one sign-up made for the address
//!   (a second sign-up for an unconfirmed address clears it, see `sign_up.rs`). The same
//!   message's code typed where a sign-in code is asked for (`type` `email`) keeps nothing.
//!
//! A password sign-in racing with the proof cannot slip a session in: it opens its session
//! only while its password is still there, under a lock the removal waits for (see
//! `store::sessions::open`). Later proofs of an already proven address change nothing.

use serde_json::json;

use super::{email::TokenKind, Auth};
use crate::{
    client::Client,
    error::{Error, Result},
    store::{
        self,
        audit::{self, event},
        users::User,
    },
};

/// How the address was proven, for the audit log.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Proof {
    /// A link or code of this kind, sent to the address.
    Email(TokenKind),
    /// The confirmation of a sign-up, verified as one (`type` `signup`).
    SignUpConfirmation,
    /// An identity provider asserted the address as verified.
    Provider,
}

impl Proof {
    fn name(self) -> &'static str {
        match self {
            Self::Email(kind) => kind.name(),
            Self::SignUpConfirmation => TokenKind::Confirmation.name(),
            Self::Provider => "provider",
        }
    }

    /// Whether the password set before the proof stays: only the confirmation of a sign-up
    /// activates the password that sign-up chose.
    fn keeps_password(self) -> bool {
        matches!(self, Self::SignUpConfirmation)
    }
}

impl Auth {
    /// Records inside `tx` that `user`'s address is proven; `user` must be read under a row
    /// lock in `tx`. The first proof removes what was set up before it (see the module) and
    /// is audited with what it removed. Returns the user as it now is.
    pub(crate) async fn address_proven(
        &self,
        tx: &mut sqlx::PgConnection,
        user: User,
        proof: Proof,
        client: &Client,
    ) -> Result<User> {
        if user.email_verified_at.is_some() {
            return Ok(user);
        }
        let password_removed = !proof.keeps_password();
        if password_removed {
            store::passwords::delete(&mut *tx, user.id).await?;
        }
        let identities =
            store::identities::delete_unless_verified_for(&mut *tx, user.id, &user.email).await?;
        let sessions = store::sessions::delete_for_user(&mut *tx, user.id, None).await?;
        let codes = store::auth_codes::delete_for_user(&mut *tx, user.id).await?;
        let links = store::oauth_states::delete_links_to(&mut *tx, user.id).await?;
        // The token that proves the address is gone already (taken to be verified).
        store::one_time_tokens::delete_all_for_user(&mut *tx, user.id).await?;
        let proven = store::users::mark_email_verified(&mut *tx, user.id)
            .await?
            .ok_or_else(Error::otp_expired)?;
        audit::record(
            &mut *tx,
            event::EMAIL_CONFIRMED,
            Some(user.id),
            None,
            client,
            json!({
                "by": proof.name(),
                "password_removed": password_removed,
                "identities_removed": identities,
                "sessions_removed": sessions,
                "codes_removed": codes,
                "links_removed": links,
                "email_change_dropped": user.email_change.is_some(),
            }),
        )
        .await?;
        // The caller tells the session cache after the commit (`user_changed`).
        Ok(proven)
    }
}
