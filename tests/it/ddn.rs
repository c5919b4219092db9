//! Hasura DDN: the AuthConfig that `hasura ddn-auth-config` prints validates against the schema
//! DDN publishes (read from `../shared/ddn`), for every key kind, key mode, claims option,
//! webhook method and both AuthConfig versions; tokens decode the way DDN decodes them, at
//! compatibility dates before and after each change of its rules (`common::ddn`); the webhook
//! answers the way DDN requires.

use hasura_jwt_auth::{
    auth::keys::{generate_private_key_pem, KeySet},
    config::{Config, JwtAlgorithm},
    hasura_config::{
        ddn::{
            auth_config_yaml, DdnMode, DdnOptions, DdnVersion, WebhookMethod, API_KEY_MODE,
            DDN_SECRET_ENV,
        },
        SecretMode,
    },
};
use serde_json::Value;

use crate::common::ddn::{self, date, typecast, Column};

/// DDN's published AuthConfig schema, kept outside the project (`../shared/ddn`). Without it
/// the schema checks fail under CI and are skipped (saying so) elsewhere.
fn schema_text() -> Option<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/ddn/auth_config.jsonschema"
    );
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("DDN's AuthConfig schema is needed at {path}: {e}")
        }
        Err(e) => {
            eprintln!("skipped: DDN's AuthConfig schema is not at {path} ({e})");
            None
        }
    }
}

/// Compatibility dates on both sides of each change of DDN's rules that touches tokens.
const DATES: [&str; 3] = ["2024-06-01", "2024-12-01", "2026-12-01"];

const ALGORITHMS: [JwtAlgorithm; 6] = [
    JwtAlgorithm::Hs256,
    JwtAlgorithm::Hs384,
    JwtAlgorithm::Hs512,
    JwtAlgorithm::Rs256,
    JwtAlgorithm::Es256,
    JwtAlgorithm::EdDsa,
];

/// A key set of `alg` (a fresh key).
pub fn keys_for(alg: JwtAlgorithm) -> KeySet {
    if alg.is_hmac() {
        let config = Config::from_args([
            "--jwt-secret",
            "ddn-test-secret-ddn-test-secret-0123456789-0123456789abcdef0123456789",
            "--jwt-algorithm",
            alg.name(),
        ])
        .unwrap();
        KeySet::load(&config.keys).unwrap()
    } else {
        let pem = generate_private_key_pem(alg).unwrap();
        KeySet::from_pems(pem.expose(), &[]).unwrap()
    }
}

/// The printed YAML, parsed; `kind` checked and removed (DDN dispatches on it before the
/// schema, which describes `version` and `definition`).
fn parsed(yaml: &str) -> Value {
    let mut doc: Value = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
    assert_eq!(doc["kind"], "AuthConfig", "{yaml}");
    doc.as_object_mut().unwrap().remove("kind");
    doc
}

/// DDN's schema, compiled (`None` where it is not available, see [`schema_text`]). Its
/// definitions carry `$id`s, which under draft-07 would each start a new base URI against which
/// the schema's own `#/definitions/…` references cannot resolve; they are dropped (nothing
/// refers to them), the rest is used as published.
fn ddn_schema() -> Option<jsonschema::Validator> {
    let mut schema: Value = serde_json::from_str(&schema_text()?).unwrap();
    for definition in schema["definitions"].as_object_mut().unwrap().values_mut() {
        if let Some(d) = definition.as_object_mut() {
            d.remove("$id");
        }
    }
    Some(jsonschema::validator_for(&schema).expect("DDN's schema compiles"))
}

fn validate(doc: &Value, yaml: &str) {
    let Some(validator) = ddn_schema() else {
        return;
    };
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{yaml}");
}

fn options(version: DdnVersion, mode: DdnMode) -> DdnOptions {
    DdnOptions {
        version,
        mode,
        key: None,
        method: WebhookMethod::Get,
        secret_env: DDN_SECRET_ENV.to_owned(),
        inline_secret: false,
        api_keys: false,
    }
}

