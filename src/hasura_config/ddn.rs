//! `hasura-jwt-auth hasura ddn-auth-config`: Hasura DDN's `AuthConfig` metadata object (to save
//! as `globals/metadata/auth-config.hml`) for the configured keys, issuer, audience and claims
//! options: JWT mode with the key fixed (the HMAC secret read from DDN's environment, the
//! public PEM of an asymmetric key) or read from this server's JWKS; or webhook mode pointing at
//! `/hasura/webhook`. Version `v4` (current) or `v3` (the one before; the same mode object).
//!
//! DDN changes how it reads tokens by the project's compatibility date (see
//! [`crate::config::ddn_dates`]). The AuthConfig always names the audience the tokens carry, so
//! that projects of any date accept them (from 2025-03-11 a token whose `aud` the AuthConfig
//! does not name is refused); how claim values are typed follows
//! `AUTH_DDN_COMPATIBILITY_DATE`, which the printed file states in a comment.

use clap::ValueEnum;
use serde_json::{json, Map, Value};

use super::SecretMode;
use crate::{
    auth::{keys::KeySet, tokens::CLOCK_SKEW},
    config::{ClaimsFormat, Config},
};

/// Environment variable (in DDN's environment) holding the HMAC secret, by default.
pub const DDN_SECRET_ENV: &str = "HASURA_JWT_AUTH_SECRET";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DdnVersion {
    /// The current AuthConfig version (adds `alternativeModes`).
    V4,
    /// The version before.
    V3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DdnMode {
    /// DDN verifies the access tokens itself.
    Jwt,
    /// DDN asks `/hasura/webhook` on every request.
    Webhook,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WebhookMethod {
    Get,
    Post,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct DdnOptions {
    pub version: DdnVersion,
    pub mode: DdnMode,
    /// JWT mode: embed the key, or point at the JWKS (default as for `jwt-secret`).
    pub key: Option<SecretMode>,
    pub method: WebhookMethod,
    /// The variable of DDN's environment that holds the HMAC secret.
    pub secret_env: String,
    /// Write the HMAC secret itself into the file instead (only for local development).
    pub inline_secret: bool,
    /// JWT mode, v4: API keys through the webhook as the alternative mode [`API_KEY_MODE`].
    pub api_keys: bool,
}

/// The identifier of the API keys' alternative mode: requests choose it with
/// `X-Hasura-Auth-Mode: api-key`.
pub const API_KEY_MODE: &str = "api-key";

impl DdnOptions {
    /// Refuses what DDN cannot take: alternative modes need v4, and with webhook mode keys
    /// need no alternative (the webhook takes them already).
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.api_keys || (self.version == DdnVersion::V4 && self.mode == DdnMode::Jwt),
            "--api-keys needs --auth-config-version v4 and --mode jwt (webhook mode takes API keys already)"
        );
        Ok(())
    }
}

/// `namespace` as a JSON pointer (RFC 6901: `~` is `~0`, `/` is `~1`), the form DDN requires.
pub fn claims_pointer(namespace: &str) -> String {
    format!("/{}", namespace.replace('~', "~0").replace('/', "~1"))
}

/// The AuthConfig object (`kind`, `version`, `definition`).
pub fn auth_config(config: &Config, keys: &KeySet, opts: &DdnOptions) -> Value {
    let mode = match opts.mode {
        DdnMode::Jwt => json!({ "jwt": jwt(config, keys, opts) }),
        DdnMode::Webhook => json!({ "webhook": webhook(config, opts.method) }),
    };
    let mut definition = Map::new();
    definition.insert("mode".into(), mode);
    if opts.api_keys && opts.version == DdnVersion::V4 {
        let webhook = json!({ "webhook": webhook(config, opts.method) });
        definition.insert(
            "alternativeModes".into(),
            json!([{ "identifier": API_KEY_MODE, "config": webhook }]),
        );
    }
    json!({
        "kind": "AuthConfig",
        "version": match opts.version {
            DdnVersion::V4 => "v4",
            DdnVersion::V3 => "v3",
        },
        "definition": definition,
    })
}

fn jwt(config: &Config, keys: &KeySet, opts: &DdnOptions) -> Value {
    let signing = keys.signing();
    let mode = opts
        .key
        .unwrap_or_else(|| SecretMode::default_for(config, keys));
    let key_value = match signing.hmac_secret() {
        Some(secret) if opts.inline_secret => json!({ "value": secret.expose() }),
        Some(_) => json!({ "valueFromEnv": opts.secret_env }),
        None => json!({ "value": signing.public_pem().unwrap_or_default() }),
    };
    let key = match (mode, signing.hmac_secret()) {
        // An HMAC secret cannot be published: always fixed.
        (SecretMode::JwkUrl, None) => {
            json!({ "jwkFromUrl": format!("{}/.well-known/jwks.json", config.public_url()) })
        }
        _ => json!({ "fixed": { "algorithm": signing.alg.name(), "key": key_value } }),
    };
    let format = match config.hasura.hasura_claims_format {
        ClaimsFormat::Json => "Json",
        ClaimsFormat::StringifiedJson => "StringifiedJson",
    };
    let jwt = json!({
        "key": key,
        "claimsConfig": {
            "namespace": {
                "claimsFormat": format,
                "location": claims_pointer(&config.hasura.hasura_claims_namespace),
            }
        },
        // Access tokens are only ever handed to clients in bodies, sent back as bearer tokens.
        "tokenLocation": { "type": "BearerAuthorization" },
        "issuer": config.issuer(),
        // Every token carries `aud`; DDN refuses it from 2025-03-11 unless named here.
        "audience": [config.user_audience()],
        "allowedSkew": CLOCK_SKEW,
    });
    jwt
}

fn webhook(config: &Config, method: WebhookMethod) -> Value {
    let url = json!({ "value": format!("{}/hasura/webhook", config.public_url()) });
    match method {
        WebhookMethod::Get => json!({ "url": url, "method": "GET" }),
        // The client's headers in the body, where the handler reads them.
        WebhookMethod::Post => json!({
            "url": url,
            "method": "POST",
            "customHeadersConfig": { "body": { "headers": { "forward": "*" } } },
        }),
    }
}

/// The AuthConfig as YAML, `kind` and `version` first. Strings are written double-quoted with
/// JSON escapes (valid YAML), so no value can change the document's structure; multi-line
/// strings (PEM) are kept readable as literal blocks.
pub fn auth_config_yaml(config: &Config, keys: &KeySet, opts: &DdnOptions) -> String {
    let doc = auth_config(config, keys, opts);
    let mut out = date_comment(config);
    out.push_str(&format!(
        "kind: {}
version: {}
definition:
",
        doc["kind"], doc["version"]
    ));
    write_yaml(&doc["definition"], 2, &mut out);
    out
}

/// The comment heading the file: which compatibility dates the tokens are made for.
fn date_comment(config: &Config) -> String {
    let json_from = crate::config::ddn_dates::json_session_variables();
    match config.hasura.ddn_compatibility_date {
        Some(date) if date >= json_from => format!(
            "# Tokens carry session variables as typed JSON, for DDN projects whose compatibility\n\
             # date is {json_from} or later (AUTH_DDN_COMPATIBILITY_DATE={date}).\n"
        ),
        Some(date) => format!(
            "# Tokens carry session variables as strings, for DDN projects whose compatibility\n\
             # date is before {json_from} (AUTH_DDN_COMPATIBILITY_DATE={date}).\n"
        ),
        None => format!(
            "# Tokens carry session variables as strings (AUTH_DDN_COMPATIBILITY_DATE is not set).\n\
             # DDN projects dated {json_from} or later compare them as typed JSON: set\n\
             # AUTH_DDN_COMPATIBILITY_DATE to the project's date on the server, or a custom claim\n\
             # such as \"42\" will not match an Int column there.\n"
        ),
    }
}

/// `value` as YAML (see [`auth_config_yaml`]).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn scalar(value: &Value, indent: usize) -> String {
    match value {
        Value::String(s) if s.contains('\n') && s.lines().all(|l| !l.starts_with(' ')) => {
            let pad = " ".repeat(indent + 2);
            let body: Vec<String> = s.lines().map(|l| format!("{pad}{l}")).collect();
            let chomp = if s.ends_with('\n') { "" } else { "-" };
            format!("|{chomp}\n{}", body.join("\n"))
        }
        other => other.to_string(),
    }
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = Value::String(k.clone()).to_string();
                let key = if k.chars().all(|c| c.is_ascii_alphanumeric()) {
                    k.clone()
                } else {
                    key
                };
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(v, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(v, indent + 2, out);
                    }
                    _ => out.push_str(&format!("{pad}{key}: {}\n", scalar(v, indent))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}-\n"));
                        write_yaml(item, indent + 2, out);
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item, indent))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other, indent))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        assert_eq!(
            claims_pointer("https://hasura.io/jwt/claims"),
            "/https:~1~1hasura.io~1jwt~1claims"
        );
        assert_eq!(
            claims_pointer("claims.jwt.hasura.io"),
            "/claims.jwt.hasura.io"
        );
        assert_eq!(claims_pointer("a~b"), "/a~0b");
    }

    #[test]
    fn yaml_quotes_every_string() {
        let v = json!({"list": ["a: b", 5]});
        assert_eq!(to_yaml(&v), "list:\n  - \"a: b\"\n  - 5\n");
        assert_eq!(to_yaml(&json!({"empty": {}})), "empty: {}\n");
        assert_eq!(
            to_yaml(&json!({"pem": "-----BEGIN-----\nabc\n-----END-----\n"})),
            "pem: |\n  -----BEGIN-----\n  abc\n  -----END-----\n"
        );
    }
}
