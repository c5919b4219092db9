//! Importing users: from the PL/pgSQL hasura-jwt-auth table (its hashes and their secret),
//! and from JSON and CSV files.

use crate::cli::{cli, url_of};
use crate::common::{self, str_of, SECRET};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

/// The PL/pgSQL hasura-jwt-auth's table and hashing, made by pgcrypto exactly as it did.
async fn plpgsql_table(pool: &PgPool) {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE public.hasura_user (
            id serial primary key, email varchar unique, crypt_password varchar, cleartext_password varchar,
            default_role varchar default 'user', allowed_roles jsonb default '[\"user\"]', enabled boolean default true,
            jwt_token text)",
    )
    .execute(pool)
    .await
    .unwrap();
    let rows = [
        (
            "alice@example.com",
            "alice's password",
            "'user'",
            r#"'["user"]'"#,
            "true",
        ),
        (
            "bob@example.com",
            "b\\o\"b pässwörd",
            "'editor'",
            r#"'["user","editor"]'"#,
            "true",
        ),
        (
            "carol@example.com",
            "carol password",
            "'user'",
            r#"'["user"]'"#,
            "false",
        ),
        ("not an email", "x", "'user'", r#"'["user"]'"#, "true"),
        (
            "dave@example.com",
            "dave password",
            "'admin'",
            r#"'["user"]'"#,
            "true",
        ),
    ];
    for (email, pw, role, allowed, enabled) in rows {
        let sql = format!(
            "INSERT INTO public.hasura_user (email, crypt_password, default_role, allowed_roles, enabled)
             VALUES ($1, public.crypt(encode(public.hmac($2, 'old-jwt-secret', 'sha256'), 'escape'), public.gen_salt('bf')), {role}, {allowed}, {enabled})"
        );
        sqlx::query(&sql)
            .bind(email)
            .bind(pw)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO public.hasura_user (email, crypt_password) VALUES ('erin@example.com', 'plaintext?')").execute(pool).await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn import_from_the_plpgsql_hasura_jwt_auth(db: PgPool) {
    let url = url_of(&db);
    let app = common::app(&db, &["--legacy-hmac-secret", "old-jwt-secret"]).await;
    plpgsql_table(&app.pool).await;
    let out = cli(
        &url,
        &[
            "import",
            "hasura-jwt-auth",
            "--from",
            &url,
            "--table",
            "public.hasura_user",
            "--allowed-roles",
            "user,editor",
        ],
        None,
    );
    assert!(!out.ok, "bad rows make the exit code non-zero");
    assert!(
        out.stdout.contains("imported 3, skipped 0, failed 3"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("id 4") && out.stderr.contains("id 5") && out.stderr.contains("id 6"),
        "{}",
        out.stderr
    );

    // Passwords keep working, with roles and the enabled flag; the hash is upgraded.
    let res = app.sign_in("alice@example.com", "alice's password").await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let res = app.sign_in("bob@example.com", "b\\o\"b pässwörd").await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let claims = common::hasura::check(
        str_of(&res.body, "access_token"),
        &common::hasura::hmac(SECRET),
        &Default::default(),
    );
    assert_eq!(claims["x-hasura-default-role"], "editor");
    assert_eq!(
        app.sign_in("carol@example.com", "carol password")
            .await
            .status,
        StatusCode::BAD_REQUEST,
        "disabled stays disabled"
    );
    assert_eq!(
        app.sign_in("alice@example.com", "wrong password")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let hashes: Vec<(String, String)> = sqlx::query_as("SELECT u.email, p.hash FROM users u JOIN user_passwords p ON p.user_id = u.id ORDER BY u.email")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(
        hashes[0].1.starts_with("$argon2id$"),
        "alice upgraded: {}",
        hashes[0].1
    );
    assert!(hashes[1].1.starts_with("$argon2id$"), "bob upgraded");
    assert!(
        hashes[2].1.starts_with("$hja-plpgsql$v2$$2"),
        "carol not signed in yet: her bcrypt hash, nothing else"
    );
    assert_eq!(hashes[2].1.len(), "$hja-plpgsql$v2$".len() + 60);
    assert!(
        !hashes[2].1.contains("old-jwt-secret"),
        "the old secret is not stored"
    );
    assert_eq!(
        app.sign_in("alice@example.com", "alice's password")
            .await
            .status,
        StatusCode::OK,
        "works after the upgrade"
    );

    // Old ids are mapped; re-running is safe.
    let map: Vec<(String, String)> = sqlx::query_as("SELECT m.legacy_id, u.email FROM legacy_user_ids m JOIN users u ON u.id = m.user_id WHERE source = 'hasura_user' ORDER BY legacy_id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        map,
        [
            ("1".into(), "alice@example.com".into()),
            ("2".into(), "bob@example.com".into()),
            ("3".into(), "carol@example.com".into())
        ]
    );
    let again = cli(
        &url,
        &[
            "import",
            "hasura-jwt-auth",
            "--from",
            &url,
            "--table",
            "public.hasura_user",
            "--allowed-roles",
            "user,editor",
        ],
        None,
    );
    assert!(
        again.stdout.contains("imported 0, skipped 3, failed 3"),
        "{}",
        again.stdout
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[sqlx::test(migrations = false)]
async fn plpgsql_hashes_need_the_right_old_secret(db: PgPool) {
    let right = common::app(&db, &["--legacy-hmac-secret", "old-jwt-secret"]).await;
    plpgsql_table(&right.pool).await;
    let target = hasura_jwt_auth::admin::import::Target {
        pool: &right.pool,
        default_role: "user",
        default_allowed_roles: &["user".to_owned()],
        permitted_roles: &["user".to_owned(), "editor".to_owned()],
        source: "hasura_user",
    };
    let report = hasura_jwt_auth::admin::import::from_hasura_jwt_auth(
        &right.pool,
        "hasura_user",
        &target,
        &hasura_jwt_auth::admin::Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(report.imported, 3);
    let wrong = common::app(&db, &["--legacy-hmac-secret", "not-the-old-secret"]).await;
    assert_eq!(
        wrong
            .sign_in("alice@example.com", "alice's password")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let none = common::app(&db, &[]).await;
    assert_eq!(
        none.sign_in("alice@example.com", "alice's password")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        right
            .sign_in("alice@example.com", "alice's password")
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn import_users_from_json_and_csv(db: PgPool) {
    let url = url_of(&db);
    let app = common::app(&db, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let bcrypt_hash = bcrypt::hash("json password 1", 4).unwrap();
    let argon = {
        use argon2::{
            password_hash::{rand_core::OsRng, PasswordHasher, SaltString},
            Argon2,
        };
        Argon2::default()
            .hash_password(b"json password 2", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string()
    };
    let fixed_id = uuid::Uuid::new_v4();
    let json_file = dir.path().join("users.json");
    std::fs::write(&json_file, json!([
        {"email": "j1@example.com", "password_hash": bcrypt_hash, "legacy_id": "u-1", "allowed_roles": ["user", "editor"], "default_role": "editor"},
        {"id": fixed_id, "email": "j2@example.com", "password_hash": argon, "legacy_id": "u-2", "user_metadata": {"plan": "pro"}},
        {"email": "j3@example.com", "password_hash": "md5:abc", "legacy_id": "u-3"},
        {"email": "j4@example.com", "password_hash": bcrypt_hash, "default_role": "root", "allowed_roles": ["user"]},
        {"email": "j5@example.com", "password_hash": bcrypt_hash, "default_role": "user", "allowed_roles": ["user", "admin"]},
        {"nope": true}
    ]).to_string()).unwrap();
    let out = cli(
        &url,
        &[
            "import",
            "users",
            "--file",
            json_file.to_str().unwrap(),
            "--source",
            "legacy-app",
            "--allowed-roles",
            "user,editor",
        ],
        None,
    );
    // j5 asks for `admin`, which this import does not permit.
    assert!(
        out.stderr
            .contains(r#"role "admin" is not among the roles permitted"#),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("imported 2, skipped 0, failed 4"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        app.sign_in("j1@example.com", "json password 1")
            .await
            .status,
        StatusCode::OK
    );
    let j2 = app.sign_in("j2@example.com", "json password 2").await;
    assert_eq!(j2.status, StatusCode::OK);
    assert_eq!(j2.body["user"]["id"], fixed_id.to_string().as_str());
    assert_eq!(j2.body["user"]["user_metadata"]["plan"], "pro");

    let csv_file = dir.path().join("users.csv");
    let bcrypt_csv = bcrypt::hash("csv password 1", 4).unwrap();
    std::fs::write(
        &csv_file,
        format!(
            "email,password_hash,legacy_id,default_role,allowed_roles,enabled,user_metadata\n\
         c1@example.com,{bcrypt_csv},c-1,editor,user;editor,true,\"{{\"\"team\"\":\"\"red\"\"}}\"\n\
         c2@example.com,{bcrypt_csv},c-2,,,false,\n\
         j1@example.com,{bcrypt_csv},c-3,,,,\n"
        ),
    )
    .unwrap();
    let out = cli(
        &url,
        &[
            "import",
            "users",
            "--file",
            csv_file.to_str().unwrap(),
            "--allowed-roles",
            "user,editor",
        ],
        None,
    );
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("imported 2, skipped 1, failed 0"),
        "{}",
        out.stdout
    );
    let c1 = app.sign_in("c1@example.com", "csv password 1").await;
    assert_eq!(c1.status, StatusCode::OK);
    assert_eq!(
        c1.body["user"]["app_metadata"]["allowed_roles"],
        json!(["user", "editor"])
    );
    assert_eq!(c1.body["user"]["user_metadata"]["team"], "red");
    assert_eq!(
        app.sign_in("c2@example.com", "csv password 1").await.status,
        StatusCode::BAD_REQUEST,
        "imported disabled"
    );
    let out = cli(
        &url,
        &[
            "import",
            "users",
            "--file",
            csv_file.to_str().unwrap(),
            "--allowed-roles",
            "user,editor",
        ],
        None,
    );
    assert!(
        out.stdout.contains("imported 0, skipped 3"),
        "{}",
        out.stdout
    );
}

#[sqlx::test(migrations = false)]
async fn old_plpgsql_hashes_lose_their_secret_fingerprint(db: PgPool) {
    let app = common::app(&db, &["--legacy-hmac-secret", "old-jwt-secret"]).await;
    let s = app.signup("fp@example.com").await;
    let id = str_of(&s.body["user"], "id").to_owned();
    // A hash as earlier versions imported it: fingerprint of the old secret, then bcrypt.
    let text = hasura_jwt_auth::auth::password::imported::plpgsql_hmac_text(
        "old-jwt-secret",
        "old pass 1",
    );
    let bcrypt = bcrypt::hash(text, 4).unwrap();
    let v1 = format!("$hja-seed$v1$0123456789abcdef${bcrypt}");
    sqlx::query("UPDATE user_passwords SET hash = $2 WHERE user_id = $1::uuid")
        .bind(&id)
        .bind(&v1)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::raw_sql(include_str!(
        "../../migrations/20261129000003_plpgsql_hash_without_fingerprint.sql"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
    let hash: String =
        sqlx::query_scalar("SELECT hash FROM user_passwords WHERE user_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(hash, format!("$hja-plpgsql$v2${bcrypt}"));
    assert_eq!(
        app.sign_in("fp@example.com", "old pass 1").await.status,
        StatusCode::OK
    );
}
