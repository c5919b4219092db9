//! Enrolling, challenging, verifying and removing TOTP factors; the session at aal2.

use super::{authenticator, challenge, code, enroll, step_up, verify};
use crate::common::{self, hasura, jwt_payload, str_of, PASSWORD, SECRET};
use axum::http::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

fn tokens(res: &common::Response) -> (String, String) {
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    (
        str_of(&res.body, "access_token").to_owned(),
        str_of(&res.body, "refresh_token").to_owned(),
    )
}

async fn factors(app: &common::TestApp, token: &str) -> Vec<Value> {
    let res = app.call(Method::GET, "/user", Some(token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    res.body["factors"].as_array().unwrap().clone()
}

#[sqlx::test(migrations = false)]
async fn a_verified_code_raises_the_session_and_supersedes_its_refresh_token(db: PgPool) {
    let app = common::app(&db, &["--site-url", "https://app.example.com:8443"]).await;
    let (at1, rt1) = tokens(&app.signup("a@example.com").await);

    let enrolled = enroll(&app, &at1, "phone").await;
    let totp = authenticator(&enrolled);
    let body = &enrolled.body;
    assert_eq!(body["type"], "totp");
    assert_eq!(body["friendly_name"], "phone");
    assert!(
        str_of(&body["totp"], "qr_code").contains("<svg"),
        "raw SVG, as auth-js expects"
    );
    assert_eq!(str_of(&body["totp"], "secret"), totp.secret().to_base32());
    assert_eq!(totp.issuer(), Some("app.example.com"));
    assert_eq!(totp.account_name(), "a@example.com");
    let factor = str_of(body, "id").to_owned();
    let listed = factors(&app, &at1).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "unverified");
    assert_eq!(listed[0]["factor_type"], "totp");

    let res = app
        .call(
            Method::POST,
            &format!("/factors/{factor}/challenge"),
            Some(&at1),
            None,
        )
        .await;
    assert_eq!(res.body["type"], "totp");
    let expires = res.body["expires_at"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((295..=301).contains(&expires), "{expires}");

    let raised = verify(
        &app,
        &at1,
        &factor,
        str_of(&res.body, "id"),
        &code(&totp, 0),
    )
    .await;
    let (at2, rt2) = tokens(&raised);
    let payload = jwt_payload(&at2);
    assert_eq!(payload["aal"], "aal2");
    assert_eq!(
        payload["session_id"],
        jwt_payload(&at1)["session_id"],
        "the same session"
    );
    let methods: Vec<_> = payload["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["method"].clone())
        .collect();
    assert_eq!(methods, ["totp", "password"], "newest first");
    let claims = hasura::check(&at2, &hasura::hmac(SECRET), &hasura::Expect::default());
    assert_eq!(claims["x-hasura-aal"], "aal2");
    assert_eq!(raised.body["user"]["factors"][0]["status"], "verified");

    // The aal1 refresh token no longer refreshes (it cannot reach aal2), and revokes nothing.
    let old = app.refresh(&rt1).await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST, "{old:?}");
    assert_eq!(old.body["error_code"], "refresh_token_not_found");
    let (at3, _) = tokens(&app.refresh(&rt2).await);
    assert_eq!(
        jwt_payload(&at3)["aal"],
        "aal2",
        "a refresh keeps the level"
    );
}

#[sqlx::test(migrations = false)]
async fn a_code_is_accepted_once(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let (at, _) = tokens(&app.signup("a@example.com").await);
    let enrolled = enroll(&app, &at, "").await;
    let totp = authenticator(&enrolled);
    let factor = str_of(&enrolled.body, "id").to_owned();
    // Codes of fixed moments: a step boundary passing during the test changes nothing.
    let t0 = chrono::Utc::now().timestamp() as u64;
    let at_step = |steps: i64| totp.generate((t0 as i64 + steps * 30) as u64).to_string();
    let used = at_step(0);
    let first = challenge(&app, &at, &factor).await;
    let (at2, _) = tokens(&verify(&app, &at, &factor, &first, &used).await);
    // A challenge is answered once.
    let again = verify(&app, &at2, &factor, &first, &at_step(1)).await;
    assert_eq!(
        again.body["error_code"], "mfa_ip_address_mismatch",
        "{again:?}"
    );

    // The same code again, on a new challenge, from the same session or another one.
    let id = challenge(&app, &at2, &factor).await;
    let replay = verify(&app, &at2, &factor, &id, &used).await;
    assert_eq!(
        replay.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{replay:?}"
    );
    assert_eq!(replay.body["error_code"], "mfa_verification_failed");
    assert_eq!(replay.body["msg"], "Invalid TOTP code entered");
    let (other, _) = tokens(&app.sign_in("a@example.com", PASSWORD).await);
    let id = challenge(&app, &other, &factor).await;
    let replay = verify(&app, &other, &factor, &id, &used).await;
    assert_eq!(replay.body["error_code"], "mfa_verification_failed");
    // Nor a code of an earlier step; the next step's code is fine.
    let id = challenge(&app, &other, &factor).await;
    let earlier = verify(&app, &other, &factor, &id, &at_step(-1)).await;
    assert_eq!(earlier.body["error_code"], "mfa_verification_failed");
    let id = challenge(&app, &other, &factor).await;
    let next = verify(&app, &other, &factor, &id, &at_step(1)).await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT detail->>'reason' FROM audit_log WHERE event = 'mfa_verification_failed' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        reasons[..2],
        ["code_reused", "code_reused"],
        "replays are told apart"
    );
    assert_eq!(reasons.len(), 3);
}

#[sqlx::test(migrations = false)]
async fn enrolling_and_removing_need_aal2_once_a_factor_is_verified(db: PgPool) {
    let app = common::app(&db, &["--mfa-max-factors", "3"]).await;
    let (at, _) = tokens(&app.signup("a@example.com").await);
    let first = enroll(&app, &at, "one").await;
    let totp = authenticator(&first);
    let factor = str_of(&first.body, "id").to_owned();
    let conflict = enroll(&app, &at, "one").await;
    assert_eq!(conflict.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(conflict.body["error_code"], "mfa_factor_name_conflict");
    let (aal2, _) = tokens(&step_up(&app, &at, &factor, &totp, 0).await);
    let (aal1, _) = tokens(&app.sign_in("a@example.com", PASSWORD).await);

    let refused = enroll(&app, &aal1, "two").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["error_code"], "insufficient_aal");
    let refused = app
        .call(
            Method::DELETE,
            &format!("/factors/{factor}"),
            Some(&aal1),
            None,
        )
        .await;
    assert_eq!(
        refused.body["error_code"], "insufficient_aal",
        "{refused:?}"
    );

    assert_eq!(enroll(&app, &aal2, "two").await.status, StatusCode::OK);
    assert_eq!(enroll(&app, &aal2, "three").await.status, StatusCode::OK);
    let full = enroll(&app, &aal2, "four").await;
    assert_eq!(
        full.body["error_code"], "too_many_enrolled_mfa_factors",
        "{full:?}"
    );

    // Removing the factor brings the sessions it raised back to aal1.
    let removed = app
        .call(
            Method::DELETE,
            &format!("/factors/{factor}"),
            Some(&aal2),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    assert_eq!(removed.body["id"], factor.as_str());
    let (aal, amr): (i16, Value) =
        sqlx::query_as("SELECT aal, amr FROM sessions WHERE id = $1::uuid")
            .bind(str_of(&jwt_payload(&aal2), "session_id"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(aal, 1);
    assert_eq!(amr[0]["method"], "password");
    assert_eq!(amr.as_array().unwrap().len(), 1);
    let gone = app
        .call(
            Method::POST,
            &format!("/factors/{factor}/challenge"),
            Some(&aal2),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error_code"], "mfa_factor_not_found");
}

#[sqlx::test(migrations = false)]
async fn verifying_ends_the_users_aal1_sessions_and_unverified_factors_expire(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let (at, _) = tokens(&app.signup("a@example.com").await);
    let (_, other_rt) = tokens(&app.sign_in("a@example.com", PASSWORD).await);
    let stale = enroll(&app, &at, "old").await;
    sqlx::query(
        "UPDATE mfa_factors SET created_at = now() - interval '301 seconds' WHERE id = $1::uuid",
    )
    .bind(str_of(&stale.body, "id"))
    .execute(&app.pool)
    .await
    .unwrap();
    assert!(
        factors(&app, &at).await.is_empty(),
        "an unverified factor lives five minutes"
    );
    let stale_id = str_of(&stale.body, "id");
    let gone = app
        .call(
            Method::POST,
            &format!("/factors/{stale_id}/challenge"),
            Some(&at),
            None,
        )
        .await;
    assert_eq!(gone.body["error_code"], "mfa_factor_not_found");
    hasura_jwt_auth::housekeeping::run_once(&app.state.auth).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM mfa_factors")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "housekeeping removes expired unverified factors");

    let enrolled = enroll(&app, &at, "old").await;
    let totp = authenticator(&enrolled);
    let factor = str_of(&enrolled.body, "id").to_owned();
    let pending = enroll(&app, &at, "pending").await;
    assert_eq!(pending.status, StatusCode::OK);
    let (at2, _) = tokens(&step_up(&app, &at, &factor, &totp, 0).await);
    let listed = factors(&app, &at2).await;
    assert_eq!(listed.len(), 1, "other unverified factors go: {listed:?}");
    let ended = app.refresh(&other_rt).await;
    assert_eq!(
        ended.status,
        StatusCode::BAD_REQUEST,
        "the other aal1 session ended: {ended:?}"
    );

    // An expired challenge is refused and removed.
    let id = challenge(&app, &at2, &factor).await;
    sqlx::query(
        "UPDATE mfa_challenges SET created_at = now() - interval '301 seconds' WHERE id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.pool)
    .await
    .unwrap();
    let expired = verify(&app, &at2, &factor, &id, &code(&totp, 1)).await;
    assert_eq!(
        expired.body["error_code"], "mfa_challenge_expired",
        "{expired:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn secrets_are_encrypted_at_rest(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let (at, _) = tokens(&app.signup("a@example.com").await);
    let enrolled = enroll(&app, &at, "").await;
    let totp = authenticator(&enrolled);
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret FROM mfa_factors")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let raw = totp.secret().as_bytes().to_vec();
    let base32 = totp.secret().to_base32();
    assert_eq!(stored.len(), 12 + raw.len() + 16, "nonce, ciphertext, tag");
    assert!(!stored.windows(raw.len()).any(|w| w == raw.as_slice()));
    assert!(!String::from_utf8_lossy(&stored).contains(&base32));
    // Nor does any other column or table hold it.
    let dump: String = sqlx::query_scalar(
        "SELECT string_agg(t::text, ' ') FROM (SELECT row_to_json(f)::text AS t FROM mfa_factors f
         UNION ALL SELECT row_to_json(a)::text FROM audit_log a) x",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!dump.contains(&base32));

    // A ciphertext moved to another factor does not open there: the code is refused.
    let (aal2, _) = tokens(&step_up(&app, &at, str_of(&enrolled.body, "id"), &totp, 0).await);
    let second = enroll(&app, &aal2, "second").await;
    let second_id = str_of(&second.body, "id").to_owned();
    sqlx::query("UPDATE mfa_factors SET secret = $1 WHERE id = $2::uuid")
        .bind(&stored)
        .bind(&second_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let moved = step_up(&app, &aal2, &second_id, &totp, 1).await;
    assert_eq!(moved.status, StatusCode::INTERNAL_SERVER_ERROR, "{moved:?}");
    assert!(
        !moved.body.to_string().contains("decrypt"),
        "no internals: {moved:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn bad_requests_are_clear_errors(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let no_session = app
        .call(
            Method::POST,
            "/factors",
            None,
            Some(serde_json::json!({"factor_type": "totp"})),
        )
        .await;
    assert_eq!(no_session.status, StatusCode::UNAUTHORIZED);
    assert!(no_session.body["msg"]
        .as_str()
        .unwrap()
        .contains("Bearer token"));
    let (at, _) = tokens(&app.signup("a@example.com").await);
    let phone = app
        .call(
            Method::POST,
            "/factors",
            Some(&at),
            Some(serde_json::json!({"factor_type": "sms"})),
        )
        .await;
    assert_eq!(phone.body["error_code"], "validation_failed");
    let bad_issuer = app
        .call(
            Method::POST,
            "/factors",
            Some(&at),
            Some(serde_json::json!({"factor_type": "totp", "issuer": "a:b"})),
        )
        .await;
    assert_eq!(bad_issuer.body["error_code"], "validation_failed");
    let not_uuid = app
        .call(Method::POST, "/factors/nope/challenge", Some(&at), None)
        .await;
    assert_eq!(not_uuid.status, StatusCode::NOT_FOUND);
    let enrolled = enroll(&app, &at, "").await;
    let factor = str_of(&enrolled.body, "id");
    let bad_challenge = verify(&app, &at, factor, "nope", "123456").await;
    assert_eq!(bad_challenge.body["error_code"], "validation_failed");
    let unknown = verify(
        &app,
        &at,
        factor,
        &uuid::Uuid::new_v4().to_string(),
        "123456",
    )
    .await;
    assert_eq!(unknown.body["error_code"], "mfa_factor_not_found");
    let id = challenge(&app, &at, factor).await;
    let empty = verify(&app, &at, factor, &id, "").await;
    assert_eq!(empty.body["error_code"], "validation_failed");
    // From another client address than the challenge's.
    let req = axum::http::Request::post(format!("/factors/{factor}/verify"))
        .header("authorization", format!("Bearer {at}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            serde_json::json!({"challenge_id": id, "code": "123456"}).to_string(),
        ))
        .unwrap();
    let moved = app.request(common::from_peer([192, 0, 2, 7], req)).await;
    assert_eq!(
        moved.body["error_code"], "mfa_ip_address_mismatch",
        "{moved:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn an_administrator_removing_a_factor_brings_its_sessions_back_to_aal1(db: PgPool) {
    const ADMIN: &str = "admin-secret-admin-secret-admin-secret";
    let app = common::app(&db, &["--admin-secret", ADMIN]).await;
    let (at, _) = tokens(&app.signup("a@example.com").await);
    let payload = jwt_payload(&at);
    let (user, session) = (str_of(&payload, "sub"), str_of(&payload, "session_id"));
    // A session raised by a WebAuthn factor (the ceremony itself: browser.rs), and one by TOTP.
    let factor: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO mfa_factors (id, user_id, factor_type, status, webauthn_credential)
         VALUES (gen_random_uuid(), $1::uuid, 'webauthn', 'verified', '{}') RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE sessions SET aal = 2, factor_id = $2,
                amr = '[{\"method\": \"mfa/webauthn\", \"timestamp\": 2}, {\"method\": \"password\", \"timestamp\": 1}]'
         WHERE id = $1::uuid",
    )
    .bind(session)
    .bind(factor)
    .execute(&app.pool)
    .await
    .unwrap();
    let listed = app
        .call(
            Method::GET,
            &format!("/admin/users/{user}/factors"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(listed.body[0]["factor_type"], "webauthn", "{listed:?}");
    let removed = app
        .call(
            Method::DELETE,
            &format!("/admin/users/{user}/factors/{factor}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    let (aal, amr): (i16, Value) =
        sqlx::query_as("SELECT aal, amr FROM sessions WHERE id = $1::uuid")
            .bind(session)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(aal, 1);
    assert_eq!(
        amr,
        serde_json::json!([{"method": "password", "timestamp": 1}])
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'admin_factor_deleted'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}
