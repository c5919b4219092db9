//! The organization routes, as documented.

use axum::http::Method;
use serde_json::json;

use super::{Checker, Signed, ADMIN};

/// Created, listed, shown, its members and roles, refused steps, deleted.
pub(super) async fn organizations(c: &mut Checker<'_>, signed: &Signed) {
    let access = Some(signed.access.as_str());
    let created = c
        .at(
            Method::POST,
            "/organizations",
            access,
            Some(json!({"name": "Acme Corp", "metadata": {"plan": "team"}})),
        )
        .await;
    assert_eq!(created.body["slug"], "acme-corp", "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let me = created.body["roles"].clone();
    c.at(Method::GET, "/organizations", access, None).await;
    let one = format!("/organizations/{id}");
    c.call(Method::GET, "/organizations/{id}", &one, access, None)
        .await;
    c.call(
        Method::GET,
        "/organizations/{id}/members",
        &format!("{one}/members"),
        access,
        None,
    )
    .await;
    let members = c
        .app
        .call(Method::GET, &format!("{one}/members"), access, None)
        .await;
    let user = members.body[0]["user_id"].as_str().unwrap().to_owned();
    let member = "/organizations/{id}/members/{user_id}";
    c.call(
        Method::PUT,
        member,
        &format!("{one}/members/{user}"),
        access,
        Some(json!({"roles": me})),
    )
    .await;
    c.call(
        Method::POST,
        "/organizations/{id}/activate",
        &format!("{one}/activate"),
        access,
        None,
    )
    .await;
    c.at(Method::DELETE, "/organizations/active", access, None)
        .await;
    c.call(
        Method::PUT,
        "/admin/organizations/{id}/members/{user_id}",
        &format!("/admin/organizations/{id}/members/{user}"),
        Some(ADMIN),
        Some(json!({"roles": me})),
    )
    .await;
    invitations(c, &one, access).await;
    organization_keys(c, &id, access).await;
    administered(c, &user).await;
    let stranger = format!("{one}/members/{}", uuid::Uuid::new_v4());
    c.call(Method::DELETE, member, &stranger, access, None)
        .await;
    // The last administrator cannot leave.
    c.call(
        Method::POST,
        "/organizations/{id}/leave",
        &format!("{one}/leave"),
        access,
        None,
    )
    .await;
    c.call(Method::DELETE, "/organizations/{id}", &one, access, None)
        .await;
}

/// Invitations sent, listed, withdrawn; received, inspected and accepted (dead links: 404).
async fn invitations(c: &mut Checker<'_>, one: &str, access: Option<&str>) {
    let sent = c
        .call(
            Method::POST,
            "/organizations/{id}/invitations",
            &format!("{one}/invitations"),
            access,
            Some(json!({"email": "invited@example.com", "roles": ["org_member"]})),
        )
        .await;
    let invitation = sent.body["id"].as_str().unwrap().to_owned();
    c.call(
        Method::GET,
        "/organizations/{id}/invitations",
        &format!("{one}/invitations"),
        access,
        None,
    )
    .await;
    c.call(
        Method::DELETE,
        "/organizations/{id}/invitations/{invitation_id}",
        &format!("{one}/invitations/{invitation}"),
        access,
        None,
    )
    .await;
    c.at(Method::GET, "/invitations", access, None).await;
    let dead = json!({"token": "no-such-invitation"});
    c.at(Method::POST, "/invitations/inspect", None, Some(dead))
        .await;
    let new_account = json!({"token": "no-such-invitation", "password": "a long password"});
    c.at(Method::POST, "/invitations/accept", None, Some(new_account))
        .await;
    let by_id = json!({"id": invitation});
    c.at(Method::POST, "/invitations/accept", access, Some(by_id))
        .await;
}

/// API keys made, listed, rotated, exchanged and revoked.
pub(super) async fn api_keys(c: &mut Checker<'_>, signed: &Signed) {
    let access = Some(signed.access.as_str());
    let made = c
        .at(
            Method::POST,
            "/api-keys",
            access,
            Some(json!({"name": "ci", "expires_in": 3600})),
        )
        .await;
    let id = made.body["id"].as_str().unwrap().to_owned();
    c.at(Method::GET, "/api-keys", access, None).await;
    let rotated = c
        .call(
            Method::POST,
            "/api-keys/{id}/rotate",
            &format!("/api-keys/{id}/rotate"),
            access,
            None,
        )
        .await;
    let key = rotated.body["api_key"].as_str().unwrap().to_owned();
    c.call(
        Method::POST,
        "/token",
        "/token?grant_type=api_key",
        None,
        Some(json!({"api_key": key})),
    )
    .await;
    c.call(
        Method::DELETE,
        "/api-keys/{id}",
        &format!("/api-keys/{id}"),
        access,
        None,
    )
    .await;
    c.call(
        Method::POST,
        "/token",
        "/token?grant_type=api_key",
        None,
        Some(json!({"api_key": key})),
    )
    .await;
}

/// The server's administrators: organizations listed, created, their members, removed.
async fn administered(c: &mut Checker<'_>, user: &str) {
    c.at(Method::GET, "/admin/organizations", Some(ADMIN), None)
        .await;
    let body = json!({"name": "Administered", "admin_user_id": user});
    let made = c
        .at(
            Method::POST,
            "/admin/organizations",
            Some(ADMIN),
            Some(body),
        )
        .await;
    let id = made.body["id"].as_str().unwrap().to_owned();
    c.call(
        Method::GET,
        "/admin/organizations/{id}/members",
        &format!("/admin/organizations/{id}/members"),
        Some(ADMIN),
        None,
    )
    .await;
    // The last administrator stays.
    c.call(
        Method::DELETE,
        "/admin/organizations/{id}/members/{user_id}",
        &format!("/admin/organizations/{id}/members/{user}"),
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        Method::DELETE,
        "/admin/organizations/{id}",
        &format!("/admin/organizations/{id}"),
        Some(ADMIN),
        None,
    )
    .await;
}

/// OAuth clients, for the server's administrators; dynamic registration (off here: 403).
pub(super) async fn oauth_clients(c: &mut Checker<'_>) {
    let dynamic = json!({"redirect_uris": ["https://mcp.example/cb"]});
    c.at(Method::POST, "/oauth/clients/register", None, Some(dynamic))
        .await;
    let body = json!({"client_name": "Partner", "redirect_uris": ["https://partner.example/cb"]});
    let made = c
        .at(
            Method::POST,
            "/admin/oauth/clients",
            Some(ADMIN),
            Some(body),
        )
        .await;
    let id = made.body["client_id"].as_str().unwrap().to_owned();
    c.at(Method::GET, "/admin/oauth/clients", Some(ADMIN), None)
        .await;
    let one = format!("/admin/oauth/clients/{id}");
    let template = "/admin/oauth/clients/{client_id}";
    c.call(Method::GET, template, &one, Some(ADMIN), None).await;
    let rename = json!({"client_name": "Partner app"});
    c.call(Method::PUT, template, &one, Some(ADMIN), Some(rename))
        .await;
    c.call(
        Method::POST,
        "/admin/oauth/clients/{client_id}/regenerate_secret",
        &format!("{one}/regenerate_secret"),
        Some(ADMIN),
        None,
    )
    .await;
    c.call(Method::DELETE, template, &one, Some(ADMIN), None)
        .await;
    c.call(Method::GET, template, &one, Some(ADMIN), None).await;
}

/// The keys acting in an organization, for its administrators.
async fn organization_keys(c: &mut Checker<'_>, org: &str, access: Option<&str>) {
    let body = json!({"name": "org bot", "organization_id": org});
    let made = c
        .app
        .call(Method::POST, "/api-keys", access, Some(body))
        .await;
    let key = made.body["id"].as_str().unwrap().to_owned();
    c.call(
        Method::GET,
        "/organizations/{id}/api-keys",
        &format!("/organizations/{org}/api-keys"),
        access,
        None,
    )
    .await;
    c.call(
        Method::DELETE,
        "/organizations/{id}/api-keys/{key_id}",
        &format!("/organizations/{org}/api-keys/{key}"),
        access,
        None,
    )
    .await;
}
