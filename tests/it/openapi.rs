//! `GET /openapi.json` against the real API: every documented route is called, and every
//! answer (success and error) is validated against the schema the document gives for its
//! status, with no undocumented field allowed. A route or status that is not documented, or a
//! documented route that no request here reaches, fails the test.

mod oauth;
mod organizations;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use hasura_jwt_auth::{
    auth::keys::{generate_private_key_pem, KeySet},
    config::{Config, JwtAlgorithm},
};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::{self, str_of, TestApp, PASSWORD};

const ADMIN: &str = "admin-secret-admin-secret-admin-secret";

/// The document, made strict for the test: objects with listed properties allow no others
/// (clients must tolerate additions, but the document must not miss what we send).
fn strict(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// Calls routes of one app and validates every answer against the document, keeping which
/// documented operations were exercised.
struct Checker<'a> {
    app: &'a TestApp,
    doc: Value,
    exercised: BTreeSet<(String, String)>,
}

impl Checker<'_> {
    /// Validates an answer of `method path` (the documented path template).
    fn check(&mut self, method: &Method, path: &str, status: StatusCode, body: &Value) {
        let method = method.as_str().to_lowercase();
        let escaped = path.replace('~', "~0").replace('/', "~1");
        let pointer = format!("/paths/{escaped}/{method}/responses/{}", status.as_u16());
        let response = self
            .doc
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{method} {path} answered {status}, undocumented: {body}"));
        self.exercised.insert((path.to_owned(), method.clone()));
        let Some(schema_pointer) = response
            .pointer("/content/application~1json/schema")
            // A URI fragment: braces of path templates are percent-encoded.
            .map(|_| {
                let fragment = format!("{pointer}/content/application~1json/schema");
                format!("#{}", fragment.replace('{', "%7B").replace('}', "%7D"))
            })
        else {
            assert!(
                body.is_null(),
                "{method} {path} {status}: documented without a body, got {body}"
            );
            return;
        };
        let mut root = self.doc.clone();
        root["$ref"] = json!(schema_pointer);
        let validator = jsonschema::validator_for(&root)
            .unwrap_or_else(|e| panic!("schema of {method} {path} {status}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match the document: {errors:?}\n{body}"
        );
    }

    /// Calls `uri` (the concrete path) and checks the answer against `template`.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        uri: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> common::Response {
        let res = self.app.call(method.clone(), uri, bearer, body).await;
        self.check(&method, template, res.status, &res.body);
        res
    }

    /// [`Checker::call`] of a path without parameters.
    async fn at(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> common::Response {
        self.call(method, path, path, bearer, body).await
    }

    /// Every documented operation, as (path template, method).
    fn documented(&self) -> BTreeSet<(String, String)> {
        let methods = ["get", "post", "put", "delete", "patch"];
        let paths = self.doc["paths"].as_object().unwrap();
        paths
            .iter()
            .flat_map(|(path, ops)| {
                let ops = ops.as_object().unwrap().keys();
                ops.filter(|k| methods.contains(&k.as_str()))
                    .map(move |m| (path.clone(), m.clone()))
            })
            .collect()
    }
}

#[sqlx::test(migrations = false)]
async fn every_documented_route_answers_as_documented(db: PgPool) {
    // An asymmetric key, so that the JWKS has a key to describe.
    let config = Config::from_args([
        "--admin-secret",
        ADMIN,
        "--webauthn-rp-id",
        "example.com",
        "--webauthn-origins",
        "https://app.example.com",
        "--oauth-server",
    ])
    .unwrap();
    let pem = generate_private_key_pem(JwtAlgorithm::Es256).unwrap();
    let app = common::app_with(&db, config, KeySet::from_pems(pem.expose(), &[]).unwrap()).await;

    let res = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    let version = res.body["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1"), "{version}");
    let mut c = Checker {
        app: &app,
        doc: strict(res.body.clone()),
        exercised: BTreeSet::new(),
    };
    c.check(&Method::GET, "/openapi.json", res.status, &res.body);

    let signed = sign_up_and_in(&mut c).await;
    user_and_sessions(&mut c, &signed).await;
    factors(&mut c).await;
    passkeys(&mut c, &signed).await;
    organizations::organizations(&mut c, &signed).await;
    organizations::api_keys(&mut c, &signed).await;
    organizations::oauth_clients(&mut c).await;
    oauth::provider(&mut c, &signed.access).await;
    email_flows(&mut c).await;
    metadata_and_webhook(&mut c, &signed.access).await;
    sign_out(&mut c, &signed.access).await;
    admin_users(&mut c).await;
    probes(&mut c).await;

    let missed: Vec<_> = c.documented().difference(&c.exercised).cloned().collect();
    assert!(
        missed.is_empty(),
        "documented but never called here: {missed:?}"
    );
}

