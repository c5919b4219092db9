//! Anonymous users: signing in with nothing, what they may not do, converting (by a proven
//! address or a linked identity) with the same id, and their cleanup. Reauthentication and
//! the manual-linking switch: `reauthenticate`.

mod pages;
mod reauthenticate;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    common::{self, jwt_payload, smtp::Smtp, str_of, TestApp, PASSWORD},
    email::{follow, mail_app, params},
    hasura::webhook::webhook_get,
};

const ON: [&str; 1] = ["--anonymous-users"];

async fn anonymous(app: &TestApp, data: Value) -> common::Response {
    let res = app.post("/signup", json!({ "data": data })).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    res
}

/// What Hasura's webhook says of the bearer of `token`: (user id, role).
async fn hasura_sees(app: &TestApp, token: &str) -> (String, String) {
    let bearer = format!("Bearer {token}");
    let res = webhook_get(app, &[("authorization", &bearer)]).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    (
        str_of(&res.body, "X-Hasura-User-Id").to_owned(),
        str_of(&res.body, "X-Hasura-Role").to_owned(),
    )
}

#[sqlx::test(migrations = false)]
async fn anonymous_sign_in_is_off_unless_turned_on(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let res = app.post("/signup", json!({"data": {}})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.body["error_code"], "anonymous_provider_disabled");
    assert_eq!(res.body["msg"], "Anonymous sign-ins are disabled");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[sqlx::test(migrations = false)]
async fn an_anonymous_user_has_a_session_its_own_role_and_no_address(db: PgPool) {
    let app = common::app(&db, &ON).await;
    // A password alone is no address: still anonymous (as Supabase Auth).
    let res = app
        .post(
            "/signup",
            json!({"password": PASSWORD, "data": {"info": "some info"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let user = &res.body["user"];
    assert_eq!(user["is_anonymous"], true);
    assert_eq!(user["email"], "");
    assert_eq!(user["user_metadata"], json!({"info": "some info"}));
    assert_eq!(user["identities"], json!([]));
    assert!(user["app_metadata"].get("provider").is_none(), "{user}");
    let at = str_of(&res.body, "access_token");
    let claims = jwt_payload(at);
    assert_eq!(claims["is_anonymous"], true);
    assert_eq!(claims["amr"][0]["method"], "anonymous");
    let hasura = &claims["https://hasura.io/jwt/claims"];
    assert_eq!(hasura["x-hasura-default-role"], "anonymous_user");
    assert_eq!(hasura["x-hasura-allowed-roles"], json!(["anonymous_user"]));
    let (_, role) = hasura_sees(&app, at).await;
    assert_eq!(role, "anonymous_user", "not the unauthenticated role");
    // A refresh keeps it so.
    let refreshed = app.refresh(str_of(&res.body, "refresh_token")).await;
    assert_eq!(
        jwt_payload(str_of(&refreshed.body, "access_token"))["is_anonymous"],
        true
    );
    // Two anonymous users share no address.
    anonymous(&app, json!({})).await;

    // Nothing that needs an address or guards an account.
    let password = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"password": "n3w-Passw0rd!"})),
        )
        .await;
    assert_eq!(password.status, StatusCode::BAD_REQUEST, "{password:?}");
    assert_eq!(
        password.body["msg"],
        "Updating password of an anonymous user without an email or phone is not allowed"
    );
    let factor = app
        .call(
            Method::POST,
            "/factors",
            Some(at),
            Some(json!({"factor_type": "totp"})),
        )
        .await;
    assert_eq!(factor.status, StatusCode::FORBIDDEN, "{factor:?}");
    assert_eq!(factor.body["error_code"], "anonymous_user_not_allowed");
    let reauth = app
        .call(Method::GET, "/reauthenticate", Some(at), None)
        .await;
    assert_eq!(reauth.status, StatusCode::BAD_REQUEST, "{reauth:?}");
    assert_eq!(
        reauth.body["msg"],
        "Reauthentication requires the user to have an email or a phone number"
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'anonymous_sign_up'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 2);
}

#[sqlx::test(migrations = false)]
async fn anonymous_sign_ins_are_limited_per_address(db: PgPool) {
    let app = common::app(
        &db,
        &["--anonymous-users", "--rate-limit-anonymous-users", "2"],
    )
    .await;
    let ask = |peer: [u8; 4]| {
        let req = axum::http::Request::post("/signup")
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{}"))
            .unwrap();
        app.request(common::from_peer(peer, req))
    };
    assert_eq!(ask([192, 0, 2, 1]).await.status, StatusCode::OK);
    assert_eq!(ask([192, 0, 2, 1]).await.status, StatusCode::OK);
    let third = ask([192, 0, 2, 1]).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "{third:?}");
    assert_eq!(
        ask([192, 0, 2, 2]).await.status,
        StatusCode::OK,
        "another address"
    );
}

