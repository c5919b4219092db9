//! `import nhost`: users, roles, provider identities, TOTP secrets and live refresh tokens
//! from nhost's hasura-auth (`nhost.sql`, written from its migrations as of v0.42.0), filled
//! the way the service fills them: bcrypt `$2a$10` hashes, a `user_roles` row per allowed role,
//! `user_providers` rows with the literal access token `unset`, base32 TOTP secrets, and
//! refresh tokens that are random UUIDs of which only `\x` and the hex SHA-256 are stored.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::{jwt_payload, oidc::Oidc, str_of, TestApp},
    external::{oidc_app, params, sign_in},
    migrate::Source,
};
use hasura_jwt_auth::admin::migrate;

const SCHEMA: &str = include_str!("nhost.sql");

pub(super) const ALICE: &str = "a1a1a1a1-0000-4000-8000-0000000000a1";
pub(super) const BOB: &str = "b0b0b0b0-0000-4000-8000-0000000000b0";
const CAROL: &str = "c4c4c4c4-0000-4000-8000-0000000000c4";
const GUEST: &str = "c0c0c0c0-0000-4000-8000-0000000000c0";
/// Tokens as nhost hands them out (random UUIDs), and the row each lives in.
const ALICE_TOKEN: &str = "6a8d3b74-5c1f-4e0b-9d3c-2f6e8a7b1c90";
const ALICE_DEVICE: &str = "7e000000-0000-4000-8000-0000000000a1";
const BOB_TOKEN: &str = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
const CAROL_TOKEN: &str = "11223344-5566-4778-8899-aabbccddeeff";
const GUEST_TOKEN: &str = "99887766-5544-4332-a110-ffeeddccbbaa";
const EXPIRED_TOKEN: &str = "deadbeef-0000-4000-8000-000000000000";
/// Alice's TOTP secret as nhost stores it (base32 of 32 bytes, no padding: 52 characters).
const ALICE_TOTP: &str = "AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYUCULBOGAZDINRYHI6D4QA";
const GITLAB: &str = "provider=gitlab&redirect_to=https%3A%2F%2Fapp.example.com%2Fwelcome";

/// A user as nhost's sign-up makes one: the row and a `user_roles` row per allowed role.
async fn nhost_user(db: &PgPool, id: &str, email: Option<&str>, default: &str, roles: &[&str]) {
    let hash = bcrypt::hash_with_result(format!("{id}'s old password"), 10)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    sqlx::query(
        "INSERT INTO auth.users (id, email, password_hash, email_verified, default_role,
             display_name, locale, metadata, created_at, last_seen)
         VALUES ($1::uuid, $2, $3, $2 IS NOT NULL, $4, coalesce($2, ''), 'en',
             '{\"theme\": \"dark\"}', now() - interval '30 days', now())",
    )
    .bind(id)
    .bind(email)
    .bind(&hash)
    .bind(default)
    .execute(db)
    .await
    .unwrap();
    for role in roles {
        sqlx::query("INSERT INTO auth.user_roles (user_id, role) VALUES ($1::uuid, $2)")
            .bind(id)
            .bind(role)
            .execute(db)
            .await
            .unwrap();
    }
}

/// A refresh token row as nhost writes it: `\x` and the hex SHA-256 of the token's text.
async fn token(db: &PgPool, id: Option<&str>, user: &str, token: &str, kind: &str, days: i32) {
    sqlx::query(
        "INSERT INTO auth.refresh_tokens (id, user_id, refresh_token_hash, type, expires_at)
         VALUES (coalesce($1::uuid, gen_random_uuid()), $2::uuid,
             '\\x' || encode(sha256(convert_to($3, 'UTF8')), 'hex'), $4,
             now() + make_interval(days => $5))",
    )
    .bind(id)
    .bind(user)
    .bind(token)
    .bind(kind)
    .bind(days)
    .execute(db)
    .await
    .unwrap();
}

