//! Hasura DDN: the AuthConfig that `hasura ddn-auth-config` prints validates against the schema
//! DDN publishes (tests/data/ddn), for every key kind, key mode, claims option, webhook method
//! and both AuthConfig versions; tokens decode the way DDN decodes them; the webhook answers
//! the way DDN requires.

use hasura_jwt_auth::{
    auth::keys::{generate_private_key_pem, KeySet},
    config::{Config, JwtAlgorithm},
    hasura_config::{
        ddn::{auth_config_yaml, DdnMode, DdnOptions, DdnVersion, WebhookMethod, DDN_SECRET_ENV},
        SecretMode,
    },
};
use serde_json::Value;

const SCHEMA: &str = include_str!("../data/ddn/auth_config.jsonschema");

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

/// DDN's schema, compiled. Its definitions carry `$id`s, which under draft-07 would each start
/// a new base URI against which the schema's own `#/definitions/…` references cannot
/// resolve; they are dropped (nothing refers to them), the rest is used as published.
fn ddn_schema() -> jsonschema::Validator {
    let mut schema: Value = serde_json::from_str(SCHEMA).unwrap();
    for definition in schema["definitions"].as_object_mut().unwrap().values_mut() {
        if let Some(d) = definition.as_object_mut() {
            d.remove("$id");
        }
    }
    jsonschema::validator_for(&schema).expect("DDN's schema compiles")
}

fn validate(doc: &Value, yaml: &str) {
    let validator = ddn_schema();
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
    let validator = ddn_schema();
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

/// How DDN decodes a token with an AuthConfig's JWT mode, written down from its source
/// (`hasura-authn-jwt`, jwt.rs/auth.rs): the header's algorithm must be the configured one (or,
/// with `jwkFromUrl`, the token must name a key of the set by `kid`); the signature is checked
/// with jsonwebtoken, `exp` is required (leeway `allowedSkew`), `iss` is checked when
/// configured; the claims object is found with the JSON pointer (`~1` for `/`), parsed from a
/// string with `StringifiedJson`; `x-hasura-default-role` must be a string among the array of
/// string `x-hasura-allowed-roles` (no duplicates); every other key is a session variable used
/// verbatim (so it must already be lowercase). On top of that, DDN's typed claims (used by its
/// own tests) want `aud` as a single string and `exp`, `iat` as numbers: checked too.
/// Returns the session variables.
fn ddn_decode(
    token: &str,
    jwt: &Value,
    env_secret: &str,
    jwks: &Value,
) -> Result<serde_json::Map<String, Value>, String> {
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
    let header = decode_header(token).map_err(|e| format!("header: {e}"))?;
    let (alg, key) = if let Some(fixed) = jwt["key"].get("fixed") {
        let alg: Algorithm = fixed["algorithm"]
            .as_str()
            .unwrap()
            .parse()
            .map_err(|e| format!("{e:?}"))?;
        if header.alg != alg {
            return Err(format!("InvalidAlgorithm: {:?} != {alg:?}", header.alg));
        }
        let material = match fixed["key"].get("valueFromEnv") {
            Some(_) => env_secret.to_owned(),
            None => fixed["key"]["value"].as_str().unwrap().to_owned(),
        };
        let key = match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                Ok(DecodingKey::from_secret(material.as_bytes()))
            }
            Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(material.as_bytes()),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(material.as_bytes()),
            _ => DecodingKey::from_rsa_pem(material.as_bytes()),
        }
        .map_err(|e| format!("key: {e}"))?;
        (alg, key)
    } else {
        let kid = header.kid.ok_or("the token has no kid")?;
        let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
        let jwk = set.find(&kid).ok_or("no key with this kid")?;
        (
            header.alg,
            DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?,
        )
    };
    let mut validation = Validation::new(alg);
    validation.leeway = jwt["allowedSkew"].as_u64().unwrap_or(60);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    if let Some(iss) = jwt["issuer"].as_str() {
        validation.set_issuer(&[iss]);
    }
    let payload = decode::<Value>(token, &key, &validation)
        .map_err(|e| format!("decode: {e}"))?
        .claims;
    if let Some(audience) = jwt["audience"].as_array() {
        let aud = payload["aud"].as_str().ok_or("aud must be a string")?;
        if !audience.iter().any(|a| a == aud) {
            return Err(format!("aud {aud} not in {audience:?}"));
        }
    }
    if !payload["aud"].is_string() || !payload["exp"].is_number() || !payload["iat"].is_number() {
        return Err(format!(
            "typed claims: aud string, exp and iat numbers: {payload}"
        ));
    }
    let ns = &jwt["claimsConfig"]["namespace"];
    let found = payload
        .pointer(ns["location"].as_str().unwrap())
        .ok_or("HasuraClaimsNotFound")?;
    let claims: Value = match ns["claimsFormat"].as_str().unwrap() {
        "StringifiedJson" => serde_json::from_str(found.as_str().ok_or("not a string")?)
            .map_err(|e| e.to_string())?,
        _ => found.clone(),
    };
    let mut claims = claims
        .as_object()
        .ok_or("claims are not an object")?
        .clone();
    let allowed: Vec<String> = serde_json::from_value(
        claims
            .remove("x-hasura-allowed-roles")
            .ok_or("no allowed roles")?,
    )
    .map_err(|e| format!("allowed roles: {e}"))?;
    let unique: std::collections::BTreeSet<_> = allowed.iter().collect();
    if unique.len() != allowed.len() {
        return Err("duplicate allowed roles".into());
    }
    let default = claims
        .remove("x-hasura-default-role")
        .ok_or("no default role")?;
    let default = default.as_str().ok_or("default role is not a string")?;
    if !allowed.iter().any(|r| r == default) {
        return Err("default role not allowed".into());
    }
    if let Some(k) = claims.keys().find(|k| k.to_lowercase() != **k) {
        return Err(format!("session variable {k} is not lowercase"));
    }
    claims.insert("x-hasura-role".into(), Value::String(default.to_owned()));
    Ok(claims)
}

