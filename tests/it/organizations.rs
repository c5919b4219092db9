//! Organizations: created by any full user (who becomes its administrator), private to their
//! members, managed by administrators, never left without one; every membership change audited.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

mod actions;
mod active;
mod admin;
mod invitations;
mod pages;

use crate::common::{self, str_of, TestApp};

pub(crate) async fn token_of(app: &TestApp, email: &str) -> String {
    let s = app.signup(email).await;
    str_of(&s.body, "access_token").to_owned()
}

pub(crate) async fn create(app: &TestApp, token: &str, body: Value) -> common::Response {
    app.call(Method::POST, "/organizations", Some(token), Some(body))
        .await
}

/// Puts `user` in the organization with `roles`, as the invitation step will.
pub(crate) async fn add_member(app: &TestApp, org: &str, user: &str, roles: &[&str]) {
    sqlx::query(
        "INSERT INTO organization_members (organization_id, user_id, roles)
         VALUES ($1::uuid, $2::uuid, $3)",
    )
    .bind(org)
    .bind(user)
    .bind(roles)
    .execute(&app.pool)
    .await
    .unwrap();
}

pub(crate) fn user_id(token: &str) -> String {
    common::jwt_payload(token)["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[sqlx::test(migrations = false)]
async fn organizations_are_created_kept_private_and_validated(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let ann = token_of(&app, "ann@example.com").await;
    let bob = token_of(&app, "bob@example.com").await;

    let made = create(&app, &ann, json!({"name": "  Ann's Café & Co  "})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    assert_eq!(made.body["slug"], "ann-s-caf-co");
    assert_eq!(made.body["roles"], json!(["org_admin", "org_member"]));
    assert_eq!(made.body["metadata"], json!({}));
    let id = str_of(&made.body, "id").to_owned();

    let taken = create(&app, &bob, json!({"name": "Other", "slug": "ann-s-caf-co"})).await;
    assert_eq!(
        (taken.status, taken.body["error_code"].clone()),
        (StatusCode::CONFLICT, json!("organization_slug_taken"))
    );
    for bad in [
        json!({"name": ""}),
        json!({"name": "x", "slug": "Not A Slug"}),
        json!({"name": "x", "metadata": [1]}),
        json!({"name": "!!!"}),
    ] {
        let refused = create(&app, &bob, bad.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad} {refused:?}");
    }
    // To anyone else it does not exist.
    for path in [
        format!("/organizations/{id}"),
        format!("/organizations/{id}/members"),
    ] {
        let hidden = app.call(Method::GET, &path, Some(&bob), None).await;
        assert_eq!(
            hidden.body["error_code"], "organization_not_found",
            "{path}"
        );
    }
    let mine = app
        .call(Method::GET, "/organizations", Some(&bob), None)
        .await;
    assert_eq!(mine.body, json!([]));
    let mine = app
        .call(Method::GET, "/organizations", Some(&ann), None)
        .await;
    assert_eq!(mine.body[0]["id"], id.as_str());
    let unauthenticated = app.call(Method::GET, "/organizations", None, None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = false)]
async fn administrators_manage_members_and_one_always_remains(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let ann = token_of(&app, "ann@example.com").await;
    let bob = token_of(&app, "bob@example.com").await;
    let made = create(
        &app,
        &ann,
        json!({"name": "Acme", "metadata": {"plan": "team"}}),
    )
    .await;
    let org = str_of(&made.body, "id").to_owned();
    let (ann_id, bob_id) = (user_id(&ann), user_id(&bob));
    add_member(&app, &org, &bob_id, &["org_member"]).await;
    let member = |who: &str| format!("/organizations/{org}/members/{who}");

    // A member is no administrator.
    let refused = app
        .call(
            Method::GET,
            &format!("/organizations/{org}/members"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(refused.body["error_code"], "organization_admin_required");
    let refused = app
        .call(
            Method::PUT,
            &member(&bob_id),
            Some(&bob),
            Some(json!({"roles": ["org_admin"]})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app
        .call(
            Method::DELETE,
            &format!("/organizations/{org}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // The last administrator cannot step down, be removed or leave.
    let roles = json!({"roles": ["org_member"]});
    let last = app
        .call(
            Method::PUT,
            &member(&ann_id),
            Some(&ann),
            Some(roles.clone()),
        )
        .await;
    assert_eq!(
        last.body["error_code"], "last_organization_admin",
        "{last:?}"
    );
    let last = app
        .call(Method::DELETE, &member(&ann_id), Some(&ann), None)
        .await;
    assert_eq!(last.body["error_code"], "last_organization_admin");
    let last = app
        .call(
            Method::POST,
            &format!("/organizations/{org}/leave"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(last.body["error_code"], "last_organization_admin");

    // Roles only among the configured ones.
    let odd = app
        .call(
            Method::PUT,
            &member(&bob_id),
            Some(&ann),
            Some(json!({"roles": ["owner"]})),
        )
        .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);
    let none = app
        .call(
            Method::PUT,
            &member(&bob_id),
            Some(&ann),
            Some(json!({"roles": []})),
        )
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);

    // Bob made an administrator; then Ann may step down, and Bob removes her.
    let both = json!({"roles": ["org_admin", "org_member", "org_admin"]});
    let promoted = app
        .call(Method::PUT, &member(&bob_id), Some(&ann), Some(both))
        .await;
    assert_eq!(
        promoted.body["roles"],
        json!(["org_admin", "org_member"]),
        "{promoted:?}"
    );
    let down = app
        .call(Method::PUT, &member(&ann_id), Some(&ann), Some(roles))
        .await;
    assert_eq!(down.status, StatusCode::OK, "{down:?}");
    let list = app
        .call(
            Method::GET,
            &format!("/organizations/{org}/members"),
            Some(&bob),
            None,
        )
        .await;
    let emails: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ann@example.com", "bob@example.com"]);
    let gone = app
        .call(Method::DELETE, &member(&ann_id), Some(&bob), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let again = app
        .call(Method::DELETE, &member(&ann_id), Some(&bob), None)
        .await;
    assert_eq!(again.body["error_code"], "organization_member_not_found");
    let hidden = app
        .call(
            Method::GET,
            &format!("/organizations/{org}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);

    // Deleted by its administrator, with its memberships.
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/organizations/{org}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM organization_members")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // Every change of membership is in the audit log, about the member it changed.
    let events: Vec<(String, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT event, user_id FROM audit_log WHERE event LIKE 'organization%' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let ann_uuid = uuid::Uuid::parse_str(&ann_id).ok();
    let bob_uuid = uuid::Uuid::parse_str(&bob_id).ok();
    assert_eq!(
        events,
        [
            ("organization_created".to_owned(), ann_uuid),
            ("organization_member_roles_changed".to_owned(), bob_uuid),
            ("organization_member_roles_changed".to_owned(), ann_uuid),
            ("organization_member_removed".to_owned(), ann_uuid),
            ("organization_deleted".to_owned(), bob_uuid),
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn members_leave_and_anonymous_users_create_none(db: PgPool) {
    let app = common::app(&db, &["--anonymous-users"]).await;
    let ann = token_of(&app, "ann@example.com").await;
    let bob = token_of(&app, "bob@example.com").await;
    let made = create(&app, &ann, json!({"name": "Acme"})).await;
    let org = str_of(&made.body, "id").to_owned();
    add_member(&app, &org, &user_id(&bob), &["org_member"]).await;
    let left = app
        .call(
            Method::POST,
            &format!("/organizations/{org}/leave"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'organization_left'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    let guest = app.post("/signup", json!({})).await;
    let guest = str_of(&guest.body, "access_token").to_owned();
    let refused = create(&app, &guest, json!({"name": "Guests"})).await;
    assert_eq!(refused.body["error_code"], "anonymous_user_not_allowed");
}

#[sqlx::test(migrations = false)]
async fn an_administrator_of_the_server_puts_users_in_organizations(db: PgPool) {
    let admin = "admin-secret-admin-secret-admin-secret";
    let app = common::app(&db, &["--admin-secret", admin]).await;
    let ann = token_of(&app, "ann@example.com").await;
    let bob = token_of(&app, "bob@example.com").await;
    let made = create(&app, &ann, json!({"name": "Acme"})).await;
    let org = str_of(&made.body, "id").to_owned();
    let put = |who: &str| format!("/admin/organizations/{org}/members/{who}");
    let member = json!({"roles": ["org_member"]});
    let added = app
        .call(
            Method::PUT,
            &put(&user_id(&bob)),
            Some(admin),
            Some(member.clone()),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{added:?}");
    assert_eq!(added.body["email"], "bob@example.com");
    // Bob is a member now: he may act in it.
    let active = app
        .call(
            Method::POST,
            &format!("/organizations/{org}/activate"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(active.body["roles"], json!(["org_member"]));
    // Not with the users' secret, not unknown roles, not the last administrator's role away.
    let refused = app
        .call(
            Method::PUT,
            &put(&user_id(&bob)),
            Some(&ann),
            Some(member.clone()),
        )
        .await;
    assert_eq!(refused.body["error_code"], "not_admin");
    let odd = json!({"roles": ["owner"]});
    let refused = app
        .call(Method::PUT, &put(&user_id(&bob)), Some(admin), Some(odd))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let refused = app
        .call(Method::PUT, &put(&user_id(&ann)), Some(admin), Some(member))
        .await;
    assert_eq!(refused.body["error_code"], "last_organization_admin");
    let detail: Value = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE event = 'organization_member_added'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(detail["by"], "admin_api");
}