/// alice (password, roles me and user, a GitLab identity, TOTP, a device and a personal access
/// token), bob (a device), carol (disabled), an anonymous user, and users not to import.
pub(super) async fn fill(db: &PgPool) {
    sqlx::raw_sql(SCHEMA).execute(db).await.unwrap();
    // The fill writes hashes the way nhost does: check it against a known pair first.
    let vector: String = sqlx::query_scalar(
        "SELECT '\\x' || encode(sha256(convert_to('6a8d3b74-5c1f-4e0b-9d3c-2f6e8a7b1c90', 'UTF8')), 'hex')",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(
        vector,
        "\\x67334b729dfda1db59b521fb0a0ac7a0bf85fbbe7390eacf76fd9113dc687422"
    );
    nhost_user(
        db,
        ALICE,
        Some("OldAlice@Example.com"),
        "user",
        &["me", "user"],
    )
    .await;
    sqlx::query(
        "UPDATE auth.users SET totp_secret = $1, active_mfa_type = 'totp', display_name = 'Alice'
         WHERE id = $2::uuid",
    )
    .bind(ALICE_TOTP)
    .bind(ALICE)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO auth.user_providers (user_id, access_token, provider_id, provider_user_id)
         VALUES ($1::uuid, 'unset', 'gitlab', 'oldalice')",
    )
    .bind(ALICE)
    .execute(db)
    .await
    .unwrap();
    token(db, Some(ALICE_DEVICE), ALICE, ALICE_TOKEN, "regular", 30).await;
    token(
        db,
        None,
        ALICE,
        "5a5a5a5a-0000-4000-8000-000000000001",
        "pat",
        365,
    )
    .await;
    token(db, None, ALICE, EXPIRED_TOKEN, "regular", -1).await;
    nhost_user(db, BOB, Some("bob@example.com"), "user", &["user"]).await;
    token(db, None, BOB, BOB_TOKEN, "regular", 30).await;
    nhost_user(db, CAROL, Some("carol@example.com"), "user", &["user"]).await;
    sqlx::query("UPDATE auth.users SET disabled = true WHERE id = $1::uuid")
        .bind(CAROL)
        .execute(db)
        .await
        .unwrap();
    token(db, None, CAROL, CAROL_TOKEN, "regular", 30).await;
    nhost_user(db, GUEST, None, "anonymous", &["anonymous"]).await;
    sqlx::query("UPDATE auth.users SET is_anonymous = true WHERE id = $1::uuid")
        .bind(GUEST)
        .execute(db)
        .await
        .unwrap();
    token(db, None, GUEST, GUEST_TOKEN, "regular", 30).await;
    // Not imported: phone only, a role not allowed here, an address taken here.
    nhost_user(
        db,
        "d0d0d0d0-0000-4000-8000-0000000000d0",
        None,
        "user",
        &["user"],
    )
    .await;
    sqlx::query("UPDATE auth.users SET phone_number = '+15551234567' WHERE email IS NULL AND NOT is_anonymous")
        .execute(db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO auth.roles (role) VALUES ('admin')")
        .execute(db)
        .await
        .unwrap();
    nhost_user(
        db,
        "e0e0e0e0-0000-4000-8000-0000000000e0",
        Some("root@example.com"),
        "admin",
        &["admin"],
    )
    .await;
    // nhost's own check lets this address through; this server's refuses it.
    nhost_user(
        db,
        "f1f1f1f1-0000-4000-8000-0000000000f1",
        Some("admin@localhost"),
        "user",
        &["user"],
    )
    .await;
    nhost_user(
        db,
        "f0f0f0f0-0000-4000-8000-0000000000f0",
        Some("taken@example.com"),
        "user",
        &["user"],
    )
    .await;
}

async fn import(app: &TestApp, source: &PgPool, dry_run: bool) -> migrate::Report {
    super::import(app, migrate::Origin::Nhost, source, dry_run).await
}

#[sqlx::test(migrations = false)]
async fn users_roles_identities_totp_and_devices_move_in_without_a_sign_in(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("gitlab"), &[]).await;
    app.signup("taken@example.com").await;
    let source = Source::create(&db, "nhost").await;
    fill(&source.pool).await;
    let src = &source.pool;

    let dry = import(&app, src, true).await;
    assert_eq!(
        (dry.imported, dry.sessions, dry.factors),
        (4, 4, 1),
        "{dry:?}"
    );
    let mut reasons: Vec<&str> = dry.skipped.iter().map(|(_, why)| why.as_str()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].starts_with("address refused"), "{reasons:?}");
    assert!(reasons[1].starts_with("duplicate address"), "{reasons:?}");
    assert!(reasons[2].starts_with("no email address"), "{reasons:?}");
    assert!(reasons[3].contains("role admin"), "{reasons:?}");
    let pat = dry.notes.iter().find(|(user, _)| user == ALICE);
    assert!(
        pat.is_some_and(|(_, what)| what.contains("1 personal access token")),
        "{:?}",
        dry.notes
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "a dry run writes nothing");

    let report = import(&app, src, false).await;
    assert_eq!(
        (
            report.imported,
            report.updated,
            report.unchanged,
            report.identities
        ),
        (4, 0, 0, 1),
        "{report:?}"
    );
    signs_in_as_before(&app).await;
    refreshes_once_then_ours(&app).await;
    the_old_totp_secret_still_works(&app).await;

    let rerun = import(&app, src, false).await;
    assert_eq!(
        (
            rerun.imported,
            rerun.updated,
            rerun.unchanged,
            rerun.sessions
        ),
        (0, 0, 4, 0),
        "{rerun:?}"
    );
    a_refresh_there_before_the_switch_is_carried_over(&app, src).await;
    source.drop_now().await;
}