#[test]
fn api_keys_are_the_webhook_alternative_mode_of_v4() {
    let keys = keys_for(JwtAlgorithm::Es256);
    let config = Config::from_args(["--public-url", "https://auth.example.com"]).unwrap();
    for method in [WebhookMethod::Get, WebhookMethod::Post] {
        let mut opts = options(DdnVersion::V4, DdnMode::Jwt);
        opts.api_keys = true;
        opts.method = method;
        opts.check().unwrap();
        let yaml = auth_config_yaml(&config, &keys, &opts);
        let doc = parsed(&yaml);
        validate(&doc, &yaml);
        let definition = &doc["definition"];
        assert!(definition["mode"]["jwt"].is_object(), "{yaml}");
        let alternatives = definition["alternativeModes"].as_array().unwrap();
        assert_eq!(alternatives.len(), 1, "{yaml}");
        assert_eq!(alternatives[0]["identifier"], API_KEY_MODE);
        let webhook = &alternatives[0]["config"]["webhook"];
        assert_eq!(
            webhook["url"]["value"],
            "https://auth.example.com/hasura/webhook"
        );
        let expected = if method == WebhookMethod::Get {
            "GET"
        } else {
            "POST"
        };
        assert_eq!(webhook["method"], expected);
    }
    // Without the flag there is no alternative; v3 and webhook mode refuse it.
    let plain = auth_config_yaml(&config, &keys, &options(DdnVersion::V4, DdnMode::Jwt));
    assert!(!plain.contains("alternativeModes"), "{plain}");
    for (version, mode) in [
        (DdnVersion::V3, DdnMode::Jwt),
        (DdnVersion::V4, DdnMode::Webhook),
    ] {
        let mut opts = options(version, mode);
        opts.api_keys = true;
        assert!(opts.check().is_err());
    }
}

