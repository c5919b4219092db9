//! Importing users: from the PL/pgSQL hasura-jwt-auth's `hasura_user` table, or from a JSON or
//! CSV file of users with bcrypt or Argon2 hashes. Passwords keep working and are upgraded to
//! Argon2id on each user's next sign-in. Every row is its own transaction: a bad row is
//! reported and skipped, never half-written, and re-running an import skips what it already
//! imported (old ids are kept in `legacy_user_ids`).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    admin::Actor,
    auth::{
        account::{normalize_email, validate_metadata},
        password::{
            imported::{is_bcrypt, is_verifiable_bcrypt, plpgsql_hash, MAX_BCRYPT_COST},
            is_supported_hash,
        },
    },
    error::{Code, ConstraintExt, Error, Kind},
    roles::validate_roles,
    store::{
        self,
        audit::{self, event},
        plpgsql_users::PlpgsqlUser,
        users::NewUser,
    },
};

/// Source name of the PL/pgSQL hasura-jwt-auth in `legacy_user_ids`.
pub const PLPGSQL_SOURCE: &str = "hasura_user";

/// What happened to each row.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub imported: usize,
    /// (row, reason): already imported, or the email exists.
    pub skipped: Vec<(String, String)>,
    /// (row, reason): bad data; nothing was written for it.
    pub failed: Vec<(String, String)>,
}

/// One user to import, whatever the source.
#[derive(Debug, Default, Deserialize)]
pub struct ImportUser {
    pub legacy_id: Option<String>,
    pub id: Option<Uuid>,
    pub email: String,
    pub password_hash: Option<String>,
    pub default_role: Option<String>,
    /// A list, or in CSV a `;`-separated string.
    #[serde(default, deserialize_with = "roles_list")]
    pub allowed_roles: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub user_metadata: Option<Value>,
}

fn roles_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Roles {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Roles>::deserialize(d)? {
        None => None,
        Some(Roles::List(l)) => Some(l),
        Some(Roles::Text(t)) if t.trim().is_empty() => None,
        Some(Roles::Text(t)) => Some(
            t.split(';')
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
        ),
    })
}

/// Where imported users go.
pub struct Target<'a> {
    pub pool: &'a PgPool,
    pub default_role: &'a str,
    pub default_allowed_roles: &'a [String],
    /// The only roles an imported user may have: a row naming any other is refused, so an
    /// import cannot bring in `admin` users unless asked to.
    pub permitted_roles: &'a [String],
    /// Name recorded with old ids in `legacy_user_ids`.
    pub source: &'a str,
}

/// What became of one row.
type Outcome = Result<Imported, String>;

/// A row that was not refused: imported, or skipped (with the reason).
enum Imported {
    Yes,
    Skipped(String),
}

/// How a failed database step is reported for a row.
fn db_error(e: Error) -> String {
    format!("database error: {}", e.into_anyhow().root_cause())
}

/// Validates a row and imports it in one transaction. A row that cannot be imported is an
/// `Err` with the reason; nothing is written for it.
async fn import_one(
    target: &Target<'_>,
    row: ImportUser,
    hash: Option<String>,
    actor: &Actor,
) -> Outcome {
    let email = normalize_email(&row.email).map_err(|e| e.message.to_string())?;
    let (default_role, allowed_roles) = roles_of(target, row.default_role, row.allowed_roles)?;
    let metadata = validate_metadata(row.user_metadata, "user_metadata")
        .map_err(|e| e.message.to_string())?
        .unwrap_or_else(|| json!({}));
    let db = |e: sqlx::Error| db_error(e.into());
    let mut tx = target.pool.begin().await.map_err(db)?;
    if let Some(legacy_id) = &row.legacy_id {
        let known = store::legacy_user_ids::find(&mut *tx, target.source, legacy_id)
            .await
            .map_err(db)?;
        if known.is_some() {
            return Ok(Imported::Skipped("already imported".into()));
        }
    }
    let new = NewUser {
        id: row.id.unwrap_or_else(Uuid::new_v4),
        email: &email,
        default_role: &default_role,
        allowed_roles: &allowed_roles,
        user_metadata: &metadata,
        app_metadata: &json!({}),
        enabled: row.enabled.unwrap_or(true),
        // Accounts of the system they come from: their addresses were in use there.
        email_confirmed: true,
        email_verified: true,
        invited: false,
    };
    let id_taken = || Error::new(Code::Conflict, "a user with this id exists");
    let inserted = match store::users::insert(&mut *tx, &new)
        .await
        .on_constraint("users_pkey", id_taken)
    {
        Ok(u) => u,
        Err(e) if e.kind == Kind::Conflict => return Ok(Imported::Skipped(e.message.into())),
        Err(e) => return Err(db_error(e)),
    };
    let Some(user) = inserted else {
        return Ok(Imported::Skipped(format!(
            "a user with email {email} exists"
        )));
    };
    let legacy_id = row.legacy_id.as_deref();
    finish_import(&mut tx, target, user.id, hash.as_deref(), legacy_id, actor)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(Imported::Yes)
}

/// The roles of an imported row, checked: given, or the defaults; only permitted ones.
fn roles_of(
    target: &Target<'_>,
    default_role: Option<String>,
    allowed_roles: Option<Vec<String>>,
) -> Result<(String, Vec<String>), String> {
    let default_role = default_role.unwrap_or_else(|| target.default_role.to_owned());
    let allowed_roles = allowed_roles.unwrap_or_else(|| {
        if default_role == target.default_role {
            target.default_allowed_roles.to_vec()
        } else {
            vec![default_role.clone()]
        }
    });
    validate_roles(&default_role, &allowed_roles)?;
    if let Some(role) = allowed_roles
        .iter()
        .find(|r| !target.permitted_roles.contains(r))
    {
        return Err(format!(
            "role {role:?} is not among the roles permitted for this import ({}); use --allowed-roles",
            target.permitted_roles.join(",")
        ));
    }
    Ok((default_role, allowed_roles))
}

