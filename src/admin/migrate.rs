//! Moving in from another auth server without logging anyone out (`import supabase`,
//! `import nhost`): its users keep their ids (the app's rows reference them), their passwords (bcrypt hashes,
//! upgraded to Argon2id at the next sign-in), their identities, their TOTP factors
//! (re-encrypted under `AUTH_MFA_KEY`) and their live sessions: the refresh token a browser
//! holds now is accepted here once, for its own session, which then follows this server's
//! rotation and reuse rules (see `auth::refresh::imported`).
//!
//! Users are read and written in batches, each written in one transaction with one statement
//! per table (a failing batch rolls back whole and names the user it failed on, see
//! `write`). Each user's fingerprint is recorded, so a re-run skips unchanged users and
//! updates changed ones. A dry run does all of it and rolls every batch back, so its report
//! is exactly what a real run would do.

pub mod nhost;
pub mod supabase;
mod write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::sealing::SealingKey;

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
    /// The SHA-256 (hex) of the refresh token its browser holds now: all that is kept of it.
    pub refresh_token_sha256: Option<String>,
    /// When the old server would have stopped taking it, if ever.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
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
    pub dry_run: bool,
}

/// Which roles imported users get.
pub struct Mapping<'a> {
    /// Supabase: the key of `raw_app_meta_data` that holds a user's role, or roles (the first
    /// is the default); without it (or without the key in a user's data) the defaults.
    pub role_key: Option<&'a str>,
    pub default_role: &'a str,
    pub default_allowed_roles: &'a [String],
    /// The only roles a user may come with; a user with another is skipped.
    pub permitted_roles: &'a [String],
    /// Anonymous users' role (`AUTH_ANONYMOUS_ROLE`).
    pub anonymous_role: &'a str,
}

impl Mapping<'_> {
    /// `Err(why)` when a role is outside the permitted ones, or the roles do not fit together.
    pub fn check(&self, default: &str, allowed: &[String]) -> Result<(), String> {
        if let Some(other) = allowed.iter().find(|r| !self.permitted_roles.contains(r)) {
            return Err(format!(
                "role {other} is not among the roles allowed for imported users"
            ));
        }
        crate::roles::validate_roles(default, allowed)
    }
}

/// The source's password hash, when this server can check it (bcrypt, Argon2); otherwise a
/// note says why the user will need to reset the password.
fn usable_password(stored: Option<&str>, notes: &mut Vec<String>) -> Option<String> {
    let hash = stored.map(str::trim).filter(|h| !h.is_empty())?;
    if hash.starts_with('{') {
        notes.push("password encrypted at the source (database encryption): not imported".into());
        return None;
    }
    if !crate::auth::password::is_supported_hash(hash) {
        notes.push("password hash of a kind this server cannot check: not imported".into());
        return None;
    }
    Some(hash.to_owned())
}

/// The servers users move in from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Supabase Auth (GoTrue's `auth` schema).
    Supabase,
    /// nhost's hasura-auth (its `auth` schema).
    Nhost,
}

impl Origin {
    /// The name recorded with imported users' fingerprints.
    pub fn name(self) -> &'static str {
        match self {
            Self::Supabase => "supabase",
            Self::Nhost => "nhost",
        }
    }
}

/// Imports every user of `source` in batches of `batch_size`; `progress` hears how many rows
/// are done out of how many.
pub async fn run(
    from: Origin,
    source: &PgPool,
    target: &Target<'_>,
    mapping: &Mapping<'_>,
    batch_size: i64,
    progress: &mut dyn FnMut(usize, i64),
) -> anyhow::Result<Report> {
    let total = match from {
        Origin::Supabase => crate::store::supabase::count(source).await?,
        Origin::Nhost => crate::store::nhost::count(source).await?,
    };
    let mut report = Report::default();
    let mut after = Uuid::nil();
    let mut done = 0;
    loop {
        let (last, rows) = match from {
            Origin::Supabase => supabase::batch(source, after, batch_size, mapping).await?,
            Origin::Nhost => nhost::batch(source, after, batch_size, mapping).await?,
        };
        let Some(last) = last else { break };
        after = last;
        done += rows.len();
        write::write_batch(target, from.name(), rows, &mut report).await?;
        progress(done, total);
    }
    Ok(report)
}
