//! The admin API (in the shapes auth-js's admin client expects): users, sessions, bans, and
//! the audit log.

use crate::common::{self, str_of, TestApp, PASSWORD, SECRET};
use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

const ADMIN: &str = "admin-secret-admin-secret-admin-secret";

async fn admin_app(db: &PgPool) -> TestApp {
    common::app(db, &["--admin-secret", ADMIN]).await
}

async fn admin(app: &TestApp, method: Method, uri: &str, body: Option<Value>) -> common::Response {
    app.call(method, uri, Some(ADMIN), body).await
}

#[sqlx::test(migrations = false)]
async fn admin_api_rejects_missing_or_wrong_secrets(db: PgPool) {
    let off = common::app(&db, &[]).await;
    assert_eq!(
        off.call(Method::GET, "/admin/users", Some(ADMIN), None)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "no admin API without the setting"
    );
    let app = admin_app(&db).await;
    let s = app.signup("user@example.com").await;
    let user_at = str_of(&s.body, "access_token");
    let uid = str_of(&s.body["user"], "id");
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("wrong"), StatusCode::FORBIDDEN),
        (Some(user_at), StatusCode::FORBIDDEN),
        (Some(&ADMIN[..ADMIN.len() - 1]), StatusCode::FORBIDDEN),
    ] {
        for (method, uri) in [
            (Method::GET, "/admin/users".to_owned()),
            (Method::POST, "/admin/users".to_owned()),
            (Method::GET, format!("/admin/users/{uid}")),
            (Method::PUT, format!("/admin/users/{uid}")),
            (Method::DELETE, format!("/admin/users/{uid}")),
            (Method::GET, format!("/admin/users/{uid}/sessions")),
            (Method::DELETE, format!("/admin/users/{uid}/sessions")),
            (
                Method::DELETE,
                format!("/admin/users/{uid}/sessions/{}", uuid::Uuid::new_v4()),
            ),
            (Method::GET, "/admin/audit".to_owned()),
        ] {
            let res = app
                .call(
                    method.clone(),
                    &uri,
                    token,
                    Some(json!({"email": "x@example.com"})),
                )
                .await;
            assert_eq!(res.status, status, "{method} {uri} with {token:?}");
        }
    }
    assert_eq!(app.session_count(uid).await, 1, "nothing happened");
    let short = Config::from_args(["--admin-secret", "short"]).unwrap();
    assert!(short
        .validate()
        .unwrap_err()
        .to_string()
        .contains("AUTH_ADMIN_SECRET"));
}

use hasura_jwt_auth::config::Config;

