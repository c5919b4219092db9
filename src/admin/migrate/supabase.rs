//! From Supabase Auth (GoTrue, `auth` schema as of v2.196): users, their identities, verified
//! TOTP factors and live sessions. A session's refresh token is the newest unrevoked row of
//! `auth.refresh_tokens` (GoTrue keeps it in plain text), or with GoTrue's session-bound
//! scheme the token its counter is at, computed from the session's key; only its SHA-256 is
//! kept here. Deleted users, SSO users and users without an address (phone sign-in) are
//! skipped with the reason.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    usable_password, Incoming, IncomingFactor, IncomingIdentity, IncomingSession, Mapping, Row,
};
use crate::{
    api::COMPUTED_APP_METADATA,
    auth::account::normalize_email,
    store::{
        self,
        supabase::{SourceFactor, SourceSession, SourceUser},
    },
};

/// The next `limit` users after `after` (by id): the last id read, and what each becomes.
pub async fn batch(
    source: &PgPool,
    after: Uuid,
    limit: i64,
    mapping: &Mapping<'_>,
) -> anyhow::Result<(Option<Uuid>, Vec<Row>)> {
    let session_bound = store::supabase::has_session_bound_tokens(source).await?;
    let users = store::supabase::batch(source, after, limit, session_bound).await?;
    let last = users.last().map(|u| u.id);
    Ok((
        last,
        users.into_iter().map(|u| map_user(u, mapping)).collect(),
    ))
}

/// What a source user becomes here.
pub fn map_user(u: SourceUser, mapping: &Mapping<'_>) -> Row {
    let id = u.id.to_string();
    let skip = |why: &str| Row::Skip(id.clone(), why.to_owned());
    if u.deleted_at.is_some() {
        return skip("deleted at the source");
    }
    if u.is_sso_user {
        return skip("an SSO (SAML) user: SAML sign-in is not supported here");
    }
    if u.email.trim().is_empty() && !u.is_anonymous {
        return skip("no email address (phone sign-in is not supported here)");
    }
    let email = if u.is_anonymous && u.email.trim().is_empty() {
        String::new()
    } else {
        match normalize_email(&u.email) {
            Ok(e) => e,
            Err(e) => return Row::Skip(id, format!("address refused: {}", e.message)),
        }
    };
    let (default_role, allowed_roles) = match roles(&u, mapping) {
        Ok(r) => r,
        Err(why) => return Row::Skip(id, why),
    };
    let mut notes = Vec::new();
    let password_hash = usable_password(u.encrypted_password.as_deref(), &mut notes);
    let app_metadata = cleaned_app_metadata(&u.app_metadata, mapping.role_key);
    let factors = u
        .factors
        .0
        .iter()
        .filter_map(|f| factor(f, &mut notes))
        .collect();
    let sessions = u
        .sessions
        .0
        .iter()
        .filter_map(|s| session(s, &mut notes))
        .collect();
    let email_verified_at =
        (u.email_verified == Some(true)).then(|| u.email_confirmed_at.unwrap_or(u.created_at));
    Row::Import(Box::new(Incoming {
        id: u.id,
        email,
        email_identity: u.has_email_identity || password_hash.is_some(),
        password_hash,
        default_role,
        allowed_roles,
        user_metadata: u.user_metadata,
        app_metadata,
        banned_until: u.banned_until,
        email_confirmed_at: u.email_confirmed_at,
        email_verified_at,
        is_anonymous: u.is_anonymous,
        created_at: u.created_at,
        last_sign_in_at: u.last_sign_in_at,
        identities: u.identities.0.into_iter().map(identity).collect(),
        factors,
        sessions,
        notes,
    }))
}

fn roles(u: &SourceUser, m: &Mapping<'_>) -> Result<(String, Vec<String>), String> {
    if u.is_anonymous {
        return Ok((
            m.anonymous_role.to_owned(),
            vec![m.anonymous_role.to_owned()],
        ));
    }
    let named = m
        .role_key
        .and_then(|k| u.app_metadata.get(k))
        .filter(|v| !v.is_null());
    let (default, allowed) = match named {
        None => (m.default_role.to_owned(), m.default_allowed_roles.to_vec()),
        Some(Value::String(role)) => (role.clone(), vec![role.clone()]),
        Some(Value::Array(items)) => {
            let roles: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect();
            match roles.filter(|r| !r.is_empty()) {
                Some(r) => (r[0].clone(), r),
                None => return Err("app_metadata's roles are not a list of role names".into()),
            }
        }
        Some(_) => return Err("app_metadata's role is not a role name".into()),
    };
    m.check(&default, &allowed)?;
    Ok((default, allowed))
}

