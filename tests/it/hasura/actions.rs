//! The Hasura actions handler: every action, its secret, the generated metadata matching the
//! handler, errors in the actions' shape, limits by the forwarded address.

use super::webhook::webhook_get;
use super::{action, action_with, anonymous, assert_action_error, user_vars, ACTIONS_SECRET};
use crate::common::{self, hasura, str_of, PASSWORD, SECRET};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use hasura_jwt_auth::{config::Config, hasura_config::metadata as hasura_metadata};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::{BTreeSet, HashMap};

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
            "signInAnonymously",
            "login",
            "refreshToken",
            "requestPasswordRecovery",
            "requestSignInLink",
            "verifyEmailToken",
            // A session that owes its second factor is the unauthorized role to Hasura.
            "enrollFactor",
            "challengeFactor",
            "verifyFactor",
            "unenrollFactor",
            "myFactors",
            "generateRecoveryCodes",
            "verifyRecoveryCode",
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
            "signInAnonymously",
            "login",
            "refreshToken",
            "logout",
            "changePassword",
            "reauthenticate",
            "mySessions",
            "endSession",
            "requestPasswordRecovery",
            "requestSignInLink",
            "verifyEmailToken",
            "enrollFactor",
            "challengeFactor",
            "verifyFactor",
            "unenrollFactor",
            "myFactors",
            "generateRecoveryCodes",
            "verifyRecoveryCode",
            "createOrganization",
            "myOrganizations",
            "organizationMembers",
            "setOrganizationMemberRoles",
            "removeOrganizationMember",
            "leaveOrganization",
            "deleteOrganization",
            "inviteToOrganization",
            "organizationInvitations",
            "acceptInvitation",
            "activateOrganization"
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
    let app = common::app(
        &db,
        &[
            "--hasura-actions-secret",
            ACTIONS_SECRET,
            "--anonymous-users",
            "--email-min-interval",
            "0s",
        ],
    )
    .await;
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
                "data",
                "nonce",
                "redirect_to",
                "create_user",
                "token_hash",
                "token",
                "organization_id",
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
    let guest = action(
        &app,
        "signInAnonymously",
        inputs("signInAnonymously"),
        anonymous(),
    )
    .await;
    assert_eq!(
        keys_of(&guest.body),
        object_fields[&mutations["signInAnonymously"].1],
        "{guest:?}"
    );
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
    let asked = action(
        &app,
        "reauthenticate",
        inputs("reauthenticate"),
        vars.clone(),
    )
    .await;
    assert_eq!(
        keys_of(&asked.body),
        object_fields[&mutations["reauthenticate"].1],
        "{asked:?}"
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
