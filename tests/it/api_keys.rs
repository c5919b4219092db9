//! API keys: made with a subset of the user's roles (in an organization too), shown once,
//! presented to the webhook (GET and POST, on any instance) or exchanged for an access token;
//! refused the moment they are revoked or rotated, once expired, past their rate limit, or
//! when none of their roles is the user's any more.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    cache::{instance, wait_until},
    common::{self, jwt_payload, str_of, TestApp, PASSWORD},
    mfa::{authenticator, enroll, step_up},
    organizations::{add_member, create, user_id},
};

/// The webhook's answer for `key` (GET, or POST with the headers in the body), asking for
/// `role` if given.
async fn hook(app: &TestApp, key: &str, role: Option<&str>, post: bool) -> (StatusCode, Value) {
    let bearer = format!("Bearer {key}");
    let res = if post {
        let mut headers = json!({"Authorization": bearer});
        if let Some(role) = role {
            headers["X-Hasura-Role"] = json!(role);
        }
        app.post(
            "/hasura/webhook",
            json!({"headers": headers, "request": {}}),
        )
        .await
    } else {
        let mut req = axum::http::Request::get("/hasura/webhook").header("authorization", bearer);
        if let Some(role) = role {
            req = req.header("x-hasura-role", role);
        }
        app.request(req.body(axum::body::Body::empty()).unwrap())
            .await
    };
    (res.status, res.body)
}

async fn make_key(app: &TestApp, token: &str, body: Value) -> common::Response {
    app.call(Method::POST, "/api-keys", Some(token), Some(body))
        .await
}

