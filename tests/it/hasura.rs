//! Hasura integration: claims options, custom claims, the actions handler and its metadata,
//! the auth webhook, the refresh-token cookie and CORS.

use crate::common;

use std::collections::{BTreeSet, HashMap};

use crate::common::{hasura, jwt_payload, str_of, TestApp, PASSWORD, SECRET};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use hasura_jwt_auth::{
    auth::keys::{generate_private_key_pem, KeySet},
    config::{Config, JwtAlgorithm},
    hasura_config::hasura_jwt_secret,
    hasura_config::metadata as hasura_metadata,
};
use serde_json::{json, Value};
use sqlx::PgPool;

pub(crate) const ACTIONS_SECRET: &str = "actions-secret-for-tests-0123456789abcdef";

/// Builds the key Hasura would build from the printed `HASURA_GRAPHQL_JWT_SECRET`.
async fn hasura_key(app: &TestApp, jwt_secret: &Value, token: &str) -> jsonwebtoken::DecodingKey {
    if jwt_secret.get("jwk_url").is_some() {
        let jwks = app
            .call(Method::GET, "/.well-known/jwks.json", None, None)
            .await
            .body;
        // Hasura tries every key; pick the one that verifies (here: by kid, for speed).
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap();
        return hasura::key_from_jwk(jwk);
    }
    let key = str_of(jwt_secret, "key");
    match str_of(jwt_secret, "type") {
        "HS256" | "HS384" | "HS512" => {
            let min = match str_of(jwt_secret, "type") {
                "HS256" => 32,
                "HS384" => 48,
                _ => 64,
            };
            assert!(
                key.len() >= min,
                "Hasura refuses HMAC keys shorter than {min} bytes"
            );
            jsonwebtoken::DecodingKey::from_secret(key.as_bytes())
        }
        "RS256" => jsonwebtoken::DecodingKey::from_rsa_pem(key.as_bytes()).unwrap(),
        "ES256" => jsonwebtoken::DecodingKey::from_ec_pem(key.as_bytes()).unwrap(),
        "Ed25519" => jsonwebtoken::DecodingKey::from_ed_pem(key.as_bytes()).unwrap(),
        other => panic!("type {other} is not one Hasura accepts"),
    }
}

#[sqlx::test(migrations = false)]
async fn every_algorithm_namespace_and_format_passes_hasuras_rules(db: PgPool) {
    let hs384 = "h".repeat(48);
    let hs512 = "h".repeat(64);
    let combos: Vec<(JwtAlgorithm, Option<&str>, bool)> = vec![
        (JwtAlgorithm::Hs256, None, false),
        (
            JwtAlgorithm::Hs384,
            Some("https://example.com/claims"),
            true,
        ),
        (JwtAlgorithm::Hs512, None, true),
        (JwtAlgorithm::Rs256, Some("hasura"), false),
        (JwtAlgorithm::Es256, None, true),
        (
            JwtAlgorithm::EdDsa,
            Some("https://example.com/claims"),
            false,
        ),
        (JwtAlgorithm::EdDsa, None, true),
    ];
    for (i, (alg, namespace, stringified)) in combos.into_iter().enumerate() {
        let mut args: Vec<String> = vec![
            "--jwt-audience".into(),
            "my-app".into(),
            "--public-url".into(),
            "http://auth:9999".into(),
        ];
        if let Some(ns) = namespace {
            args.extend(["--hasura-claims-namespace".into(), ns.into()]);
        }
        if stringified {
            args.extend(["--hasura-claims-format".into(), "stringified_json".into()]);
        }
        let keys = match alg {
            JwtAlgorithm::Hs256 => KeySet::from_hmac(alg, SECRET).unwrap(),
            JwtAlgorithm::Hs384 => KeySet::from_hmac(alg, &hs384).unwrap(),
            JwtAlgorithm::Hs512 => KeySet::from_hmac(alg, &hs512).unwrap(),
            _ => KeySet::from_pems(generate_private_key_pem(alg).unwrap().expose(), &[]).unwrap(),
        };
        let config = Config::from_args(&args).unwrap();
        let mode = if i % 2 == 0 {
            hasura_jwt_auth::hasura_config::SecretMode::Key
        } else {
            hasura_jwt_auth::hasura_config::SecretMode::JwkUrl
        };
        let jwt_secret: Value =
            serde_json::from_str(&hasura_jwt_secret(&config, &keys, Some(mode))).unwrap();
        let app = common::app_with(&db, config, keys).await;
        let s = app.signup(&format!("user{i}@example.com")).await;
        let at = str_of(&s.body, "access_token");
        let key = hasura_key(&app, &jwt_secret, at).await;
        let expect = hasura::Expect {
            issuer: str_of(&jwt_secret, "issuer"),
            namespace: jwt_secret["claims_namespace"]
                .as_str()
                .unwrap_or("https://hasura.io/jwt/claims"),
            stringified: jwt_secret["claims_format"] == "stringified_json",
            audience: jwt_secret["audience"].as_str(),
        };
        assert_eq!(
            expect.namespace,
            namespace.unwrap_or("https://hasura.io/jwt/claims"),
            "jwt-secret follows the namespace"
        );
        assert_eq!(
            expect.stringified, stringified,
            "jwt-secret follows the format"
        );
        let claims = hasura::check(at, &key, &expect);
        assert_eq!(claims["x-hasura-session-id"], jwt_payload(at)["sid"]);
        // The server reads its own tokens back in every format.
        assert_eq!(
            app.call(Method::GET, "/user", Some(at), None).await.status,
            StatusCode::OK,
            "{alg:?}"
        );
        app.pool.close().await;
    }
}

