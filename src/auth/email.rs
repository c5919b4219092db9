//! Accounts by email: sign-up confirmation, password recovery, sign-in links and codes, email
//! change and invitations, in Supabase Auth's dialect.
//!
//! Every message carries one token in two forms: a link (256 random bits) and a 6-digit code.
//! Both are stored only as SHA-256 hashes, work once, expire (links after
//! `AUTH_EMAIL_LINK_TTL`, codes after `AUTH_EMAIL_CODE_TTL`), and a new token of the same kind
//! voids the previous one. A few wrong codes void the token. The message goes into the outbox
//! in the transaction that stores its token.
//!
//! `request.rs` takes requests for messages (each answers the same whether or not the address
//! has an account; [`queue`] carries them out off the request path), `verify.rs` checks tokens, `codes.rs` limits guessing codes, [`pkce`] turns a verified link into a one-time code
//! for PKCE clients (where links may lead: `auth::redirect`).

mod codes;
pub mod generate_link;
mod invite;
pub mod pkce;
pub mod queue;
mod request;
mod verify;

pub use request::{EmailChangeOutcome, SignInLinkRequest};
pub use verify::{Verification, VerifyOutcome};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::{rngs::OsRng, Rng, RngCore};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Auth;
use crate::{
    error::{Error, Result},
    mail::{MessageKind, Variables},
    secret::Secret,
    store::{self, users::User},
};
use pkce::Challenge;

/// What a one-time token is for (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Confirmation,
    Recovery,
    MagicLink,
    Invite,
    /// Sent to the new address of an email change.
    EmailChangeNew,
    /// Sent to the current address (secure email change).
    EmailChangeCurrent,
    /// A code proving it is the user again (`GET /reauthenticate`); its link leads nowhere.
    Reauthentication,
}

impl TokenKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Recovery => "recovery",
            Self::MagicLink => "magiclink",
            Self::Invite => "invite",
            Self::EmailChangeNew => "email_change_new",
            Self::EmailChangeCurrent => "email_change_current",
            Self::Reauthentication => "reauthentication",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            Self::Confirmation,
            Self::Recovery,
            Self::MagicLink,
            Self::Invite,
            Self::EmailChangeNew,
            Self::EmailChangeCurrent,
            Self::Reauthentication,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    fn message(self) -> MessageKind {
        match self {
            Self::Confirmation => MessageKind::Confirmation,
            Self::Recovery => MessageKind::Recovery,
            Self::MagicLink => MessageKind::MagicLink,
            Self::Invite => MessageKind::Invite,
            Self::EmailChangeNew | Self::EmailChangeCurrent => MessageKind::EmailChange,
            Self::Reauthentication => MessageKind::Reauthentication,
        }
    }

    /// The `type` a link of this kind carries (Supabase Auth's verification types).
    pub fn verification_type(self) -> &'static str {
        match self {
            Self::Confirmation => "signup",
            Self::Recovery => "recovery",
            Self::MagicLink => "magiclink",
            Self::Invite => "invite",
            Self::EmailChangeNew | Self::EmailChangeCurrent => "email_change",
            Self::Reauthentication => "reauthentication",
        }
    }
}

/// The token kinds a verification `type` accepts: `email` is any token that signs in by
/// proving the address (auth-js's `verifyOtp({type: 'email'})`).
pub fn kinds_for_type(verification_type: &str) -> Option<&'static [TokenKind]> {
    use TokenKind::*;
    Some(match verification_type {
        "signup" => &[Confirmation],
        "invite" => &[Invite],
        "magiclink" => &[MagicLink],
        "recovery" => &[Recovery],
        "email_change" => &[EmailChangeNew, EmailChangeCurrent],
        "email" => &[MagicLink, Confirmation, Invite],
        _ => return None,
    })
}

/// A token as sent: for the message, and for `generate_link`.
pub struct IssuedToken {
    pub link_token: Secret,
    pub code: Secret,
    pub action_link: Secret,
    pub redirect_to: String,
    pub kind: TokenKind,
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn code_hash(token_id: Uuid, code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(token_id.as_bytes());
    h.update(code.as_bytes());
    h.finalize().into()
}

/// The recipient key of the per-address send limit: SHA-256 of the address.
fn recipient_key(email: &str) -> [u8; 32] {
    sha256(email.to_lowercase().as_bytes())
}

/// What a token is issued with.
pub(crate) struct TokenRequest<'a> {
    pub user: &'a User,
    pub kind: TokenKind,
    pub recipient: &'a str,
    pub redirect_to: Option<&'a str>,
    pub challenge: Option<&'a Challenge>,
}

