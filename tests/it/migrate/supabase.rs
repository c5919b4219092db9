//! `import supabase`: users, identities, TOTP factors and live sessions from GoTrue's `auth`
//! schema (`gotrue.sql`, written from GoTrue's migrations as of v2.196).

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    common::{jwt_payload, oidc::Oidc, str_of, TestApp},
    external::{oidc_app, params, sign_in, WELCOME},
    migrate::Source,
};
use hasura_jwt_auth::admin::migrate;

const SCHEMA: &str = include_str!("gotrue.sql");

const ALICE: &str = "a1a1a1a1-0000-4000-8000-000000000001";
const BOB: &str = "b0b0b0b0-0000-4000-8000-000000000002";
const GUEST: &str = "c0c0c0c0-0000-4000-8000-000000000003";
/// GoTrue's session-bound token for this session, key and counter 0.
const BOB_SESSION: &str = "11111111-2222-3333-4444-555555555555";
const BOB_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const BOB_TOKEN: &str = "ABEREREiIjMzRERVVVVVVVUAbQYLQ1yMaykUnny3YB-qbHjd1so";
/// Alice's TOTP secret as GoTrue stores it (base32, 20 bytes).
const ALICE_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// The classic scheme: 12 characters of [a-z2-7].
const ALICE_REFRESH: &str = "k7d2qhx5mzaw";

/// A user as GoTrue's sign-up makes one: the row, its email identity.
async fn gotrue_user(db: &PgPool, id: &str, email: Option<&str>, password: &str, app: Value) {
    let hash = bcrypt::hash_with_result(password, 10)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    sqlx::query(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
             email_confirmed_at, confirmation_token, recovery_token, email_change_token_new,
             email_change, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
             last_sign_in_at)
         VALUES ('00000000-0000-0000-0000-000000000000', $1::uuid, 'authenticated',
             'authenticated', $2, $3, now() - interval '30 days', '', '', '', '', $4,
             '{\"theme\": \"dark\"}', now() - interval '30 days', now(), now())",
    )
    .bind(id)
    .bind(email)
    .bind(&hash)
    .bind(app)
    .execute(db)
    .await
    .unwrap();
    if let Some(email) = email {
        sqlx::query(
            "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider,
                 created_at, updated_at)
             VALUES ($1, $1::uuid, json_build_object('sub', $1::text, 'email', $2::text,
                 'email_verified', true), 'email', now(), now())",
        )
        .bind(id)
        .bind(email)
        .execute(db)
        .await
        .unwrap();
    }
}

