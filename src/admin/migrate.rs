//! Moving in from another auth server without logging anyone out (`import supabase`): its
//! users keep their ids (the app's rows reference them), their passwords (bcrypt hashes,
//! upgraded to Argon2id at the next sign-in), their identities, their TOTP factors
//! (re-encrypted under `AUTH_MFA_KEY`) and their live sessions: the refresh token a browser
//! holds now is accepted here once, for its own session, which then follows this server's
//! rotation and reuse rules (see `auth::refresh::imported`).
//!
//! Users are written in batches, each in one transaction (a failing batch rolls back whole
//! and names the user it failed on). Each user's fingerprint is recorded, so a re-run skips
//! unchanged users and updates changed ones. A dry run does all of it and rolls every batch
//! back, so its report is exactly what a real run would do.

pub mod supabase;

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    auth::{refresh::token::RefreshToken, sealing::SealingKey},
    client::Client,
    store::{
        self,
        audit::{self, event},
        imports::{ImportedIdentity, ImportedSession, ImportedUser},
    },
};

/// A user to write, whatever the source.
#[derive(Serialize)]
pub struct Incoming {
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub default_role: String,
    pub allowed_roles: Vec<String>,
    pub user_metadata: Value,
    pub app_metadata: Value,
    pub banned_until: Option<DateTime<Utc>>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub email_identity: bool,
    pub is_anonymous: bool,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub identities: Vec<IncomingIdentity>,
    pub factors: Vec<IncomingFactor>,
    pub sessions: Vec<IncomingSession>,
    /// What of this user is left behind, and why.
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
pub struct IncomingIdentity {
    pub provider: String,
    pub provider_id: String,
    pub identity_data: Value,
    pub email: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
pub struct IncomingFactor {
    pub id: Uuid,
    pub friendly_name: String,
    /// The TOTP key's bytes.
    pub secret: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct IncomingSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub aal: i16,
    pub amr: Value,
    /// The refresh token its browser holds now (only its hash is stored).
    pub refresh_token: Option<String>,
}

/// What one source row becomes.
pub enum Row {
    Import(Box<Incoming>),
    /// Not imported: the row (its id) and why.
    Skip(String, String),
}

/// What an import did (or, dry, would do).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub imported: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub identities: usize,
    pub factors: usize,
    pub sessions: usize,
    /// (row, reason): not imported.
    pub skipped: Vec<(String, String)>,
    /// (user, what was left behind and why).
    pub notes: Vec<(String, String)>,
}

/// Where imported users go.
pub struct Target<'a> {
    pub pool: &'a PgPool,
    pub mfa_key: &'a SealingKey,
    /// Recorded with each user's fingerprint.
    pub source: &'static str,
    pub dry_run: bool,
}

fn fingerprint(user: &Incoming) -> anyhow::Result<Vec<u8>> {
    let canonical = serde_json::to_vec(user)?;
    Ok(Sha256::digest(canonical).to_vec())
}

/// Writes one batch in one transaction (rolled back on a dry run); the report grows.
pub async fn write_batch(
    target: &Target<'_>,
    rows: Vec<Row>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut users = Vec::new();
    for row in rows {
        match row {
            Row::Import(user) => users.push(*user),
            Row::Skip(id, why) => report.skipped.push((id, why)),
        }
    }
    let mut tx = target.pool.begin().await?;
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let emails: Vec<String> = users.iter().map(|u| u.email.clone()).collect();
    let known: HashMap<Uuid, Vec<u8>> = store::imports::fingerprints(&mut *tx, target.source, &ids)
        .await?
        .into_iter()
        .collect();
    let taken: HashSet<Uuid> = store::imports::addresses_of_others(&mut *tx, &ids, &emails)
        .await?
        .into_iter()
        .collect();
    for user in users {
        let id = user.id;
        if taken.contains(&id) {
            let why = format!("duplicate address: another user here has {}", user.email);
            report.skipped.push((id.to_string(), why));
            continue;
        }
        let print = fingerprint(&user)?;
        match known.get(&id) {
            Some(before) if *before == print => report.unchanged += 1,
            seen => {
                write_user(&mut tx, target, &user, &print, report)
                    .await
                    .with_context(|| format!("importing user {id}"))?;
                if seen.is_some() {
                    report.updated += 1;
                } else {
                    report.imported += 1;
                }
                for note in &user.notes {
                    report.notes.push((id.to_string(), note.clone()));
                }
            }
        }
    }
    if target.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(())
}

