//! Moving in from other auth servers: their schemas, written here from their documented table
//! definitions (Supabase Auth: GoTrue's migrations as of v2.196; nhost: hasura-auth's as of
//! v0.42.0), filled the way each server fills them, then imported and used as their users
//! would.

mod nhost;
mod supabase;

use axum::http::{Method, StatusCode};
use hasura_jwt_auth::admin::migrate;
use sqlx::{postgres::PgPoolOptions, PgPool};

use crate::common::{self, TestApp};

/// Imports from `source` into `app`'s database as `import supabase|nhost` does, in batches of
/// three, checking that progress is reported up to the last user.
pub(crate) async fn import(
    app: &TestApp,
    origin: migrate::Origin,
    source: &PgPool,
    dry_run: bool,
) -> migrate::Report {
    let mut steps = Vec::new();
    let report = try_import(app, origin, source, dry_run, &mut steps)
        .await
        .unwrap();
    let (done, total) = steps.last().copied().unwrap_or_default();
    assert_eq!(done as i64, total, "{steps:?}");
    report
}

/// The import, with the progress it reported in `steps`.
pub(crate) async fn try_import(
    app: &TestApp,
    origin: migrate::Origin,
    source: &PgPool,
    dry_run: bool,
    steps: &mut Vec<(usize, i64)>,
) -> anyhow::Result<migrate::Report> {
    let auth = &app.state.auth;
    let target = migrate::Target {
        pool: &app.pool,
        mfa_key: &auth.mfa_key,
        dry_run,
    };
    let allowed = ["user", "editor", "me"].map(str::to_owned);
    let mapping = migrate::Mapping {
        role_key: Some("role"),
        default_role: "user",
        default_allowed_roles: &["user".to_owned()],
        permitted_roles: &allowed,
        anonymous_role: "anonymous_user",
    };
    migrate::run(origin, source, &target, &mapping, 3, &mut |done, total| {
        steps.push((done, total))
    })
    .await
}

/// The other server's database, beside the test's (both servers name their schema `auth`);
/// [`Source::drop_now`] removes it at the end of the test.
pub(crate) struct Source {
    pub pool: PgPool,
    name: String,
    admin: PgPool,
}

impl Source {
    pub(crate) async fn create(db: &PgPool, what: &str) -> Self {
        let ours: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(db)
            .await
            .unwrap();
        // Identifiers end at 63 bytes: a short name made from the test's.
        let digest = <sha2::Sha256 as sha2::Digest>::digest(ours.as_bytes());
        let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("source_{what}_{short}");
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .execute(db)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(db)
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(common::options(db).database(&name))
            .await
            .unwrap();
        Self {
            pool,
            name,
            admin: db.clone(),
        }
    }

    /// Its URL, for the command line.
    pub(crate) fn url(&self) -> String {
        crate::cli::url_of(&self.pool)
    }

    /// Closes and drops the database (a failed test leaves it behind, named after the test's).
    pub(crate) async fn drop_now(self) {
        self.pool.close().await;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}

/// A code from the old authenticator app's `secret` (base32) verifies `factor` of the user of
/// `access_token` here, raising the session to aal2.
pub(crate) async fn old_totp_secret_verifies(
    app: &TestApp,
    access_token: &str,
    factor: &str,
    secret: &str,
) {
    let challenge = app
        .call(
            Method::POST,
            &format!("/factors/{factor}/challenge"),
            Some(access_token),
            None,
        )
        .await;
    let uri = format!("otpauth://totp/Old:alice?secret={secret}&issuer=Old");
    let totp = totp_rs::Totp::from_url(uri).unwrap();
    let code = totp
        .generate(chrono::Utc::now().timestamp() as u64)
        .to_string();
    let body = serde_json::json!({"challenge_id": challenge.body["id"], "code": code});
    let verified = app
        .call(
            Method::POST,
            &format!("/factors/{factor}/verify"),
            Some(access_token),
            Some(body),
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{verified:?}");
    let token = common::str_of(&verified.body, "access_token");
    assert_eq!(common::jwt_payload(token)["aal"], "aal2");
}

#[sqlx::test(migrations = false)]
async fn a_failing_batch_is_rolled_back_whole_and_names_its_user(db: PgPool) {
    let app = crate::common::app(&db, &[]).await;
    // A rule of the operator's own refuses one of the users.
    sqlx::raw_sql("ALTER TABLE users ADD CONSTRAINT no_bob CHECK (email <> 'bob@example.com')")
        .execute(&app.pool)
        .await
        .unwrap();
    let source = Source::create(&db, "nhost").await;
    nhost::fill(&source.pool).await;
    let mut steps = Vec::new();
    let failed = try_import(
        &app,
        migrate::Origin::Nhost,
        &source.pool,
        false,
        &mut steps,
    )
    .await
    .unwrap_err();
    let message = format!("{failed:#}");
    assert!(
        message.contains(&format!("importing user {}", nhost::BOB)),
        "{message}"
    );
    assert!(message.contains("no_bob"), "{message}");
    // Alice and the anonymous user shared bob's batch (ids in order): neither was written.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    assert!(steps.is_empty(), "{steps:?}");
    source.drop_now().await;
}

#[sqlx::test(migrations = false)]
async fn the_command_line_reports_what_it_would_do_then_does_it(db: PgPool) {
    let app = common::app(&db, &[]).await;
    app.signup("taken@example.com").await;
    let source = Source::create(&db, "nhost").await;
    nhost::fill(&source.pool).await;
    let url = crate::cli::url_of(&db);
    let args = |dry: bool| {
        let mut a = vec!["import", "nhost", "--allowed-roles", "me,user"];
        a.extend(["--batch-size", "2"]);
        if dry {
            a.push("--dry-run");
        }
        a
    };
    let from = source.url();
    let with_from = |mut a: Vec<&'static str>| {
        let from: &'static str = Box::leak(format!("--from={from}").into_boxed_str());
        a.push(from);
        a
    };
    let dry = crate::cli::cli(&url, &with_from(args(true)), None);
    assert!(dry.ok, "{}", dry.stderr);
    for line in [
        "skipped e0e0e0e0-0000-4000-8000-0000000000e0: role admin is not among",
        "skipped f1f1f1f1-0000-4000-8000-0000000000f1: address refused",
        &format!("note {}: 1 personal access token(s)", nhost::ALICE),
        "would import 4 new, updated 0, unchanged 0, skipped 4; 1 identities, 1 factors, 4 sessions",
        "dry run: nothing was written",
    ] {
        assert!(dry.stdout.contains(line), "{line}\n{}", dry.stdout);
    }
    let real = crate::cli::cli(&url, &with_from(args(false)), None);
    assert!(real.ok, "{}", real.stderr);
    assert!(real.stdout.contains("imported 4 new"), "{}", real.stdout);
    // Not a terminal: progress is logged, batch by batch, up to the last user.
    assert!(real.stderr.contains("import progress"), "{}", real.stderr);
    assert!(real.stderr.contains("done=8 total=8"), "{}", real.stderr);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 5);
    source.drop_now().await;
}
