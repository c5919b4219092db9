//! Reauthentication by email (`GET /reauthenticate`, then `nonce` in place of
//! `current_password`), through the API and the actions; the manual-linking switch.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::{self, jwt_payload, smtp::Smtp, str_of},
    email::mail_app,
    hasura::{action, assert_action_error, user_vars, ACTIONS_SECRET},
};

#[sqlx::test(migrations = false)]
async fn a_code_by_email_stands_in_for_the_current_password(db: PgPool) {
    let smtp = Smtp::start();
    // No session is ever recent enough: every change needs proof.
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--reauthentication-window",
            "0s",
            "--email-min-interval",
            "0s",
            "--hasura-actions-secret",
            ACTIONS_SECRET,
        ],
    )
    .await;
    let signed = app.signup("rae@example.com").await;
    let at = str_of(&signed.body, "access_token").to_owned();
    let change = |nonce: Option<&str>, password: &str| {
        let mut body = json!({"password": password});
        if let Some(n) = nonce {
            body["nonce"] = json!(n);
        }
        app.call(Method::PUT, "/user", Some(&at), Some(body))
    };
    let bare = change(None, "n3w-Passw0rd-1").await;
    assert_eq!(
        bare.body["error_code"], "reauthentication_needed",
        "{bare:?}"
    );

    let asked = app
        .call(Method::GET, "/reauthenticate", Some(&at), None)
        .await;
    assert_eq!(
        (asked.status, &asked.body),
        (StatusCode::OK, &json!({})),
        "{asked:?}"
    );
    let code = smtp.wait("rae@example.com", 1).await.code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = change(Some(wrong), "n3w-Passw0rd-1").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
    assert_eq!(refused.body["error_code"], "reauthentication_not_valid");
    assert_eq!(refused.body["msg"], "Nonce has expired or is invalid");
    let changed = change(Some(&code), "n3w-Passw0rd-1").await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(
        app.sign_in("rae@example.com", "n3w-Passw0rd-1")
            .await
            .status,
        StatusCode::OK
    );
    // Once only.
    let again = change(Some(&code), "n3w-Passw0rd-2").await;
    assert_eq!(
        again.body["error_code"], "reauthentication_not_valid",
        "{again:?}"
    );

    // The same through the actions: `reauthenticate`, then `changePassword` with the nonce.
    let asked = action(&app, "reauthenticate", json!({}), user_vars(&at)).await;
    assert_eq!(
        (asked.status, &asked.body),
        (StatusCode::OK, &json!({"ok": true})),
        "{asked:?}"
    );
    let code = smtp.wait("rae@example.com", 2).await.code();
    let without = action(
        &app,
        "changePassword",
        json!({"password": "n3w-Passw0rd-3"}),
        user_vars(&at),
    )
    .await;
    assert_action_error(&without, StatusCode::BAD_REQUEST, "reauthentication_needed");
    let with = action(
        &app,
        "changePassword",
        json!({"password": "n3w-Passw0rd-3", "nonce": code}),
        user_vars(&at),
    )
    .await;
    assert_eq!(
        (with.status, &with.body),
        (StatusCode::OK, &json!({"ok": true})),
        "{with:?}"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE event = 'reauthentication_requested'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);
    assert_eq!(jwt_payload(&at)["email"], "rae@example.com");
}

#[sqlx::test(migrations = false)]
async fn manual_linking_can_be_turned_off(db: PgPool) {
    let app = common::app(&db, &["--manual-linking", "false"]).await;
    let signed = app.signup("lin@example.com").await;
    let at = str_of(&signed.body, "access_token");
    let link = app
        .call(
            Method::GET,
            "/user/identities/authorize?provider=google&skip_http_redirect=true",
            Some(at),
            None,
        )
        .await;
    assert_eq!(link.status, StatusCode::NOT_FOUND, "{link:?}");
    assert_eq!(link.body["error_code"], "manual_linking_disabled");
    assert_eq!(link.body["msg"], "Manual linking is disabled");
    let identity = signed.body["user"]["identities"][0]["identity_id"]
        .as_str()
        .unwrap();
    let unlink = app
        .call(
            Method::DELETE,
            &format!("/user/identities/{identity}"),
            Some(at),
            None,
        )
        .await;
    assert_eq!(
        unlink.body["error_code"], "manual_linking_disabled",
        "{unlink:?}"
    );
    // Not signed in: that comes first.
    let anonymous = app
        .call(
            Method::GET,
            "/user/identities/authorize?provider=google",
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
