//! `bench import`: moving in from another auth server at scale. Creates a source database with
//! the other server's `auth` schema (the same definitions the import tests use) filled with
//! `--users` users the way that server makes them (a bcrypt `$2a$10` hash, an email identity,
//! one live session with its refresh token each; every tenth user also has a GitHub identity,
//! every twentieth a TOTP factor), then times the real CLI (`import supabase|nhost`, this
//! executable started again as `bench cli …`) into a fresh database: the first run, then a
//! re-run that finds every user unchanged. Reports users per second and the importer's peak
//! memory.
//!
//! ```sh
//! cargo run --release --example bench -- import --users 100000 --from supabase
//! ```

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection, Executor, PgConnection};

const GOTRUE_SCHEMA: &str = include_str!("../../tests/it/migrate/gotrue.sql");
const NHOST_SCHEMA: &str = include_str!("../../tests/it/migrate/nhost.sql");

struct Args {
    users: i64,
    from: String,
    batch_size: i64,
}

fn args(argv: &[String]) -> Args {
    let mut a = Args {
        users: 100_000,
        from: "supabase".into(),
        batch_size: 1000,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let value = it.next().expect("flags take a value");
        match flag.as_str() {
            "--users" => a.users = value.parse().expect("--users takes a number"),
            "--batch-size" => a.batch_size = value.parse().expect("--batch-size takes a number"),
            "--from" => a.from = value.clone(),
            other => panic!("unknown flag {other} (use --users, --from, --batch-size)"),
        }
    }
    assert!(
        a.from == "supabase" || a.from == "nhost",
        "--from supabase or --from nhost"
    );
    a
}

pub async fn run(argv: &[String]) -> anyhow::Result<()> {
    let a = args(argv);
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin_opts: PgConnectOptions = url.parse()?;
    let mut admin = admin_opts.connect().await?;
    let pid = std::process::id();
    let (source, target) = (
        format!("hja_bench_src_{pid}"),
        format!("hja_bench_dst_{pid}"),
    );
    for db in [&source, &target] {
        admin
            .execute(format!("CREATE DATABASE {db}").as_str())
            .await?;
    }
    let result = measure(&a, &admin_opts, &url, &source, &target).await;
    for db in [&source, &target] {
        admin
            .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
            .await?;
    }
    result
}

async fn measure(
    a: &Args,
    admin_opts: &PgConnectOptions,
    url: &str,
    source: &str,
    target: &str,
) -> anyhow::Result<()> {
    let mut src = admin_opts.clone().database(source).connect().await?;
    let t = Instant::now();
    fill(&mut src, &a.from, a.users).await?;
    println!(
        "source: {} users from {} filled in {:.1} s",
        a.users,
        a.from,
        t.elapsed().as_secs_f64()
    );
    let mut with_db = reqwest::Url::parse(url)?;
    with_db.set_path(source);
    let from = with_db.to_string();
    with_db.set_path(target);
    let to = with_db.to_string();
    // The target's migrations first, so that the runs time the import alone.
    hasura_jwt_auth::store::migrate(
        &hasura_jwt_auth::store::connect_with(admin_opts.clone().database(target), "auth", 2)
            .await?,
        "auth",
    )
    .await?;
    let data_dir = tempfile::tempdir()?;
    for run in ["first run", "re-run (all unchanged)"] {
        let (took, peak) = import(a, &from, &to, data_dir.path())?;
        println!(
            "import {} ({run}): {} users in {:.1} s, {:.0} users/s, importer peak RSS {:.1} MiB",
            a.from,
            a.users,
            took.as_secs_f64(),
            a.users as f64 / took.as_secs_f64(),
            peak
        );
    }
    let mut dst = admin_opts.clone().database(target).connect().await?;
    let (users, sessions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM auth.users), (SELECT count(*) FROM auth.sessions)",
    )
    .fetch_one(&mut dst)
    .await?;
    println!("target: {users} users, {sessions} sessions");
    anyhow::ensure!(users == a.users, "every user should have been imported");
    dst.close().await?;
    Ok(())
}

