//! Administration: the admin API (auth-js admin client shapes), the CLI, imports from the
//! PL/pgSQL hasura-jwt-auth and from files, and the audit log.

use crate::common;

use std::{io::Write, process::Stdio};

use crate::common::{str_of, TestApp, PASSWORD, SECRET};
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

fn url_of(db: &PgPool) -> String {
    format!(
        "postgres://postgres@{}:{}/{}",
        db.connect_options().get_host(),
        db.connect_options().get_port(),
        db.connect_options().get_database().unwrap()
    )
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn cli(url: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hasura-jwt-auth"));
    cmd.args(args)
        .env("AUTH_DATABASE_URL", url)
        .env("AUTH_LEGACY_HMAC_SECRET", "old-jwt-secret")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[sqlx::test(migrations = false)]
async fn cli_manages_users_and_sessions(db: PgPool) {
    let url = url_of(&db);
    let app = common::app(&db, &[]).await;
    let add = cli(
        &url,
        &[
            "user",
            "add",
            "--email",
            "cli@example.com",
            "--password-stdin",
            "--role",
            "editor",
            "--allowed-roles",
            "user,editor",
        ],
        Some("cli password 1\n"),
    );
    assert!(add.ok, "{}", add.stderr);
    assert!(add.stdout.contains("cli@example.com"));
    let s = app.sign_in("cli@example.com", "cli password 1").await;
    assert_eq!(s.status, StatusCode::OK, "the password came from stdin");
    let dup = cli(
        &url,
        &[
            "user",
            "add",
            "--email",
            "cli@example.com",
            "--password-stdin",
        ],
        Some("cli password 1\n"),
    );
    assert!(
        !dup.ok && dup.stderr.contains("already been registered"),
        "{}",
        dup.stderr
    );
    let weak = cli(
        &url,
        &[
            "user",
            "add",
            "--email",
            "weak@example.com",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(
        !weak.ok && weak.stderr.contains("at least 8"),
        "{}",
        weak.stderr
    );

    let list = cli(&url, &["user", "list", "--json"], None);
    assert!(list.ok, "{}", list.stderr);
    let users: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["app_metadata"]["default_role"], "editor");
    assert!(!list.stdout.contains("argon2"));
    let show = cli(&url, &["user", "show", "cli@example.com"], None);
    assert!(
        show.ok && show.stdout.contains("sessions: 1"),
        "{}",
        show.stdout
    );

    let sessions = cli(
        &url,
        &["session", "list", "cli@example.com", "--json"],
        None,
    );
    let sessions: Value = serde_json::from_str(&sessions.stdout).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1);

    let bad_roles = cli(
        &url,
        &[
            "user",
            "set-roles",
            "cli@example.com",
            "--role",
            "admin",
            "--allowed-roles",
            "user",
        ],
        None,
    );
    assert!(
        !bad_roles.ok
            && bad_roles
                .stderr
                .contains("must be one of the allowed roles"),
        "{}",
        bad_roles.stderr
    );
    let roles = cli(
        &url,
        &[
            "user",
            "set-roles",
            "cli@example.com",
            "--role",
            "user",
            "--allowed-roles",
            "user",
        ],
        None,
    );
    assert!(roles.ok, "{}", roles.stderr);
    let refreshed = app.refresh(str_of(&s.body, "refresh_token")).await;
    let claims = common::hasura::check(
        str_of(&refreshed.body, "access_token"),
        &common::hasura::hmac(SECRET),
        &Default::default(),
    );
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["user"]));

    let disable = cli(&url, &["user", "disable", "cli@example.com"], None);
    assert!(
        disable.ok && disable.stdout.contains("disabled"),
        "{}",
        disable.stdout
    );
    assert_eq!(
        app.refresh(str_of(&refreshed.body, "refresh_token"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert!(cli(&url, &["user", "enable", "cli@example.com"], None).ok);
    let setpw = cli(
        &url,
        &[
            "user",
            "set-password",
            "cli@example.com",
            "--password-stdin",
        ],
        Some("cli password 2\n"),
    );
    assert!(setpw.ok, "{}", setpw.stderr);
    let s = app.sign_in("cli@example.com", "cli password 2").await;
    assert_eq!(s.status, StatusCode::OK);
    let sid = common::jwt_payload(str_of(&s.body, "access_token"))["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = cli(
        &url,
        &["session", "revoke", "cli@example.com", "--session", &sid],
        None,
    );
    assert!(
        revoke.ok && revoke.stdout.contains("revoked 1"),
        "{}",
        revoke.stdout
    );
    let revoke = cli(
        &url,
        &["session", "revoke", "cli@example.com", "--all"],
        None,
    );
    assert!(revoke.ok, "{}", revoke.stderr);

    let audit = cli(
        &url,
        &["audit", "list", "--user", "cli@example.com", "--json"],
        None,
    );
    assert!(audit.ok, "{}", audit.stderr);
    assert!(audit.stdout.contains("admin_user_created") && !audit.stdout.contains("cli password"));
    // Retention: entries older than AUTH_AUDIT_RETENTION go, newer ones stay.
    sqlx::query("UPDATE audit_log SET created_at = now() - interval '2 days' WHERE event = 'admin_user_created'")
        .execute(&app.pool)
        .await
        .unwrap();
    let prune = cli(&url, &["audit", "prune", "--audit-retention", "1d"], None);
    assert!(
        prune.ok && prune.stdout.contains("pruned 1 audit entries"),
        "{}",
        prune.stdout
    );
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'admin_user_created'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(kept > 0);

    let unknown = cli(&url, &["user", "show", "ghost@example.com"], None);
    assert!(
        !unknown.ok
            && unknown
                .stderr
                .contains("no user with email or id ghost@example.com"),
        "{}",
        unknown.stderr
    );
    let delete = cli(&url, &["user", "delete", "cli@example.com"], None);
    assert!(delete.ok, "{}", delete.stderr);
    assert!(!cli(&url, &["user", "delete", "cli@example.com"], None).ok);
    // Every admin action is audited, with who did it.
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT event, detail->>'by' FROM audit_log WHERE event IN ('admin_user_deleted', 'admin_sessions_revoked', 'admin_user_updated') ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for name in [
        "admin_user_updated",
        "admin_sessions_revoked",
        "admin_user_deleted",
    ] {
        assert!(
            events.iter().any(|(e, by)| e == name && by == "cli"),
            "{name} missing: {events:?}"
        );
    }
}

#[test]
fn cli_reports_an_unreachable_database() {
    let out = cli(
        "postgres://postgres@127.0.0.1:1/none",
        &["user", "list"],
        None,
    );
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{}",
        out.stderr
    );
}

#[test]
fn cli_generates_and_lists_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for alg in ["EdDSA", "ES256", "RS256", "HS256"] {
        let path = dir.path().join(format!("{alg}.pem"));
        let out = cli(
            "postgres://unused",
            &[
                "keys",
                "generate",
                "--algorithm",
                alg,
                "--out",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert!(out.ok, "{}", out.stderr);
        files.push(path);
    }
    let list = cli(
        "postgres://unused",
        &[
            "keys",
            "list",
            "--jwt-private-key-file",
            files[1].to_str().unwrap(),
            "--jwt-additional-key-files",
            &format!("{},{}", files[0].display(), files[2].display()),
        ],
        None,
    );
    assert!(list.ok, "{}", list.stderr);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    assert!(lines[0].starts_with("signing") && lines[0].contains("ES256"));
    assert!(lines[1].contains("EdDSA") && lines[2].contains("RS256"));
    let hs = std::fs::read_to_string(&files[3]).unwrap();
    assert!(hs.len() >= 32);
}

// --- Imports --------------------------------------------------------------------------------------

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

#[sqlx::test(migrations = false)]
async fn cli_invites_and_prints_links(db: PgPool) {
    let url = url_of(&db);
    let smtp = common::smtp::Smtp::start();
    let port = smtp.port.to_string();
    let mail_args = [
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        port.as_str(),
        "--smtp-tls",
        "none",
        "--public-url",
        "http://auth.test",
    ];
    // The running server (its delivery worker sends what the CLI queues).
    let app = common::app(&db, &mail_args).await;
    let mut args = vec![
        "user",
        "invite",
        "cli-guest@example.com",
        "--jwt-secret",
        SECRET,
    ];
    args.extend_from_slice(&mail_args);
    let out = cli(&url, &args, None);
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let mail = smtp.wait("cli-guest@example.com", 1).await;
    assert_eq!(mail.subject, "You have been invited");

    app.signup("cli-member@example.com").await;
    let mut args = vec![
        "user",
        "link",
        "cli-member@example.com",
        "--type",
        "recovery",
        "--jwt-secret",
        SECRET,
    ];
    args.extend_from_slice(&mail_args);
    let out = cli(&url, &args, None);
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let link = out.stdout.trim();
    assert!(link.starts_with("http://auth.test/verify?token="), "{link}");
    assert!(link.contains("type=recovery"));
    // Sent nowhere, and usable: its token signs the user in.
    assert!(smtp.to("cli-member@example.com").is_empty());
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let res = app
        .post("/verify", json!({"type": "recovery", "token_hash": token}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let code = out.stderr.trim().strip_prefix("code: ").unwrap_or_default();
    assert_eq!(code.len(), 6, "{}", out.stderr);
}