#[sqlx::test(migrations = false)]
async fn admin_creates_lists_updates_and_deletes_users(db: PgPool) {
    let app = admin_app(&db).await;
    let res = admin(&app, Method::POST, "/admin/users", Some(json!({
        "email": "Editor@Example.com", "password": PASSWORD, "email_confirm": true,
        "user_metadata": {"name": "Ed"}, "app_metadata": {"default_role": "editor", "allowed_roles": ["user", "editor"], "plan": "pro"}
    }))).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let id = str_of(&res.body, "id").to_owned();
    assert_eq!(res.body["email"], "editor@example.com");
    assert_eq!(res.body["app_metadata"]["default_role"], "editor");
    assert_eq!(
        res.body["app_metadata"]["allowed_roles"],
        json!(["user", "editor"])
    );
    assert_eq!(res.body["app_metadata"]["plan"], "pro");
    assert_eq!(res.body["user_metadata"]["name"], "Ed");
    let signed_in = app.sign_in("editor@example.com", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let claims = common::hasura::check(
        str_of(&signed_in.body, "access_token"),
        &common::hasura::hmac(SECRET),
        &Default::default(),
    );
    assert_eq!(claims["x-hasura-default-role"], "editor");

    // Validation.
    let dup = admin(
        &app,
        Method::POST,
        "/admin/users",
        Some(json!({"email": "editor@example.com"})),
    )
    .await;
    assert_eq!(
        (dup.status, dup.body["error_code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email_exists"))
    );
    let bad_roles = admin(&app, Method::POST, "/admin/users", Some(json!({"email": "r@example.com", "app_metadata": {"default_role": "admin", "allowed_roles": ["user"]}}))).await;
    assert_eq!(
        (bad_roles.status, bad_roles.body["error_code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_roles"))
    );
    let no_email = admin(&app, Method::POST, "/admin/users", Some(json!({}))).await;
    assert_eq!(no_email.status, StatusCode::BAD_REQUEST);
    let weak = admin(
        &app,
        Method::POST,
        "/admin/users",
        Some(json!({"email": "w@example.com", "password": "short"})),
    )
    .await;
    assert_eq!(weak.body["error_code"], "weak_password");

    // A user without a password cannot sign in.
    let nopw = admin(
        &app,
        Method::POST,
        "/admin/users",
        Some(json!({"email": "nopw@example.com"})),
    )
    .await;
    assert_eq!(nopw.status, StatusCode::OK);
    assert_eq!(
        app.sign_in("nopw@example.com", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );

    // Pagination, auth-js style.
    for i in 0..3 {
        app.signup(&format!("page{i}@example.com")).await;
    }
    let res = admin(&app, Method::GET, "/admin/users?page=2&per_page=2", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["users"].as_array().unwrap().len(), 2);
    assert_eq!(res.headers["x-total-count"], "5");
    let link = res.headers[header::LINK].to_str().unwrap();
    assert!(
        link.contains(r#"page=3&per_page=2>; rel="next""#)
            && link.contains(r#"page=3&per_page=2>; rel="last""#),
        "{link}"
    );
    assert_eq!(
        admin(&app, Method::GET, "/admin/users?per_page=0", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // auth-js sends empty parameters when the caller gives none.
    let res = admin(&app, Method::GET, "/admin/users?page=&per_page=", None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["users"].as_array().unwrap().len(), 5);
    assert_eq!(
        admin(&app, Method::GET, "/admin/users?page=abc", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Update: email, metadata, roles (validated against each other).
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"app_metadata": {"allowed_roles": ["user"]}})),
    )
    .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_roles")),
        "default role editor would fall out"
    );
    let res = admin(&app, Method::PUT, &format!("/admin/users/{id}"), Some(json!({"email": "ed@example.com", "user_metadata": {"name": "Edd"}, "app_metadata": {"default_role": "user"}}))).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["email"], "ed@example.com");
    assert_eq!(res.body["app_metadata"]["default_role"], "user");
    assert_eq!(
        res.body["app_metadata"]["allowed_roles"],
        json!(["user", "editor"])
    );
    // Metadata merges key by key (null removes a key); other keys survive a role change.
    let got = admin(&app, Method::GET, &format!("/admin/users/{id}"), None).await;
    assert_eq!(got.body["app_metadata"]["plan"], "pro", "{got:?}");
    assert_eq!(got.body["user_metadata"]["name"], "Edd");
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"app_metadata": {"plan": null, "tier": 2}, "user_metadata": {"age": 40}})),
    )
    .await;
    assert!(res.body["app_metadata"].get("plan").is_none(), "{res:?}");
    assert_eq!(res.body["app_metadata"]["tier"], 2);
    assert_eq!(res.body["user_metadata"], json!({"name": "Edd", "age": 40}));
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"app_metadata": {"x": "a\u{0}"}})),
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "NUL is refused, not a 500"
    );
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"email": "page0@example.com"})),
    )
    .await;
    assert_eq!(res.body["error_code"], "email_exists");
    let got = admin(&app, Method::GET, &format!("/admin/users/{id}"), None).await;
    assert_eq!(got.body["email"], "ed@example.com");
    assert_eq!(
        admin(&app, Method::GET, "/admin/users/not-a-uuid", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(
            &app,
            Method::GET,
            &format!("/admin/users/{}", uuid::Uuid::new_v4()),
            None
        )
        .await
        .body["error_code"],
        "user_not_found"
    );

    // Delete removes the user and their sessions.
    let res = admin(&app, Method::DELETE, &format!("/admin/users/{id}"), None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.body["id"],
        id.as_str(),
        "the deleted user comes back, as auth-js expects"
    );
    assert_eq!(
        app.refresh(str_of(&signed_in.body, "refresh_token"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.session_count(&id).await, 0);
    assert_eq!(
        admin(&app, Method::GET, &format!("/admin/users/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&app, Method::DELETE, &format!("/admin/users/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = false)]
async fn disabling_or_banning_kills_sessions_at_once(db: PgPool) {
    let app = admin_app(&db).await;
    let s = app.signup("refreshing@example.com").await;
    let id = str_of(&s.body["user"], "id").to_owned();
    // The user is actively refreshing.
    let mut rt = str_of(&s.body, "refresh_token").to_owned();
    for _ in 0..2 {
        let r = app.refresh(&rt).await;
        rt = str_of(&r.body, "refresh_token").to_owned();
    }
    let at = str_of(&app.refresh(&rt).await.body, "access_token").to_owned();
    let rt = str_of(
        &app.sign_in("refreshing@example.com", PASSWORD).await.body,
        "refresh_token",
    )
    .to_owned();
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["disabled"], true);
    assert_eq!(
        app.session_count(&id).await,
        0,
        "every session revoked at once"
    );
    assert_eq!(app.refresh(&rt).await.body["error"], "invalid_grant");
    assert_eq!(
        app.call(Method::GET, "/user", Some(&at), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in("refreshing@example.com", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"disabled": false})),
    )
    .await;
    let s2 = app.sign_in("refreshing@example.com", PASSWORD).await;
    assert_eq!(s2.status, StatusCode::OK);

    // ban_duration, as Supabase Auth names it.
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"ban_duration": "24h"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body["banned_until"].is_string());
    assert_eq!(app.session_count(&id).await, 0);
    assert_eq!(
        app.refresh(str_of(&s2.body, "refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.sign_in("refreshing@example.com", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"ban_duration": "none"})),
    )
    .await;
    assert!(res.body["banned_until"].is_null());
    assert_eq!(
        app.sign_in("refreshing@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    let bad = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"ban_duration": "forever"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let huge = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"ban_duration": "10000000000000"})),
    )
    .await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST, "{huge:?}");
    assert_eq!(
        app.sign_in("refreshing@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the refused ban changed nothing"
    );
    // A user created banned is banned from the start, in one transaction.
    let created = admin(&app, Method::POST, "/admin/users", Some(json!({"email": "born-banned@example.com", "password": PASSWORD, "ban_duration": "876000h"}))).await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    assert!(created.body["banned_until"].is_string());
    assert_eq!(
        app.sign_in("born-banned@example.com", PASSWORD)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Setting the password as admin revokes every session too.
    let res = admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"password": "admin chose this"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(app.session_count(&id).await, 0);
    assert_eq!(
        app.sign_in("refreshing@example.com", "admin chose this")
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn admin_lists_and_revokes_sessions(db: PgPool) {
    let app = admin_app(&db).await;
    let s = app.signup("sessions@example.com").await;
    let id = str_of(&s.body["user"], "id").to_owned();
    app.sign_in("sessions@example.com", PASSWORD).await;
    let third = app.sign_in("sessions@example.com", PASSWORD).await;
    let res = admin(
        &app,
        Method::GET,
        &format!("/admin/users/{id}/sessions"),
        None,
    )
    .await;
    let sessions = res.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    assert!(
        !res.body.to_string().contains("token"),
        "no token material in the listing"
    );
    let first = str_of(&sessions[0], "id");
    let res = admin(
        &app,
        Method::DELETE,
        &format!("/admin/users/{id}/sessions/{first}"),
        None,
    )
    .await;
    assert_eq!(
        (res.status, &res.body["revoked"]),
        (StatusCode::OK, &json!(1))
    );
    assert_eq!(
        app.refresh(str_of(&s.body, "refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        admin(
            &app,
            Method::DELETE,
            &format!("/admin/users/{id}/sessions/{first}"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let res = admin(
        &app,
        Method::DELETE,
        &format!("/admin/users/{id}/sessions"),
        None,
    )
    .await;
    assert_eq!(res.body["revoked"], 2);
    assert_eq!(
        app.refresh(str_of(&third.body, "refresh_token"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let missing = uuid::Uuid::new_v4();
    assert_eq!(
        admin(
            &app,
            Method::GET,
            &format!("/admin/users/{missing}/sessions"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = false)]
async fn audit_log_records_security_events_without_secrets(db: PgPool) {
    let app = admin_app(&db).await;
    let s = app.signup("audited@example.com").await;
    let id = str_of(&s.body["user"], "id").to_owned();
    app.sign_in("audited@example.com", "wrong password").await;
    let s2 = app.sign_in("audited@example.com", PASSWORD).await;
    let at = str_of(&s2.body, "access_token");
    app.call(
        Method::PUT,
        "/user",
        Some(at),
        Some(json!({"password": "new password here"})),
    )
    .await;
    app.call(Method::POST, "/logout?scope=local", Some(at), None)
        .await;
    admin(
        &app,
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(json!({"user_metadata": {"x": 1}})),
    )
    .await;
    let res = admin(&app, Method::GET, "/admin/audit?per_page=100", None).await;
    assert_eq!(res.status, StatusCode::OK);
    let entries = res.body.as_array().unwrap();
    let events: Vec<&str> = entries
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .rev()
        .collect();
    assert_eq!(
        events,
        [
            "sign_up",
            "sign_in_failed",
            "sign_in",
            "password_changed",
            "logout",
            "admin_user_updated"
        ]
    );
    for e in entries {
        assert!(e["created_at"].is_string());
        assert_eq!(e["user_id"], id.as_str());
    }
    assert_eq!(entries[0]["detail"]["by"], "admin_api");
    // The sign-in says how the user proved who they are, and names its session.
    assert_eq!(entries[3]["detail"]["method"], "password");
    assert!(entries[3]["session_id"].is_string(), "{:?}", entries[3]);
    let dump = res.body.to_string();
    for secret in [
        PASSWORD,
        "new password here",
        "wrong password",
        str_of(&s.body, "refresh_token"),
        at,
    ] {
        assert!(!dump.contains(secret), "audit log leaks a secret");
    }
    assert_eq!(res.headers["x-total-count"], "6");
    let page = admin(
        &app,
        Method::GET,
        &format!("/admin/audit?per_page=2&user_id={id}"),
        None,
    )
    .await;
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    let link = page.headers[header::LINK].to_str().unwrap();
    assert!(
        link.contains(&format!(
            "/admin/audit?user_id={id}&page=2&per_page=2>; rel=\"next\""
        )),
        "the filter survives paging: {link}"
    );

    // Retention.
    sqlx::query(
        "UPDATE audit_log SET created_at = now() - interval '100 days' WHERE event = 'sign_up'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let n =
        hasura_jwt_auth::store::audit::prune(&app.pool, std::time::Duration::from_secs(90 * 86400))
            .await
            .unwrap();
    assert_eq!(n, 1);
}

// --- CLI ----------------------------------------------------------------------------------------

// --- Imports --------------------------------------------------------------------------------------

#[sqlx::test(migrations = false)]
async fn shapes_match_what_supabase_clients_expect(db: PgPool) {
    let app = admin_app(&db).await;
    let first = app.signup("first@example.com").await;
    let user = &first.body["user"];
    // A session was opened: that is a sign-in.
    assert!(user["last_sign_in_at"].is_string(), "{user}");
    // The email identity, as GoTrue returns it after an email sign-up.
    let identities = user["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1, "{user}");
    let identity = &identities[0];
    assert_eq!(identity["provider"], "email");
    assert_eq!(identity["user_id"], user["id"]);
    assert_eq!(identity["id"], user["id"]);
    assert_eq!(identity["identity_data"]["email"], "first@example.com");
    assert_eq!(identity["identity_data"]["sub"], user["id"]);
    assert!(identity["identity_id"].is_string());
    // Stable across reads.
    let at = str_of(&first.body, "access_token");
    let me = app.call(Method::GET, "/user", Some(at), None).await;
    assert_eq!(
        me.body["identities"][0]["identity_id"],
        identity["identity_id"]
    );
    // Newest first, as GoTrue lists users.
    app.signup("second@example.com").await;
    let res = admin(&app, Method::GET, "/admin/users", None).await;
    let emails: Vec<&str> = res.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["second@example.com", "first@example.com"]);
}