/// Runs `import <from>` in a process of its own; its wall time and peak resident memory.
fn import(
    a: &Args,
    from: &str,
    to: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Duration, f64)> {
    let t = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["cli", "import", &a.from, "--from", from])
        .args(["--batch-size", &a.batch_size.to_string()])
        // nhost gives every user the role `me` besides `user`.
        .args(["--allowed-roles", "me,user"])
        .args(["--database-url", to])
        .env("AUTH_DATA_DIR", data_dir)
        .env(
            "AUTH_MFA_KEY",
            "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMDE=",
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0.0f64;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            {
                peak = peak.max(kib / 1024.0);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    anyhow::ensure!(status.success(), "the import failed: {status}");
    Ok((t.elapsed(), peak))
}

async fn fill(db: &mut PgConnection, from: &str, users: i64) -> anyhow::Result<()> {
    // One real hash for everyone: hashing 100,000 passwords at cost 10 would take an hour,
    // and the importer copies hashes without checking them.
    let hash =
        bcrypt::hash_with_result("bench password 1", 10)?.format_for_version(bcrypt::Version::TwoA);
    if from == "supabase" {
        sqlx::raw_sql(GOTRUE_SCHEMA).execute(&mut *db).await?;
        fill_gotrue(db, &hash, users).await
    } else {
        sqlx::raw_sql(NHOST_SCHEMA).execute(&mut *db).await?;
        fill_nhost(db, &hash, users).await
    }
}

async fn fill_gotrue(db: &mut PgConnection, hash: &str, users: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
             email_confirmed_at, confirmation_token, recovery_token, email_change_token_new,
             email_change, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
             last_sign_in_at)
         SELECT '00000000-0000-0000-0000-000000000000', md5('u' || g)::uuid, 'authenticated',
             'authenticated', 'u' || g || '@bench.example', $1, now() - interval '30 days',
             '', '', '', '', '{\"provider\": \"email\", \"providers\": [\"email\"]}',
             jsonb_build_object('name', 'User ' || g), now() - interval '30 days', now(), now()
         FROM generate_series(1, $2) g",
    )
    .bind(hash)
    .bind(users)
    .execute(&mut *db)
    .await?;
    sqlx::raw_sql(
        "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at,
             updated_at)
         SELECT id::text, id, jsonb_build_object('sub', id::text, 'email', email,
             'email_verified', true), 'email', created_at, created_at FROM auth.users;
         INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at)
         SELECT 'gh' || left(md5(id::text), 10), id, jsonb_build_object('sub',
             'gh' || left(md5(id::text), 10), 'email', email, 'email_verified', true), 'github',
             created_at FROM auth.users WHERE get_byte(uuid_send(id), 15) % 10 = 0;
         INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status,
             created_at, updated_at, secret)
         SELECT md5('f' || id)::uuid, id, 'phone', 'totp', 'verified', now(), now(),
             'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
         FROM auth.users WHERE get_byte(uuid_send(id), 15) % 20 = 0;
         INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, refreshed_at,
             user_agent, ip)
         SELECT md5('s' || id)::uuid, id, now() - interval '1 day', now(), 'aal1',
             now() AT TIME ZONE 'UTC', 'Mozilla/5.0', '203.0.113.7' FROM auth.users;
         INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at,
             updated_at, parent, session_id)
         SELECT '00000000-0000-0000-0000-000000000000', md5('t' || id), user_id::text, false,
             now(), now(), '', id FROM auth.sessions;
         ANALYZE;",
    )
    .execute(db)
    .await?;
    Ok(())
}

async fn fill_nhost(db: &mut PgConnection, hash: &str, users: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO auth.users (id, email, password_hash, email_verified, default_role,
             display_name, locale, metadata, created_at, last_seen)
         SELECT md5('u' || g)::uuid, 'u' || g || '@bench.example', $1, true, 'user',
             'User ' || g, 'en', jsonb_build_object('plan', 'free'),
             now() - interval '30 days', now()
         FROM generate_series(1, $2) g",
    )
    .bind(hash)
    .bind(users)
    .execute(&mut *db)
    .await?;
    sqlx::raw_sql(
        "INSERT INTO auth.user_roles (user_id, role)
         SELECT id, role FROM auth.users, unnest(ARRAY['me', 'user']) AS role;
         INSERT INTO auth.user_providers (user_id, access_token, provider_id, provider_user_id)
         SELECT id, 'unset', 'github', left(md5(id::text), 10) FROM auth.users
         WHERE get_byte(uuid_send(id), 15) % 10 = 0;
         UPDATE auth.users SET totp_secret = 'AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYUCULBOGAZDINRYHI6D4QA',
             active_mfa_type = 'totp'
         WHERE get_byte(uuid_send(id), 15) % 20 = 0;
         INSERT INTO auth.refresh_tokens (user_id, refresh_token_hash, expires_at)
         SELECT id, '\\x' || encode(sha256(convert_to(md5('t' || id), 'UTF8')), 'hex'),
             now() + interval '30 days'
         FROM auth.users;
         ANALYZE;",
    )
    .execute(db)
    .await?;
    Ok(())
}
