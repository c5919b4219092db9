//! Writing one batch of incoming users: in one transaction, one statement per table. When the
//! batch fails, it is rolled back whole, and the user it failed on is found by writing halves
//! of it again (each rolled back) until one user is left, so the error names that user.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Incoming, Report, Row, Target};
use crate::{
    auth::refresh::token::RefreshToken,
    store::{
        self,
        audit::{self, event},
        imports::{FactorRow, IdentityRow, PasswordRow, SessionRow, UserRow},
    },
};

/// A user to write, with its fingerprint and whether it was imported before.
struct Planned {
    user: Incoming,
    print: Vec<u8>,
    update: bool,
}

fn fingerprint(user: &Incoming) -> anyhow::Result<Vec<u8>> {
    let canonical = serde_json::to_vec(user)?;
    Ok(Sha256::digest(canonical).to_vec())
}

/// Writes one batch in one transaction (rolled back on a dry run); the report grows.
pub async fn write_batch(
    target: &Target<'_>,
    source: &str,
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
    let plan = plan(&mut tx, source, users, report).await?;
    if let Err(e) = write_all(&mut tx, target, source, &plan, report).await {
        tx.rollback().await?;
        return Err(match failing_user(target, source, &plan).await {
            Some(id) => e.context(format!(
                "importing user {id} (its batch of {} was rolled back)",
                plan.len()
            )),
            None => e.context(format!(
                "importing a batch of {} users (rolled back)",
                plan.len()
            )),
        });
    }
    if target.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(())
}

/// The users to write: not those whose address another user here (or earlier in the batch)
/// has, nor those unchanged since they were last imported.
async fn plan(
    tx: &mut PgConnection,
    source: &str,
    users: Vec<Incoming>,
    report: &mut Report,
) -> anyhow::Result<Vec<Planned>> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let emails: Vec<String> = users.iter().map(|u| u.email.clone()).collect();
    let known: HashMap<Uuid, Vec<u8>> = store::imports::fingerprints(&mut *tx, source, &ids)
        .await?
        .into_iter()
        .collect();
    let taken: HashSet<Uuid> = store::imports::addresses_of_others(&mut *tx, &ids, &emails)
        .await?
        .into_iter()
        .collect();
    let mut in_batch = HashSet::new();
    let mut plan = Vec::new();
    for user in users {
        let first_here = user.email.is_empty() || in_batch.insert(user.email.to_lowercase());
        if taken.contains(&user.id) || !first_here {
            let why = format!("duplicate address: another user here has {}", user.email);
            report.skipped.push((user.id.to_string(), why));
            continue;
        }
        let print = fingerprint(&user)?;
        match known.get(&user.id) {
            Some(before) if *before == print => report.unchanged += 1,
            seen => plan.push(Planned {
                update: seen.is_some(),
                user,
                print,
            }),
        }
    }
    Ok(plan)
}

/// Writes a part of `plan` again, rolled back, until one failing user is left.
async fn failing_user(target: &Target<'_>, source: &str, plan: &[Planned]) -> Option<Uuid> {
    let mut part = plan;
    while part.len() > 1 {
        let (a, b) = part.split_at(part.len() / 2);
        part = if fails_alone(target, source, a).await {
            a
        } else if fails_alone(target, source, b).await {
            b
        } else {
            return None;
        };
    }
    let one = part.first()?;
    fails_alone(target, source, part)
        .await
        .then_some(one.user.id)
}

async fn fails_alone(target: &Target<'_>, source: &str, part: &[Planned]) -> bool {
    let Ok(mut tx) = target.pool.begin().await else {
        return false;
    };
    let failed = write_all(&mut tx, target, source, part, &mut Report::default())
        .await
        .is_err();
    let _ = tx.rollback().await;
    failed
}