async fn write_user(
    tx: &mut sqlx::PgConnection,
    target: &Target<'_>,
    u: &Incoming,
    print: &[u8],
    report: &mut Report,
) -> anyhow::Result<()> {
    let row = ImportedUser {
        id: u.id,
        email: &u.email,
        default_role: &u.default_role,
        allowed_roles: &u.allowed_roles,
        user_metadata: &u.user_metadata,
        app_metadata: &u.app_metadata,
        banned_until: u.banned_until,
        email_confirmed_at: u.email_confirmed_at,
        email_verified_at: u.email_verified_at,
        email_identity: u.email_identity,
        is_anonymous: u.is_anonymous,
        created_at: u.created_at,
        last_sign_in_at: u.last_sign_in_at,
    };
    store::imports::upsert_user(&mut *tx, &row).await?;
    if let Some(hash) = &u.password_hash {
        store::passwords::set(&mut *tx, u.id, hash).await?;
    }
    for i in &u.identities {
        let identity = ImportedIdentity {
            user_id: u.id,
            provider: &i.provider,
            provider_id: &i.provider_id,
            identity_data: &i.identity_data,
            email: i.email.as_deref(),
            created_at: i.created_at,
            last_sign_in_at: i.last_sign_in_at,
        };
        if store::imports::upsert_identity(&mut *tx, &identity).await? {
            report.identities += 1;
        } else {
            let why = format!(
                "the {} identity belongs to another user here: not linked",
                i.provider
            );
            report.notes.push((u.id.to_string(), why));
        }
    }
    for f in &u.factors {
        let sealed = target.mfa_key.seal(f.id.as_bytes(), &f.secret)?;
        store::imports::insert_factor(
            &mut *tx,
            f.id,
            u.id,
            &f.friendly_name,
            &sealed,
            f.created_at,
        )
        .await?;
        report.factors += 1;
    }
    for s in &u.sessions {
        // Once only: a session that ended here stays ended, whatever the source still says.
        if store::imports::claim_session(&mut *tx, s.id).await? {
            write_session(&mut *tx, u.id, s).await?;
            report.sessions += 1;
        }
    }
    store::imports::record(&mut *tx, target.source, u.id, print).await?;
    let detail = json!({"source": target.source});
    audit::record(
        &mut *tx,
        event::USER_IMPORTED,
        Some(u.id),
        None,
        &Client::default(),
        detail,
    )
    .await?;
    Ok(())
}

/// The session on a fresh chain of ours (nobody holds a token of it), continued by the
/// refresh token its browser holds.
async fn write_session(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
    s: &IncomingSession,
) -> anyhow::Result<()> {
    let chain = RefreshToken::new_chain(s.id);
    let session = ImportedSession {
        id: s.id,
        user_id,
        token_hash: &chain.token.hash(),
        token_salt: &chain.salt,
        created_at: s.created_at,
        refreshed_at: s.refreshed_at,
        user_agent: s.user_agent.as_deref(),
        ip: s.ip.as_deref(),
        aal: s.aal,
        amr: &s.amr,
    };
    store::imports::insert_session(&mut *tx, &session).await?;
    if let Some(token) = &s.refresh_token {
        let hash = Sha256::digest(token.trim().as_bytes());
        store::imports::insert_refresh_token(&mut *tx, &hash, s.id).await?;
    }
    Ok(())
}