/// The tokens of `doc@example.com`, signed in twice.
struct Signed {
    access: String,
    other_session: String,
}

async fn sign_up_and_in(c: &mut Checker<'_>) -> Signed {
    let up = json!({"email": "doc@example.com", "password": PASSWORD});
    let s = c.at(Method::POST, "/signup", None, Some(up.clone())).await;
    let access = str_of(&s.body, "access_token").to_owned();
    let refresh = str_of(&s.body, "refresh_token").to_owned();
    c.at(Method::POST, "/signup", None, Some(up.clone())).await;
    let weak = json!({"email": "x@example.com", "password": "short"});
    c.at(Method::POST, "/signup", None, Some(weak)).await;
    let token = |grant: &str| format!("/token?grant_type={grant}");
    let second = c
        .call(Method::POST, "/token", &token("password"), None, Some(up))
        .await;
    let other_session = common::jwt_payload(str_of(&second.body, "access_token"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = json!({"email": "doc@example.com", "password": "wrong password"});
    c.call(
        Method::POST,
        "/token",
        &token("password"),
        None,
        Some(wrong),
    )
    .await;
    let body = json!({"refresh_token": refresh});
    let r = c
        .call(
            Method::POST,
            "/token",
            &token("refresh_token"),
            None,
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    c.call(
        Method::POST,
        "/token",
        &token("nonsense"),
        None,
        Some(json!({})),
    )
    .await;
    Signed {
        access,
        other_session,
    }
}

async fn user_and_sessions(c: &mut Checker<'_>, signed: &Signed) {
    let access = Some(signed.access.as_str());
    c.at(Method::GET, "/user", access, None).await;
    c.at(Method::GET, "/user", None, None).await;
    for body in [
        json!({"data": {"theme": "dark"}}),
        json!({}),
        json!({"password": "x"}),
    ] {
        c.at(Method::PUT, "/user", access, Some(body)).await;
    }
    c.at(Method::GET, "/reauthenticate", access, None).await;
    c.at(Method::GET, "/reauthenticate", None, None).await;
    let list = c.at(Method::GET, "/sessions", access, None).await;
    assert!(list.body["sessions"].as_array().unwrap().len() >= 2);
    c.at(Method::GET, "/sessions", None, None).await;
    for id in [
        signed.other_session.clone(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        let uri = format!("/sessions/{id}");
        c.call(Method::DELETE, "/sessions/{id}", &uri, access, None)
            .await;
    }
}

/// Second factors, of a user of their own (verifying ends the user's other aal1 sessions).
async fn factors(c: &mut Checker<'_>) {
    let signed_up = c.app.signup("mfa-doc@example.com").await;
    let token = str_of(&signed_up.body, "access_token").to_owned();
    let access = Some(token.as_str());
    let totp = json!({"factor_type": "totp", "friendly_name": "phone"});
    let enrolled = c
        .at(Method::POST, "/factors", access, Some(totp.clone()))
        .await;
    c.at(Method::POST, "/factors", access, Some(totp)).await;
    c.at(Method::POST, "/factors", None, Some(json!({}))).await;
    let id = str_of(&enrolled.body, "id").to_owned();
    let app = crate::mfa::authenticator(&enrolled);
    let unknown = uuid::Uuid::new_v4();
    let template = "/factors/{id}/challenge";
    let made = c
        .call(
            Method::POST,
            template,
            &format!("/factors/{id}/challenge"),
            access,
            None,
        )
        .await;
    c.call(
        Method::POST,
        template,
        &format!("/factors/{unknown}/challenge"),
        access,
        None,
    )
    .await;
    let challenge_id = str_of(&made.body, "id");
    let template = "/factors/{id}/verify";
    let uri = format!("/factors/{id}/verify");
    let wrong = json!({"challenge_id": challenge_id, "code": "12345"});
    c.call(Method::POST, template, &uri, access, Some(wrong))
        .await;
    let right = json!({"challenge_id": challenge_id, "code": crate::mfa::code(&app, 0)});
    let raised = c
        .call(Method::POST, template, &uri, access, Some(right))
        .await;
    let aal2 = str_of(&raised.body, "access_token").to_owned();
    let aal2_access = Some(aal2.as_str());
    let codes = c
        .at(Method::POST, "/factors/recovery_codes", aal2_access, None)
        .await;
    c.at(Method::POST, "/factors/recovery_codes", access, None)
        .await;
    c.at(Method::GET, "/factors/recovery_codes", aal2_access, None)
        .await;
    let code = codes.body["recovery_codes"][0].clone();
    let verify = "/factors/recovery_codes/verify";
    c.at(
        Method::POST,
        verify,
        aal2_access,
        Some(json!({"code": "nope"})),
    )
    .await;
    c.at(
        Method::POST,
        verify,
        aal2_access,
        Some(json!({"code": code})),
    )
    .await;
    let template = "/factors/{id}";
    c.call(
        Method::DELETE,
        template,
        &format!("/factors/{unknown}"),
        Some(&aal2),
        None,
    )
    .await;
    c.call(
        Method::DELETE,
        template,
        &format!("/factors/{id}"),
        Some(&aal2),
        None,
    )
    .await;
}

/// Passkeys: the ceremonies begin (finishing one takes an authenticator: see browser.rs),
/// the list, and what is refused.
async fn passkeys(c: &mut Checker<'_>, signed: &Signed) {
    let access = Some(signed.access.as_str());
    let begun = c
        .at(Method::POST, "/passkeys/registration/options", access, None)
        .await;
    assert_eq!(
        begun.body["options"]["rp"]["id"], "example.com",
        "{}",
        begun.body
    );
    let made_up = json!({"challenge_id": begun.body["challenge_id"], "credential": {"id": "x"}});
    c.at(
        Method::POST,
        "/passkeys/registration/verify",
        access,
        Some(made_up),
    )
    .await;
    let sign_in = c
        .at(Method::POST, "/passkeys/authentication/options", None, None)
        .await;
    let made_up = json!({"challenge_id": sign_in.body["challenge_id"], "credential": {"id": "x"}});
    c.at(
        Method::POST,
        "/passkeys/authentication/verify",
        None,
        Some(made_up),
    )
    .await;
    c.at(Method::GET, "/passkeys", access, None).await;
    let unknown = format!("/passkeys/{}", uuid::Uuid::new_v4());
    let name = json!({"friendly_name": "Laptop"});
    c.call(
        Method::PATCH,
        "/passkeys/{id}",
        &unknown,
        access,
        Some(name),
    )
    .await;
    c.call(Method::DELETE, "/passkeys/{id}", &unknown, access, None)
        .await;
}

/// The email flows (no SMTP configured: messages go to the log).
async fn email_flows(c: &mut Checker<'_>) {
    for path in ["/recover", "/otp", "/magiclink"] {
        for email in ["doc@example.com", "not an address"] {
            c.at(Method::POST, path, None, Some(json!({"email": email})))
                .await;
        }
    }
    let resend = json!({"email": "doc@example.com", "type": "signup"});
    c.at(Method::POST, "/resend", None, Some(resend)).await;
    let no_type = json!({"email": "doc@example.com"});
    c.at(Method::POST, "/resend", None, Some(no_type)).await;
    let request = json!({"type": "magiclink", "email": "doc@example.com"});
    let link = c
        .at(
            Method::POST,
            "/admin/generate_link",
            Some(ADMIN),
            Some(request),
        )
        .await;
    let hashed = str_of(&link.body, "hashed_token").to_owned();
    for body in [
        json!({"type": "magiclink", "token_hash": hashed}),
        json!({"type": "magiclink", "token_hash": "used-or-unknown"}),
        json!({"type": "magiclink"}),
    ] {
        c.at(Method::POST, "/verify", None, Some(body)).await;
    }
}

async fn metadata_and_webhook(c: &mut Checker<'_>, access: &str) {
    c.at(Method::GET, "/settings", None, None).await;
    let jwks = c
        .at(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 1);
    let metadata = "/.well-known/oauth-authorization-server";
    c.at(Method::GET, metadata, None, None).await;
    for bearer in [Some(access), Some("not-a-token"), None] {
        c.at(Method::GET, "/hasura/webhook", bearer, None).await;
    }
    let auth = format!("Bearer {access}");
    for body in [
        json!({"headers": {"Authorization": auth}, "request": {}}),
        json!({"headers": {"Authorization": "Bearer nope"}}),
    ] {
        c.at(Method::POST, "/hasura/webhook", None, Some(body))
            .await;
    }
}

async fn sign_out(c: &mut Checker<'_>, access: &str) {
    let unknown = json!({"token": "unknown"});
    c.at(Method::POST, "/revoke", None, Some(unknown)).await;
    c.at(Method::POST, "/revoke", None, Some(json!({}))).await;
    c.call(
        Method::POST,
        "/logout",
        "/logout?scope=local",
        Some(access),
        None,
    )
    .await;
    c.at(Method::POST, "/logout", None, None).await;
}

/// The admin API: users, their sessions, the audit log, invitations.
async fn admin_users(c: &mut Checker<'_>) {
    let admin = Some(ADMIN);
    c.at(Method::GET, "/admin/users", None, None).await;
    let new_user = json!({"email": "adm@example.com", "password": PASSWORD, "email_confirm": true});
    let u = c
        .at(Method::POST, "/admin/users", admin, Some(new_user.clone()))
        .await;
    c.at(Method::POST, "/admin/users", admin, Some(new_user))
        .await;
    let id = str_of(&u.body, "id").to_owned();
    let user = format!("/admin/users/{id}");
    for uri in ["/admin/users?per_page=2", "/admin/users?page=zero"] {
        c.call(Method::GET, "/admin/users", uri, admin, None).await;
    }
    for uri in [user.as_str(), "/admin/users/not-a-user"] {
        c.call(Method::GET, "/admin/users/{id}", uri, admin, None)
            .await;
    }
    let patch = json!({"user_metadata": {"team": "a"}});
    c.call(Method::PUT, "/admin/users/{id}", &user, admin, Some(patch))
        .await;
    admin_sessions(c, &user).await;
    admin_factors(c, &user).await;
    let audit = c
        .call(
            Method::GET,
            "/admin/audit",
            "/admin/audit?per_page=5",
            admin,
            None,
        )
        .await;
    assert!(audit.body[0]["request_id"].is_string(), "{}", audit.body);
    let of_user = format!("/admin/audit?user_id={id}");
    c.call(Method::GET, "/admin/audit", &of_user, admin, None)
        .await;
    let invite = json!({"email": "invited@example.com"});
    c.at(Method::POST, "/invite", admin, Some(invite)).await;
    c.at(Method::POST, "/invite", admin, Some(json!({}))).await;
    let tokens = format!("{user}/provider_tokens");
    c.call(
        Method::GET,
        "/admin/users/{id}/provider_tokens",
        &tokens,
        admin,
        None,
    )
    .await;
    for _ in 0..2 {
        c.call(Method::DELETE, "/admin/users/{id}", &user, admin, None)
            .await;
    }
}

/// The factors and passkeys of the admin API's user at `user`: listed, one removed.
async fn admin_factors(c: &mut Checker<'_>, user: &str) {
    let admin = Some(ADMIN);
    let signed = c.app.sign_in("adm@example.com", PASSWORD).await;
    let token = str_of(&signed.body, "access_token");
    let enrolled = crate::mfa::enroll(c.app, token, "phone").await;
    let factor = str_of(&enrolled.body, "id");
    let list = "/admin/users/{id}/factors";
    let listed = c
        .call(Method::GET, list, &format!("{user}/factors"), admin, None)
        .await;
    assert_eq!(listed.body[0]["id"], factor);
    let passkeys = "/admin/users/{id}/passkeys";
    c.call(
        Method::GET,
        passkeys,
        &format!("{user}/passkeys"),
        admin,
        None,
    )
    .await;
    let one = format!("{user}/passkeys/{}", uuid::Uuid::new_v4());
    c.call(
        Method::DELETE,
        "/admin/users/{id}/passkeys/{passkey_id}",
        &one,
        admin,
        None,
    )
    .await;
    let one = "/admin/users/{id}/factors/{factor_id}";
    for id in [factor.to_owned(), uuid::Uuid::new_v4().to_string()] {
        c.call(
            Method::DELETE,
            one,
            &format!("{user}/factors/{id}"),
            admin,
            None,
        )
        .await;
    }
}

/// The sessions of the admin API's user at `user`: listed, one revoked, all revoked.
async fn admin_sessions(c: &mut Checker<'_>, user: &str) {
    let admin = Some(ADMIN);
    let signed = c.app.sign_in("adm@example.com", PASSWORD).await;
    let sid = common::jwt_payload(str_of(&signed.body, "access_token"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.app.sign_in("adm@example.com", PASSWORD).await;
    let all = "/admin/users/{id}/sessions";
    let sessions = c
        .call(Method::GET, all, &format!("{user}/sessions"), admin, None)
        .await;
    assert_eq!(sessions.body["sessions"].as_array().unwrap().len(), 2);
    let one = format!("{user}/sessions/{sid}");
    c.call(
        Method::DELETE,
        "/admin/users/{id}/sessions/{session_id}",
        &one,
        admin,
        None,
    )
    .await;
    c.call(
        Method::DELETE,
        all,
        &format!("{user}/sessions"),
        admin,
        None,
    )
    .await;
    c.call(
        Method::GET,
        all,
        "/admin/users/not-a-user/sessions",
        admin,
        None,
    )
    .await;
}

/// The probes, with the database up and then down.
async fn probes(c: &mut Checker<'_>) {
    for path in ["/live", "/health", "/ready"] {
        c.at(Method::GET, path, None, None).await;
    }
    c.app.pool.close().await;
    for path in ["/health", "/ready"] {
        let res = c.at(Method::GET, path, None, None).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