#[test]
fn tokens_decode_as_ddn_decodes_them() {
    use hasura_jwt_auth::auth::{claims::HasuraClaims, tokens::AccessTokens};
    let secret = "ddn-test-secret-ddn-test-secret-0123456789-0123456789abcdef0123456789";
    let mut checked = 0;
    for alg in ALGORITHMS {
        let keys = std::sync::Arc::new(keys_for(alg));
        for namespace in [
            "https://hasura.io/jwt/claims",
            "claims.jwt.hasura.io",
            "odd~name/with/slashes",
        ] {
            for format in ["json", "stringified_json"] {
                for audience in [None, Some("my-app")] {
                    let mut args = vec![
                        "--public-url",
                        "https://auth.example.com",
                        "--hasura-claims-namespace",
                        namespace,
                        "--hasura-claims-format",
                        format,
                    ];
                    if let Some(aud) = audience {
                        args.extend(["--jwt-audience", aud]);
                    }
                    let config = Config::from_args(args).unwrap();
                    let tokens = AccessTokens {
                        keys: keys.clone(),
                        issuer: config.issuer(),
                        audience: config.tokens.jwt_audience.clone(),
                        ttl: std::time::Duration::from_secs(900),
                        namespace: config.hasura.hasura_claims_namespace.clone(),
                        format: config.hasura.hasura_claims_format,
                        verified: Default::default(),
                    };
                    let mut custom = serde_json::Map::new();
                    custom.insert("x-hasura-org-id".into(), Value::String("42".into()));
                    let claims = HasuraClaims {
                        user_id: "7f4df3a0-0000-4000-8000-000000000001".into(),
                        default_role: "user".into(),
                        allowed_roles: vec!["user".into(), "editor".into()],
                        custom,
                    };
                    let token = tokens
                        .issue(&claims, "u@example.com", uuid::Uuid::new_v4())
                        .unwrap()
                        .token;
                    for key_mode in [SecretMode::Key, SecretMode::JwkUrl] {
                        let mut opts = options(DdnVersion::V4, DdnMode::Jwt);
                        opts.key = Some(key_mode);
                        let doc = parsed(&auth_config_yaml(&config, &keys, &opts));
                        let jwt = &doc["definition"]["mode"]["jwt"];
                        let vars =
                            ddn_decode(&token, jwt, secret, &keys.jwks()).unwrap_or_else(|e| {
                                panic!(
                                    "{alg:?} {namespace} {format} {audience:?} {key_mode:?}: {e}"
                                )
                            });
                        assert_eq!(vars["x-hasura-role"], "user");
                        assert_eq!(
                            vars["x-hasura-user-id"],
                            "7f4df3a0-0000-4000-8000-000000000001"
                        );
                        assert_eq!(vars["x-hasura-org-id"], "42");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 6 * 3 * 2 * 2 * 2);
}

/// How DDN reads the webhook's answer (`hasura-authn-webhook`): only 200 and 401 are
/// recognised (anything else fails the client's request); 401 denies; a 200 body must be a
/// JSON object whose keys are lowercased into session variables, with `x-hasura-role`
/// required and a string. Older DDN releases parse the body as a map of strings, where any
/// other value fails the request: held to that too.
fn ddn_hook_answer(
    status: axum::http::StatusCode,
    body: &Value,
) -> Result<Option<serde_json::Map<String, Value>>, String> {
    match status.as_u16() {
        401 => Ok(None),
        200 => {
            let map = body.as_object().ok_or("not an object")?;
            let mut vars = serde_json::Map::new();
            for (k, v) in map {
                let v = v.as_str().ok_or(format!("{k} is not a string"))?;
                vars.insert(k.trim().to_lowercase(), Value::String(v.to_owned()));
            }
            if !vars.contains_key("x-hasura-role") {
                return Err("x-hasura-role session variable not found".into());
            }
            Ok(Some(vars))
        }
        other => Err(format!("status {other} is not recognised")),
    }
}

#[sqlx::test(migrations = false)]
async fn webhook_answers_as_ddn_requires(
    _: sqlx::postgres::PgPoolOptions,
    opts: sqlx::postgres::PgConnectOptions,
) {
    use axum::{body::Body, http::Request};
    let app = crate::common::app(opts, &[]).await;
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
    let vars = ddn_hook_answer(signed.status, &signed.body)
        .unwrap()
        .expect("allowed");
    assert_eq!(vars["x-hasura-role"], "user");
    assert_eq!(vars["x-hasura-user-id"], user_id.as_str());
    let chosen = app
        .request(get(vec![
            ("authorization", format!("Bearer {token}")),
            ("x-hasura-role", "user".into()),
        ]))
        .await;
    assert_eq!(
        ddn_hook_answer(chosen.status, &chosen.body)
            .unwrap()
            .unwrap()["x-hasura-role"],
        "user"
    );
    let anonymous = app.request(get(vec![])).await;
    assert_eq!(
        ddn_hook_answer(anonymous.status, &anonymous.body)
            .unwrap()
            .unwrap()["x-hasura-role"],
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
        assert_eq!(ddn_hook_answer(res.status, &res.body), Ok(None), "{res:?}");
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
    let vars = ddn_hook_answer(signed.status, &signed.body)
        .unwrap()
        .expect("allowed");
    assert_eq!(vars["x-hasura-user-id"], user_id.as_str());
    let anonymous = app.request(post(serde_json::json!({}))).await;
    assert_eq!(
        ddn_hook_answer(anonymous.status, &anonymous.body)
            .unwrap()
            .unwrap()["x-hasura-role"],
        "anonymous"
    );
    let denied = app
        .request(post(serde_json::json!({"authorization": "Bearer nope"})))
        .await;
    assert_eq!(ddn_hook_answer(denied.status, &denied.body), Ok(None));
    // A session that ended is denied at once.
    app.call(axum::http::Method::POST, "/logout", Some(&token), None)
        .await;
    let ended = app
        .request(post(
            serde_json::json!({"authorization": format!("Bearer {token}")}),
        ))
        .await;
    assert_eq!(ddn_hook_answer(ended.status, &ended.body), Ok(None));
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