/// The source: alice (password, an `acme` identity, a TOTP factor, a classic session), bob
/// (a session-bound session), an anonymous user, and users that are not to be imported.
async fn fill(db: &PgPool) {
    sqlx::raw_sql(SCHEMA).execute(db).await.unwrap();
    let app = |role: &str| json!({"provider": "email", "providers": ["email"], "role": role});
    gotrue_user(
        db,
        ALICE,
        Some("oldalice@example.com"),
        "alice's old password",
        app("editor"),
    )
    .await;
    gotrue_user(
        db,
        BOB,
        Some("bob@example.com"),
        "bob's old password",
        json!({"provider": "email", "providers": ["email"]}),
    )
    .await;
    sqlx::raw_sql(&format!(
        "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at)
         VALUES ('oldalice', '{ALICE}', '{{\"sub\": \"oldalice\", \"email\": \"oldalice@example.com\", \"email_verified\": true}}', 'acme', now());
         INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
         VALUES ('f0f0f0f0-0000-4000-8000-000000000001', '{ALICE}', 'phone', 'totp', 'verified', now(), now(), '{ALICE_TOTP}');
         INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, refreshed_at, user_agent, ip)
         VALUES ('5e550000-0000-4000-8000-000000000001', '{ALICE}', now() - interval '1 day', now(), 'aal1', now() AT TIME ZONE 'UTC', 'Firefox', '203.0.113.7');
         INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
         VALUES ('00000000-0000-0000-0000-000000000000', 'e3r5t6y7u2i4', '{ALICE}', true, now(), now(), '', '5e550000-0000-4000-8000-000000000001'),
                ('00000000-0000-0000-0000-000000000000', '{ALICE_REFRESH}', '{ALICE}', false, now(), now(), 'e3r5t6y7u2i4', '5e550000-0000-4000-8000-000000000001');
         INSERT INTO auth.sessions (id, user_id, created_at, aal, refreshed_at, refresh_token_hmac_key, refresh_token_counter)
         VALUES ('{BOB_SESSION}', '{BOB}', now(), 'aal1', now() AT TIME ZONE 'UTC', '{BOB_KEY}', 0);
         INSERT INTO auth.users (instance_id, id, aud, role, is_anonymous, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
         VALUES ('00000000-0000-0000-0000-000000000000', '{GUEST}', 'authenticated', 'authenticated', true, '{{}}', '{{}}', now(), now());"
    ))
    .execute(db)
    .await
    .unwrap();
    // Not imported: deleted, phone only, a role not allowed here, an address taken here.
    gotrue_user(
        db,
        "d0d0d0d0-0000-4000-8000-000000000004",
        Some("gone@example.com"),
        "x",
        app("user"),
    )
    .await;
    sqlx::query("UPDATE auth.users SET deleted_at = now() WHERE email = 'gone@example.com'")
        .execute(db)
        .await
        .unwrap();
    gotrue_user(
        db,
        "e0e0e0e0-0000-4000-8000-000000000005",
        None,
        "x",
        app("user"),
    )
    .await;
    sqlx::query(
        "UPDATE auth.users SET phone = '15551234567' WHERE email IS NULL AND NOT is_anonymous",
    )
    .execute(db)
    .await
    .unwrap();
    gotrue_user(
        db,
        "f1f1f1f1-0000-4000-8000-000000000006",
        Some("root@example.com"),
        "x",
        app("admin"),
    )
    .await;
    gotrue_user(
        db,
        "f2f2f2f2-0000-4000-8000-000000000007",
        Some("taken@example.com"),
        "x",
        app("user"),
    )
    .await;
}

async fn import(app: &TestApp, source: &PgPool, dry_run: bool) -> migrate::Report {
    super::import(app, migrate::Origin::Supabase, source, dry_run).await
}

fn skipped(report: &migrate::Report) -> Vec<String> {
    let mut reasons: Vec<String> = report.skipped.iter().map(|(_, why)| why.clone()).collect();
    reasons.sort();
    reasons
}