/// The same id, the old password, the roles of `user_roles`, the profile; the old identity.
async fn signs_in_as_before(app: &TestApp) {
    let signed = app
        .sign_in("oldalice@example.com", &format!("{ALICE}'s old password"))
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{signed:?}");
    let claims = jwt_payload(str_of(&signed.body, "access_token"));
    assert_eq!(claims["sub"], ALICE);
    let hasura = &claims["https://hasura.io/jwt/claims"];
    assert_eq!(hasura["x-hasura-default-role"], "user");
    assert_eq!(hasura["x-hasura-allowed-roles"], json!(["me", "user"]));
    assert_eq!(
        signed.body["user"]["user_metadata"],
        json!({"theme": "dark", "display_name": "Alice", "locale": "en"})
    );
    let location = sign_in(app, GITLAB, "oldalice").await;
    let token = params(&location, '#')["access_token"].clone();
    assert_eq!(jwt_payload(&token)["sub"], ALICE);
}

/// Each device's token refreshes once, then ours rotate; reuse, expiry, a disabled user and an
/// anonymous one are what they were.
async fn refreshes_once_then_ours(app: &TestApp) {
    let first = app.refresh(ALICE_TOKEN).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let claims = jwt_payload(str_of(&first.body, "access_token"));
    assert_eq!(claims["session_id"], ALICE_DEVICE);
    let again = app.refresh(ALICE_TOKEN).await;
    assert_eq!(again.body["error_code"], "refresh_token_already_used");
    let ours = app.refresh(str_of(&first.body, "refresh_token")).await;
    assert_eq!(ours.status, StatusCode::OK, "{ours:?}");
    sqlx::query(
        "UPDATE imported_refresh_tokens SET used_at = now() - interval '1 hour'
         WHERE session_id = $1::uuid",
    )
    .bind(ALICE_DEVICE)
    .execute(&app.pool)
    .await
    .unwrap();
    let stolen = app.refresh(ALICE_TOKEN).await;
    assert_eq!(stolen.body["error_code"], "refresh_token_already_used");
    let after = app.refresh(str_of(&ours.body, "refresh_token")).await;
    assert_eq!(
        after.status,
        StatusCode::BAD_REQUEST,
        "theft ends the session"
    );

    for (token, code) in [
        (EXPIRED_TOKEN, "refresh_token_not_found"),
        (CAROL_TOKEN, "user_banned"),
    ] {
        let refused = app.refresh(token).await;
        assert_eq!(refused.body["error_code"], code, "{refused:?}");
    }
    // Bob's token expires after the import: refused, as nhost would have refused it.
    sqlx::query(
        "UPDATE imported_refresh_tokens SET expires_at = now() - interval '1 second'
         WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1::uuid)",
    )
    .bind(BOB)
    .execute(&app.pool)
    .await
    .unwrap();
    let late = app.refresh(BOB_TOKEN).await;
    assert_eq!(late.body["error_code"], "refresh_token_not_found");
    let guest = app.refresh(GUEST_TOKEN).await;
    let claims = jwt_payload(str_of(&guest.body, "access_token"));
    assert_eq!(claims["is_anonymous"], true);
    let hasura = &claims["https://hasura.io/jwt/claims"];
    assert_eq!(hasura["x-hasura-default-role"], "anonymous_user");
}

/// Bob's device refreshed at nhost after the import (its row rotated in place, a new expiry):
/// after a re-run its new token continues the session here once, and the old one is then a
/// reuse.
async fn a_refresh_there_before_the_switch_is_carried_over(app: &TestApp, src: &PgPool) {
    let newer = "0a0b0c0d-1111-4222-8333-444455556666";
    sqlx::query(
        "UPDATE auth.refresh_tokens
         SET refresh_token_hash = '\\x' || encode(sha256(convert_to($1, 'UTF8')), 'hex'),
             expires_at = now() + interval '30 days'
         WHERE user_id = $2::uuid",
    )
    .bind(newer)
    .bind(BOB)
    .execute(src)
    .await
    .unwrap();
    let run = import(app, src, false).await;
    assert_eq!((run.updated, run.sessions), (1, 0), "{run:?}");
    let carried = app.refresh(newer).await;
    assert_eq!(carried.status, StatusCode::OK, "{carried:?}");
    assert_eq!(
        jwt_payload(str_of(&carried.body, "access_token"))["sub"],
        BOB
    );
    let older = app.refresh(BOB_TOKEN).await;
    assert_eq!(older.body["error_code"], "refresh_token_already_used");
}

/// The secret from the old authenticator app gives codes this server accepts.
async fn the_old_totp_secret_still_works(app: &TestApp) {
    let signed = app
        .sign_in("oldalice@example.com", &format!("{ALICE}'s old password"))
        .await;
    let at = str_of(&signed.body, "access_token").to_owned();
    let user = app.call(Method::GET, "/user", Some(&at), None).await;
    let factors = user.body["factors"].as_array().cloned().unwrap_or_default();
    assert_eq!(factors.len(), 1, "{user:?}");
    let factor = str_of(&factors[0], "id").to_owned();
    super::old_totp_secret_verifies(app, &at, &factor, ALICE_TOTP).await;
}
