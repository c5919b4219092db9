//! Passkeys over HTTP: settings, what needs a session or a second factor, limits. (The
//! ceremonies with an authenticator: `browser.rs`, Chromium's virtual authenticator.)

use crate::{
    common::{self, str_of, PASSWORD, SECRET},
    mfa::{authenticator, enroll, step_up},
};
use axum::http::{Method, StatusCode};
use hasura_jwt_auth::{auth::passkeys::Passkeys, config::Config};
use sqlx::PgPool;

mod pages;

const ON: [&str; 4] = [
    "--webauthn-rp-id",
    "example.com",
    "--webauthn-origins",
    "https://app.example.com,https://example.com",
];

#[test]
fn start_up_refuses_settings_that_do_not_fit() {
    let config = |extra: &[&str]| {
        let mut args = vec!["--jwt-secret", SECRET];
        args.extend_from_slice(extra);
        Config::from_args(args).unwrap()
    };
    assert!(
        Passkeys::from_config(&config(&[])).unwrap().is_none(),
        "off without a relying party"
    );
    assert!(Passkeys::from_config(&config(&ON)).unwrap().is_some());
    let elsewhere = [
        "--webauthn-rp-id",
        "example.com",
        "--webauthn-origins",
        "https://example.org",
    ];
    let err = Passkeys::from_config(&config(&elsewhere))
        .unwrap_err()
        .to_string();
    assert!(err.contains("AUTH_WEBAUTHN_ORIGINS"), "{err}");
    // The default origins (the site and public URLs, here 127.0.0.1) are not on example.com.
    let defaults = ["--webauthn-rp-id", "example.com"];
    assert!(Passkeys::from_config(&config(&defaults)).is_err());
    let site = [
        "--webauthn-rp-id",
        "example.com",
        "--site-url",
        "https://app.example.com",
        "--public-url",
        "https://auth.example.com",
    ];
    assert!(Passkeys::from_config(&config(&site)).unwrap().is_some());
}

#[sqlx::test(migrations = false)]
async fn passkeys_are_off_without_a_relying_party(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let res = app
        .post("/passkeys/authentication/options", serde_json::json!({}))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{res:?}");
    let signed_up = app.signup("a@example.com").await;
    let at = str_of(&signed_up.body, "access_token");
    let factor = serde_json::json!({"factor_type": "webauthn"});
    let res = app
        .call(Method::POST, "/factors", Some(at), Some(factor))
        .await;
    assert_eq!(
        res.status,
        StatusCode::NOT_FOUND,
        "no WebAuthn factor either: {res:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn registering_needs_a_session_aal2_with_a_factor_and_room(db: PgPool) {
    let app = common::app(&db, &ON).await;
    let none = app
        .call(Method::POST, "/passkeys/registration/options", None, None)
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let signed_up = app.signup("a@example.com").await;
    let at = str_of(&signed_up.body, "access_token").to_owned();
    let begun = app
        .call(
            Method::POST,
            "/passkeys/registration/options",
            Some(&at),
            None,
        )
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{begun:?}");
    let options = &begun.body["options"];
    assert_eq!(options["rp"]["id"], "example.com");
    assert_eq!(
        options["authenticatorSelection"]["residentKey"], "required",
        "discoverable"
    );
    assert_eq!(options["user"]["name"], "a@example.com");
    // A ceremony works once.
    let id = begun.body["challenge_id"].clone();
    let made_up = serde_json::json!({"challenge_id": id, "credential": {"id": "x"}});
    let first = app
        .call(
            Method::POST,
            "/passkeys/registration/verify",
            Some(&at),
            Some(made_up.clone()),
        )
        .await;
    assert_eq!(
        first.body["error_code"], "webauthn_verification_failed",
        "{first:?}"
    );
    let again = app
        .call(
            Method::POST,
            "/passkeys/registration/verify",
            Some(&at),
            Some(made_up),
        )
        .await;
    assert_eq!(
        again.body["error_code"], "webauthn_challenge_not_found",
        "{again:?}"
    );

    // With a verified factor, only from aal2.
    let enrolled = enroll(&app, &at, "").await;
    let totp = authenticator(&enrolled);
    let raised = step_up(&app, &at, str_of(&enrolled.body, "id"), &totp, 0).await;
    let aal2 = str_of(&raised.body, "access_token").to_owned();
    let aal1 = str_of(
        &app.sign_in("a@example.com", PASSWORD).await.body,
        "access_token",
    )
    .to_owned();
    let refused = app
        .call(
            Method::POST,
            "/passkeys/registration/options",
            Some(&aal1),
            None,
        )
        .await;
    assert_eq!(
        refused.body["error_code"], "insufficient_aal",
        "{refused:?}"
    );
    // At most ten.
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, credential)
         SELECT gen_random_uuid(), id, decode(md5(random()::text), 'hex'), '{}'::jsonb FROM users, generate_series(1, 10)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let full = app
        .call(
            Method::POST,
            "/passkeys/registration/options",
            Some(&aal2),
            None,
        )
        .await;
    assert_eq!(full.body["error_code"], "too_many_passkeys", "{full:?}");
}

#[sqlx::test(migrations = false)]
async fn passkey_sign_ins_count_against_the_address_limit(db: PgPool) {
    let mut args = ON.to_vec();
    args.extend(["--rate-limit-sign-in", "2"]);
    let app = common::app(&db, &args).await;
    let ask = || {
        let req = axum::http::Request::post("/passkeys/authentication/options")
            .body(axum::body::Body::empty())
            .unwrap();
        app.request(common::from_peer([192, 0, 2, 9], req))
    };
    assert_eq!(ask().await.status, StatusCode::OK);
    assert_eq!(ask().await.status, StatusCode::OK);
    let third = ask().await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "{third:?}");
    assert!(third.headers.contains_key("retry-after"));
}