#[sqlx::test(migrations = false)]
async fn converting_by_a_proven_address_keeps_the_id_and_the_rows(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &ON).await;
    let res = anonymous(&app, json!({})).await;
    let at = str_of(&res.body, "access_token").to_owned();
    let rt = str_of(&res.body, "refresh_token").to_owned();
    let id = str_of(&res.body["user"], "id").to_owned();
    // The app keeps a row owned by the user; Hasura's permission is `owner = X-Hasura-User-Id`.
    sqlx::query("CREATE TABLE notes (owner uuid NOT NULL, body text NOT NULL)")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO notes VALUES ($1::uuid, 'my first note')")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (hasura_id, role) = hasura_sees(&app, &at).await;
    assert_eq!(
        (hasura_id.as_str(), role.as_str()),
        (id.as_str(), "anonymous_user")
    );

    // An address someone else has is refused.
    app.signup("taken@example.com").await;
    let taken = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"email": "taken@example.com"})),
        )
        .await;
    assert_eq!(taken.body["error_code"], "email_exists", "{taken:?}");

    // The address and a password at once; the address waits for its link (sent there only).
    let body = json!({"email": "Kim@Example.com", "password": "n3w-Passw0rd!"});
    let asked = app.call(Method::PUT, "/user", Some(&at), Some(body)).await;
    assert_eq!(asked.status, StatusCode::OK, "{asked:?}");
    assert_eq!(asked.body["new_email"], "kim@example.com");
    assert_eq!(
        asked.body["is_anonymous"], true,
        "not before the address is proven"
    );
    let mail = smtp.wait("kim@example.com", 1).await;
    let location = follow(&app, &mail.link()).await;
    let session = params(&location, '#');
    let after = jwt_payload(&session["access_token"]);
    assert_eq!(after["sub"], id.as_str(), "the same user");
    assert_eq!(after["is_anonymous"], false);
    assert_eq!(after["email"], "kim@example.com");

    // The anonymous session's next refresh is the converted user, with the default role.
    let refreshed = app.refresh(&rt).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    let token = str_of(&refreshed.body, "access_token");
    assert_eq!(jwt_payload(token)["is_anonymous"], false);
    let (hasura_id, role) = hasura_sees(&app, token).await;
    assert_eq!(role, "user");
    let mine: i64 = sqlx::query_scalar("SELECT count(*) FROM notes WHERE owner = $1::uuid")
        .bind(&hasura_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(mine, 1, "the row still belongs to the user");
    let user = app.call(Method::GET, "/user", Some(token), None).await;
    assert_eq!(user.body["app_metadata"]["provider"], "email");
    assert_eq!(user.body["is_anonymous"], false);
    // The password set with the address signs in now.
    let signed = app.sign_in("kim@example.com", "n3w-Passw0rd!").await;
    assert_eq!(signed.status, StatusCode::OK, "{signed:?}");
    let converted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'anonymous_converted'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(converted, 1);
}

#[sqlx::test(migrations = false)]
async fn anonymous_users_are_deleted_after_the_set_time(db: PgPool) {
    let app = common::app(
        &db,
        &["--anonymous-users", "--anonymous-users-max-age", "30d"],
    )
    .await;
    let old = anonymous(&app, json!({})).await;
    let old_id = str_of(&old.body["user"], "id").to_owned();
    let young = anonymous(&app, json!({})).await;
    let young_id = str_of(&young.body["user"], "id").to_owned();
    app.signup("kept@example.com").await;
    // The clock moved: the first anonymous user and the full user are 31 days old.
    sqlx::query(
        "UPDATE users SET created_at = now() - interval '31 days' WHERE id = $1::uuid OR email <> ''",
    )
    .bind(&old_id)
    .execute(&app.pool)
    .await
    .unwrap();
    hasura_jwt_auth::housekeeping::run_once(&app.state.auth).await;
    let left: Vec<String> = sqlx::query_scalar("SELECT id::text FROM users ORDER BY created_at")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&old_id) && left.contains(&young_id));
    assert_eq!(app.session_count(&old_id).await, 0);
    let refused = app.refresh(str_of(&old.body, "refresh_token")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT user_id::text FROM audit_log WHERE event = 'anonymous_user_expired'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, [old_id]);
}

#[sqlx::test(migrations = false)]
async fn an_administrator_confirming_an_address_converts_the_user(db: PgPool) {
    const ADMIN: &str = "admin-secret-for-anonymous-tests-0123456789";
    let app = common::app(&db, &["--anonymous-users", "--admin-secret", ADMIN]).await;
    let guest = anonymous(&app, json!({})).await;
    let id = str_of(&guest.body["user"], "id");
    let uri = format!("/admin/users/{id}");
    // An address not confirmed: still anonymous.
    let body = json!({"email": "una@example.com"});
    let res = app.call(Method::PUT, &uri, Some(ADMIN), Some(body)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["is_anonymous"], true);
    let body = json!({"email": "una@example.com", "email_confirm": true});
    let res = app.call(Method::PUT, &uri, Some(ADMIN), Some(body)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["is_anonymous"], false);
    assert_eq!(res.body["app_metadata"]["default_role"], "user");
    assert_eq!(res.body["app_metadata"]["provider"], "email");
}