#[sqlx::test(migrations = false)]
async fn keys_act_for_their_user_and_stop_at_once_when_revoked(db: PgPool) {
    // `a` manages keys; `b`, another instance, answers Hasura and hears every change.
    let a = instance(&db).await;
    let b = instance(&db).await;
    let ann = str_of(&a.signup("ann@example.com").await.body, "access_token").to_owned();
    let ann_id = user_id(&ann);
    let org = str_of(&create(&a, &ann, json!({"name": "Acme"})).await.body, "id").to_owned();

    // Roles are among the caller's, the organization one of theirs.
    let res = make_key(&a, &ann, json!({"name": "x", "roles": ["admin"]})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let stranger = uuid::Uuid::new_v4().to_string();
    let res = make_key(&a, &ann, json!({"name": "x", "organization_id": stranger})).await;
    assert_eq!(res.body["error_code"], "organization_not_found", "{res:?}");

    let body = json!({"name": "ci", "roles": ["org_member"], "organization_id": org,
                      "expires_in": 3600});
    let made = make_key(&a, &ann, body.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let key = str_of(&made.body, "api_key").to_owned();
    assert!(key.starts_with("hja_"), "{key}");
    let key_id = str_of(&made.body, "id").to_owned();
    assert_eq!(
        make_key(&a, &ann, body).await.body["error_code"],
        "api_key_name_taken"
    );
    // Listed, never with the secret; only a hash is stored.
    let listed = a.call(Method::GET, "/api-keys", Some(&ann), None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert!(listed.body[0].get("api_key").is_none(), "{listed:?}");
    assert_eq!(listed.body[0]["roles"], json!(["org_member"]));
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_hash FROM api_keys")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);

    // Through the webhook of either instance, GET and POST: the key's roles only.
    for post in [false, true] {
        let (status, vars) = hook(&b, &key, None, post).await;
        assert_eq!(status, StatusCode::OK, "{vars}");
        assert_eq!(vars["X-Hasura-Role"], "org_member");
        assert_eq!(vars["X-Hasura-User-Id"], ann_id.as_str());
        assert_eq!(vars["x-hasura-org-id"], org.as_str());
        assert_eq!(vars["x-hasura-api-key-id"], key_id.as_str());
        assert!(vars["Expires"].is_string(), "{vars}");
        let (status, _) = hook(&b, &key, Some("user"), post).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a role the key does not have"
        );
    }
    let forged = format!("{}A", &key[..key.len() - 1]);
    let forged = if forged == key {
        format!("{}B", &key[..key.len() - 1])
    } else {
        forged
    };
    assert_eq!(
        hook(&b, &forged, None, false).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Exchanged for an access token for Hasura's JWT mode (which this server refuses itself).
    let res = a
        .post("/token?grant_type=api_key", json!({"api_key": key}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body.get("refresh_token").is_none());
    let access = str_of(&res.body, "access_token").to_owned();
    let claims = &jwt_payload(&access)["https://hasura.io/jwt/claims"];
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["org_member"]));
    assert_eq!(claims["x-hasura-default-role"], "org_member");
    assert_eq!(claims["x-hasura-org-id"], org.as_str());
    assert_eq!(claims["x-hasura-user-id"], ann_id.as_str());
    let me = a.call(Method::GET, "/user", Some(&access), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{me:?}");

    // Rotated: the old secret is refused at once on the other instance, the new one works.
    let path = format!("/api-keys/{key_id}");
    let rotated = a
        .call(Method::POST, &format!("{path}/rotate"), Some(&ann), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let new_key = str_of(&rotated.body, "api_key").to_owned();
    wait_until("the rotation", || async {
        hook(&b, &key, None, false).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(hook(&b, &new_key, None, false).await.0, StatusCode::OK);

    // Revoked: refused at once on the other instance, which had it in its cache.
    assert_eq!(hook(&b, &new_key, None, false).await.0, StatusCode::OK);
    let res = a.call(Method::DELETE, &path, Some(&ann), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let took = wait_until("the revocation", || async {
        hook(&b, &new_key, None, false).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(took.as_millis() < 1000, "{took:?}");
    let res = a
        .post("/token?grant_type=api_key", json!({"api_key": new_key}))
        .await;
    assert_eq!(res.body["error_code"], "invalid_api_key", "{res:?}");
    assert_eq!(
        a.call(Method::DELETE, &path, Some(&ann), None).await.status,
        StatusCode::NOT_FOUND
    );

    let events: Vec<String> =
        sqlx::query_scalar("SELECT event FROM audit_log WHERE event LIKE 'api_key_%' ORDER BY id")
            .fetch_all(&a.pool)
            .await
            .unwrap();
    assert_eq!(
        events,
        ["api_key_created", "api_key_rotated", "api_key_revoked"]
    );
}

#[sqlx::test(migrations = false)]
async fn keys_follow_their_user_expire_and_are_limited(db: PgPool) {
    let app = common::app(&db, &["--api-key-rate-limit", "5"]).await;
    let ann = str_of(&app.signup("ann@example.com").await.body, "access_token").to_owned();
    let bob = str_of(&app.signup("bob@example.com").await.body, "access_token").to_owned();
    let org = str_of(
        &create(&app, &ann, json!({"name": "Acme"})).await.body,
        "id",
    )
    .to_owned();
    add_member(&app, &org, &user_id(&bob), &["org_member"]).await;
    let made = make_key(&app, &bob, json!({"name": "org", "organization_id": org})).await;
    assert_eq!(
        made.body["roles"],
        json!(["user", "org_member"]),
        "{made:?}"
    );
    let key = str_of(&made.body, "api_key").to_owned();
    let (status, vars) = hook(&app, &key, Some("org_member"), false).await;
    assert_eq!(status, StatusCode::OK, "{vars}");

    // Removed from the organization: its roles and id are gone from the key at once.
    let member = format!("/organizations/{org}/members/{}", user_id(&bob));
    app.call(Method::DELETE, &member, Some(&ann), None).await;
    let (status, _) = hook(&app, &key, Some("org_member"), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, vars) = hook(&app, &key, None, false).await;
    assert_eq!(
        (status, vars["X-Hasura-Role"].as_str()),
        (StatusCode::OK, Some("user"))
    );
    assert!(vars.get("x-hasura-org-id").is_none(), "{vars}");

    // Past its rate limit (5 a minute, shared through the database): 429.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(hook(&app, &key, None, false).await.0);
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // Expired: refused.
    let short = make_key(&app, &bob, json!({"name": "short", "expires_in": 60})).await;
    assert_eq!(
        short.headers["cache-control"], "no-store",
        "a secret is never cached"
    );
    let short_key = str_of(&short.body, "api_key").to_owned();
    let (status, vars) = hook(&app, &short_key, None, false).await;
    assert_eq!(
        (status, vars["x-hasura-aal"].as_str()),
        (StatusCode::OK, Some("aal1"))
    );
    // Its access token never outlives it (the usual lifetime is 15 minutes).
    let token = app
        .post("/token?grant_type=api_key", json!({"api_key": short_key}))
        .await;
    let exp = jwt_payload(str_of(&token.body, "access_token"))["exp"]
        .as_i64()
        .unwrap();
    assert!(exp <= chrono::Utc::now().timestamp() + 60, "{exp}");
    assert!(token.body["expires_in"].as_u64().unwrap() <= 60);
    sqlx::query(
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE name = 'short'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let res = app
        .post("/token?grant_type=api_key", json!({"api_key": short_key}))
        .await;
    assert_eq!(res.body["error_code"], "invalid_api_key", "{res:?}");

    // A banned user's keys stop too.
    sqlx::query("UPDATE users SET banned_until = '9999-12-31' WHERE email = 'bob@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app
        .post("/token?grant_type=api_key", json!({"api_key": key}))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
}

#[sqlx::test(migrations = false)]
async fn a_user_with_a_second_factor_makes_keys_from_aal2_only(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let signed_up = app.signup("a@example.com").await;
    let at = str_of(&signed_up.body, "access_token").to_owned();
    let enrolled = enroll(&app, &at, "").await;
    let totp = authenticator(&enrolled);
    let raised = step_up(&app, &at, str_of(&enrolled.body, "id"), &totp, 0).await;
    let aal2 = str_of(&raised.body, "access_token").to_owned();
    let signed_in = app.sign_in("a@example.com", PASSWORD).await;
    let aal1 = str_of(&signed_in.body, "access_token").to_owned();
    let res = make_key(&app, &aal1, json!({"name": "k"})).await;
    assert_eq!(res.body["error_code"], "insufficient_aal", "{res:?}");
    let res = make_key(&app, &aal2, json!({"name": "k"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.body["aal"], "aal2");
    let made_aal2 = res.body.clone();
    let key = str_of(&res.body, "api_key").to_owned();
    let res = app
        .post("/token?grant_type=api_key", json!({"api_key": key}))
        .await;
    assert_eq!(
        jwt_payload(str_of(&res.body, "access_token"))["aal"],
        "aal2"
    );
    // With the factor gone, an aal1 session still cannot give the aal2 key a new secret.
    sqlx::query("DELETE FROM mfa_factors")
        .execute(&app.pool)
        .await
        .unwrap();
    let id = str_of(&made_aal2, "id").to_owned();
    let res = app
        .call(
            Method::POST,
            &format!("/api-keys/{id}/rotate"),
            Some(&aal1),
            None,
        )
        .await;
    assert_eq!(res.body["error_code"], "insufficient_aal", "{res:?}");
}

/// The tokens of a session acting in an organization and of an API key, and the webhook's
/// answer for a key, checked the way Hasura v2 and DDN read them.
#[sqlx::test(migrations = false)]
async fn organization_and_key_tokens_pass_hasura_and_ddn(db: PgPool) {
    use hasura_jwt_auth::{
        auth::keys::KeySet,
        hasura_config::ddn::{auth_config, DdnMode, DdnOptions, DdnVersion, WebhookMethod},
    };
    let app = common::app(&db, &[]).await;
    let ann = str_of(&app.signup("ann@example.com").await.body, "access_token").to_owned();
    let org = str_of(
        &create(&app, &ann, json!({"name": "Acme"})).await.body,
        "id",
    )
    .to_owned();
    let body = json!({"email": "ann@example.com", "password": PASSWORD, "organization_id": org});
    let session = app
        .call(Method::POST, "/token?grant_type=password", None, Some(body))
        .await;
    let made = make_key(
        &app,
        &ann,
        json!({"name": "k", "roles": ["org_member"], "organization_id": org}),
    )
    .await;
    let key = str_of(&made.body, "api_key").to_owned();
    let exchanged = app
        .post("/token?grant_type=api_key", json!({"api_key": key}))
        .await;

    let config = &app.state.config;
    let keys = KeySet::load(&config.keys).unwrap();
    let opts = DdnOptions {
        version: DdnVersion::V4,
        mode: DdnMode::Jwt,
        key: None,
        method: WebhookMethod::Get,
        secret_env: "SECRET".into(),
        inline_secret: false,
        api_keys: true,
    };
    let jwt = auth_config(config, &keys, &opts)["definition"]["mode"]["jwt"].clone();
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let today = common::ddn::date("2026-12-01");
    for (token, default) in [
        (str_of(&session.body, "access_token"), "org_member"),
        (str_of(&exchanged.body, "access_token"), "org_member"),
    ] {
        // Hasura v2: verified with the shared secret, the claims object complete.
        let claims = common::hasura::check(
            token,
            &common::hasura::hmac(common::SECRET),
            &Default::default(),
        );
        assert_eq!(claims["x-hasura-org-id"], org.as_str());
        assert_eq!(claims["x-hasura-default-role"], default);
        // DDN, through the printed AuthConfig.
        let vars = common::ddn::decode(token, &jwt, common::SECRET, &jwks, today).unwrap();
        assert_eq!(vars["x-hasura-org-id"], org.as_str());
        assert_eq!(vars["x-hasura-role"], default);
    }
    // The webhook's answer for the key, as DDN reads it (the alternative mode).
    let (status, answer) = hook(&app, &key, None, false).await;
    let vars = common::ddn::hook_answer(status.as_u16(), &answer, today)
        .unwrap()
        .expect("allowed");
    assert_eq!(vars["x-hasura-role"], "org_member");
    assert_eq!(vars["x-hasura-org-id"], org.as_str());
}

#[sqlx::test(migrations = false)]
async fn organization_administrators_see_and_revoke_the_keys_acting_there(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let ann = str_of(&app.signup("ann@example.com").await.body, "access_token").to_owned();
    let bob = str_of(&app.signup("bob@example.com").await.body, "access_token").to_owned();
    let org = str_of(
        &create(&app, &ann, json!({"name": "Acme"})).await.body,
        "id",
    )
    .to_owned();
    add_member(&app, &org, &user_id(&bob), &["org_member"]).await;
    let made = make_key(&app, &bob, json!({"name": "bots", "organization_id": org})).await;
    let key = str_of(&made.body, "api_key").to_owned();
    make_key(&app, &bob, json!({"name": "mine"})).await;

    let keys = format!("/organizations/{org}/api-keys");
    let refused = app.call(Method::GET, &keys, Some(&bob), None).await;
    assert_eq!(refused.body["error_code"], "organization_admin_required");
    let listed = app.call(Method::GET, &keys, Some(&ann), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    let listed = listed.body.as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "only the key acting there: {listed:?}");
    assert_eq!(listed[0]["user_id"], user_id(&bob).as_str());
    let one = format!("{keys}/{}", str_of(&listed[0], "id"));
    let res = app.call(Method::DELETE, &one, Some(&bob), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(hook(&app, &key, None, false).await.0, StatusCode::OK);
    let res = app.call(Method::DELETE, &one, Some(&ann), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(
        hook(&app, &key, None, false).await.0,
        StatusCode::UNAUTHORIZED
    );
    let res = app.call(Method::DELETE, &one, Some(&ann), None).await;
    assert_eq!(res.body["error_code"], "api_key_not_found");
    // Bob's own key, acting in no organization, is his alone.
    let mine = app.call(Method::GET, "/api-keys", Some(&bob), None).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1);
}
