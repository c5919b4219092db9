//! The OAuth provider's routes, through one whole flow of a public client.

use axum::http::{header, Method};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Checker, ADMIN};

fn param(location: &str, name: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    let found = url.query_pairs().find(|(k, _)| k == name);
    found.map(|(_, v)| v.into_owned()).unwrap()
}

pub(super) async fn provider(c: &mut Checker<'_>, access: &str) {
    c.at(Method::GET, "/.well-known/openid-configuration", None, None)
        .await;
    let redirect = "https://rp.example/cb";
    let body = json!({"client_name": "RP", "redirect_uris": [redirect], "client_type": "public"});
    let made = c
        .app
        .call(
            Method::POST,
            "/admin/oauth/clients",
            Some(ADMIN),
            Some(body),
        )
        .await;
    let id = made.body["client_id"].as_str().unwrap().to_owned();
    let verifier = "v".repeat(43);
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    let uri = format!(
        "/oauth/authorize?response_type=code&client_id={id}&code_challenge={challenge}&code_challenge_method=S256&scope=openid%20email"
    );
    let res = c
        .call(Method::GET, "/oauth/authorize", &uri, None, None)
        .await;
    let to = res.headers[header::LOCATION].to_str().unwrap().to_owned();
    let request = format!("/oauth/authorizations/{}", param(&to, "authorization_id"));
    let template = "/oauth/authorizations/{authorization_id}";
    c.call(Method::GET, template, &request, Some(access), None)
        .await;
    let approve = Some(json!({"action": "approve"}));
    let answer = c
        .call(
            Method::POST,
            &format!("{template}/consent"),
            &format!("{request}/consent"),
            Some(access),
            approve,
        )
        .await;
    let code = param(answer.body["redirect_url"].as_str().unwrap(), "code");
    let exchange = json!({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                          "code_verifier": verifier, "client_id": id});
    let tokens = c
        .at(Method::POST, "/oauth/token", None, Some(exchange))
        .await;
    let client_access = tokens.body["access_token"].as_str().unwrap().to_owned();
    c.at(Method::GET, "/oauth/userinfo", Some(&client_access), None)
        .await;
    c.at(Method::GET, "/user/oauth/grants", Some(access), None)
        .await;
    let grants = format!("/admin/oauth/clients/{id}/grants");
    c.call(
        Method::GET,
        "/admin/oauth/clients/{client_id}/grants",
        &grants,
        Some(ADMIN),
        None,
    )
    .await;
    let revoke = json!({"token": tokens.body["refresh_token"], "client_id": id});
    c.at(Method::POST, "/oauth/revoke", None, Some(revoke))
        .await;
    let uri = format!("/user/oauth/grants?client_id={id}");
    c.call(
        Method::DELETE,
        "/user/oauth/grants",
        &uri,
        Some(access),
        None,
    )
    .await;
}
