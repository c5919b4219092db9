//! How Hasura DDN reads this server's tokens and webhook answers, written down from its
//! source (`v3/crates/auth`: `hasura-authn-jwt` jwt.rs and auth.rs, `hasura-authn-core`,
//! `hasura-authn-webhook`, the `plan` crate's session-variable casts) and the compatibility
//! dates its metadata build turns into flags. Written independently of the server's code, so
//! that the tests hold the server to DDN's rules rather than to its own.
//!
//! Dates (a behaviour applies from its date on):
//! - 2024-10-16 `JsonSessionVariables`: permissions read session variables as typed JSON
//!   (`"42"` no longer matches `Int`; arrays work); before, only JSON strings, parsed.
//! - 2025-03-11 `RequireJwtAudienceValidationIfAudClaimPresent`: a token with `aud` is refused
//!   unless the AuthConfig's `audience` contains it; before, `aud` is never checked.
//!
//! And at every date: the key's algorithm is pinned (or, with `jwkFromUrl`, the token names
//! its key by `kid`); `exp` is required, with `allowedSkew` (default 60 s) of leeway; `iss` is
//! checked when configured; `nbf`, `iat` and `sub` are not; the claims are found with the JSON
//! pointer, parsed from a string with `StringifiedJson`; `x-hasura-default-role` must be a
//! string among the `x-hasura-allowed-roles` strings (no duplicates); every other key is a
//! session variable named as written (so it must already be lowercase), with its JSON value.

use chrono::NaiveDate;
use serde_json::{Map, Value};

/// A project's compatibility date.
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn json_session_variables(at: NaiveDate) -> bool {
    at >= date("2024-10-16")
}

fn audience_checked(at: NaiveDate) -> bool {
    at >= date("2025-03-11")
}

/// The key of a JWT-mode AuthConfig: its algorithm and decoding key.
fn key_for(
    token: &str,
    jwt: &Value,
    env_secret: &str,
    jwks: &Value,
) -> Result<(jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey), String> {
    use jsonwebtoken::{decode_header, jwk::JwkSet, Algorithm, DecodingKey};
    let header = decode_header(token).map_err(|e| format!("header: {e}"))?;
    let Some(fixed) = jwt["key"].get("fixed") else {
        let kid = header.kid.ok_or("the token has no kid")?;
        let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
        let jwk = set.find(&kid).ok_or("no key with this kid")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        return Ok((header.alg, key));
    };
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
    Ok((alg, key))
}

/// Decodes `token` with AuthConfig JWT mode `jwt` as a project dated `at` does. Returns the
/// session variables (with `x-hasura-role`, the default role), or DDN's reason to refuse.
pub fn decode(
    token: &str,
    jwt: &Value,
    env_secret: &str,
    jwks: &Value,
    at: NaiveDate,
) -> Result<Map<String, Value>, String> {
    use jsonwebtoken::{decode, Validation};
    let (alg, key) = key_for(token, jwt, env_secret, jwks)?;
    let mut validation = Validation::new(alg);
    validation.leeway = jwt["allowedSkew"].as_u64().unwrap_or(60);
    validation.validate_nbf = false;
    validation.validate_aud = audience_checked(at);
    if let Some(audience) = jwt["audience"].as_array() {
        let names: Vec<&str> = audience.iter().filter_map(Value::as_str).collect();
        validation.set_audience(&names);
    }
    validation.set_required_spec_claims(&["exp"]);
    if let Some(iss) = jwt["issuer"].as_str() {
        validation.set_issuer(&[iss]);
    }
    let payload = decode::<Value>(token, &key, &validation)
        .map_err(|e| format!("JWT validation error: {e:?}"))?
        .claims;
    let ns = &jwt["claimsConfig"]["namespace"];
    let found = payload
        .pointer(ns["location"].as_str().unwrap())
        .ok_or("Hasura claims not found")?;
    let claims: Value = match ns["claimsFormat"].as_str().unwrap() {
        "StringifiedJson" => serde_json::from_str(found.as_str().ok_or("not a string")?)
            .map_err(|e| e.to_string())?,
        _ => found.clone(),
    };
    session(claims)
}

/// The session of a claims object (`hasura-authn-jwt` auth.rs, `hasura-authn-core`).
fn session(claims: Value) -> Result<Map<String, Value>, String> {
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
        return Err("Duplicate allowed role found in the JWT claims".into());
    }
    let default = claims
        .remove("x-hasura-default-role")
        .ok_or("no default role")?;
    let default = default.as_str().ok_or("default role is not a string")?;
    if !allowed.iter().any(|r| r == default) {
        return Err("The default role is not present in the allowed roles".into());
    }
    claims.insert("x-hasura-role".into(), Value::String(default.to_owned()));
    Ok(claims)
}

/// The type of the column a permission compares a session variable with.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    Int,
    Text,
    Bool,
    /// `_in` against an array of integers.
    IntList,
}

/// What a permission of a project dated `at` makes of session variable `value` compared with
/// a `column` (the `plan` crate's `typecast_session_variable`: v1 before JSON session
/// variables, v2 from them).
pub fn typecast(value: &Value, column: Column, at: NaiveDate) -> Result<Value, String> {
    if !json_session_variables(at) {
        let s = value.as_str().ok_or(
            "is not encoded as a string. JSON-typed session variables are not supported unless you update your compatibility date",
        )?;
        return match column {
            Column::Int => s.parse::<i32>().map(Value::from).map_err(|e| e.to_string()),
            Column::Bool => match s {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err("not a boolean".into()),
            },
            Column::Text => Ok(Value::String(s.to_owned())),
            Column::IntList => {
                Err("Typecasting session variable to an array is not supported".into())
            }
        };
    }
    let unexpected = |expected: &str| format!("Expected: {expected}, but found: {value}");
    match column {
        Column::Int => value
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| unexpected("int")),
        Column::Bool => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| unexpected("boolean")),
        Column::Text => value
            .as_str()
            .map(|s| Value::String(s.to_owned()))
            .ok_or_else(|| unexpected("string")),
        Column::IntList => {
            let items = value.as_array().ok_or_else(|| unexpected("array"))?;
            items
                .iter()
                .map(|v| typecast(v, Column::Int, at))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
    }
}

/// How a project dated `at` reads a webhook answer (`hasura-authn-webhook`): 200 and 401 are
/// the only statuses it knows (anything else fails the client's request); 401 denies; a 200
/// body is a JSON object whose keys are lowercased into session variables with their JSON
/// values, `x-hasura-role` required and a string. Before JSON session variables only string
/// values can be used by permissions: held to that too.
pub fn hook_answer(
    status: u16,
    body: &Value,
    at: NaiveDate,
) -> Result<Option<Map<String, Value>>, String> {
    match status {
        401 => Ok(None),
        200 => {
            let map = body.as_object().ok_or("not an object")?;
            let mut vars = Map::new();
            for (k, v) in map {
                if !json_session_variables(at) && !v.is_string() {
                    return Err(format!("{k} is not a string"));
                }
                vars.insert(k.trim().to_lowercase(), v.clone());
            }
            if !vars.get("x-hasura-role").is_some_and(Value::is_string) {
                return Err("'x-hasura-role' session variable not found or not a string".into());
            }
            Ok(Some(vars))
        }
        other => Err(format!("status {other} is not recognised")),
    }
}
