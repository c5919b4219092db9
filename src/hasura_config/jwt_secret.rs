//! `hasura-jwt-auth hasura jwt-secret`: the value of Hasura's `HASURA_GRAPHQL_JWT_SECRET` for
//! the configured keys, issuer, audience and claims options.

use clap::ValueEnum;
use serde_json::{json, Value};

use crate::{
    auth::keys::KeySet,
    config::{ClaimsFormat, Config, DEFAULT_CLAIMS_NAMESPACE},
};

/// How Hasura gets the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SecretMode {
    /// Embed the key (PEM, or the HMAC secret).
    Key,
    /// Point Hasura at this server's JWKS, which lets keys rotate without restarting Hasura.
    JwkUrl,
}

impl SecretMode {
    /// `jwk-url` when AUTH_PUBLIC_URL is set (Hasura can reach the JWKS) and the key is
    /// asymmetric (it can be published), else `key`.
    pub fn default_for(config: &Config, keys: &KeySet) -> Self {
        if config.server.public_url.is_some() && keys.signing().hmac_secret().is_none() {
            Self::JwkUrl
        } else {
            Self::Key
        }
    }
}

/// The `HASURA_GRAPHQL_JWT_SECRET` value for this configuration. Without a `mode`: `jwk-url`
/// when AUTH_PUBLIC_URL is set and the key is asymmetric, else `key`.
pub fn hasura_jwt_secret(config: &Config, keys: &KeySet, mode: Option<SecretMode>) -> String {
    let signing = keys.signing();
    let mode = mode.unwrap_or_else(|| SecretMode::default_for(config, keys));
    let mut v: Value = match (mode, signing.hmac_secret()) {
        (_, Some(secret)) => json!({"type": signing.hasura_type(), "key": secret.expose()}),
        (SecretMode::JwkUrl, None) => {
            json!({"jwk_url": format!("{}/.well-known/jwks.json", config.public_url())})
        }
        (SecretMode::Key, None) => {
            json!({"type": signing.hasura_type(), "key": signing.public_pem().unwrap_or_default()})
        }
    };
    v["issuer"] = json!(config.issuer());
    if let Some(aud) = &config.tokens.jwt_audience {
        v["audience"] = json!(aud);
    }
    if config.hasura.hasura_claims_namespace != DEFAULT_CLAIMS_NAMESPACE {
        v["claims_namespace"] = json!(config.hasura.hasura_claims_namespace);
    }
    if config.hasura.hasura_claims_format == ClaimsFormat::StringifiedJson {
        v["claims_format"] = json!("stringified_json");
    }
    v.to_string()
}
