//! Pre-account takeover: someone signs up first with another person's address and sets the
//! account up (a password, sessions, an identity of their own, an email change under way).
//! When the owner proves the address, by any way there is (a provider that verified it, a
//! sign-in link, a code, recovery, a confirmation link), none of it may survive.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    common::{self, oidc::Oidc, smtp::Smtp, str_of, TestApp},
    email::{clear_send_limits, follow, mail_app, params},
    external::{oidc_app, sign_in, WELCOME},
};

const VICTIM: &str = "victim@example.com";
const SQUATTER_PASSWORD: &str = "squatter password";

/// What the squatter set up in the account made with the victim's address.
struct Squatted {
    user_id: String,
    refresh_token: String,
    /// The link confirming the squatter's email change (to the squatter's own address).
    change_link: Option<String>,
}

/// Links an identity to `user_id` as a provider would have: `email` verified or not.
async fn add_identity(app: &TestApp, user_id: &str, subject: &str, email: &str, verified: bool) {
    sqlx::query(
        "INSERT INTO identities (id, user_id, provider, provider_id, identity_data, email)
         VALUES (gen_random_uuid(), $1::uuid, 'acme', $2, $3, $4)",
    )
    .bind(user_id)
    .bind(subject)
    .bind(json!({"sub": subject, "email": email, "email_verified": verified}))
    .bind(email)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// With confirmation off (the default), the squatter signs up with the victim's address, is
/// signed in at once, links two provider accounts of their own (one that verified the
/// squatter's own address, one that verified nothing) and starts moving the account to an
/// address of theirs.
async fn squat(app: &TestApp, smtp: Option<&Smtp>) -> Squatted {
    let s = app
        .post(
            "/signup",
            json!({"email": VICTIM, "password": SQUATTER_PASSWORD}),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{s:?}");
    let user_id = str_of(&s.body["user"], "id").to_owned();
    add_identity(app, &user_id, "squatter-1", "squatter@example.com", true).await;
    add_identity(app, &user_id, "squatter-2", VICTIM, false).await;
    let at = str_of(&s.body, "access_token");
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"email": "squatter@example.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let change_link = match smtp {
        Some(smtp) => Some(smtp.wait("squatter@example.com", 1).await.link()),
        None => None,
    };
    clear_send_limits(app).await;
    Squatted {
        user_id,
        refresh_token: str_of(&s.body, "refresh_token").to_owned(),
        change_link,
    }
}

/// Nothing the squatter set up works any more; `owner` (the proof's session) is the same
/// account, with only identities that verified the victim's address.
async fn assert_nothing_survives(app: &TestApp, squatted: &Squatted, owner: &Value) {
    assert_eq!(owner["id"], squatted.user_id.as_str(), "the same account");
    let res = app.sign_in(VICTIM, SQUATTER_PASSWORD).await;
    assert_eq!(res.body["error_code"], "invalid_credentials", "{res:?}");
    let res = app.refresh(&squatted.refresh_token).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let subjects: Vec<String> = sqlx::query_scalar(
        "SELECT provider_id FROM identities WHERE user_id = $1::uuid ORDER BY provider_id",
    )
    .bind(&squatted.user_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        subjects.iter().all(|s| !s.starts_with("squatter")),
        "{subjects:?}"
    );
    assert!(owner.get("new_email").is_none(), "{owner}");
    let (verified, change): (bool, Option<String>) = sqlx::query_as(
        "SELECT email_verified_at IS NOT NULL, email_change FROM users WHERE id = $1::uuid",
    )
    .bind(&squatted.user_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(verified);
    assert_eq!(change, None);
    if let Some(link) = &squatted.change_link {
        let p = params(&follow(app, link).await, '#');
        assert_eq!(
            p["error_code"], "otp_expired",
            "the change went with the proof"
        );
    }
    let sessions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = $1::uuid")
            .bind(&squatted.user_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(sessions, 1, "only the owner's session");
}

async fn me(app: &TestApp, access_token: &str) -> Value {
    let res = app
        .call(Method::GET, "/user", Some(access_token), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    res.body
}

#[sqlx::test(migrations = false)]
async fn a_sign_in_link_removes_what_the_squatter_set_up(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    let squatted = squat(&app, Some(&smtp)).await;
    app.post("/otp", json!({"email": VICTIM})).await;
    let mail = smtp.wait(VICTIM, 2).await;
    let p = params(&follow(&app, &mail.link()).await, '#');
    let owner = me(&app, &p["access_token"]).await;
    assert_nothing_survives(&app, &squatted, &owner).await;
    let proof: Value = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE event = 'email_confirmed' AND user_id = $1::uuid",
    )
    .bind(&squatted.user_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(proof["by"], "magiclink");
    assert_eq!(proof["password_removed"], true);
    assert_eq!(proof["identities_removed"], 2);
    assert_eq!(proof["email_change_dropped"], true);
}

#[sqlx::test(migrations = false)]
async fn a_code_removes_what_the_squatter_set_up(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    let squatted = squat(&app, Some(&smtp)).await;
    app.post("/otp", json!({"email": VICTIM})).await;
    let mail = smtp.wait(VICTIM, 2).await;
    let res = app
        .post(
            "/verify",
            json!({"type": "email", "email": VICTIM, "token": mail.code()}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_nothing_survives(&app, &squatted, &res.body["user"]).await;
}

#[sqlx::test(migrations = false)]
async fn recovery_removes_what_the_squatter_set_up(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    let squatted = squat(&app, Some(&smtp)).await;
    app.post("/recover", json!({"email": VICTIM})).await;
    let mail = smtp.wait(VICTIM, 2).await;
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert_eq!(p["type"], "recovery");
    let owner = me(&app, &p["access_token"]).await;
    assert_nothing_survives(&app, &squatted, &owner).await;
    // The owner sets their own password.
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&p["access_token"]),
            Some(json!({"password": "the owner's password"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        app.sign_in(VICTIM, "the owner's password").await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn a_provider_that_verified_the_address_removes_what_the_squatter_set_up(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let squatted = squat(&app, None).await;
    // "victim" at the provider has victim@example.com, verified.
    let location = sign_in(&app, WELCOME, "victim").await;
    let owner = me(&app, &params(&location, '#')["access_token"]).await;
    assert_nothing_survives(&app, &squatted, &owner).await;
    let subjects: Vec<&str> = owner["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [squatted.user_id.as_str(), "victim"],
        "email, acme"
    );
}

/// With confirmation required the squatter cannot sign in, but whatever the account holds
/// before its confirmation goes all the same, except the one password a confirmation
/// activates: that of the only sign-up made for the address.
#[sqlx::test(migrations = false)]
async fn a_confirmation_link_removes_what_was_set_up_before_it(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    let res = app
        .post(
            "/signup",
            json!({"email": VICTIM, "password": common::PASSWORD}),
        )
        .await;
    let user_id = str_of(&res.body, "id").to_owned();
    smtp.wait(VICTIM, 1).await;
    // Identities that never verified this address (left by an earlier setting, an import).
    add_identity(&app, &user_id, "squatter-1", "squatter@example.com", true).await;
    add_identity(&app, &user_id, "squatter-2", VICTIM, false).await;
    add_identity(&app, &user_id, "owner-1", VICTIM, true).await;
    clear_send_limits(&app).await;
    app.post("/resend", json!({"type": "signup", "email": VICTIM}))
        .await;
    let mail = smtp.wait(VICTIM, 2).await;
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert_eq!(p["type"], "signup");
    let owner = me(&app, &p["access_token"]).await;
    let subjects: Vec<&str> = owner["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["provider"] == "acme")
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["owner-1"],
        "only the identity that verified this address"
    );
    assert_eq!(
        app.sign_in(VICTIM, common::PASSWORD).await.status,
        StatusCode::OK,
        "the sign-up's password is the one the confirmation activates"
    );
}

/// With confirmation required, a second sign-up for an unconfirmed address answers as the
/// first did, sends the confirmation again, and sets no password: whichever message is
/// followed, neither caller's password is activated, and the one who proves the address
/// chooses one.
#[sqlx::test(migrations = false)]
async fn a_second_sign_up_never_sets_the_password_a_confirmation_activates(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    let owner = app
        .post(
            "/signup",
            json!({"email": VICTIM, "password": "the owner's password"}),
        )
        .await;
    smtp.wait(VICTIM, 1).await;
    clear_send_limits(&app).await;
    let attacker = app
        .post(
            "/signup",
            json!({"email": VICTIM, "password": SQUATTER_PASSWORD}),
        )
        .await;
    assert_eq!(owner.status, attacker.status);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&owner.body), keys(&attacker.body));
    let newest = smtp.wait(VICTIM, 2).await;
    let p = params(&follow(&app, &newest.link()).await, '#');
    assert!(p.contains_key("access_token"), "{p:?}");
    for password in [SQUATTER_PASSWORD, "the owner's password"] {
        let res = app.sign_in(VICTIM, password).await;
        assert_eq!(res.body["error_code"], "invalid_credentials", "{password}");
    }
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&p["access_token"]),
            Some(json!({"password": "chosen after the proof"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        app.sign_in(VICTIM, "chosen after the proof").await.status,
        StatusCode::OK
    );
}

/// A sign-up for a taken address answers with a made-up user that looks like a real one,
/// down to the precision of its times.
#[sqlx::test(migrations = false)]
async fn a_taken_address_answers_like_a_free_one(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    let real = app
        .post(
            "/signup",
            json!({"email": VICTIM, "password": common::PASSWORD}),
        )
        .await;
    clear_send_limits(&app).await;
    let made_up = app
        .post(
            "/signup",
            json!({"email": VICTIM, "password": common::PASSWORD}),
        )
        .await;
    let fraction = |v: &Value, key: &str| {
        let t = str_of(v, key).trim_end_matches('Z');
        t.split_once('.').map_or(0, |(_, f)| f.len())
    };
    for body in [&real.body, &made_up.body] {
        for key in ["created_at", "updated_at"] {
            assert!(fraction(body, key) <= 6, "{key} of {body}");
        }
    }
    assert_ne!(real.body["id"], made_up.body["id"]);
}

/// What the squatter left ready to use later goes with the proof too: an authorization code
/// not yet exchanged (from a PKCE sign-in), a provider link under way, and links sent before
/// (here a recovery the squatter asked for).
#[sqlx::test(migrations = false)]
async fn codes_links_and_messages_from_before_the_proof_go_with_it(db: PgPool) {
    use hasura_jwt_auth::{
        auth::{email::pkce::Challenge, external::StartExternal},
        client::Client,
        secret::Secret,
    };
    let smtp = Smtp::start();
    let oidc = Oidc::start().await;
    let app = mail_app(
        &db,
        &smtp,
        &["--oidc-providers", &oidc.providers_setting("acme")],
    )
    .await;
    let squatted = squat(&app, Some(&smtp)).await;
    let auth = &app.state.auth;
    let verifier = "a-code-verifier-of-the-squatter-0123456789-abcdefghij";
    let challenge = Challenge::from_request(Some(verifier.into()), Some("plain".into()))
        .unwrap()
        .unwrap();
    let code: Secret = auth
        .sign_in_for_code(
            VICTIM,
            &Secret::new(SQUATTER_PASSWORD.to_owned()),
            &challenge,
            &Client::default(),
        )
        .await
        .unwrap();
    let user_id = uuid::Uuid::parse_str(&squatted.user_id).unwrap();
    let start = StartExternal {
        provider: "acme",
        redirect_to: None,
        scopes: &[],
        challenge: Some(challenge.clone()),
        browser_secret: "the-squatter-s-browser",
        link_to: Some((user_id, uuid::Uuid::new_v4())),
    };
    auth.start_external(start, &Client::default())
        .await
        .unwrap();
    app.post("/recover", json!({"email": VICTIM})).await;
    let recovery = smtp.wait(VICTIM, 1).await;
    clear_send_limits(&app).await;

    // The owner proves the address with a sign-in link.
    app.post("/otp", json!({"email": VICTIM})).await;
    let mail = smtp.wait(VICTIM, 2).await;
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert!(p.contains_key("access_token"), "{p:?}");

    let res = app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code.expose(), "code_verifier": verifier}),
        )
        .await;
    assert_eq!(res.body["error_code"], "flow_state_not_found", "{res:?}");
    let links: i64 =
        sqlx::query_scalar("SELECT count(*) FROM oauth_states WHERE link_user_id = $1")
            .bind(user_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(links, 0, "the link under way is gone");
    let p = params(&follow(&app, &recovery.link()).await, '#');
    assert_eq!(
        p["error_code"], "otp_expired",
        "the earlier recovery link is void"
    );
}

/// A password sign-in whose check began before the proof removed the password opens no
/// session after it: the proof's transaction holds the password row while the sign-in waits.
#[sqlx::test(migrations = false)]
async fn a_sign_in_racing_the_proof_opens_no_session(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app
        .post(
            "/signup",
            json!({"email": VICTIM, "password": SQUATTER_PASSWORD}),
        )
        .await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    // The proof, under way: the password removed, not yet committed.
    let mut proof = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1::uuid FOR NO KEY UPDATE")
        .bind(&user_id)
        .execute(&mut *proof)
        .await
        .unwrap();
    sqlx::query("DELETE FROM user_passwords WHERE user_id = $1::uuid")
        .bind(&user_id)
        .execute(&mut *proof)
        .await
        .unwrap();
    let auth = app.state.auth.clone();
    let racing = tokio::spawn(async move {
        auth.sign_in(
            VICTIM,
            &hasura_jwt_auth::secret::Secret::new(SQUATTER_PASSWORD.to_owned()),
            None,
            &hasura_jwt_auth::client::Client::default(),
        )
        .await
        .map(|_| ())
    });
    // The sign-in has checked the (still committed) password and waits for the row.
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE NOT granted")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    proof.commit().await.unwrap();
    let refused = racing.await.unwrap().unwrap_err();
    assert_eq!(refused.code.as_str(), "invalid_credentials");
    assert_eq!(
        app.session_count(&user_id).await,
        1,
        "only the sign-up's session"
    );
}

/// A confirmation's code typed where a sign-in code is asked for (`type` `email`) proves the
/// address but activates no password: only a confirmation followed as one does.
#[sqlx::test(migrations = false)]
async fn a_confirmation_code_used_as_a_sign_in_code_keeps_no_password(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    app.post(
        "/signup",
        json!({"email": VICTIM, "password": SQUATTER_PASSWORD}),
    )
    .await;
    let mail = smtp.wait(VICTIM, 1).await;
    let res = app
        .post(
            "/verify",
            json!({"type": "email", "email": VICTIM, "token": mail.code()}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let res = app.sign_in(VICTIM, SQUATTER_PASSWORD).await;
    assert_eq!(res.body["error_code"], "invalid_credentials", "{res:?}");
}
