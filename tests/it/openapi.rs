//! `GET /openapi.json` against the real API: every documented route is called, and every
//! answer (success and error) is validated against the schema the document gives for its
//! status, with no undocumented field allowed. A route or status that is not documented, or a
//! documented route that no request here reaches, fails the test.

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

struct Checker {
    doc: Value,
    exercised: BTreeSet<(String, String)>,
}

impl Checker {
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
        app: &TestApp,
        method: Method,
        template: &str,
        uri: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> common::Response {
        let res = app.call(method.clone(), uri, bearer, body).await;
        self.check(&method, template, res.status, &res.body);
        res
    }
}

#[sqlx::test(migrations = false)]
async fn every_documented_route_answers_as_documented(db: PgPool) {
    // An asymmetric key, so that the JWKS has a key to describe.
    let config = Config::from_args(["--admin-secret", ADMIN]).unwrap();
    let pem = generate_private_key_pem(JwtAlgorithm::Es256).unwrap();
    let app = common::app_with(&db, config, KeySet::from_pems(pem.expose(), &[]).unwrap()).await;

    let res = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        res.body["openapi"]
    );
    let mut c = Checker {
        doc: strict(res.body.clone()),
        exercised: BTreeSet::new(),
    };
    c.check(&Method::GET, "/openapi.json", res.status, &res.body);
    let documented: BTreeSet<(String, String)> = res.body["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();

    use Method as M;
    // Sign-up, sign-in, refresh.
    let up = json!({"email": "doc@example.com", "password": PASSWORD});
    let s = c
        .call(&app, M::POST, "/signup", "/signup", None, Some(up.clone()))
        .await;
    let access = str_of(&s.body, "access_token").to_owned();
    let refresh = str_of(&s.body, "refresh_token").to_owned();
    c.call(&app, M::POST, "/signup", "/signup", None, Some(up))
        .await;
    c.call(
        &app,
        M::POST,
        "/signup",
        "/signup",
        None,
        Some(json!({"email": "x@example.com", "password": "short"})),
    )
    .await;
    let good = json!({"email": "doc@example.com", "password": PASSWORD});
    let second = c
        .call(
            &app,
            M::POST,
            "/token",
            "/token?grant_type=password",
            None,
            Some(good),
        )
        .await;
    let other_session = common::jwt_payload(str_of(&second.body, "access_token"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.call(
        &app,
        M::POST,
        "/token",
        "/token?grant_type=password",
        None,
        Some(json!({"email": "doc@example.com", "password": "wrong password"})),
    )
    .await;
    let r = c
        .call(
            &app,
            M::POST,
            "/token",
            "/token?grant_type=refresh_token",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    c.call(
        &app,
        M::POST,
        "/token",
        "/token?grant_type=nonsense",
        None,
        Some(json!({})),
    )
    .await;

    // The user.
    c.call(&app, M::GET, "/user", "/user", Some(&access), None)
        .await;
    c.call(&app, M::GET, "/user", "/user", None, None).await;
    c.call(
        &app,
        M::PUT,
        "/user",
        "/user",
        Some(&access),
        Some(json!({"data": {"theme": "dark"}})),
    )
    .await;
    c.call(
        &app,
        M::PUT,
        "/user",
        "/user",
        Some(&access),
        Some(json!({})),
    )
    .await;
    c.call(
        &app,
        M::PUT,
        "/user",
        "/user",
        Some(&access),
        Some(json!({"password": "x"})),
    )
    .await;

    // Sessions.
    let list = c
        .call(&app, M::GET, "/sessions", "/sessions", Some(&access), None)
        .await;
    assert!(list.body["sessions"].as_array().unwrap().len() >= 2);
    c.call(&app, M::GET, "/sessions", "/sessions", None, None)
        .await;
    c.call(
        &app,
        M::DELETE,
        "/sessions/{id}",
        &format!("/sessions/{other_session}"),
        Some(&access),
        None,
    )
    .await;
    c.call(
        &app,
        M::DELETE,
        "/sessions/{id}",
        &format!("/sessions/{}", uuid::Uuid::new_v4()),
        Some(&access),
        None,
    )
    .await;

    // Email flows (no SMTP configured: messages go to the log).
    for path in ["/recover", "/otp", "/magiclink"] {
        c.call(
            &app,
            M::POST,
            path,
            path,
            None,
            Some(json!({"email": "doc@example.com"})),
        )
        .await;
        c.call(
            &app,
            M::POST,
            path,
            path,
            None,
            Some(json!({"email": "not an address"})),
        )
        .await;
    }
    c.call(
        &app,
        M::POST,
        "/resend",
        "/resend",
        None,
        Some(json!({"email": "doc@example.com", "type": "signup"})),
    )
    .await;
    c.call(
        &app,
        M::POST,
        "/resend",
        "/resend",
        None,
        Some(json!({"email": "doc@example.com"})),
    )
    .await;
    let link = c
        .call(
            &app,
            M::POST,
            "/admin/generate_link",
            "/admin/generate_link",
            Some(ADMIN),
            Some(json!({"type": "magiclink", "email": "doc@example.com"})),
        )
        .await;
    let hashed = str_of(&link.body, "hashed_token").to_owned();
    c.call(
        &app,
        M::POST,
        "/verify",
        "/verify",
        None,
        Some(json!({"type": "magiclink", "token_hash": hashed})),
    )
    .await;
    c.call(
        &app,
        M::POST,
        "/verify",
        "/verify",
        None,
        Some(json!({"type": "magiclink", "token_hash": "used-or-unknown"})),
    )
    .await;
    c.call(
        &app,
        M::POST,
        "/verify",
        "/verify",
        None,
        Some(json!({"type": "magiclink"})),
    )
    .await;

    // Metadata.
    c.call(&app, M::GET, "/settings", "/settings", None, None)
        .await;
    let jwks = c
        .call(
            &app,
            M::GET,
            "/.well-known/jwks.json",
            "/.well-known/jwks.json",
            None,
            None,
        )
        .await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 1);
    c.call(
        &app,
        M::GET,
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server",
        None,
        None,
    )
    .await;

    // Hasura's webhook.
    c.call(
        &app,
        M::GET,
        "/hasura/webhook",
        "/hasura/webhook",
        Some(&access),
        None,
    )
    .await;
    c.call(
        &app,
        M::GET,
        "/hasura/webhook",
        "/hasura/webhook",
        Some("not-a-token"),
        None,
    )
    .await;
    c.call(
        &app,
        M::GET,
        "/hasura/webhook",
        "/hasura/webhook",
        None,
        None,
    )
    .await;
    let auth = format!("Bearer {access}");
    c.call(
        &app,
        M::POST,
        "/hasura/webhook",
        "/hasura/webhook",
        None,
        Some(json!({"headers": {"Authorization": auth}, "request": {}})),
    )
    .await;
    c.call(
        &app,
        M::POST,
        "/hasura/webhook",
        "/hasura/webhook",
        None,
        Some(json!({"headers": {"Authorization": "Bearer nope"}})),
    )
    .await;

    // Sign-out and revocation.
    c.call(
        &app,
        M::POST,
        "/revoke",
        "/revoke",
        None,
        Some(json!({"token": "unknown"})),
    )
    .await;
    c.call(&app, M::POST, "/revoke", "/revoke", None, Some(json!({})))
        .await;
    c.call(
        &app,
        M::POST,
        "/logout",
        "/logout?scope=local",
        Some(&access),
        None,
    )
    .await;
    c.call(&app, M::POST, "/logout", "/logout", None, None)
        .await;

    // The admin API.
    c.call(&app, M::GET, "/admin/users", "/admin/users", None, None)
        .await;
    let new_user = json!({"email": "adm@example.com", "password": PASSWORD, "email_confirm": true});
    let u = c
        .call(
            &app,
            M::POST,
            "/admin/users",
            "/admin/users",
            Some(ADMIN),
            Some(new_user.clone()),
        )
        .await;
    c.call(
        &app,
        M::POST,
        "/admin/users",
        "/admin/users",
        Some(ADMIN),
        Some(new_user),
    )
    .await;
    let id = str_of(&u.body, "id").to_owned();
    let user_path = format!("/admin/users/{id}");
    c.call(
        &app,
        M::GET,
        "/admin/users",
        "/admin/users?per_page=2",
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::GET,
        "/admin/users",
        "/admin/users?page=zero",
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::GET,
        "/admin/users/{id}",
        &user_path,
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::GET,
        "/admin/users/{id}",
        "/admin/users/not-a-user",
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::PUT,
        "/admin/users/{id}",
        &user_path,
        Some(ADMIN),
        Some(json!({"user_metadata": {"team": "a"}})),
    )
    .await;
    let signed = app.sign_in("adm@example.com", PASSWORD).await;
    let sid = common::jwt_payload(str_of(&signed.body, "access_token"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.sign_in("adm@example.com", PASSWORD).await;
    let sessions = c
        .call(
            &app,
            M::GET,
            "/admin/users/{id}/sessions",
            &format!("{user_path}/sessions"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(sessions.body["sessions"].as_array().unwrap().len(), 2);
    c.call(
        &app,
        M::DELETE,
        "/admin/users/{id}/sessions/{session_id}",
        &format!("{user_path}/sessions/{sid}"),
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::DELETE,
        "/admin/users/{id}/sessions",
        &format!("{user_path}/sessions"),
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::GET,
        "/admin/users/{id}/sessions",
        "/admin/users/not-a-user/sessions",
        Some(ADMIN),
        None,
    )
    .await;
    let audit = c
        .call(
            &app,
            M::GET,
            "/admin/audit",
            "/admin/audit?per_page=5",
            Some(ADMIN),
            None,
        )
        .await;
    assert!(audit.body[0]["request_id"].is_string(), "{}", audit.body);
    c.call(
        &app,
        M::GET,
        "/admin/audit",
        &format!("/admin/audit?user_id={id}"),
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::POST,
        "/invite",
        "/invite",
        Some(ADMIN),
        Some(json!({"email": "invited@example.com"})),
    )
    .await;
    c.call(
        &app,
        M::POST,
        "/invite",
        "/invite",
        Some(ADMIN),
        Some(json!({})),
    )
    .await;
    c.call(
        &app,
        M::GET,
        "/admin/users/{id}/provider_tokens",
        &format!("{user_path}/provider_tokens"),
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::DELETE,
        "/admin/users/{id}",
        &user_path,
        Some(ADMIN),
        None,
    )
    .await;
    c.call(
        &app,
        M::DELETE,
        "/admin/users/{id}",
        &user_path,
        Some(ADMIN),
        None,
    )
    .await;

    // Probes, up and down.
    for path in ["/live", "/health", "/ready"] {
        c.call(&app, M::GET, path, path, None, None).await;
    }
    app.pool.close().await;
    for path in ["/health", "/ready"] {
        let res = c.call(&app, M::GET, path, path, None, None).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    let missed: Vec<_> = documented.difference(&c.exercised).collect();
    assert!(
        missed.is_empty(),
        "documented but never called here: {missed:?}"
    );
}