#[sqlx::test(migrations = false)]
async fn users_identities_factors_and_sessions_move_in_without_a_sign_in(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    app.signup("taken@example.com").await;
    let source = Source::create(&db, "gotrue").await;
    fill(&source.pool).await;
    let src = &source.pool;

    // The dry run says what would happen and writes nothing.
    let dry = import(&app, src, true).await;
    assert_eq!(
        (dry.imported, dry.sessions, dry.factors),
        (3, 2, 1),
        "{dry:?}"
    );
    let reasons = skipped(&dry);
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].starts_with("deleted"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("duplicate address")));
    assert!(reasons.iter().any(|r| r.contains("role admin")));
    assert!(reasons.iter().any(|r| r.contains("phone")));
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "a dry run writes nothing");

    let report = import(&app, src, false).await;
    assert_eq!(
        (report.imported, report.updated, report.unchanged),
        (3, 0, 0),
        "{report:?}"
    );

    // The same id signs in with the old password, with the mapped roles.
    let signed = app
        .sign_in("oldalice@example.com", "alice's old password")
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{signed:?}");
    let claims = jwt_payload(str_of(&signed.body, "access_token"));
    assert_eq!(claims["sub"], ALICE);
    let hasura = &claims["https://hasura.io/jwt/claims"];
    assert_eq!(hasura["x-hasura-default-role"], "editor");
    assert_eq!(hasura["x-hasura-allowed-roles"], json!(["editor"]));
    assert_eq!(
        signed.body["user"]["user_metadata"],
        json!({"theme": "dark"})
    );
    let hash: String =
        sqlx::query_scalar("SELECT hash FROM user_passwords WHERE user_id = $1::uuid")
            .bind(ALICE)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$"),
        "upgraded at the sign-in: {hash}"
    );

    // External sign-in finds the old identity.
    let location = sign_in(&app, WELCOME, "oldalice").await;
    let token = params(&location, '#')["access_token"].clone();
    assert_eq!(jwt_payload(&token)["sub"], ALICE);

    // The refresh token the browser holds refreshes once here, then ours rotates as ours do.
    let first = app.refresh(ALICE_REFRESH).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(
        jwt_payload(str_of(&first.body, "access_token"))["session_id"],
        "5e550000-0000-4000-8000-000000000001"
    );
    let ours = str_of(&first.body, "refresh_token").to_owned();
    assert_ne!(ours, ALICE_REFRESH);
    let again = app.refresh(ALICE_REFRESH).await;
    assert_eq!(
        again.body["error_code"], "refresh_token_already_used",
        "{again:?}"
    );
    let next = app.refresh(&ours).await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
    // A revoked token of the old chain was never imported.
    assert_eq!(
        app.refresh("e3r5t6y7u2i4").await.body["error_code"],
        "refresh_token_not_found"
    );
    // Presented again after the reuse interval: theft, the session ends.
    sqlx::query(
        "UPDATE imported_refresh_tokens SET used_at = now() - interval '1 hour'
         WHERE session_id = '5e550000-0000-4000-8000-000000000001'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let stolen = app.refresh(ALICE_REFRESH).await;
    assert_eq!(
        stolen.body["error_code"], "refresh_token_already_used",
        "{stolen:?}"
    );
    assert_eq!(
        app.refresh(str_of(&next.body, "refresh_token"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // Housekeeping forgets the imported tokens of ended sessions.
    hasura_jwt_auth::housekeeping::run_once(&app.state.auth).await;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM imported_refresh_tokens
         WHERE session_id = '5e550000-0000-4000-8000-000000000001'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);

    // GoTrue's session-bound scheme: the token at the session's counter.
    let bob = app.refresh(BOB_TOKEN).await;
    assert_eq!(bob.status, StatusCode::OK, "{bob:?}");
    assert_eq!(jwt_payload(str_of(&bob.body, "access_token"))["sub"], BOB);

    // The old TOTP secret still gives valid codes (verifying ends alice's other aal1
    // sessions, so this comes after the refresh checks).
    let at = str_of(&signed.body, "access_token").to_owned();
    let factor = "f0f0f0f0-0000-4000-8000-000000000001";
    super::old_totp_secret_verifies(&app, &at, factor, ALICE_TOTP).await;

    // The anonymous user stays anonymous, with the anonymous role.
    let guest: (bool, String) =
        sqlx::query_as("SELECT is_anonymous, default_role FROM users WHERE id = $1::uuid")
            .bind(GUEST)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(guest, (true, "anonymous_user".to_owned()));

    // A re-run changes nothing; a change at the source is brought over.
    let rerun = import(&app, src, false).await;
    assert_eq!(
        (rerun.imported, rerun.updated, rerun.unchanged),
        (0, 0, 3),
        "{rerun:?}"
    );
    sqlx::query(
        "UPDATE auth.users SET raw_user_meta_data = '{\"theme\": \"light\"}' WHERE id = $1::uuid",
    )
    .bind(BOB)
    .execute(src)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE auth.users SET raw_user_meta_data = '{\"theme\": \"light\"}' WHERE id = $1::uuid",
    )
    .bind(ALICE)
    .execute(src)
    .await
    .unwrap();
    let changed = import(&app, src, false).await;
    assert_eq!(
        (changed.imported, changed.updated, changed.unchanged),
        (0, 2, 1),
        "{changed:?}"
    );
    let theme: Value = sqlx::query_scalar("SELECT user_metadata FROM users WHERE id = $1::uuid")
        .bind(BOB)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(theme, json!({"theme": "light"}));
    // Alice's session ended here (stolen token): updating her does not bring it back.
    assert_eq!(changed.sessions, 0);
    let stolen = app.refresh(ALICE_REFRESH).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{stolen:?}");
    source.drop_now().await;
}