/// The imported user's password hash and old id, and the audit entry.
async fn finish_import(
    tx: &mut sqlx::PgConnection,
    target: &Target<'_>,
    user_id: Uuid,
    hash: Option<&str>,
    legacy_id: Option<&str>,
    actor: &Actor,
) -> sqlx::Result<()> {
    if let Some(hash) = hash {
        store::passwords::set(&mut *tx, user_id, hash).await?;
    }
    if let Some(legacy_id) = legacy_id {
        store::legacy_user_ids::insert(&mut *tx, target.source, legacy_id, user_id).await?;
    }
    let detail = json!({"source": target.source, "legacy_id": legacy_id, "by": actor.via});
    audit::record(
        &mut *tx,
        event::USER_IMPORTED,
        Some(user_id),
        None,
        &actor.client,
        detail,
    )
    .await?;
    Ok(())
}

fn tally(report: &mut Report, label: String, outcome: Outcome) {
    match outcome {
        Ok(Imported::Yes) => report.imported += 1,
        Ok(Imported::Skipped(why)) => report.skipped.push((label, why)),
        Err(why) => report.failed.push((label, why)),
    }
}

/// One `hasura_user` row as a user to import, with its hash in our stored form.
fn from_plpgsql_row(row: PlpgsqlUser) -> Result<(ImportUser, String), String> {
    let crypt = row
        .crypt_password
        .filter(|c| is_bcrypt(c))
        .ok_or("crypt_password is not a bcrypt hash")?;
    if !is_verifiable_bcrypt(&crypt) {
        return Err(format!(
            "crypt_password has a bcrypt cost above {MAX_BCRYPT_COST}: too slow to verify"
        ));
    }
    let allowed_roles = match row.allowed_roles {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Vec<String>>(&text)
                .map_err(|_| format!("allowed_roles is not a JSON array of strings: {text}"))?,
        ),
    };
    let user = ImportUser {
        legacy_id: Some(row.legacy_id),
        email: row.email.ok_or("email is empty")?,
        default_role: row.default_role,
        allowed_roles,
        enabled: Some(row.enabled.unwrap_or(true)),
        ..Default::default()
    };
    Ok((user, plpgsql_hash(&crypt)))
}

/// Imports the `hasura_user` table of the PL/pgSQL hasura-jwt-auth from `source`.
/// The server needs that system's JWT secret (the HMAC key of its password scheme) as
/// AUTH_LEGACY_HMAC_SECRET to verify the imported passwords.
pub async fn from_hasura_jwt_auth(
    source: &PgPool,
    table: &str,
    target: &Target<'_>,
    actor: &Actor,
) -> anyhow::Result<Report> {
    let rows = store::plpgsql_users::read_all(source, table).await?;
    let mut report = Report::default();
    for row in rows {
        let label = format!("id {}", row.legacy_id);
        let outcome = match from_plpgsql_row(row) {
            Ok((user, hash)) => import_one(target, user, Some(hash), actor).await,
            Err(why) => Err(why),
        };
        tally(&mut report, label, outcome);
    }
    Ok(report)
}

/// Imports users from a `.json` file (an array of objects) or a `.csv` file (a header row;
/// `allowed_roles` separated by `;`, `user_metadata` as JSON). Hashes must be bcrypt or Argon2.
pub async fn from_file(path: &Path, target: &Target<'_>, actor: &Actor) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut rows: Vec<(String, Result<ImportUser, String>)> = Vec::new();
    if is_csv {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .context("the CSV file has no header row")?
            .clone();
        for (i, record) in reader.records().enumerate() {
            let label = format!("line {}", i + 2);
            let parsed = record.map_err(|e| e.to_string()).and_then(|r| {
                let mut obj = serde_json::Map::new();
                for (name, value) in headers.iter().zip(r.iter()) {
                    if value.is_empty() {
                        continue;
                    }
                    let v = match name {
                        "enabled" => Value::Bool(matches!(
                            value.to_ascii_lowercase().as_str(),
                            "true" | "t" | "1" | "yes"
                        )),
                        "user_metadata" => serde_json::from_str(value)
                            .map_err(|e| format!("user_metadata: {e}"))?,
                        _ => Value::String(value.to_owned()),
                    };
                    obj.insert(name.to_owned(), v);
                }
                serde_json::from_value(Value::Object(obj)).map_err(|e| e.to_string())
            });
            rows.push((label, parsed));
        }
    } else {
        let items: Vec<Value> = serde_json::from_str(&text)
            .context("the JSON file must hold an array of user objects")?;
        for (i, item) in items.into_iter().enumerate() {
            rows.push((
                format!("item {i}"),
                serde_json::from_value(item).map_err(|e| e.to_string()),
            ));
        }
    }
    let mut report = Report::default();
    for (label, parsed) in rows {
        let outcome = match parsed {
            Err(why) => Err(why),
            Ok(user) => match user.password_hash.clone() {
                Some(h) if !is_supported_hash(&h) => {
                    Err("password_hash is neither bcrypt (cost at most 12) nor Argon2 (at most 128 MiB, t=10, p=8)".into())
                }
                hash => import_one(target, user, hash, actor).await,
            },
        };
        tally(&mut report, label, outcome);
    }
    Ok(report)
}
