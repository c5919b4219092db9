//! From nhost's hasura-auth (`auth` schema): users with their default role and the roles of
//! `auth.user_roles`, provider identities (`auth.user_providers`), TOTP secrets, and live
//! refresh tokens. nhost keeps only the SHA-256 of a refresh token (`\x` and hex), which is
//! exactly what this server keeps of an imported one: each live token becomes a session here,
//! continued by the token the browser holds. Personal access tokens are not imported (this
//! server has none yet): they are listed in the notes.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    usable_password, Incoming, IncomingFactor, IncomingIdentity, IncomingSession, Mapping, Row,
};
use crate::{
    auth::account::normalize_email,
    store::{
        self,
        nhost::{SourceRefreshToken, SourceUser},
    },
};

/// The next `limit` users after `after` (by id): the last id read, and what each becomes.
pub async fn batch(
    source: &PgPool,
    after: Uuid,
    limit: i64,
    mapping: &Mapping<'_>,
) -> anyhow::Result<(Option<Uuid>, Vec<Row>)> {
    let users = store::nhost::batch(source, after, limit).await?;
    let last = users.last().map(|u| u.id);
    Ok((
        last,
        users.into_iter().map(|u| map_user(u, mapping)).collect(),
    ))
}

/// What a source user becomes here.
pub fn map_user(u: SourceUser, mapping: &Mapping<'_>) -> Row {
    let id = u.id.to_string();
    let address = u.email.as_deref().map(str::trim).unwrap_or("");
    if address.is_empty() && !u.is_anonymous {
        let why = "no email address (phone or magic-link-by-SMS sign-in is not supported here)";
        return Row::Skip(id, why.into());
    }
    let email = if address.is_empty() {
        String::new()
    } else {
        match normalize_email(address) {
            Ok(e) => e,
            Err(e) => return Row::Skip(id, format!("address refused: {}", e.message)),
        }
    };
    let (default_role, allowed_roles) = match roles(&u, mapping) {
        Ok(r) => r,
        Err(why) => return Row::Skip(id, why),
    };
    let mut notes = Vec::new();
    let password_hash = usable_password(u.password_hash.as_deref(), &mut notes);
    if u.personal_access_tokens > 0 {
        notes.push(format!(
            "{} personal access token(s): not imported (this server has no personal access tokens)",
            u.personal_access_tokens
        ));
    }
    let factors = factor(&u, &mut notes).into_iter().collect();
    let sessions = u.refresh_tokens.0.iter().filter_map(session).collect();
    let verified_at = u.email_verified.then_some(u.created_at);
    Row::Import(Box::new(Incoming {
        id: u.id,
        email_identity: password_hash.is_some() || (!email.is_empty() && u.providers.0.is_empty()),
        email,
        password_hash,
        default_role,
        allowed_roles,
        user_metadata: user_metadata(&u),
        app_metadata: json!({}),
        banned_until: u.disabled.then(disabled_until),
        email_confirmed_at: verified_at,
        email_verified_at: verified_at,
        is_anonymous: u.is_anonymous,
        created_at: u.created_at,
        last_sign_in_at: u.last_seen,
        identities: u.providers.0.iter().map(identity).collect(),
        factors,
        sessions,
        notes,
    }))
}

/// A user disabled at the source is banned here until a date no one will see (an
/// administrator lifts it with `ban_duration: none`); a fixed date, so re-runs see no change.
fn disabled_until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap()
}

fn roles(u: &SourceUser, m: &Mapping<'_>) -> Result<(String, Vec<String>), String> {
    if u.is_anonymous {
        return Ok((
            m.anonymous_role.to_owned(),
            vec![m.anonymous_role.to_owned()],
        ));
    }
    let default = u.default_role.clone();
    let mut allowed = u.roles.clone();
    if !allowed.contains(&default) {
        allowed.insert(0, default.clone());
    }
    m.check(&default, &allowed)?;
    Ok((default, allowed))
}

/// nhost's `metadata`, with its profile columns (display name, avatar, locale) beside it, as
/// `user_metadata` here.
fn user_metadata(u: &SourceUser) -> Value {
    let mut map = match &u.metadata {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for (key, value) in [
        ("display_name", &u.display_name),
        ("avatar_url", &u.avatar_url),
        ("locale", &u.locale),
    ] {
        if !value.is_empty() && !map.contains_key(key) {
            map.insert(key.to_owned(), Value::String(value.clone()));
        }
    }
    Value::Object(map)
}

fn identity(p: &store::nhost::SourceProvider) -> IncomingIdentity {
    IncomingIdentity {
        provider: p.provider_id.clone(),
        provider_id: p.provider_user_id.clone(),
        identity_data: json!({"sub": p.provider_user_id}),
        email: None,
        created_at: p.created_at,
        last_sign_in_at: None,
    }
}

/// The TOTP secret, when the user has turned TOTP on (`active_mfa_type`).
fn factor(u: &SourceUser, notes: &mut Vec<String>) -> Option<IncomingFactor> {
    if u.active_mfa_type.as_deref() != Some("totp") {
        return None;
    }
    let secret = u.totp_secret.as_deref().map(str::trim).unwrap_or("");
    if secret.len() >= 64 {
        // Newer nhost seals the secret with its AUTH_ENCRYPTION_KEY.
        notes.push(
            "TOTP secret encrypted at the source: not imported (TOTP to set up again)".into(),
        );
        return None;
    }
    let upper = secret.trim_end_matches('=').to_ascii_uppercase();
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &upper);
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        notes.push("TOTP secret unreadable: not imported".into());
        return None;
    };
    Some(IncomingFactor {
        // nhost has one TOTP secret per user, without an id: one derived from the user's, so
        // that re-runs find the same factor.
        id: Uuid::new_v5(&u.id, b"nhost-totp"),
        friendly_name: "Authenticator app".into(),
        secret: bytes,
        created_at: u.created_at,
    })
}

/// A live refresh token becomes a session (nhost has no sessions of its own: each token is a
/// signed-in device).
fn session(t: &SourceRefreshToken) -> Option<IncomingSession> {
    let hash = t.hash.as_deref()?.trim();
    let hex = hash
        .strip_prefix("\\x")
        .unwrap_or(hash)
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let at = t.created_at.timestamp();
    Some(IncomingSession {
        id: t.id,
        created_at: t.created_at,
        refreshed_at: t.created_at,
        user_agent: None,
        ip: None,
        aal: 1,
        amr: json!([{"method": "password", "timestamp": at}]),
        refresh_token_sha256: Some(hex),
        refresh_token_expires_at: Some(t.expires_at),
    })
}
