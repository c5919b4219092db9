//! The provider's flow through its endpoints, as a client and a consent page use them: the
//! authorization request and its checks, consent (remembered, revoked), the code's single use,
//! client authentication, refresh, and the client's limited Hasura roles everywhere.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::ADMIN;
use crate::common::{self, jwt_payload, str_of, Response, TestApp};

const REDIRECT: &str = "https://app.example/callback";
const VERIFIER: &str = "a-code-verifier-of-forty-three-characters-or-more-0123";

pub(super) fn challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

async fn oauth_app(db: &PgPool) -> TestApp {
    common::app(db, &["--admin-secret", ADMIN, "--oauth-server"]).await
}

/// A registered client: its id and (confidential) secret.
async fn client(app: &TestApp, extra: Value) -> (String, Option<String>) {
    let mut body = json!({"client_name": "Partner", "redirect_uris": [REDIRECT]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let res = app
        .call(
            Method::POST,
            "/admin/oauth/clients",
            Some(ADMIN),
            Some(body),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let secret = res.body["client_secret"].as_str().map(str::to_owned);
    (str_of(&res.body, "client_id").to_owned(), secret)
}

/// A user (default role `user`) with `roles`, signed in afresh: their id and access token.
async fn user_with_roles(app: &TestApp, email: &str, roles: &[&str]) -> (String, String) {
    let signed = app.signup(email).await;
    let user_id = str_of(&signed.body["user"], "id").to_owned();
    let roles = json!({"app_metadata": {"default_role": "user", "allowed_roles": roles}});
    let path = format!("/admin/users/{user_id}");
    let res = app.call(Method::PUT, &path, Some(ADMIN), Some(roles)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let signed_in = app.sign_in(email, common::PASSWORD).await;
    (user_id, str_of(&signed_in.body, "access_token").to_owned())
}

fn location(res: &Response) -> url::Url {
    let to = res.headers[header::LOCATION].to_str().unwrap();
    url::Url::parse(to).unwrap()
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /oauth/authorize` with `query` (the PKCE challenge of [`VERIFIER`] added).
async fn authorize(app: &TestApp, client_id: &str, query: &str) -> Response {
    let uri = format!(
        "/oauth/authorize?response_type=code&client_id={client_id}&code_challenge={}&code_challenge_method=S256&state=st-1&{query}",
        challenge(VERIFIER)
    );
    app.call(Method::GET, &uri, None, None).await
}

/// The user (`token`) approves a request for `scope`: the code from the client's redirect.
async fn approved_code(app: &TestApp, token: &str, client_id: &str, scope: &str) -> String {
    let res = authorize(
        app,
        client_id,
        &format!("redirect_uri={REDIRECT}&scope={scope}"),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    let id = param(&location(&res), "authorization_id").expect("to the consent page");
    let path = format!("/oauth/authorizations/{id}");
    let details = app.call(Method::GET, &path, Some(token), None).await;
    assert_eq!(details.status, StatusCode::OK, "{details:?}");
    let to = match details.body.get("redirect_url") {
        Some(remembered) => remembered.as_str().unwrap().to_owned(),
        None => {
            assert!(details.body["client"]["name"].is_string(), "{details:?}");
            let body = json!({"action": "approve"});
            let res = app
                .call(
                    Method::POST,
                    &format!("{path}/consent"),
                    Some(token),
                    Some(body),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{res:?}");
            str_of(&res.body, "redirect_url").to_owned()
        }
    };
    let to = url::Url::parse(&to).unwrap();
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
    param(&to, "code").expect("a code")
}

/// `POST /oauth/token` as a client authenticating with Basic (a secret) or its id alone.
async fn token_request(app: &TestApp, client: &(String, Option<String>), form: &str) -> Response {
    let mut req = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let mut body = form.to_owned();
    match &client.1 {
        Some(secret) => {
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", client.0));
            req = req.header(header::AUTHORIZATION, format!("Basic {basic}"));
        }
        None => body.push_str(&format!("&client_id={}", client.0)),
    }
    app.request(req.body(Body::from(body)).unwrap()).await
}

async fn exchange(app: &TestApp, client: &(String, Option<String>), code: &str) -> Response {
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}"
    );
    token_request(app, client, &form).await
}

async fn client_sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sessions WHERE oauth_client_id IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_replayed_code_revokes_the_tokens_it_gave(db: PgPool) {
    let app = oauth_app(&db).await;
    let token = str_of(&app.signup("replay@example.com").await.body, "access_token").to_owned();
    let confidential = client(&app, json!({})).await;
    let code = approved_code(&app, &token, &confidential.0, "email").await;

    // A wrong secret, then a wrong verifier: refused, and the code is not used up.
    let wrong = (confidential.0.clone(), Some("not-the-secret".to_owned()));
    let res = exchange(&app, &wrong, &code).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
    assert_eq!(res.body["error"], "invalid_client");
    let form = format!(
        "grant_type=authorization_code&code={code}&code_verifier={}",
        "x".repeat(43)
    );
    let res = token_request(&app, &confidential, &form).await;
    assert_eq!(res.body["error"], "invalid_grant", "{res:?}");

    let first = exchange(&app, &confidential, &code).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["scope"], "email");
    assert!(
        first.body.get("id_token").is_none(),
        "no openid scope, no ID token"
    );
    assert_eq!(client_sessions(&app).await, 1);
    let refresh = str_of(&first.body, "refresh_token").to_owned();
    let access = str_of(&first.body, "access_token").to_owned();

    let replay = exchange(&app, &confidential, &code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{replay:?}");
    assert_eq!(replay.body["error"], "invalid_grant");
    assert_eq!(
        client_sessions(&app).await,
        0,
        "the replay revoked the session"
    );
    let res = token_request(
        &app,
        &confidential,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(res.body["error"], "invalid_grant", "{res:?}");
    let res = app
        .call(Method::GET, "/oauth/userinfo", Some(&access), None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
    let replays: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'oauth_code_replayed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(replays, 1);
}

#[sqlx::test(migrations = false)]
async fn requests_are_checked_before_anything_is_asked(db: PgPool) {
    let app = oauth_app(&db).await;
    let (id, _) = client(&app, json!({})).await;
    // A redirect URI that differs by one character: refused here, never redirected to.
    for uri in [
        "https://app.example/callbacK",
        "https://app.example/callback/",
        "https://app.example/callback?x=1",
    ] {
        let res = authorize(&app, &id, &format!("redirect_uri={}", urlencode(uri))).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{uri}: {res:?}");
        assert!(res.headers.get(header::LOCATION).is_none());
    }
    let unknown = uuid::Uuid::new_v4();
    let res = authorize(
        &app,
        &unknown.to_string(),
        &format!("redirect_uri={REDIRECT}"),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{res:?}");

    // Past the redirect URI check, refusals go back to the client with its state.
    let back = |res: &Response| {
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
        let to = location(res);
        assert!(to.as_str().starts_with(REDIRECT));
        assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
        param(&to, "error").unwrap()
    };
    let res = authorize(&app, &id, "scope=email%20admin").await;
    assert_eq!(back(&res), "invalid_scope");
    // The only redirect URI may be left out; openid needs a published key (HMAC here).
    let res = authorize(&app, &id, "scope=openid").await;
    assert_eq!(back(&res), "invalid_scope");
    let res = authorize(&app, &id, "resource=https://mcp.example/mcp%23frag").await;
    assert_eq!(back(&res), "invalid_target");
    let plain = format!(
        "/oauth/authorize?response_type=code&client_id={id}&state=st-1&code_challenge={}&code_challenge_method=plain",
        challenge(VERIFIER)
    );
    let res = app.call(Method::GET, &plain, None, None).await;
    assert_eq!(back(&res), "invalid_request");
    let none = format!("/oauth/authorize?response_type=code&client_id={id}&state=st-1");
    let res = app.call(Method::GET, &none, None, None).await;
    assert_eq!(back(&res), "invalid_request", "PKCE is required");
    let token = format!("/oauth/authorize?response_type=token&client_id={id}&state=st-1");
    let res = app.call(Method::GET, &token, None, None).await;
    assert_eq!(back(&res), "unsupported_response_type");

    // Off: the whole provider is not there.
    let off = common::app(&db, &[]).await;
    let res = authorize(&off, &id, "").await;
    assert_eq!(res.body["error_code"], "feature_disabled");
    let res = off
        .call(Method::GET, "/.well-known/openid-configuration", None, None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[sqlx::test(migrations = false)]
async fn a_clients_tokens_carry_only_the_roles_granted(db: PgPool) {
    let app = oauth_app(&db).await;
    let (user_id, token) =
        user_with_roles(&app, "roles@example.com", &["user", "editor", "admin"]).await;
    let public = client(
        &app,
        json!({"client_type": "public", "allowed_roles": ["editor", "auditor"]}),
    )
    .await;
    assert!(public.1.is_none());
    let code = approved_code(&app, &token, &public.0, "email").await;
    let res = exchange(&app, &public, &code).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let access = str_of(&res.body, "access_token").to_owned();
    let refresh = str_of(&res.body, "refresh_token").to_owned();
    let claims = jwt_payload(&access);
    let hasura = &claims["https://hasura.io/jwt/claims"];
    assert_eq!(
        hasura["x-hasura-allowed-roles"],
        json!(["editor"]),
        "{claims}"
    );
    assert_eq!(hasura["x-hasura-default-role"], "editor");
    assert_eq!(hasura["x-hasura-client-id"], public.0.as_str());
    assert_eq!(claims["client_id"], public.0.as_str());
    assert_eq!(claims["azp"], public.0.as_str());
    assert_eq!(claims["scope"], "email");

    // The webhook answers the same way, from the live session.
    let hook = |role: Option<&str>| {
        let mut req = Request::get("/hasura/webhook")
            .header(header::AUTHORIZATION, format!("Bearer {access}"));
        if let Some(role) = role {
            req = req.header("x-hasura-role", role);
        }
        app.request(req.body(Body::empty()).unwrap())
    };
    let res = hook(None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["X-Hasura-Role"], "editor");
    assert_eq!(res.body["x-hasura-client-id"], public.0.as_str());
    assert_eq!(hook(Some("admin")).await.status, StatusCode::UNAUTHORIZED);

    // Not a key to the account: this server's own endpoints refuse it.
    let res = app.call(Method::GET, "/user", Some(&access), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert_eq!(res.body["error_code"], "oauth_client_token");
    // Without `openid`, no userinfo.
    let res = app
        .call(Method::GET, "/oauth/userinfo", Some(&access), None)
        .await;
    assert_eq!(
        res.body["error_code"], "oauth_insufficient_scope",
        "{res:?}"
    );

    // A role the user gets later is not the client's without asking again.
    let more = json!({"app_metadata": {"default_role": "user",
                                       "allowed_roles": ["user", "editor", "admin", "auditor"]}});
    let path = format!("/admin/users/{user_id}");
    let res = app.call(Method::PUT, &path, Some(ADMIN), Some(more)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");

    // Refreshed (form body, the client's id alone): still only the roles granted; another
    // client cannot use the refresh token, nor can `/token`.
    let form = format!("grant_type=refresh_token&refresh_token={refresh}");
    let other = client(&app, json!({"client_type": "public"})).await;
    let res = token_request(&app, &other, &form).await;
    assert_eq!(res.body["error"], "invalid_grant", "{res:?}");
    let res = app.refresh(&refresh).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let res = token_request(&app, &public, &form).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let claims = jwt_payload(str_of(&res.body, "access_token"));
    let hasura = &claims["https://hasura.io/jwt/claims"];
    assert_eq!(
        hasura["x-hasura-allowed-roles"],
        json!(["editor"]),
        "{claims}"
    );
    assert_ne!(str_of(&res.body, "refresh_token"), refresh, "rotated");
    // Refreshed once by its client, the session is still not `/token`'s (which would give
    // all the user's roles), and its token still works for the client.
    let rotated = str_of(&res.body, "refresh_token").to_owned();
    let res = app.refresh(&rotated).await;
    assert_eq!(res.body["error_code"], "refresh_token_not_found", "{res:?}");
    let form = format!("grant_type=refresh_token&refresh_token={rotated}");
    let res = token_request(&app, &public, &form).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");

    // New roles for the client end its sessions.
    let path = format!("/admin/oauth/clients/{}", public.0);
    let roles = json!({"allowed_roles": ["editor"]});
    let res = app.call(Method::PUT, &path, Some(ADMIN), Some(roles)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(client_sessions(&app).await, 0);
}

#[sqlx::test(migrations = false)]
async fn consent_is_remembered_until_the_user_revokes_it(db: PgPool) {
    let mut app = oauth_app(&db).await;
    app.listen();
    let token = str_of(
        &app.signup("consent@example.com").await.body,
        "access_token",
    )
    .to_owned();
    let confidential = client(&app, json!({})).await;
    let code = approved_code(&app, &token, &confidential.0, "email").await;
    let tokens = exchange(&app, &confidential, &code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    let access = str_of(&tokens.body, "access_token").to_owned();
    let refresh = str_of(&tokens.body, "refresh_token").to_owned();

    let grants = app
        .call(Method::GET, "/user/oauth/grants", Some(&token), None)
        .await;
    assert_eq!(
        grants.body[0]["client"]["id"],
        confidential.0.as_str(),
        "{grants:?}"
    );
    assert_eq!(grants.body[0]["client"]["name"], "Partner");
    assert_eq!(grants.body[0]["scopes"], json!(["email"]));
    let path = format!("/admin/oauth/clients/{}/grants", confidential.0);
    let listed = app.call(Method::GET, &path, Some(ADMIN), None).await;
    assert_eq!(
        listed.body["grants"][0]["email"], "consent@example.com",
        "{listed:?}"
    );

    // The same scope again: no question, straight back with a code. More: asked again.
    let ask = |scope: &'static str| {
        let app = &app;
        let client_id = confidential.0.clone();
        let token = token.clone();
        async move {
            let res = authorize(app, &client_id, &format!("scope={scope}")).await;
            let id = param(&location(&res), "authorization_id").unwrap();
            app.call(
                Method::GET,
                &format!("/oauth/authorizations/{id}"),
                Some(&token),
                None,
            )
            .await
        }
    };
    let again = ask("email").await;
    assert!(
        again.body["redirect_url"]
            .as_str()
            .unwrap()
            .contains("code="),
        "{again:?}"
    );
    let wider = ask("email%20profile").await;
    assert_eq!(wider.body["scope"], "email profile", "{wider:?}");
    assert_eq!(wider.body["user"]["email"], "consent@example.com");
    // Bound to the user who saw it: someone else cannot answer it.
    let other = str_of(&app.signup("other@example.com").await.body, "access_token").to_owned();
    let id = str_of(&wider.body, "authorization_id");
    let consent = format!("/oauth/authorizations/{id}/consent");
    let res = app
        .call(
            Method::POST,
            &consent,
            Some(&other),
            Some(json!({"action": "approve"})),
        )
        .await;
    assert_eq!(
        res.body["error_code"], "oauth_authorization_not_found",
        "{res:?}"
    );
    let res = app
        .call(
            Method::POST,
            &consent,
            Some(&token),
            Some(json!({"action": "deny"})),
        )
        .await;
    let denied = url::Url::parse(str_of(&res.body, "redirect_url")).unwrap();
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));

    // Revoked: the client's refresh token and access token stop at once.
    let uri = format!("/user/oauth/grants?client_id={}", confidential.0);
    let res = app.call(Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{res:?}");
    assert_eq!(client_sessions(&app).await, 0);
    let res = token_request(
        &app,
        &confidential,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(res.body["error"], "invalid_grant", "{res:?}");
    let hook = Request::get("/hasura/webhook")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(hook).await.status, StatusCode::UNAUTHORIZED);
    let grants = app
        .call(Method::GET, "/user/oauth/grants", Some(&token), None)
        .await;
    assert_eq!(grants.body, json!([]));
    let again = ask("email").await;
    assert!(
        again.body.get("authorization_id").is_some(),
        "asked again: {again:?}"
    );
    let res = app.call(Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(res.body["error_code"], "oauth_grant_not_found");
}

#[sqlx::test(migrations = false)]
async fn an_mcp_client_registers_itself_and_its_tokens_are_for_its_resource(db: PgPool) {
    let flags = [
        "--admin-secret",
        ADMIN,
        "--oauth-server",
        "--oauth-dynamic-registration",
    ];
    let app = common::app(&db, &flags).await;
    let (_, token) = user_with_roles(&app, "agent-owner@example.com", &["user", "admin"]).await;
    // A client that registers itself cannot give itself roles.
    let registration = json!({"client_name": "Agent", "redirect_uris": [REDIRECT],
                              "token_endpoint_auth_method": "none", "allowed_roles": ["admin"]});
    let res = app.post("/oauth/clients/register", registration).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert!(res.body.get("allowed_roles").is_none(), "{res:?}");
    let agent = (str_of(&res.body, "client_id").to_owned(), None);
    let resource = "https://mcp.example.com/mcp";
    let scope = format!("email&resource={}", urlencode(resource));
    let code = approved_code(&app, &token, &agent.0, &scope).await;
    let res = exchange(&app, &agent, &code).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let access = str_of(&res.body, "access_token").to_owned();
    let claims = jwt_payload(&access);
    assert_eq!(claims["aud"], resource, "{claims}");
    assert_eq!(claims["client_id"], agent.0.as_str());
    // For the MCP server only: no Hasura claims, and neither the webhook nor userinfo takes it.
    assert!(
        claims.get("https://hasura.io/jwt/claims").is_none(),
        "{claims}"
    );
    let hook = Request::get("/hasura/webhook")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(hook).await.status, StatusCode::UNAUTHORIZED);
    let granted: Vec<String> =
        sqlx::query_scalar("SELECT oauth_roles FROM sessions WHERE oauth_client_id IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(granted, ["user"], "the default role only");
    // Refreshed tokens are for the same resource.
    let form = format!(
        "grant_type=refresh_token&refresh_token={}",
        str_of(&res.body, "refresh_token")
    );
    let res = token_request(&app, &agent, &form).await;
    assert_eq!(
        jwt_payload(str_of(&res.body, "access_token"))["aud"],
        resource,
        "{res:?}"
    );
    // Its errors before consent are answered here, not at its (anyone's) redirect URI.
    let res = authorize(&app, &agent.0, "scope=email%20admin").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert!(res.headers.get(header::LOCATION).is_none());
}

#[sqlx::test(migrations = false)]
async fn a_clients_token_passes_hasura_and_ddn(db: PgPool) {
    use hasura_jwt_auth::{
        auth::keys::KeySet,
        hasura_config::ddn::{auth_config, DdnMode, DdnOptions, DdnVersion, WebhookMethod},
    };
    let app = oauth_app(&db).await;
    let token = str_of(&app.signup("hasura@example.com").await.body, "access_token").to_owned();
    let confidential = client(&app, json!({})).await;
    let code = approved_code(&app, &token, &confidential.0, "email").await;
    let res = exchange(&app, &confidential, &code).await;
    let access = str_of(&res.body, "access_token");

    // Hasura v2: verified with the shared secret, the claims object complete.
    let claims = common::hasura::check(
        access,
        &common::hasura::hmac(common::SECRET),
        &Default::default(),
    );
    assert_eq!(claims["x-hasura-client-id"], confidential.0.as_str());
    assert_eq!(claims["x-hasura-default-role"], "user");
    // DDN, through the printed AuthConfig.
    let config = &app.state.config;
    let keys = KeySet::load(&config.keys).unwrap();
    let opts = DdnOptions {
        version: DdnVersion::V4,
        mode: DdnMode::Jwt,
        key: None,
        method: WebhookMethod::Get,
        secret_env: "SECRET".into(),
        inline_secret: false,
        api_keys: false,
    };
    let jwt = auth_config(config, &keys, &opts)["definition"]["mode"]["jwt"].clone();
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let today = common::ddn::date("2026-12-01");
    let vars = common::ddn::decode(access, &jwt, common::SECRET, &jwks, today).unwrap();
    assert_eq!(vars["x-hasura-client-id"], confidential.0.as_str());
    assert_eq!(vars["x-hasura-role"], "user");
}

#[sqlx::test(migrations = false)]
async fn requests_are_limited_and_can_go_to_the_apps_own_consent_page(db: PgPool) {
    let flags = [
        "--admin-secret",
        ADMIN,
        "--oauth-server",
        "--rate-limit-oauth-authorize",
        "2",
        "--oauth-authorization-url",
        "https://app.example/consent",
    ];
    let app = common::app(&db, &flags).await;
    let (id, _) = client(&app, json!({})).await;
    let from = |peer: [u8; 4]| {
        let uri = format!(
            "/oauth/authorize?response_type=code&client_id={id}&code_challenge={}&code_challenge_method=S256",
            challenge(VERIFIER)
        );
        common::from_peer(peer, Request::get(uri).body(Body::empty()).unwrap())
    };
    for _ in 0..2 {
        let res = app.request(from([10, 0, 0, 1])).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
        let to = location(&res);
        assert!(
            to.as_str()
                .starts_with("https://app.example/consent?authorization_id="),
            "{to}"
        );
    }
    let res = app.request(from([10, 0, 0, 1])).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert_eq!(
        app.request(from([10, 0, 0, 2])).await.status,
        StatusCode::SEE_OTHER
    );
}

#[sqlx::test(migrations = false)]
async fn revocation_needs_a_genuine_token_not_a_session_id(db: PgPool) {
    use hasura_jwt_auth::auth::refresh::token::RefreshToken;
    let app = oauth_app(&db).await;
    let token = str_of(&app.signup("revoke@example.com").await.body, "access_token").to_owned();
    let public = client(&app, json!({"client_type": "public"})).await;
    let code = approved_code(&app, &token, &public.0, "email").await;
    let tokens = exchange(&app, &public, &code).await;
    let sid = jwt_payload(str_of(&tokens.body, "access_token"))["sid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let app = &app;
    let client_id = public.0.clone();
    let revoke = |token: String| {
        let form = format!("token={token}&client_id={client_id}");
        async move { app.form("/oauth/revoke", &form).await }
    };
    // A token made up from the session id (which every access token shows): nothing ends.
    let forged = RefreshToken::restart(sid, 0).encode();
    assert_eq!(revoke(forged).await.status, StatusCode::OK);
    assert_eq!(client_sessions(app).await, 1);
    let genuine = str_of(&tokens.body, "refresh_token").to_owned();
    assert_eq!(revoke(genuine).await.status, StatusCode::OK);
    assert_eq!(client_sessions(app).await, 0);
}