#[test]
fn auth_config_validates_for_every_key_mode_and_version() {
    let mut checked = 0;
    for alg in ALGORITHMS {
        let keys = keys_for(alg);
        for version in [DdnVersion::V4, DdnVersion::V3] {
            for key_mode in [SecretMode::Key, SecretMode::JwkUrl] {
                for extra in [
                    &[][..],
                    &[
                        "--jwt-audience",
                        "my-app",
                        "--hasura-claims-format",
                        "stringified_json",
                    ][..],
                    &["--hasura-claims-namespace", "claims.jwt.hasura.io"][..],
                ] {
                    let mut args = vec!["--public-url", "https://auth.example.com"];
                    args.extend_from_slice(extra);
                    let config = Config::from_args(args).unwrap();
                    let mut opts = options(version, DdnMode::Jwt);
                    opts.key = Some(key_mode);
                    let yaml = auth_config_yaml(&config, &keys, &opts);
                    let doc = parsed(&yaml);
                    validate(&doc, &yaml);
                    let jwt = &doc["definition"]["mode"]["jwt"];
                    let fixed = &jwt["key"]["fixed"];
                    match (alg.is_hmac(), key_mode) {
                        // The secret stays in DDN's environment.
                        (true, _) => {
                            assert_eq!(fixed["algorithm"], alg.name());
                            assert_eq!(fixed["key"]["valueFromEnv"], DDN_SECRET_ENV);
                            assert!(!yaml.contains("ddn-test-secret"), "{yaml}");
                        }
                        (false, SecretMode::Key) => {
                            let pem = fixed["key"]["value"].as_str().unwrap();
                            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{yaml}");
                            assert_eq!(pem, keys.signing().public_pem().unwrap());
                        }
                        (false, SecretMode::JwkUrl) => assert_eq!(
                            jwt["key"]["jwkFromUrl"],
                            "https://auth.example.com/.well-known/jwks.json"
                        ),
                    }
                    assert_eq!(jwt["issuer"], "https://auth.example.com");
                    assert_eq!(jwt["tokenLocation"]["type"], "BearerAuthorization");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 6 * 2 * 2 * 3);
}

#[test]
fn claims_pointer_and_format_match_the_settings() {
    let keys = keys_for(JwtAlgorithm::Hs256);
    let ns = |args: &[&str]| {
        let config = Config::from_args(args.iter().copied()).unwrap();
        let doc = parsed(&auth_config_yaml(
            &config,
            &keys,
            &options(DdnVersion::V4, DdnMode::Jwt),
        ));
        doc["definition"]["mode"]["jwt"]["claimsConfig"]["namespace"].clone()
    };
    let default = ns(&[]);
    assert_eq!(default["location"], "/https:~1~1hasura.io~1jwt~1claims");
    assert_eq!(default["claimsFormat"], "Json");
    let ddn = ns(&["--hasura-claims-namespace", "claims.jwt.hasura.io"]);
    assert_eq!(ddn["location"], "/claims.jwt.hasura.io");
    let stringified = ns(&["--hasura-claims-format", "stringified_json"]);
    assert_eq!(stringified["claimsFormat"], "StringifiedJson");
}

#[test]
fn the_secret_is_inline_only_when_asked() {
    let keys = keys_for(JwtAlgorithm::Hs256);
    let config = Config::from_args(["--public-url", "http://localhost:9999"]).unwrap();
    let mut opts = options(DdnVersion::V4, DdnMode::Jwt);
    opts.secret_env = "MY_SECRET".into();
    let yaml = auth_config_yaml(&config, &keys, &opts);
    assert!(yaml.contains("valueFromEnv: \"MY_SECRET\""), "{yaml}");
    opts.inline_secret = true;
    let yaml = auth_config_yaml(&config, &keys, &opts);
    validate(&parsed(&yaml), &yaml);
    assert!(
        yaml.contains(
            "value: \"ddn-test-secret-ddn-test-secret-0123456789-0123456789abcdef0123456789\""
        ),
        "{yaml}"
    );
}

#[test]
fn webhook_mode_validates_for_both_methods_and_versions() {
    let keys = keys_for(JwtAlgorithm::Hs256);
    let config = Config::from_args(["--public-url", "https://auth.example.com"]).unwrap();
    for version in [DdnVersion::V4, DdnVersion::V3] {
        for method in [WebhookMethod::Get, WebhookMethod::Post] {
            let mut opts = options(version, DdnMode::Webhook);
            opts.method = method;
            let yaml = auth_config_yaml(&config, &keys, &opts);
            let doc = parsed(&yaml);
            validate(&doc, &yaml);
            let hook = &doc["definition"]["mode"]["webhook"];
            assert_eq!(
                hook["url"]["value"],
                "https://auth.example.com/hasura/webhook"
            );
            assert_eq!(
                hook["method"],
                if method == WebhookMethod::Get {
                    "GET"
                } else {
                    "POST"
                }
            );
        }
    }
}

#[test]
fn the_schema_catches_a_wrong_document() {
    // The check above would pass anything if the schema did not load: it must refuse these.
    let Some(validator) = ddn_schema() else {
        return;
    };
    for wrong in [
        serde_json::json!({"version": "v9", "definition": {}}),
        serde_json::json!({"version": "v4", "definition": {"mode": {"jwt": {"key": {"fixed": {
            "algorithm": "HS999", "key": {"value": "x"}}},
            "claimsConfig": {"namespace": {"claimsFormat": "Json", "location": "/x"}},
            "tokenLocation": {"type": "BearerAuthorization"}}}}}),
        serde_json::json!({"version": "v4", "definition": {"mode": {"webhook": {
            "url": {"value": "http://x"}, "method": "PUT"}}}}),
    ] {
        assert!(!validator.is_valid(&wrong), "{wrong}");
    }
}

/// A token of `config`'s server for a user with custom claims `{"org-id": 42, "team":
/// "red"}` (normalised as the server normalises them for its settings).
fn token_for(config: &Config, keys: &std::sync::Arc<KeySet>) -> String {
    use hasura_jwt_auth::auth::{
        claims::{normalize_custom_claims, HasuraClaims},
        tokens::AccessTokens,
    };
    let tokens = AccessTokens::new(config, keys.clone());
    let custom = normalize_custom_claims(
        &serde_json::json!({"org-id": 42, "team": "red"}),
        config.hasura.session_values(),
    )
    .unwrap();
    let claims = HasuraClaims {
        user_id: "7f4df3a0-0000-4000-8000-000000000001".into(),
        default_role: "user".into(),
        allowed_roles: vec!["user".into(), "editor".into()],
        aal: hasura_jwt_auth::auth::assurance::Aal::Aal1,
        custom,
    };
    tokens
        .issue(
            &claims,
            "u@example.com",
            false,
            uuid::Uuid::new_v4(),
            &hasura_jwt_auth::auth::assurance::Assurance::one_factor("password", 0),
        )
        .unwrap()
        .token
}

/// The JWT mode of the AuthConfig printed for `config`.
fn printed_jwt(config: &Config, keys: &KeySet, key_mode: SecretMode) -> Value {
    let mut opts = options(DdnVersion::V4, DdnMode::Jwt);
    opts.key = Some(key_mode);
    let yaml = auth_config_yaml(config, keys, &opts);
    parsed(&yaml)["definition"]["mode"]["jwt"].clone()
}

const SECRET: &str = "ddn-test-secret-ddn-test-secret-0123456789-0123456789abcdef0123456789";

/// With `AUTH_DDN_COMPATIBILITY_DATE` set to the project's date, the printed AuthConfig
/// accepts the tokens and permissions read their claims, at dates on both sides of every
/// change of DDN's rules, in every key kind and mode, namespace, format and audience.
#[test]
fn tokens_work_in_ddn_at_old_and_current_dates() {
    let mut checked = 0;
    for alg in ALGORITHMS {
        let keys = std::sync::Arc::new(keys_for(alg));
        for namespace in ["https://hasura.io/jwt/claims", "odd~name/with/slashes"] {
            for format in ["json", "stringified_json"] {
                for audience in [None, Some("my-app")] {
                    for at in DATES {
                        let mut args = vec![
                            "--public-url",
                            "https://auth.example.com",
                            "--hasura-claims-namespace",
                            namespace,
                            "--hasura-claims-format",
                            format,
                            "--ddn-compatibility-date",
                            at,
                        ];
                        if let Some(aud) = audience {
                            args.extend(["--jwt-audience", aud]);
                        }
                        let config = Config::from_args(args).unwrap();
                        let token = token_for(&config, &keys);
                        for key_mode in [SecretMode::Key, SecretMode::JwkUrl] {
                            let jwt = printed_jwt(&config, &keys, key_mode);
                            let case = format!(
                                "{alg:?} {namespace} {format} {audience:?} {at} {key_mode:?}"
                            );
                            let vars = ddn::decode(
                                &token,
                                &jwt,
                                SECRET,
                                &serde_json::to_value(keys.jwks()).unwrap(),
                                date(at),
                            )
                            .unwrap_or_else(|e| panic!("{case}: {e}"));
                            assert_eq!(vars["x-hasura-role"], "user", "{case}");
                            let user_id =
                                typecast(&vars["x-hasura-user-id"], Column::Text, date(at));
                            assert_eq!(user_id.unwrap(), "7f4df3a0-0000-4000-8000-000000000001");
                            let org = typecast(&vars["x-hasura-org-id"], Column::Int, date(at));
                            assert_eq!(org, Ok(Value::from(42)), "{case}");
                            let team = typecast(&vars["x-hasura-team"], Column::Text, date(at));
                            assert_eq!(team, Ok(Value::from("red")), "{case}");
                            // The assurance level reaches DDN's permissions too.
                            let aal = typecast(&vars["x-hasura-aal"], Column::Text, date(at));
                            assert_eq!(aal, Ok(Value::from("aal1")), "{case}");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 6 * 2 * 2 * 2 * 3 * 2);
}

/// What DDN does with tokens made for another date, as its rules say: the reason the date is a
/// setting. Also holds the model itself to what DDN does (it must refuse these).
#[test]
fn ddn_refuses_what_does_not_fit_the_project_date() {
    let keys = std::sync::Arc::new(keys_for(JwtAlgorithm::Hs256));
    let config = |at: Option<&str>| {
        let mut args = vec!["--public-url", "https://auth.example.com"];
        if let Some(at) = at {
            args.extend(["--ddn-compatibility-date", at]);
        }
        Config::from_args(args).unwrap()
    };
    // Strings (no date, or an old one) in a current project: "42" is not an Int there.
    let old = config(None);
    let token = token_for(&old, &keys);
    let vars = ddn::decode(
        &token,
        &printed_jwt(&old, &keys, SecretMode::Key),
        SECRET,
        &serde_json::to_value(keys.jwks()).unwrap(),
        date("2026-12-01"),
    )
    .unwrap();
    assert_eq!(vars["x-hasura-org-id"], "42");
    let cast = typecast(&vars["x-hasura-org-id"], Column::Int, date("2026-12-01"));
    assert!(cast.unwrap_err().contains("Expected: int"));
    // Typed JSON in an old project: only strings work there.
    let current = config(Some("2026-12-01"));
    let token = token_for(&current, &keys);
    let jwt = printed_jwt(&current, &keys, SecretMode::Key);
    let vars = ddn::decode(
        &token,
        &jwt,
        SECRET,
        &serde_json::to_value(keys.jwks()).unwrap(),
        date("2024-06-01"),
    )
    .unwrap();
    assert!(typecast(&vars["x-hasura-org-id"], Column::Int, date("2024-06-01")).is_err());
    // An AuthConfig without the audience (as printed before) refuses every token from
    // 2025-03-11 on, and accepts it before.
    let mut no_audience = jwt.clone();
    no_audience.as_object_mut().unwrap().remove("audience");
    let refused = ddn::decode(
        &token,
        &no_audience,
        SECRET,
        &serde_json::to_value(keys.jwks()).unwrap(),
        date("2026-12-01"),
    );
    assert!(refused.unwrap_err().contains("InvalidAudience"));
    assert!(ddn::decode(
        &token,
        &no_audience,
        SECRET,
        &serde_json::to_value(keys.jwks()).unwrap(),
        date("2025-03-10")
    )
    .is_ok());
    // And arrays work only with JSON session variables.
    assert!(typecast(
        &serde_json::json!([1, 2]),
        Column::IntList,
        date("2026-12-01")
    )
    .is_ok());
    assert!(typecast(&Value::from("{1,2}"), Column::IntList, date("2024-06-01")).is_err());
}

/// The printed file names the audience whatever the settings, and says in a comment which
/// dates its tokens fit.
#[test]
fn the_auth_config_names_the_audience_and_the_date() {
    let keys = keys_for(JwtAlgorithm::EdDsa);
    for (args, aud, says) in [
        (
            vec![],
            "authenticated",
            "AUTH_DDN_COMPATIBILITY_DATE is not set",
        ),
        (vec!["--jwt-audience", "my-app"], "my-app", "is not set"),
        (
            vec!["--ddn-compatibility-date", "2025-03-11"],
            "authenticated",
            "typed JSON",
        ),
        (
            vec!["--ddn-compatibility-date", "2024-01-01"],
            "authenticated",
            "as strings",
        ),
    ] {
        let config = Config::from_args(args.iter().copied()).unwrap();
        let yaml = auth_config_yaml(&config, &keys, &options(DdnVersion::V4, DdnMode::Jwt));
        assert!(yaml.starts_with('#') && yaml.contains(says), "{yaml}");
        let doc = parsed(&yaml);
        validate(&doc, &yaml);
        assert_eq!(
            doc["definition"]["mode"]["jwt"]["audience"],
            serde_json::json!([aud]),
            "{yaml}"
        );
    }
}

/// The webhook answers as DDN requires, for a project before JSON session variables (strings)
/// and one after (typed values, so a custom claim compares with an `Int` column).
#[sqlx::test(migrations = false)]
async fn webhook_answers_as_ddn_requires(db: sqlx::PgPool) {
    let claims_sql = "SELECT json_build_object('org-id', 42) WHERE $1::uuid IS NOT NULL";
    for (at, setting) in [("2024-06-01", None), ("2026-12-01", Some("2026-12-01"))] {
        let mut args = vec!["--custom-claims-sql", claims_sql];
        if let Some(d) = setting {
            args.extend(["--ddn-compatibility-date", d]);
        }
        let app = crate::common::app(&db, &args).await;
        webhook_at(&app, date(at)).await;
        sqlx::query("TRUNCATE users CASCADE")
            .execute(&app.pool)
            .await
            .unwrap();
    }
}

async fn webhook_at(app: &crate::common::TestApp, at: chrono::NaiveDate) {
    use axum::{body::Body, http::Request};
    let answer =
        |res: &crate::common::Response| ddn::hook_answer(res.status.as_u16(), &res.body, at);
    let s = app.signup("ddn@example.com").await;
    let token = crate::common::str_of(&s.body, "access_token").to_owned();
    let user_id = crate::common::jwt_payload(&token)["sub"]
        .as_str()
        .unwrap()
        .to_owned();

    // GET: DDN forwards the client's headers (Authorization, Cookie, x-hasura-*), less a few.
    let get = |headers: Vec<(&'static str, String)>| {
        let mut req = Request::get("/hasura/webhook");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.body(Body::empty()).unwrap()
    };
    let signed = app
        .request(get(vec![
            ("authorization", format!("Bearer {token}")),
            ("cookie", "a=b".into()),
        ]))
        .await;
    let vars = answer(&signed).unwrap().expect("allowed");
    assert_eq!(vars["x-hasura-role"], "user");
    assert_eq!(vars["x-hasura-user-id"], user_id.as_str());
    assert_eq!(
        typecast(&vars["x-hasura-org-id"], Column::Int, at),
        Ok(Value::from(42))
    );
    let chosen = app
        .request(get(vec![
            ("authorization", format!("Bearer {token}")),
            ("x-hasura-role", "user".into()),
        ]))
        .await;
    assert_eq!(answer(&chosen).unwrap().unwrap()["x-hasura-role"], "user");
    let anonymous = app.request(get(vec![])).await;
    assert_eq!(
        answer(&anonymous).unwrap().unwrap()["x-hasura-role"],
        "anonymous"
    );
    for denied in [
        get(vec![("authorization", "Bearer not-a-token".into())]),
        get(vec![
            ("authorization", format!("Bearer {token}")),
            ("x-hasura-role", "admin".into()),
        ]),
    ] {
        let res = app.request(denied).await;
        assert_eq!(answer(&res), Ok(None), "{res:?}");
    }

    // POST: exactly {"headers": {every client header, lowercased}}, none as HTTP headers.
    let post = |headers: Value| {
        Request::post("/hasura/webhook")
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::json!({ "headers": headers }).to_string(),
            ))
            .unwrap()
    };
    let signed = app
        .request(post(serde_json::json!({
            "authorization": format!("Bearer {token}"),
            "content-type": "application/json",
            "user-agent": "ddn-client/1.0",
            "x-hasura-role": "user",
        })))
        .await;
    let vars = answer(&signed).unwrap().expect("allowed");
    assert_eq!(vars["x-hasura-user-id"], user_id.as_str());
    let anonymous = app.request(post(serde_json::json!({}))).await;
    assert_eq!(
        answer(&anonymous).unwrap().unwrap()["x-hasura-role"],
        "anonymous"
    );
    let denied = app
        .request(post(serde_json::json!({"authorization": "Bearer nope"})))
        .await;
    assert_eq!(answer(&denied), Ok(None));
    // A session that ended is denied at once.
    app.call(axum::http::Method::POST, "/logout", Some(&token), None)
        .await;
    let ended = app
        .request(post(
            serde_json::json!({"authorization": format!("Bearer {token}")}),
        ))
        .await;
    assert_eq!(answer(&ended), Ok(None));
}

#[test]
fn the_command_prints_a_valid_auth_config() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hasura-jwt-auth"))
        .args([
            "hasura",
            "ddn-auth-config",
            "--jwt-secret",
            "ddn-test-secret-ddn-test-secret-0123456789-0123456789abcdef0123456789",
            "--public-url",
            "https://auth.example.com",
            "--mode",
            "webhook",
            "--method",
            "post",
            "--auth-config-version",
            "v3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    let doc = parsed(&yaml);
    validate(&doc, &yaml);
    assert_eq!(doc["version"], "v3");
    assert_eq!(doc["definition"]["mode"]["webhook"]["method"], "POST");
}