impl<'a> TokenRequest<'a> {
    /// A token of `kind` sent to the user's own address.
    pub fn to_user(
        user: &'a User,
        kind: TokenKind,
        redirect_to: Option<&'a str>,
        challenge: Option<&'a Challenge>,
    ) -> Self {
        Self {
            user,
            kind,
            recipient: &user.email,
            redirect_to,
            challenge,
        }
    }
}

impl Auth {
    /// Counts a message to `recipient` against the per-address limits (whether or not the
    /// address has an account, so the answer tells nothing); 429 beyond them.
    pub(crate) async fn reserve_send(&self, recipient: &str) -> Result<()> {
        let mail = &self.config.mail;
        match store::email_send_limits::reserve(
            &self.pool,
            &recipient_key(recipient),
            mail.email_min_interval,
            mail.email_hourly_limit,
        )
        .await?
        {
            Ok(()) => Ok(()),
            Err(wait) => Err(Error::email_rate_limited(wait.ceil() as u64)),
        }
    }

    /// Stores a new token (voiding the previous one of its kind) inside `tx`, and with
    /// `send`, queues its message there too.
    pub(crate) async fn issue_token(
        &self,
        tx: &mut sqlx::PgConnection,
        req: TokenRequest<'_>,
        send: bool,
    ) -> Result<IssuedToken> {
        let mail = &self.config.mail;
        let site_url = self.config.site_url();
        let id = Uuid::new_v4();
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let link_token = B64.encode(bytes);
        let code = format!("{:06}", OsRng.gen_range(0..1_000_000u32));
        let redirect_to = self.redirect_target(req.redirect_to);
        store::one_time_tokens::replace(
            &mut *tx,
            &store::one_time_tokens::NewToken {
                id,
                user_id: req.user.id,
                kind: req.kind.name(),
                token_hash: &sha256(link_token.as_bytes()),
                code_hash: &code_hash(id, &code),
                recipient: req.recipient,
                redirect_to: Some(&redirect_to),
                code_challenge: req.challenge.map(|c| c.challenge.as_str()),
                code_challenge_method: req.challenge.map(|c| c.method.as_str()),
                link_ttl_secs: mail.email_link_ttl.as_secs_f64(),
                code_ttl_secs: mail.email_code_ttl.as_secs_f64(),
            },
        )
        .await?;
        let action_link = format!(
            "{}/verify?token={}&type={}&redirect_to={}",
            self.config.public_url(),
            link_token,
            req.kind.verification_type(),
            url_encode(&redirect_to)
        );
        if send {
            let new_email = matches!(
                req.kind,
                TokenKind::EmailChangeNew | TokenKind::EmailChangeCurrent
            )
            .then_some(req.user.email_change.as_deref())
            .flatten();
            let vars = Variables {
                site_url: &site_url,
                confirmation_url: &action_link,
                token: &code,
                token_hash: &link_token,
                email: &req.user.email,
                new_email,
                redirect_to: &redirect_to,
                organization: None,
            };
            self.mailer
                .enqueue(tx, req.kind.message(), req.recipient, &vars)
                .await?;
        }
        Ok(IssuedToken {
            link_token: Secret::new(link_token),
            code: Secret::new(code),
            action_link: Secret::new(action_link),
            redirect_to,
            kind: req.kind,
        })
    }

    /// Queues, inside `tx`, the notice to `old` that the account's address is now `new`.
    pub(crate) async fn notify_email_changed(
        &self,
        tx: &mut sqlx::PgConnection,
        old: &str,
        new: &str,
    ) -> Result<()> {
        let vars = Variables {
            site_url: &self.config.site_url(),
            confirmation_url: "",
            token: "",
            token_hash: "",
            email: old,
            new_email: Some(new),
            redirect_to: &self.config.site_url(),
            organization: None,
        };
        self.mailer
            .enqueue(tx, MessageKind::EmailChanged, old, &vars)
            .await
    }
}

/// Percent-encodes a URL component (RFC 3986 unreserved characters pass).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_accept_their_kinds() {
        assert_eq!(
            kinds_for_type("signup"),
            Some(&[TokenKind::Confirmation][..])
        );
        assert!(kinds_for_type("email")
            .unwrap()
            .contains(&TokenKind::MagicLink));
        assert!(!kinds_for_type("email")
            .unwrap()
            .contains(&TokenKind::Recovery));
        assert_eq!(kinds_for_type("sms"), None);
        for kind in [TokenKind::Recovery, TokenKind::EmailChangeCurrent] {
            assert_eq!(TokenKind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            url_encode("https://a.example/x?y=1&z=a b"),
            "https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z%3Da%20b"
        );
    }
}
