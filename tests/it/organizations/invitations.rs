//! Invitations by email: a new address gets its account on acceptance, an existing account
//! accepts signed in, nobody else's account can, and each invitation is used once, before it
//! expires, unless withdrawn or replaced.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::create;
use crate::{
    common::{jwt_payload, smtp::Smtp, str_of, TestApp, PASSWORD},
    email::{mail_app, SITE},
};

/// Invites `email` to `org` as `ann`; the token of the link that arrives.
async fn invite(
    app: &TestApp,
    smtp: &Smtp,
    ann: &str,
    org: &str,
    email: &str,
    body: Value,
) -> String {
    let before = smtp.to(email).len();
    let mut body = body;
    body["email"] = json!(email);
    let path = format!("/organizations/{org}/invitations?redirect_to={SITE}/join");
    let res = app.call(Method::POST, &path, Some(ann), Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.body["email"], email);
    let mail = smtp.wait(email, before + 1).await;
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{SITE}/join?invitation_token=")))
        .unwrap_or_else(|| panic!("a link in {}", mail.text))
        .to_owned();
    // URL-safe base64: nothing in it is escaped.
    link.split_once("invitation_token=").unwrap().1.to_owned()
}

/// The address proved, as a link or code sent there would.
pub(crate) async fn prove_address(app: &TestApp, email: &str) {
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE email = $1")
        .bind(email)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn accept(app: &TestApp, bearer: Option<&str>, body: Value) -> crate::common::Response {
    app.call(Method::POST, "/invitations/accept", bearer, Some(body))
        .await
}

#[sqlx::test(migrations = false)]
async fn invitations_are_accepted_once_by_the_invited_address_only(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-min-interval", "0s"]).await;
    let ann = str_of(&app.signup("ann@example.com").await.body, "access_token").to_owned();
    let bob = str_of(&app.signup("bob@example.com").await.body, "access_token").to_owned();
    let org = str_of(
        &create(&app, &ann, json!({"name": "Acme & Co"})).await.body,
        "id",
    )
    .to_owned();

    // Only administrators invite; to others the organization does not exist.
    let path = format!("/organizations/{org}/invitations");
    let res = app
        .call(
            Method::POST,
            &path,
            Some(&bob),
            Some(json!({"email": "x@example.com"})),
        )
        .await;
    assert_eq!(res.body["error_code"], "organization_not_found");
    let res = app
        .call(
            Method::POST,
            &path,
            Some(&ann),
            Some(json!({"email": "x@example.com", "roles": ["owner"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");

    // A new address: the link shows the invitation, and the account is made on acceptance.
    let token = invite(
        &app,
        &smtp,
        &ann,
        &org,
        "carol@example.com",
        json!({"roles": ["org_admin"]}),
    )
    .await;
    let mail = smtp.to("carol@example.com").pop().unwrap();
    assert!(mail.subject.contains("Acme & Co"), "{}", mail.subject);
    let shown = app
        .post("/invitations/inspect", json!({"token": token}))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{shown:?}");
    assert_eq!(shown.body["organization"]["name"], "Acme & Co");
    assert_eq!(shown.body["roles"], json!(["org_admin"]));
    // Another account cannot take it.
    let wrong = accept(&app, Some(&bob), json!({"token": token})).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{wrong:?}");
    assert_eq!(wrong.body["error_code"], "invitation_for_another_account");
    let joined = accept(&app, None, json!({"token": token, "password": PASSWORD})).await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
    assert!(
        !joined.body["user"]["email_confirmed_at"].is_null(),
        "the link proved the address"
    );
    let claims = &jwt_payload(str_of(&joined.body, "access_token"))["https://hasura.io/jwt/claims"];
    assert_eq!(claims["x-hasura-org-id"], org.as_str());
    assert_eq!(claims["x-hasura-default-role"], "org_admin");
    assert_eq!(
        app.sign_in("carol@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    // Used once.
    let again = accept(&app, None, json!({"token": token, "password": PASSWORD})).await;
    assert_eq!(
        again.body["error_code"], "invitation_not_found",
        "{again:?}"
    );
    let again = app
        .post("/invitations/inspect", json!({"token": token}))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // An existing account: listed for it, accepted signed in (by id), never without signing in.
    let token = invite(&app, &smtp, &ann, &org, "bob@example.com", json!({})).await;
    let res = accept(
        &app,
        None,
        json!({"token": token, "password": "another password"}),
    )
    .await;
    assert_eq!(res.body["error_code"], "email_exists", "{res:?}");
    // Signed up without proving the address (confirmation is off): the invitation is not
    // shown, nor taken by id; only its link proves the address.
    let hidden = app
        .call(Method::GET, "/invitations", Some(&bob), None)
        .await;
    assert_eq!(hidden.body, json!([]), "{hidden:?}");
    let pending = app.call(Method::GET, &path, Some(&ann), None).await;
    let by_id = json!({"id": pending.body[0]["id"]});
    let refused = accept(&app, Some(&bob), by_id).await;
    assert_eq!(
        refused.body["error_code"], "invitation_not_found",
        "{refused:?}"
    );
    prove_address(&app, "bob@example.com").await;
    let offered = app
        .call(Method::GET, "/invitations", Some(&bob), None)
        .await;
    assert_eq!(offered.body.as_array().unwrap().len(), 1, "{offered:?}");
    let id = str_of(&offered.body[0], "id").to_owned();
    let other = app
        .call(Method::GET, "/invitations", Some(&ann), None)
        .await;
    assert_eq!(other.body, json!([]));
    assert_eq!(
        accept(&app, Some(&ann), json!({"id": id})).await.status,
        StatusCode::NOT_FOUND
    );
    let joined = accept(&app, Some(&bob), json!({"id": id})).await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
    assert_eq!(joined.body["roles"], json!(["org_member"]));
    assert_eq!(
        accept(&app, Some(&bob), json!({"token": token}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .call(
            Method::POST,
            &path,
            Some(&ann),
            Some(json!({"email": "BOB@example.com"})),
        )
        .await;
    assert_eq!(
        res.body["error_code"], "already_organization_member",
        "{res:?}"
    );

    // Expired, withdrawn and replaced invitations are dead links.
    let expired = invite(&app, &smtp, &ann, &org, "erin@example.com", json!({})).await;
    sqlx::query("UPDATE organization_invitations SET expires_at = now() - interval '1 second' WHERE email = 'erin@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = accept(&app, None, json!({"token": expired, "password": PASSWORD})).await;
    assert_eq!(res.body["error_code"], "invitation_not_found", "{res:?}");
    let first = invite(&app, &smtp, &ann, &org, "frank@example.com", json!({})).await;
    let second = invite(&app, &smtp, &ann, &org, "frank@example.com", json!({})).await;
    assert_eq!(
        app.post("/invitations/inspect", json!({"token": first}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let pending = app.call(Method::GET, &path, Some(&ann), None).await;
    let emails: Vec<&str> = pending
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["frank@example.com", "erin@example.com"]);
    let frank = pending.body[0]["id"].as_str().unwrap();
    let res = app
        .call(Method::DELETE, &format!("{path}/{frank}"), Some(&ann), None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = accept(&app, None, json!({"token": second, "password": PASSWORD})).await;
    assert_eq!(res.body["error_code"], "invitation_not_found", "{res:?}");

    // Housekeeping drops the expired invitation and keeps those still open or used in time.
    let count = || async {
        sqlx::query_scalar::<_, String>("SELECT email FROM organization_invitations ORDER BY email")
            .fetch_all(&app.pool)
            .await
            .unwrap()
    };
    assert!(count().await.contains(&"erin@example.com".to_owned()));
    hasura_jwt_auth::housekeeping::run_once(&app.state.auth).await;
    assert_eq!(count().await, ["bob@example.com", "carol@example.com"]);

    // Audited: sent, and joined through it.
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM audit_log WHERE event LIKE 'organization_member_%' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let invited = events
        .iter()
        .filter(|e| *e == "organization_member_invited")
        .count();
    let added = events
        .iter()
        .filter(|e| *e == "organization_member_added")
        .count();
    assert_eq!((invited, added), (5, 2), "{events:?}");
}
