//! Organizations for the server's administrators, through the admin API and the command line:
//! listed, created with an administrator, their members put in and removed (never the last
//! administrator), deleted.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{token_of, user_id};
use crate::{
    cli::{cli, url_of},
    common::{self, str_of},
};

const ADMIN: &str = "admin-secret-admin-secret-admin-secret";

#[sqlx::test(migrations = false)]
async fn administrators_list_create_and_delete_organizations(db: PgPool) {
    let app = common::app(&db, &["--admin-secret", ADMIN]).await;
    let ann = token_of(&app, "ann@example.com").await;
    let bob = token_of(&app, "bob@example.com").await;
    let admin = Some(ADMIN);

    let body = json!({"name": "Acme", "admin_user_id": user_id(&ann)});
    let made = app
        .call(Method::POST, "/admin/organizations", admin, Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    assert_eq!(made.body["roles"], json!(["org_admin", "org_member"]));
    let org = str_of(&made.body, "id").to_owned();
    // Ann administers it: she sees it and may manage it.
    let hers = app
        .call(Method::GET, "/organizations", Some(&ann), None)
        .await;
    assert_eq!(hers.body[0]["id"], org.as_str());
    let nobody = json!({"name": "Other", "admin_user_id": uuid::Uuid::new_v4()});
    let res = app
        .call(Method::POST, "/admin/organizations", admin, Some(nobody))
        .await;
    assert_eq!(res.body["error_code"], "user_not_found", "{res:?}");
    let refused = app
        .call(Method::GET, "/admin/organizations", Some(&ann), None)
        .await;
    assert_eq!(refused.body["error_code"], "not_admin");

    let member = |who: &str| format!("/admin/organizations/{org}/members/{}", user_id(who));
    let roles = json!({"roles": ["org_member"]});
    let put = app
        .call(Method::PUT, &member(&bob), admin, Some(roles))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{put:?}");
    let listed = app
        .call(Method::GET, "/admin/organizations", admin, None)
        .await;
    assert_eq!(listed.body["organizations"][0]["members"], 2, "{listed:?}");
    assert_eq!(listed.headers["x-total-count"], "1");
    let members = format!("/admin/organizations/{org}/members");
    let all = app.call(Method::GET, &members, admin, None).await;
    assert_eq!(all.body.as_array().unwrap().len(), 2);
    // Removed; the last administrator stays.
    let res = app.call(Method::DELETE, &member(&bob), admin, None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app.call(Method::DELETE, &member(&bob), admin, None).await;
    assert_eq!(res.body["error_code"], "organization_member_not_found");
    let res = app.call(Method::DELETE, &member(&ann), admin, None).await;
    assert_eq!(res.body["error_code"], "last_organization_admin");

    let one = format!("/admin/organizations/{org}");
    let res = app.call(Method::DELETE, &one, admin, None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app.call(Method::DELETE, &one, admin, None).await;
    assert_eq!(res.body["error_code"], "organization_not_found");
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM audit_log WHERE event LIKE 'organization%' AND detail->>'by' = 'admin_api' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            "organization_created",
            "organization_member_added",
            "organization_member_removed",
            "organization_deleted"
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn the_command_line_manages_organizations(db: PgPool) {
    let url = url_of(&db);
    let app = common::app(&db, &[]).await;
    token_of(&app, "ann@example.com").await;
    let bob = token_of(&app, "bob@example.com").await;
    let run = |args: &[&str]| {
        let out = cli(&url, args, None);
        assert!(out.ok, "{args:?}: {}", out.stderr);
        out.stdout
    };
    let made = run(&[
        "organization",
        "create",
        "Acme Corp",
        "--admin",
        "ann@example.com",
    ]);
    let id = made.split_whitespace().next().unwrap().to_owned();
    assert!(made.contains("acme-corp"), "{made}");
    run(&[
        "organization",
        "add-member",
        &id,
        "bob@example.com",
        "--roles",
        "org_member",
    ]);
    let members = run(&["organization", "members", &id]);
    assert!(members.contains("bob@example.com  org_member"), "{members}");
    let listed = run(&["organization", "list"]);
    assert!(
        listed.contains("acme-corp  Acme Corp  2 members"),
        "{listed}"
    );
    // Bob is a member: he may act in it.
    let active = app
        .call(
            Method::POST,
            &format!("/organizations/{id}/activate"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(active.status, StatusCode::OK, "{active:?}");
    run(&["organization", "remove-member", &id, "bob@example.com"]);
    let last = cli(
        &url,
        &["organization", "remove-member", &id, "ann@example.com"],
        None,
    );
    assert!(
        !last.ok && last.stderr.contains("administrator"),
        "{}",
        last.stderr
    );
    run(&["organization", "delete", &id]);
    assert!(!run(&["organization", "list"]).contains("acme-corp"));
}
