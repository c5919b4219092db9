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

#[sqlx::test(migrations = false)]
async fn the_organization_is_chosen_at_sign_in_or_in_a_refresh(db: PgPool) {
    let app = crate::common::app(&db, &[]).await;
    let ann = str_of(&app.signup("ann@example.com").await.body, "access_token").to_owned();
    let bob = app.signup("bob@example.com").await;
    let bob_id = user_id(str_of(&bob.body, "access_token"));
    let org_of = |res: crate::common::Response| str_of(&res.body, "id").to_owned();
    let org = org_of(create(&app, &ann, json!({"name": "Acme"})).await);
    let other = org_of(create(&app, &ann, json!({"name": "Other"})).await);
    add_member(&app, &org, &bob_id, &["org_member"]).await;

    // At sign-in: the first access token already acts there.
    let sign_in = |org: &str| {
        let body = json!({"email": "bob@example.com", "password": crate::common::PASSWORD,
                          "organization_id": org});
        app.call(Method::POST, "/token?grant_type=password", None, Some(body))
    };
    let signed = sign_in(&org).await;
    assert_eq!(signed.status, StatusCode::OK, "{signed:?}");
    let claims = &jwt_payload(str_of(&signed.body, "access_token"))["https://hasura.io/jwt/claims"];
    assert_eq!(claims[ORG_ID], org.as_str());
    assert_eq!(claims["x-hasura-default-role"], "org_member");
    let refresh = str_of(&signed.body, "refresh_token").to_owned();
    let (claims, refresh) = refreshed(&app, &refresh).await;
    assert_eq!(
        claims[ORG_ID],
        org.as_str(),
        "the choice stays with the session"
    );

    // Not a member there: 404, and no session was opened.
    let before = app.session_count(&bob_id).await;
    let refused = sign_in(&other).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{refused:?}");
    assert_eq!(refused.body["error_code"], "organization_not_found");
    assert_eq!(app.session_count(&bob_id).await, before);
    // A wrong password says nothing about memberships.
    let body = json!({"email": "bob@example.com", "password": "wrong", "organization_id": other});
    let wrong = app
        .call(Method::POST, "/token?grant_type=password", None, Some(body))
        .await;
    assert_eq!(wrong.body["error_code"], "invalid_credentials");

    // In a refresh: refused where bob is no member, and the token was not used up.
    let refresh_in = |token: &str, org: &str| {
        let body = json!({"refresh_token": token, "organization_id": org});
        app.call(
            Method::POST,
            "/token?grant_type=refresh_token",
            None,
            Some(body),
        )
    };
    let refused = refresh_in(&refresh, &other).await;
    assert_eq!(refused.body["error_code"], "organization_not_found");
    add_member(&app, &other, &bob_id, &["org_admin"]).await;
    let switched = refresh_in(&refresh, &other).await;
    assert_eq!(switched.status, StatusCode::OK, "{switched:?}");
    let claims =
        &jwt_payload(str_of(&switched.body, "access_token"))["https://hasura.io/jwt/claims"];
    assert_eq!(claims[ORG_ID], other.as_str());
    assert_eq!(claims["x-hasura-default-role"], "org_admin");
    let (claims, next) = refreshed(&app, str_of(&switched.body, "refresh_token")).await;
    assert_eq!(claims[ORG_ID], other.as_str());
    // Removed from it: naming it again is refused, though the session still names it.
    sqlx::query(
        "DELETE FROM organization_members WHERE user_id = $1::uuid AND organization_id = $2::uuid",
    )
    .bind(&bob_id)
    .bind(&other)
    .execute(&app.pool)
    .await
    .unwrap();
    let gone = refresh_in(&next, &other).await;
    assert_eq!(
        gone.body["error_code"], "organization_not_found",
        "{gone:?}"
    );

    // A token that is no session's switches nothing.
    let forged = refresh_in("v1.not-a-token", &org).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{forged:?}");
    // The same session, another secret (57 bytes: every character is whole bytes' bits).
    let mut unknown = refresh.clone().into_bytes();
    unknown[60] = if unknown[60] == b'A' { b'B' } else { b'A' };
    let unknown = String::from_utf8(unknown).unwrap();
    let unknown = refresh_in(&unknown, &org).await;
    assert_eq!(
        unknown.body["error_code"], "refresh_token_not_found",
        "{unknown:?}"
    );
}