/// `app_metadata` without what GoTrue computes (`provider`, `providers`) and the role key.
fn cleaned_app_metadata(app: &Value, role_key: Option<&str>) -> Value {
    let mut map = app.as_object().cloned().unwrap_or_default();
    for key in COMPUTED_APP_METADATA.iter().copied().chain(role_key) {
        map.remove(key);
    }
    Value::Object(map)
}

fn identity(i: store::supabase::SourceIdentity) -> IncomingIdentity {
    let email = i
        .identity_data
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    IncomingIdentity {
        provider: i.provider,
        provider_id: i.provider_id,
        identity_data: i.identity_data,
        email,
        created_at: i.created_at,
        last_sign_in_at: i.last_sign_in_at,
    }
}

fn factor(f: &SourceFactor, notes: &mut Vec<String>) -> Option<IncomingFactor> {
    let secret = f.secret.as_deref().map(str::trim).unwrap_or("");
    let bytes = if secret.starts_with('{') {
        None
    } else {
        let upper = secret.trim_end_matches('=').to_ascii_uppercase();
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &upper)
    };
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        notes.push(format!(
            "TOTP factor {}: secret unreadable (encrypted at the source?): not imported",
            f.id
        ));
        return None;
    };
    Some(IncomingFactor {
        id: f.id,
        friendly_name: f.friendly_name.clone().unwrap_or_default(),
        secret: bytes,
        created_at: f.created_at,
    })
}

fn session(s: &SourceSession, notes: &mut Vec<String>) -> Option<IncomingSession> {
    let token = match (&s.token, &s.hmac_key, s.counter) {
        (Some(t), _, _) if !t.is_empty() => Some(t.clone()),
        (_, Some(key), Some(counter)) if !key.starts_with('{') => {
            session_bound_token(s.id, key, counter)
        }
        _ => None,
    };
    let Some(token) = token else {
        notes.push(format!(
            "session {}: no refresh token this server can read: not imported",
            s.id
        ));
        return None;
    };
    let created_at = s.created_at.unwrap_or_else(chrono::Utc::now);
    let aal2 = s.aal.as_deref() == Some("aal2");
    let at = created_at.timestamp();
    let amr = if aal2 {
        json!([{"method": "totp", "timestamp": at}, {"method": "password", "timestamp": at}])
    } else {
        json!([{"method": "password", "timestamp": at}])
    };
    Some(IncomingSession {
        id: s.id,
        created_at,
        refreshed_at: s.refreshed_at.unwrap_or(created_at),
        user_agent: s.user_agent.clone(),
        ip: s.ip.clone(),
        aal: if aal2 { 2 } else { 1 },
        amr,
        refresh_token_sha256: Some(hex::encode(Sha256::digest(token.trim().as_bytes()))),
        refresh_token_expires_at: None,
    })
}

/// The token of GoTrue's session-bound scheme at `counter`: base64url of version 0, the
/// session id, the counter (LEB128), the first 16 bytes of HMAC-SHA256 under the session's
/// key over those, and the first 4 bytes of SHA-256 over everything before.
fn session_bound_token(session_id: Uuid, key: &str, counter: i64) -> Option<String> {
    let key = B64.decode(key.trim()).ok()?;
    let mut raw = vec![0u8];
    raw.extend_from_slice(session_id.as_bytes());
    let mut n = u64::try_from(counter).ok()?;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            raw.push(byte);
            break;
        }
        raw.push(byte | 0x80);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(&raw);
    raw.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    let sum = Sha256::digest(&raw);
    raw.extend_from_slice(&sum[..4]);
    Some(B64.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::session_bound_token;

    #[test]
    fn session_bound_tokens_as_gotrue_makes_them() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let id = uuid::Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();
        let at = |counter| session_bound_token(id, key, counter).unwrap();
        assert_eq!(at(0), "ABEREREiIjMzRERVVVVVVVUAbQYLQ1yMaykUnny3YB-qbHjd1so");
        assert_eq!(at(1), "ABEREREiIjMzRERVVVVVVVUB-eAJK9K0kS5d6ijnmz7WV-Sbkq4");
        assert_eq!(
            at(300),
            "ABEREREiIjMzRERVVVVVVVWsAvFMgdUksRguNCzKnUllIGz0jgZn"
        );
    }
}
