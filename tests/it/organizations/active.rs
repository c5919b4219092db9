//! The organization a session acts in: its id and the member's roles there in Hasura's claims,
//! in JWT mode from the next refresh, in webhook mode at once (the session cache hears every
//! membership change); switched without signing in again.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{add_member, create, user_id};
use crate::{
    cache::{instance, primed, wait_until},
    common::{jwt_payload, str_of, TestApp},
};

const ORG_ID: &str = "x-hasura-org-id";

/// The webhook's answer for `token`, asking for `role` if given.
async fn hook(app: &TestApp, token: &str, role: Option<&str>) -> (StatusCode, Value) {
    let mut req = axum::http::Request::get("/hasura/webhook")
        .header("authorization", format!("Bearer {token}"));
    if let Some(role) = role {
        req = req.header("x-hasura-role", role);
    }
    let res = app
        .request(req.body(axum::body::Body::empty()).unwrap())
        .await;
    (res.status, res.body)
}

/// The Hasura claims of a fresh access token of the session of `refresh`; the next refresh
/// token.
async fn refreshed(app: &TestApp, refresh: &str) -> (Value, String) {
    let res = app.refresh(refresh).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let claims =
        jwt_payload(str_of(&res.body, "access_token"))["https://hasura.io/jwt/claims"].clone();
    (claims, str_of(&res.body, "refresh_token").to_owned())
}

#[sqlx::test(migrations = false)]
async fn the_active_organization_reaches_hasura_and_follows_membership(db: PgPool) {
    // Changes go through `app`; `b`, another instance, hears them from the database.
    let app = instance(&db).await;
    let b = instance(&db).await;
    let ann = app.signup("ann@example.com").await;
    let ann_token = str_of(&ann.body, "access_token").to_owned();
    let bob = app.signup("bob@example.com").await;
    let bob_token = str_of(&bob.body, "access_token").to_owned();
    let mut bob_refresh = str_of(&bob.body, "refresh_token").to_owned();
    let org = str_of(
        &create(&app, &ann_token, json!({"name": "Acme"})).await.body,
        "id",
    )
    .to_owned();
    let other = str_of(
        &create(&app, &ann_token, json!({"name": "Other"}))
            .await
            .body,
        "id",
    )
    .to_owned();
    let bob_id = user_id(&bob_token);

    // Not a member: nothing to activate.
    let activate = |id: &str| format!("/organizations/{id}/activate");
    let refused = app
        .call(Method::POST, &activate(&org), Some(&bob_token), None)
        .await;
    assert_eq!(refused.body["error_code"], "organization_not_found");

    add_member(&app, &org, &bob_id, &["org_member"]).await;
    primed(&app, &bob_token).await;
    let chosen = app
        .call(Method::POST, &activate(&org), Some(&bob_token), None)
        .await;
    assert_eq!(chosen.status, StatusCode::OK, "{chosen:?}");
    // The webhook at once, the token at the next refresh (no sign-in).
    let (status, vars) = hook(&app, &bob_token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            vars["X-Hasura-Org-Id"].as_str(),
            vars["X-Hasura-Role"].as_str()
        ),
        (Some(org.as_str()), Some("org_member"))
    );
    let (claims, next) = refreshed(&app, &bob_refresh).await;
    bob_refresh = next;
    assert_eq!(claims[ORG_ID], org.as_str());
    assert_eq!(claims["x-hasura-default-role"], "org_member");
    assert_eq!(
        claims["x-hasura-allowed-roles"],
        json!(["user", "org_member"])
    );

    // A role granted: every instance's webhook takes it at once, the token at the next refresh.
    primed(&b, &bob_token).await;
    let member = format!("/organizations/{org}/members/{bob_id}");
    let both = json!({"roles": ["org_member", "org_admin"]});
    app.call(Method::PUT, &member, Some(&ann_token), Some(both))
        .await;
    let took = wait_until("the granted role", || async {
        hook(&b, &bob_token, Some("org_admin")).await.0 == StatusCode::OK
    })
    .await;
    assert!(took.as_secs() < 5);
    let (claims, next) = refreshed(&app, &bob_refresh).await;
    bob_refresh = next;
    assert_eq!(
        claims["x-hasura-allowed-roles"],
        json!(["user", "org_member", "org_admin"])
    );

    // Removed: the webhook drops the organization and its roles at once; so does the next token.
    primed(&b, &bob_token).await;
    app.call(Method::DELETE, &member, Some(&ann_token), None)
        .await;
    wait_until("the removal", || async {
        hook(&b, &bob_token, Some("org_admin")).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    let (status, vars) = hook(&app, &bob_token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(vars["X-Hasura-Role"], "user");
    assert!(vars.get("X-Hasura-Org-Id").is_none(), "{vars}");
    let (claims, _) = refreshed(&app, &bob_refresh).await;
    assert!(claims.get(ORG_ID).is_none(), "{claims}");
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["user"]));

    // Switched from one organization to another, then to none, without signing in.
    let mut ann_refresh = str_of(&ann.body, "refresh_token").to_owned();
    for (path, method, expected) in [
        (activate(&org), Method::POST, Some(org.as_str())),
        (activate(&other), Method::POST, Some(other.as_str())),
        ("/organizations/active".to_owned(), Method::DELETE, None),
    ] {
        let res = app.call(method, &path, Some(&ann_token), None).await;
        assert!(res.status.is_success(), "{res:?}");
        let (claims, next) = refreshed(&app, &ann_refresh).await;
        ann_refresh = next;
        assert_eq!(claims[ORG_ID].as_str(), expected, "{claims}");
    }
    // An organization deleted: no session acts in it any more.
    app.call(Method::POST, &activate(&other), Some(&ann_token), None)
        .await;
    app.call(
        Method::DELETE,
        &format!("/organizations/{other}"),
        Some(&ann_token),
        None,
    )
    .await;
    let (claims, _) = refreshed(&app, &ann_refresh).await;
    assert!(claims.get(ORG_ID).is_none(), "{claims}");
}