async fn write_all(
    tx: &mut PgConnection,
    target: &Target<'_>,
    source: &str,
    plan: &[Planned],
    report: &mut Report,
) -> anyhow::Result<()> {
    if plan.is_empty() {
        return Ok(());
    }
    let users: Vec<UserRow> = plan.iter().map(|p| user_row(&p.user)).collect();
    store::imports::upsert_users(&mut *tx, &users).await?;
    let passwords: Vec<PasswordRow> = plan
        .iter()
        .filter_map(|p| {
            let hash = p.user.password_hash.as_deref()?;
            Some(PasswordRow {
                user_id: p.user.id,
                hash,
            })
        })
        .collect();
    store::imports::set_passwords(&mut *tx, &passwords).await?;
    write_identities(tx, plan, report).await?;
    let mut factors = Vec::new();
    for p in plan {
        for f in &p.user.factors {
            factors.push(FactorRow {
                id: f.id,
                user_id: p.user.id,
                friendly_name: &f.friendly_name,
                sealed_secret: hex::encode(target.mfa_key.seal(f.id.as_bytes(), &f.secret)?),
                created_at: f.created_at,
            });
        }
    }
    store::imports::insert_factors(&mut *tx, &factors).await?;
    report.factors += factors.len();
    let sessions: Vec<SessionRow> = plan.iter().flat_map(|p| session_rows(&p.user)).collect();
    report.sessions += store::imports::insert_sessions(&mut *tx, &sessions).await? as usize;
    let ids: Vec<Uuid> = plan.iter().map(|p| p.user.id).collect();
    let prints: Vec<Vec<u8>> = plan.iter().map(|p| p.print.clone()).collect();
    store::imports::record(&mut *tx, source, &ids, &prints).await?;
    let detail = serde_json::json!({"source": source});
    audit::record_for_users(&mut *tx, event::USER_IMPORTED, &ids, detail).await?;
    for p in plan {
        if p.update {
            report.updated += 1;
        } else {
            report.imported += 1;
        }
        let id = p.user.id.to_string();
        report
            .notes
            .extend(p.user.notes.iter().map(|n| (id.clone(), n.clone())));
    }
    Ok(())
}

fn user_row(u: &Incoming) -> UserRow<'_> {
    UserRow {
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
    }
}

/// Identities; one that belongs to another user here is left out, with a note.
async fn write_identities(
    tx: &mut PgConnection,
    plan: &[Planned],
    report: &mut Report,
) -> anyhow::Result<()> {
    let rows: Vec<IdentityRow> = plan
        .iter()
        .flat_map(|p| {
            p.user.identities.iter().map(|i| IdentityRow {
                user_id: p.user.id,
                provider: &i.provider,
                provider_id: &i.provider_id,
                identity_data: &i.identity_data,
                email: i.email.as_deref(),
                created_at: i.created_at,
                last_sign_in_at: i.last_sign_in_at,
            })
        })
        .collect();
    let written: HashSet<(String, String)> = store::imports::upsert_identities(&mut *tx, &rows)
        .await?
        .into_iter()
        .collect();
    for row in &rows {
        let key = (row.provider.to_owned(), row.provider_id.to_owned());
        if written.contains(&key) {
            report.identities += 1;
        } else {
            let why = format!(
                "the {} identity belongs to another user here: not linked",
                row.provider
            );
            report.notes.push((row.user_id.to_string(), why));
        }
    }
    Ok(())
}

/// The user's sessions, each on a fresh chain of ours (nobody holds a token of it), continued
/// by the refresh token its browser holds.
fn session_rows(u: &Incoming) -> Vec<SessionRow<'_>> {
    u.sessions
        .iter()
        .map(|s| {
            let chain = RefreshToken::new_chain(s.id);
            SessionRow {
                id: s.id,
                user_id: u.id,
                token_hash: hex::encode(chain.token.hash()),
                token_salt: hex::encode(chain.salt),
                created_at: s.created_at,
                refreshed_at: s.refreshed_at,
                user_agent: s.user_agent.as_deref(),
                ip: s.ip.as_deref(),
                aal: s.aal,
                amr: &s.amr,
                refresh_token_sha256: s.refresh_token_sha256.as_deref(),
                refresh_token_expires_at: s.refresh_token_expires_at,
            }
        })
        .collect()
}