#[sqlx::test(migrations = false)]
async fn new_users_get_the_configured_roles(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--default-role",
            "viewer",
            "--default-allowed-roles",
            "viewer,editor",
        ],
    )
    .await;
    let s = app.signup("roles@example.com").await;
    let claims = hasura::check(
        str_of(&s.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_eq!(claims["x-hasura-default-role"], "viewer");
    assert_eq!(
        claims["x-hasura-allowed-roles"],
        json!(["viewer", "editor"])
    );
    // The database refuses a default role outside the allowed roles.
    let err = sqlx::query("UPDATE users SET default_role = 'admin'")
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("users_default_role_allowed"));
}

const CLAIMS_SQL: &str = "SELECT json_build_object('organization-id', org_id, 'Teams', teams, 'x-hasura-user-id', 'evil', 'note', null) \
     FROM public.members WHERE user_id = $1";

#[sqlx::test(migrations = false)]
async fn custom_claims_come_from_sql_at_sign_in_and_every_refresh(db: PgPool) {
    let app = common::app(&db, &["--custom-claims-sql", CLAIMS_SQL]).await;
    sqlx::query("CREATE TABLE public.members (user_id uuid PRIMARY KEY, org_id int NOT NULL, teams text[] NOT NULL)")
        .execute(&app.pool)
        .await
        .unwrap();
    hasura_jwt_auth::store::claims::check_custom_claims_sql(&app.pool, CLAIMS_SQL)
        .await
        .expect("valid claims SQL");
    // No row for the user yet: no custom claims, sign-up still works.
    let s = app.signup("org@example.com").await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let claims = hasura::check(
        str_of(&s.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert!(!claims.contains_key("x-hasura-organization-id"));
    sqlx::query("INSERT INTO public.members VALUES ($1::uuid, 42, '{red,\"blue team\"}')")
        .bind(&user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let signed_in = app.sign_in("org@example.com", PASSWORD).await;
    let claims = hasura::check(
        str_of(&signed_in.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_eq!(claims["x-hasura-organization-id"], "42");
    assert_eq!(claims["x-hasura-teams"], r#"{red,"blue team"}"#);
    assert_eq!(
        claims["x-hasura-user-id"],
        user_id.as_str(),
        "built-in claims cannot be overridden"
    );
    assert!(!claims.contains_key("x-hasura-note"));
    sqlx::query("UPDATE public.members SET org_id = 7")
        .execute(&app.pool)
        .await
        .unwrap();
    let refreshed = app.refresh(str_of(&signed_in.body, "refresh_token")).await;
    let claims = hasura::check(
        str_of(&refreshed.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_eq!(
        claims["x-hasura-organization-id"], "7",
        "re-evaluated at refresh"
    );

    // A failing query fails sign-in and refresh with a generic error, and mints nothing.
    let rt = str_of(&refreshed.body, "refresh_token").to_owned();
    sqlx::query("ALTER TABLE public.members RENAME COLUMN org_id TO organization")
        .execute(&app.pool)
        .await
        .unwrap();
    let before = app.session_count(&user_id).await;
    let res = app.sign_in("org@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.body["error_code"], "unexpected_failure");
    assert!(
        !res.body.to_string().contains("org_id"),
        "no SQL details to the client"
    );
    assert_eq!(
        app.session_count(&user_id).await,
        before,
        "no session without its claims"
    );
    let res = app.refresh(&rt).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        hasura_jwt_auth::store::claims::check_custom_claims_sql(&app.pool, CLAIMS_SQL)
            .await
            .is_err()
    );
    sqlx::query("ALTER TABLE public.members RENAME COLUMN organization TO org_id")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.refresh(&rt).await.status,
        StatusCode::OK,
        "the failed refresh rotated nothing"
    );
}

#[sqlx::test(migrations = false)]
async fn claims_sql_is_checked_at_startup(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(&app.pool, "SELEC nonsense")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_CUSTOM_CLAIMS_SQL"), "{err}");
    // A query that ignores the user id would fail at every sign-in once prepared: refused.
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(
        &app.pool,
        "SELECT json_build_object('org-id', 42)",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("$1"), "{err}");
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(
        &app.pool,
        "SELECT 1, 2 WHERE $1::uuid IS NOT NULL",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("one column"), "{err}");
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(
        &app.pool,
        "SELECT 1 WHERE $1::uuid IS NOT NULL",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("json"), "{err}");
}

// --- Actions -----------------------------------------------------------------------------------

pub(crate) async fn action(
    app: &TestApp,
    name: &str,
    input: Value,
    session_variables: Value,
) -> common::Response {
    action_with(
        app,
        name,
        input,
        session_variables,
        Some(ACTIONS_SECRET),
        None,
    )
    .await
}

async fn action_with(
    app: &TestApp,
    name: &str,
    input: Value,
    session_variables: Value,
    secret: Option<&str>,
    cookie: Option<&str>,
) -> common::Response {
    // The payload Hasura sends (https://hasura.io/docs/latest/actions/action-handlers/).
    let body = json!({
        "action": {"name": name},
        "input": input,
        "session_variables": session_variables,
        "request_query": format!("mutation {{ {name} {{ __typename }} }}"),
    });
    let mut req = Request::post("/hasura/actions")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-user-agent", "test-browser");
    if let Some(secret) = secret {
        req = req.header(
            hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER,
            secret,
        );
    }
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    app.request(req.body(Body::from(body.to_string())).unwrap())
        .await
}

fn anonymous() -> Value {
    json!({"x-hasura-role": "anonymous"})
}

pub(crate) fn user_vars(access_token: &str) -> Value {
    // What Hasura derives from the token's claims: lowercase keys, string values.
    let p = jwt_payload(access_token);
    let c = &p["https://hasura.io/jwt/claims"];
    json!({"x-hasura-role": "user", "x-hasura-user-id": c["x-hasura-user-id"], "x-hasura-session-id": c["x-hasura-session-id"]})
}

pub(crate) fn assert_action_error(res: &common::Response, status: StatusCode, code: &str) {
    assert_eq!(res.status, status, "{res:?}");
    assert!(res.body["message"].is_string(), "{res:?}");
    assert_eq!(res.body["extensions"]["code"], code, "{res:?}");
    assert_eq!(
        res.body.as_object().unwrap().len(),
        2,
        "only message and extensions: {res:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn actions_handler_runs_every_action(db: PgPool) {
    let app = common::app(&db, &["--hasura-actions-secret", ACTIONS_SECRET]).await;
    let fields: BTreeSet<&str> = [
        "access_token",
        "token_type",
        "expires_in",
        "expires_at",
        "refresh_token",
        "user_id",
        "email",
    ]
    .into();
    let creds = json!({"email": "act@example.com", "password": PASSWORD});

    let res = action(&app, "signup", creds.clone(), anonymous()).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let mut signup_fields = fields.clone();
    signup_fields.insert("confirmation_sent");
    assert_eq!(
        res.body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        signup_fields
    );
    assert_eq!(res.body["confirmation_sent"], false);
    hasura::check(
        str_of(&res.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_action_error(
        &action(&app, "signup", creds.clone(), anonymous()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "user_already_exists",
    );
    assert_action_error(
        &action(
            &app,
            "signup",
            json!({"email": "x@example.com", "password": "short"}),
            anonymous(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    );
    assert_action_error(
        &action(
            &app,
            "signup",
            json!({"email": "x@example.com"}),
            anonymous(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    let login = action(&app, "login", creds.clone(), anonymous()).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    assert_action_error(
        &action(
            &app,
            "login",
            json!({"email": "act@example.com", "password": "wrong password"}),
            anonymous(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_credentials",
    );

    let refreshed = action(
        &app,
        "refreshToken",
        json!({"refresh_token": login.body["refresh_token"]}),
        anonymous(),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    assert_ne!(refreshed.body["refresh_token"], login.body["refresh_token"]);
    assert_action_error(
        &action(
            &app,
            "refreshToken",
            json!({"refresh_token": "bogus"}),
            anonymous(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "refresh_token_not_found",
    );
    assert_action_error(
        &action(&app, "refreshToken", json!({}), anonymous()).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    let at = str_of(&refreshed.body, "access_token").to_owned();
    let res = action(
        &app,
        "changePassword",
        json!({"password": "another password"}),
        user_vars(&at),
    )
    .await;
    assert_eq!(
        (res.status, &res.body),
        (StatusCode::OK, &json!({"ok": true}))
    );
    assert_eq!(
        app.sign_in("act@example.com", "another password")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/user", Some(&at), None).await.status,
        StatusCode::OK,
        "current session kept"
    );
    assert_action_error(
        &action(
            &app,
            "changePassword",
            json!({"password": "x"}),
            user_vars(&at),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    );
    assert_action_error(
        &action(
            &app,
            "changePassword",
            json!({"password": "another password 2"}),
            anonymous(),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "no_authorization",
    );

    assert_action_error(
        &action(&app, "logout", json!({"scope": "sideways"}), user_vars(&at)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    let res = action(&app, "logout", json!({"scope": "local"}), user_vars(&at)).await;
    assert_eq!(
        (res.status, &res.body),
        (StatusCode::OK, &json!({"ok": true}))
    );
    assert_eq!(
        app.call(Method::GET, "/user", Some(&at), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_action_error(
        &action(&app, "logout", json!({}), anonymous()).await,
        StatusCode::UNAUTHORIZED,
        "no_authorization",
    );
    // Hasura only checks the token's signature: a signed-out session cannot act any more.
    assert_action_error(
        &action(
            &app,
            "changePassword",
            json!({"password": "sneaky password"}),
            user_vars(&at),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    );
    assert_action_error(
        &action(&app, "logout", json!({"scope": "global"}), user_vars(&at)).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    );
    assert_action_error(
        &action(&app, "frobnicate", json!({}), anonymous()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Global logout through the action (the default scope).
    let l2 = action(
        &app,
        "login",
        json!({"email": "act@example.com", "password": "another password"}),
        anonymous(),
    )
    .await;
    let res = action(
        &app,
        "logout",
        json!({}),
        user_vars(str_of(&l2.body, "access_token")),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let ua: Option<String> =
        sqlx::query_scalar("SELECT user_agent FROM audit_log WHERE event = 'sign_up'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(ua.as_deref(), Some("test-browser"));
}

#[sqlx::test(migrations = false)]
async fn actions_handler_demands_its_secret(db: PgPool) {
    let off = common::app(&db, &[]).await;
    let res = action(
        &off,
        "login",
        json!({"email": "a@example.com", "password": PASSWORD}),
        anonymous(),
    )
    .await;
    assert_action_error(&res, StatusCode::NOT_FOUND, "not_found");
    let app = common::app(&db, &["--hasura-actions-secret", ACTIONS_SECRET]).await;
    let input = json!({"email": "a@example.com", "password": PASSWORD});
    for secret in [None, Some("wrong"), Some("")] {
        let res = action_with(&app, "signup", input.clone(), anonymous(), secret, None).await;
        assert_action_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[sqlx::test(migrations = false)]
async fn generated_metadata_matches_the_handler(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_args(["--default-allowed-roles", "user,editor"]).unwrap();
    hasura_metadata::write(&config, dir.path()).unwrap();

    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.path().join("actions.yaml")).unwrap())
            .unwrap();
    let mut declared_actions = Vec::new();
    for a in yaml["actions"].as_sequence().unwrap() {
        let name = a["name"].as_str().unwrap().to_owned();
        let d = &a["definition"];
        assert_eq!(d["kind"].as_str(), Some("synchronous"));
        assert_eq!(
            d["handler"].as_str(),
            Some("{{HASURA_JWT_AUTH_URL}}/hasura/actions")
        );
        assert_eq!(d["forward_client_headers"].as_bool(), Some(true));
        assert_eq!(
            d["headers"][0]["name"].as_str(),
            Some(hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER)
        );
        assert_eq!(
            d["headers"][0]["value_from_env"].as_str(),
            Some(hasura_jwt_auth::hasura_config::ACTIONS_SECRET_ENV)
        );
        let roles: Vec<&str> = a["permissions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p["role"].as_str().unwrap())
            .collect();
        let public = [
            "signup",
            "login",
            "refreshToken",
            "requestPasswordRecovery",
            "requestSignInLink",
            "verifyEmailToken",
        ]
        .contains(&name.as_str());
        assert_eq!(roles.contains(&"anonymous"), public, "{name}: {roles:?}");
        assert!(
            roles.contains(&"user") && roles.contains(&"editor"),
            "{name}: {roles:?}"
        );
        declared_actions.push(name);
    }
    assert_eq!(
        declared_actions,
        [
            "signup",
            "login",
            "refreshToken",
            "logout",
            "changePassword",
            "mySessions",
            "endSession",
            "requestPasswordRecovery",
            "requestSignInLink",
            "verifyEmailToken"
        ]
    );
    let objects: Vec<&str> = yaml["custom_types"]["objects"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();

    use graphql_parser::schema::{parse_schema, Definition, TypeDefinition};
    let sdl = std::fs::read_to_string(dir.path().join("actions.graphql")).unwrap();
    let doc = parse_schema::<String>(&sdl).expect("actions.graphql parses");
    let mut mutations: HashMap<String, (Vec<(String, String)>, String)> = HashMap::new();
    let mut object_fields: HashMap<String, BTreeSet<String>> = HashMap::new();
    for def in &doc.definitions {
        if let Definition::TypeDefinition(TypeDefinition::Object(o)) = def {
            if o.name == "Mutation" || o.name == "Query" {
                for f in &o.fields {
                    let args = f
                        .arguments
                        .iter()
                        .map(|a| (a.name.clone(), a.value_type.to_string()))
                        .collect();
                    mutations.insert(f.name.clone(), (args, f.field_type.to_string()));
                }
            } else {
                assert!(
                    objects.contains(&o.name.as_str()),
                    "{} listed in custom_types",
                    o.name
                );
                object_fields.insert(
                    o.name.clone(),
                    o.fields.iter().map(|f| f.name.clone()).collect(),
                );
            }
        }
    }
    assert_eq!(
        mutations.keys().cloned().collect::<BTreeSet<_>>(),
        declared_actions.iter().cloned().collect::<BTreeSet<_>>()
    );

    // Call the handler exactly as the SDL declares and compare the answers with the output types.
    let app = common::app(&db, &["--hasura-actions-secret", ACTIONS_SECRET]).await;
    let keys_of = |v: &Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    let inputs = |name: &str| -> Value {
        let (args, _) = &mutations[name];
        let mut input = serde_json::Map::new();
        for (arg, ty) in args {
            let value = match (name, arg.as_str()) {
                (_, "email") => json!("meta@example.com"),
                ("changePassword", "password") => json!("a new password"),
                (_, "password") | (_, "current_password") => json!(PASSWORD),
                (_, "scope") => json!("others"),
                _ => Value::Null,
            };
            // Optional arguments the calls below leave out on purpose.
            let optional = [
                "refresh_token",
                "redirect_to",
                "create_user",
                "token_hash",
                "token",
            ];
            assert!(
                ty.ends_with('!') || !value.is_null() || optional.contains(&arg.as_str()),
                "{name}.{arg}"
            );
            if !value.is_null() {
                input.insert(arg.clone(), value);
            }
        }
        Value::Object(input)
    };
    let signup = action(&app, "signup", inputs("signup"), anonymous()).await;
    assert_eq!(keys_of(&signup.body), object_fields[&mutations["signup"].1]);
    let login = action(&app, "login", inputs("login"), anonymous()).await;
    assert_eq!(keys_of(&login.body), object_fields[&mutations["login"].1]);
    let mut refresh_input = inputs("refreshToken");
    refresh_input["refresh_token"] = login.body["refresh_token"].clone();
    let refreshed = action(&app, "refreshToken", refresh_input, anonymous()).await;
    assert_eq!(
        keys_of(&refreshed.body),
        object_fields[&mutations["refreshToken"].1]
    );
    let vars = user_vars(str_of(&refreshed.body, "access_token"));
    let changed = action(
        &app,
        "changePassword",
        inputs("changePassword"),
        vars.clone(),
    )
    .await;
    assert_eq!(
        keys_of(&changed.body),
        object_fields[&mutations["changePassword"].1],
        "{changed:?}"
    );
    let out = action(&app, "logout", inputs("logout"), vars.clone()).await;
    assert_eq!(
        keys_of(&out.body),
        object_fields[&mutations["logout"].1],
        "{out:?}"
    );
    // Scope `others` kept this session: list it, then end it.
    let listed = action(&app, "mySessions", inputs("mySessions"), vars.clone()).await;
    assert_eq!(mutations["mySessions"].1, "[AuthSessionInfo!]!");
    let other = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session");
    assert_eq!(keys_of(other), object_fields["AuthSessionInfo"]);
    let mut end_input = inputs("endSession");
    end_input["id"] = other["id"].clone();
    let ended = action(&app, "endSession", end_input, vars.clone()).await;
    assert_eq!(
        keys_of(&ended.body),
        object_fields[&mutations["endSession"].1],
        "{ended:?}"
    );
    for (name, email) in [
        ("requestPasswordRecovery", "meta@example.com"),
        // Another address: one message per address and minute.
        ("requestSignInLink", "meta2@example.com"),
    ] {
        let mut input = inputs(name);
        input["email"] = json!(email);
        let res = action(&app, name, input, anonymous()).await;
        assert_eq!(
            keys_of(&res.body),
            object_fields[&mutations[name].1],
            "{name}: {res:?}"
        );
    }
    // verifyEmailToken is called with real tokens in the email tests.
}

// --- Webhook -----------------------------------------------------------------------------------

async fn webhook_get(app: &TestApp, headers: &[(&str, &str)]) -> common::Response {
    let mut req = Request::get("/hasura/webhook");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.request(req.body(Body::empty()).unwrap()).await
}

#[sqlx::test(migrations = false)]
async fn auth_webhook_get_and_post_modes(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--custom-claims-sql",
            "SELECT json_build_object('org', 'acme') WHERE $1::uuid IS NOT NULL",
        ],
    )
    .await;
    let s = app.signup("hook@example.com").await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    sqlx::query("UPDATE users SET allowed_roles = '{user,editor}'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (at, _) = {
        let r = app.sign_in("hook@example.com", PASSWORD).await;
        (str_of(&r.body, "access_token").to_owned(), ())
    };
    let bearer = format!("Bearer {at}");

    let res = webhook_get(&app, &[("authorization", &bearer), ("user-agent", "x")]).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let vars = res.body.as_object().unwrap();
    assert_eq!(vars["X-Hasura-User-Id"], user_id.as_str());
    assert_eq!(vars["X-Hasura-Role"], "user");
    assert_eq!(vars["x-hasura-org"], "acme");
    assert!(
        vars.values().all(Value::is_string),
        "all values are strings: {vars:?}"
    );
    let exp = jwt_payload(&at)["exp"].as_i64().unwrap();
    let expires = chrono::DateTime::from_timestamp(exp, 0)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    assert_eq!(vars["Expires"], expires.as_str());
    assert!(!vars.contains_key("x-hasura-allowed-roles"));

    let res = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "editor")],
    )
    .await;
    assert_eq!(res.body["X-Hasura-Role"], "editor");
    let res = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "admin")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // A header sent twice is ambiguous: denied, whichever value comes first.
    for twice in [
        vec![
            ("authorization", bearer.as_str()),
            ("x-hasura-role", "editor"),
            ("x-hasura-role", "admin"),
        ],
        vec![
            ("authorization", bearer.as_str()),
            ("authorization", "Bearer x"),
        ],
    ] {
        let res = webhook_get(&app, &twice).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{twice:?}: {res:?}");
    }

    // POST mode: {headers, request}.
    let body = json!({"headers": {"Authorization": bearer, "X-Hasura-Role": "editor"}, "request": {"query": "{ todos { id } }", "variables": {}, "operationName": null}});
    let res = app.post("/hasura/webhook", body).await;
    assert_eq!(
        (res.status, res.body["X-Hasura-Role"].as_str()),
        (StatusCode::OK, Some("editor"))
    );
    let res = app
        .post(
            "/hasura/webhook",
            json!({"headers": {}, "request": {"query": "{ x }"}}),
        )
        .await;
    assert_eq!(res.body, json!({"X-Hasura-Role": "anonymous"}));

    // No token: the unauthorized role. Bad tokens: 401.
    assert_eq!(
        webhook_get(&app, &[]).await.body,
        json!({"X-Hasura-Role": "anonymous"})
    );
    assert_eq!(
        webhook_get(&app, &[("authorization", "Bearer nonsense")])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        webhook_get(&app, &[("authorization", "Basic abc")])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let mut claims = jwt_payload(&at);
    claims["exp"] = json!(chrono::Utc::now().timestamp() - 5);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        webhook_get(&app, &[("authorization", &format!("Bearer {expired}"))])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // A garbled (non-UTF-8) Authorization header is denied, not treated as anonymous.
    let garbled = Request::get("/hasura/webhook")
        .header(
            "authorization",
            axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(garbled).await.status, StatusCode::UNAUTHORIZED);

    // Roles are read from the user row: a role taken away stops working before the token expires.
    sqlx::query("UPDATE users SET allowed_roles = '{user}'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "editor")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // Sign-out and disabling take effect at once in webhook mode.
    sqlx::query("UPDATE users SET enabled = false")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        webhook_get(&app, &[("authorization", &bearer)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    sqlx::query("UPDATE users SET enabled = true")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        webhook_get(&app, &[("authorization", &bearer)])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::POST, "/logout", Some(&at), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        webhook_get(&app, &[("authorization", &bearer)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

// --- Cookie mode and CORS -------------------------------------------------------------------------

/// The refresh token of the cookie a response sets (in cookie mode the body has none).
fn cookie_token(res: &common::Response) -> String {
    let prefix = "__Host-hja_refresh_token=";
    let cookie = set_cookies(res)
        .into_iter()
        .find(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no refresh-token cookie: {res:?}"));
    let value = &cookie[prefix.len()..cookie.find(';').unwrap()];
    assert!(!value.is_empty(), "{cookie}");
    value.to_owned()
}

fn set_cookies(res: &common::Response) -> Vec<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn refresh_token_cookie_for_browsers(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--hasura-actions-secret",
            ACTIONS_SECRET,
        ],
    )
    .await;
    let s = app.signup("cookie@example.com").await;
    let cookies = set_cookies(&s);
    assert_eq!(cookies.len(), 1);
    // The token is in the HttpOnly cookie only: scripts of the page never see it.
    assert!(s.body.get("refresh_token").is_none(), "{:?}", s.body);
    let rt = cookie_token(&s);
    let c = &cookies[0];
    assert!(
        c.starts_with(&format!("__Host-hja_refresh_token={rt};")),
        "{c}"
    );
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/;",
        "Max-Age=604800",
    ] {
        assert!(c.contains(attr), "{attr} missing in {c}");
    }
    assert!(!c.contains("Domain"), "__Host- cookies have no Domain: {c}");
    // A refresh with no body token uses the cookie and sets the rotated one.
    let req = Request::post("/token?grant_type=refresh_token")
        .header(
            header::COOKIE,
            format!("theme=dark; __Host-hja_refresh_token={rt}"),
        )
        .body(Body::empty())
        .unwrap();
    let res = app.request(req).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body.get("refresh_token").is_none());
    let new_rt = cookie_token(&res);
    assert_ne!(new_rt, rt);
    // Through the refreshToken action, with the cookie Hasura forwards.
    let res = action_with(
        &app,
        "refreshToken",
        json!({}),
        anonymous(),
        Some(ACTIONS_SECRET),
        Some(&format!("__Host-hja_refresh_token={new_rt}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body["refresh_token"].is_null(), "{:?}", res.body);
    let at = str_of(&res.body, "access_token").to_owned();
    let newest = cookie_token(&res);
    assert!(set_cookies(&res)[0].contains("HttpOnly"));
    // Sign-out clears it.
    let out = app.call(Method::POST, "/logout", Some(&at), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = &set_cookies(&out)[0];
    assert!(
        cleared.starts_with("__Host-hja_refresh_token=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // A dead cookie is cleared on refresh too.
    let req = Request::post("/token?grant_type=refresh_token")
        .header(header::COOKIE, format!("__Host-hja_refresh_token={newest}"))
        .body(Body::empty())
        .unwrap();
    let res = app.request(req).await;
    assert_eq!(res.body["error"], "invalid_grant");
    assert!(set_cookies(&res)[0].contains("Max-Age=0"));
    // A __Host- name needs Path=/ and no Domain: the settings say so at start.
    let e = Config::from_args([
        "--refresh-token-cookie",
        "--refresh-token-cookie-path",
        "/v1/graphql",
    ])
    .unwrap()
    .validate()
    .unwrap_err()
    .to_string();
    assert!(e.contains("__Host-"), "{e}");
    assert!(Config::from_args([
        "--refresh-token-cookie",
        "--refresh-token-cookie-name",
        "__Secure-hja_refresh_token",
        "--refresh-token-cookie-path",
        "/v1/graphql",
    ])
    .unwrap()
    .validate()
    .is_ok());
}

#[sqlx::test(migrations = false)]
async fn no_cookie_unless_enabled(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("plain@example.com").await;
    assert!(set_cookies(&s).is_empty());
    let req = Request::post("/token?grant_type=refresh_token")
        .header(
            header::COOKIE,
            format!("hja_refresh_token={}", str_of(&s.body, "refresh_token")),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(req).await.body["error"], "invalid_request");
}

#[sqlx::test(migrations = false)]
async fn cors_allows_configured_origins_with_credentials(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--cors-origins",
            "https://app.example.com,https://admin.example.com",
        ],
    )
    .await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/token?grant_type=refresh_token")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type,authorization",
            )
            .body(Body::empty())
            .unwrap()
    };
    let ok = app.request(preflight("https://app.example.com")).await;
    assert_eq!(
        ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    let evil = app.request(preflight("https://evil.example.com")).await;
    assert!(!evil
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    let res = app
        .request(
            Request::get("/health")
                .header(header::ORIGIN, "https://admin.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        res.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://admin.example.com"
    );
}

#[sqlx::test(migrations = false)]
async fn cookie_mode_refuses_cross_site_requests(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--public-url",
            "https://auth.example.com",
            "--cors-origins",
            "https://app.example.com",
        ],
    )
    .await;
    let signup =
        |origin: Option<&'static str>, fetch_site: Option<&'static str>, email: &'static str| {
            let mut req = Request::post("/signup").header(header::CONTENT_TYPE, "application/json");
            if let Some(o) = origin {
                req = req.header(header::ORIGIN, o);
            }
            if let Some(f) = fetch_site {
                req = req.header("sec-fetch-site", f);
            }
            req.body(Body::from(
                json!({"email": email, "password": PASSWORD}).to_string(),
            ))
            .unwrap()
        };
    let evil = app
        .request(signup(
            Some("https://evil.example"),
            Some("cross-site"),
            "a@example.com",
        ))
        .await;
    assert_eq!(
        (evil.status, evil.body["error_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("cross_site_request"))
    );
    assert!(set_cookies(&evil).is_empty());
    let no_origin = app
        .request(signup(None, Some("cross-site"), "b@example.com"))
        .await;
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.request(signup(
            Some("https://auth.example.com"),
            Some("same-origin"),
            "c@example.com"
        ))
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.request(signup(
            Some("https://app.example.com"),
            Some("same-site"),
            "d@example.com"
        ))
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.request(signup(None, None, "e@example.com"))
            .await
            .status,
        StatusCode::OK,
        "non-browser clients"
    );
    let form = Request::post("/token?grant_type=password")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from("username=e%40example.com&password=x"))
        .unwrap();
    assert_eq!(
        app.request(form).await.status,
        StatusCode::FORBIDDEN,
        "login CSRF through a form post"
    );
}

#[sqlx::test(migrations = false)]
async fn action_logins_are_rate_limited_by_the_forwarded_address(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--hasura-actions-secret",
            ACTIONS_SECRET,
            "--trusted-proxies",
            "127.0.0.1",
            "--rate-limit-sign-in",
            "2",
        ],
    )
    .await;
    let login = |ip: &'static str| {
        let body = json!({"action": {"name": "login"}, "input": {"email": "x@example.com", "password": "guess guess"}, "session_variables": {"x-hasura-role": "anonymous"}});
        // Hasura (the trusted proxy here) passes the client's X-Forwarded-For on.
        common::via_proxy(
            Request::post("/hasura/actions")
                .header(header::CONTENT_TYPE, "application/json")
                .header(
                    hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER,
                    ACTIONS_SECRET,
                )
                .header("x-forwarded-for", ip)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    };
    for _ in 0..2 {
        assert_action_error(
            &app.request(login("192.0.2.1")).await,
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
        );
    }
    assert_action_error(
        &app.request(login("192.0.2.1")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "over_request_rate_limit",
    );
    assert_action_error(
        &app.request(login("192.0.2.2")).await,
        StatusCode::BAD_REQUEST,
        "invalid_credentials",
    );
}

#[sqlx::test(migrations = false)]
async fn wrong_current_password_is_audited(db: PgPool) {
    let app = common::app(&db, &["--hasura-actions-secret", ACTIONS_SECRET]).await;
    let s = action(
        &app,
        "signup",
        json!({"email": "cp@example.com", "password": PASSWORD}),
        anonymous(),
    )
    .await;
    let vars = user_vars(str_of(&s.body, "access_token"));
    let res = action(
        &app,
        "changePassword",
        json!({"password": "new password 9", "current_password": "not it at all"}),
        vars.clone(),
    )
    .await;
    assert_action_error(&res, StatusCode::BAD_REQUEST, "invalid_credentials");
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'password_change_failed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(n, 1);
    let res = action(
        &app,
        "changePassword",
        json!({"password": "new password 9", "current_password": PASSWORD}),
        vars,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}

#[sqlx::test(migrations = false)]
async fn the_unauthorized_role_and_handler_url_are_settings(db: PgPool) {
    let args = [
        "--hasura-unauthorized-role",
        "guest",
        "--hasura-actions-handler-url",
        "https://auth.internal/hasura/actions",
        "--hasura-actions-secret",
        ACTIONS_SECRET,
    ];
    let app = common::app(&db, &args).await;
    assert_eq!(
        webhook_get(&app, &[]).await.body,
        json!({"X-Hasura-Role": "guest"})
    );
    let mut config_args = vec!["--jwt-secret", SECRET];
    config_args.extend_from_slice(&args);
    let config = Config::from_args(config_args).unwrap();
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&hasura_metadata::actions_yaml(&config)).unwrap();
    for a in yaml["actions"].as_sequence().unwrap() {
        assert_eq!(
            a["definition"]["handler"].as_str(),
            Some("https://auth.internal/hasura/actions")
        );
        let roles: Vec<&str> = a["permissions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p["role"].as_str().unwrap())
            .collect();
        assert!(!roles.contains(&"anonymous"));
        // Which actions are public is checked in generated_metadata_matches_the_handler.
        let name = a["name"].as_str().unwrap();
        let public = hasura_metadata::ACTIONS
            .iter()
            .any(|(n, public)| *n == name && *public);
        assert_eq!(roles.contains(&"guest"), public, "{roles:?}");
    }
    // A call made with the unauthorized role cannot act for a user, whatever ids it carries.
    let s = action(
        &app,
        "signup",
        json!({"email": "g@example.com", "password": PASSWORD}),
        json!({"x-hasura-role": "guest"}),
    )
    .await;
    let mut vars = user_vars(str_of(&s.body, "access_token"));
    vars["x-hasura-role"] = json!("guest");
    assert_action_error(
        &action(&app, "logout", json!({}), vars).await,
        StatusCode::UNAUTHORIZED,
        "no_authorization",
    );
}

#[sqlx::test(migrations = false)]
async fn action_errors_for_reauthentication_bans_and_bad_input(db: PgPool) {
    let app = common::app(&db, &["--hasura-actions-secret", ACTIONS_SECRET]).await;
    let s = action(
        &app,
        "signup",
        json!({"email": "ae@example.com", "password": PASSWORD}),
        anonymous(),
    )
    .await;
    let vars = user_vars(str_of(&s.body, "access_token"));
    sqlx::query("UPDATE sessions SET created_at = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_action_error(
        &action(
            &app,
            "changePassword",
            json!({"password": "a fresh password"}),
            vars.clone(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "reauthentication_needed",
    );
    assert_action_error(
        &action(
            &app,
            "login",
            json!({"email": "ae@example.com"}),
            anonymous(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    sqlx::query("UPDATE users SET banned_until = now() + interval '1 day'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_action_error(
        &action(&app, "logout", json!({}), vars).await,
        StatusCode::UNAUTHORIZED,
        "user_banned",
    );
    let closed = common::app(
        &db,
        &[
            "--hasura-actions-secret",
            ACTIONS_SECRET,
            "--disable-signup",
        ],
    )
    .await;
    assert_action_error(
        &action(
            &closed,
            "signup",
            json!({"email": "new@example.com", "password": PASSWORD}),
            anonymous(),
        )
        .await,
        StatusCode::FORBIDDEN,
        "signup_disabled",
    );
}

#[sqlx::test(migrations = false)]
async fn every_session_response_sets_the_cookie_and_every_logout_clears_it(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--hasura-actions-secret",
            ACTIONS_SECRET,
        ],
    )
    .await;
    let has_token_cookie = |res: &common::Response| {
        let rt = cookie_token(res);
        set_cookies(res).iter().any(|c| {
            c.starts_with(&format!("__Host-hja_refresh_token={rt};")) && c.contains("HttpOnly")
        })
    };
    let s = action(
        &app,
        "signup",
        json!({"email": "ck@example.com", "password": PASSWORD}),
        anonymous(),
    )
    .await;
    assert!(has_token_cookie(&s), "signup action");
    let l = action(
        &app,
        "login",
        json!({"email": "ck@example.com", "password": PASSWORD}),
        anonymous(),
    )
    .await;
    assert!(has_token_cookie(&l), "login action");
    let p = app.sign_in("ck@example.com", PASSWORD).await;
    assert!(has_token_cookie(&p), "password grant");
    let out = action(
        &app,
        "logout",
        json!({"scope": "local"}),
        user_vars(str_of(&l.body, "access_token")),
    )
    .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|c| c.starts_with("__Host-hja_refresh_token=;") && c.contains("Max-Age=0")),
        "logout action clears it"
    );
}

#[sqlx::test(migrations = false)]
async fn cookie_actions_refuse_other_sites_as_the_api_does(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--hasura-actions-secret",
            ACTIONS_SECRET,
            "--public-url",
            "https://auth.example.com",
            "--cors-origins",
            "https://app.example.com",
        ],
    )
    .await;
    // As Hasura relays a browser's call: Origin becomes X-Forwarded-Origin, Sec-Fetch-Site
    // and the cookie pass on.
    let relayed =
        |name: &str, input: Value, origin: Option<&str>, site: &str, cookie: Option<&str>| {
            let body =
                json!({"action": {"name": name}, "input": input, "session_variables": anonymous()});
            let mut req = Request::post("/hasura/actions")
                .header(header::CONTENT_TYPE, "application/json")
                .header(
                    hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER,
                    ACTIONS_SECRET,
                )
                .header("sec-fetch-site", site);
            if let Some(o) = origin {
                req = req.header("x-forwarded-origin", o);
            }
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            req.body(Body::from(body.to_string())).unwrap()
        };
    let creds = json!({"email": "victim@example.com", "password": PASSWORD});
    let ok = app
        .request(relayed(
            "signup",
            creds.clone(),
            Some("https://app.example.com"),
            "same-site",
            None,
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let cookie = format!("__Host-hja_refresh_token={}", cookie_token(&ok));

    // A hostile page cannot read a session with the victim's cookie ...
    for (origin, site) in [
        (Some("https://evil.example"), "cross-site"),
        (None, "cross-site"),
    ] {
        let res = app
            .request(relayed(
                "refreshToken",
                json!({}),
                origin,
                site,
                Some(&cookie),
            ))
            .await;
        assert_action_error(&res, StatusCode::FORBIDDEN, "cross_site_request");
        assert!(set_cookies(&res).is_empty());
        assert!(res.body.get("access_token").is_none());
    }
    // ... nor plant its own (login CSRF), nor sign up.
    for name in ["login", "signup"] {
        let input = json!({"email": "attacker@example.com", "password": PASSWORD});
        let res = app
            .request(relayed(
                name,
                input,
                Some("https://evil.example"),
                "cross-site",
                None,
            ))
            .await;
        assert_action_error(&res, StatusCode::FORBIDDEN, "cross_site_request");
        assert!(set_cookies(&res).is_empty(), "{name}");
    }
    // The app's own origin goes through.
    let res = app
        .request(relayed(
            "refreshToken",
            json!({}),
            Some("https://app.example.com"),
            "same-site",
            Some(&cookie),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}
