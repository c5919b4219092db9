//! The Hasura claims object, built exactly as Hasura's JWT mode reads it
//! (<https://hasura.io/docs/latest/auth/authentication/jwt/>): `x-hasura-allowed-roles` an
//! array of strings, `x-hasura-default-role` a string among them, every other value a string
//! (or, for Hasura DDN with JSON session variables, of its JSON type: see
//! [`SessionValues`]), and no `x-hasura-role` (Hasura takes the role from the request header,
//! and a claim of that name broke some Hasura versions).

use serde_json::{Map, Value};

use super::assurance::Aal;
use crate::config::{ClaimsFormat, SessionValues};

pub const USER_ID: &str = "x-hasura-user-id";
pub const DEFAULT_ROLE: &str = "x-hasura-default-role";
pub const ALLOWED_ROLES: &str = "x-hasura-allowed-roles";
/// The session id, so Hasura permissions and actions (sign-out of this session) can use it.
pub const SESSION_ID: &str = "x-hasura-session-id";
/// The session's assurance level (`aal1`, `aal2`), so Hasura permissions can require a
/// second factor.
pub const AAL: &str = "x-hasura-aal";
/// The organization the session acts in. Only in a session that acts in one, where it
/// replaces a custom claim of that name (which other sessions keep).
pub const ORG_ID: &str = "x-hasura-org-id";

/// The OAuth client a token was issued to (only in a client's tokens).
pub const CLIENT_ID: &str = "x-hasura-client-id";

/// Built-in claims, which custom claims can never override.
pub const BUILT_IN: [&str; 7] = [
    CLIENT_ID,
    USER_ID,
    DEFAULT_ROLE,
    ALLOWED_ROLES,
    SESSION_ID,
    AAL,
    "x-hasura-role",
];

/// What goes into a user's Hasura claims.
#[derive(Debug, Clone)]
pub struct HasuraClaims {
    pub user_id: String,
    pub default_role: String,
    pub allowed_roles: Vec<String>,
    /// The session's assurance level.
    pub aal: Aal,
    /// Extra `x-hasura-*` claims, already normalised by [`normalize_custom_claims`].
    pub custom: Map<String, Value>,
}

impl HasuraClaims {
    /// The claims object of a token for session `session_id`.
    pub fn to_object(&self, session_id: Option<&str>) -> Map<String, Value> {
        let mut map = self.custom.clone();
        if let Some(sid) = session_id {
            map.insert(SESSION_ID.into(), Value::String(sid.to_owned()));
        }
        map.insert(USER_ID.into(), Value::String(self.user_id.clone()));
        map.insert(AAL.into(), Value::String(self.aal.as_str().into()));
        map.insert(
            DEFAULT_ROLE.into(),
            Value::String(self.default_role.clone()),
        );
        map.insert(
            ALLOWED_ROLES.into(),
            Value::Array(
                self.allowed_roles
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        map
    }

    /// The value placed under the namespace, in the configured format.
    pub fn to_value(&self, session_id: Option<&str>, format: ClaimsFormat) -> Value {
        let object = Value::Object(self.to_object(session_id));
        match format {
            ClaimsFormat::Json => object,
            ClaimsFormat::StringifiedJson => Value::String(object.to_string()),
        }
    }
}

/// Turns a JSON object of custom claims into Hasura session variables: names get the
/// `x-hasura-` prefix (lowercased), nulls are dropped, built-in names are refused. With
/// [`SessionValues::Strings`] values become strings (arrays as PostgreSQL array literals such
/// as `{a,b}`; objects are refused); with [`SessionValues::Json`] they keep their JSON type.
pub fn normalize_custom_claims(
    raw: &Value,
    values: SessionValues,
) -> Result<Map<String, Value>, String> {
    let Value::Object(raw) = raw else {
        return Err(format!(
            "custom claims must be a JSON object, got {}",
            type_name(raw)
        ));
    };
    let mut out = Map::new();
    for (name, value) in raw {
        let lower = name.to_ascii_lowercase();
        let name = if lower.starts_with("x-hasura-") {
            lower
        } else {
            format!("x-hasura-{lower}")
        };
        if BUILT_IN.contains(&name.as_str()) {
            continue;
        }
        if values == SessionValues::Json {
            if !value.is_null() {
                out.insert(name, value.clone());
            }
            continue;
        }
        let value = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            Value::Array(items) => pg_array_literal(items)?,
            Value::Object(_) => {
                return Err(format!(
                    "custom claim {name} is an object; use a string, number, boolean or array"
                ))
            }
        };
        out.insert(name, Value::String(value));
    }
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `["a","b c"]` → `{a,"b c"}`, quoting elements as PostgreSQL's array input requires.
fn pg_array_literal(items: &[Value]) -> Result<String, String> {
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        let s = match item {
            Value::Null => "NULL".to_owned(),
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => item.to_string(),
            _ => {
                return Err(
                    "custom claim arrays may only hold strings, numbers and booleans".into(),
                )
            }
        };
        let needs_quotes = s.is_empty()
            || s.eq_ignore_ascii_case("null") && item.is_string()
            || s.chars()
                .any(|c| c.is_whitespace() || matches!(c, ',' | '{' | '}' | '"' | '\\'));
        if needs_quotes {
            parts.push(format!(
                "\"{}\"",
                s.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        } else {
            parts.push(s);
        }
    }
    Ok(format!("{{{}}}", parts.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_claims_become_hasura_strings() {
        let out = normalize_custom_claims(
            &json!({
                "organization-id": 42,
                "X-Hasura-Team": "red",
                "ids": [1, 2],
                "tags": ["a b", "c,d", "e"],
                "x-hasura-user-id": "evil",
                "x-hasura-role": "admin",
                "gone": null,
                "flag": true
            }),
            SessionValues::Strings,
        )
        .unwrap();
        assert_eq!(out["x-hasura-organization-id"], "42");
        assert_eq!(out["x-hasura-team"], "red");
        assert_eq!(out["x-hasura-ids"], "{1,2}");
        assert_eq!(out["x-hasura-tags"], r#"{"a b","c,d",e}"#);
        assert_eq!(out["x-hasura-flag"], "true");
        assert!(!out.contains_key("x-hasura-user-id"));
        assert!(!out.contains_key("x-hasura-role"));
        assert!(!out.contains_key("x-hasura-gone"));
        assert!(normalize_custom_claims(&json!([1]), SessionValues::Strings).is_err());
        assert!(normalize_custom_claims(&json!({"a": {"b": 1}}), SessionValues::Strings).is_err());
    }

    #[test]
    fn json_session_values_keep_their_types() {
        let out = normalize_custom_claims(
            &json!({"org-id": 42, "ids": [1, 2], "team": "red", "ok": false,
                    "address": {"city": "Oslo"}, "gone": null, "x-hasura-user-id": "evil"}),
            SessionValues::Json,
        )
        .unwrap();
        assert_eq!(out["x-hasura-org-id"], 42);
        assert_eq!(out["x-hasura-ids"], json!([1, 2]));
        assert_eq!(out["x-hasura-team"], "red");
        assert_eq!(out["x-hasura-ok"], false);
        assert_eq!(out["x-hasura-address"], json!({"city": "Oslo"}));
        assert!(!out.contains_key("x-hasura-gone"));
        assert!(!out.contains_key("x-hasura-user-id"));
        assert!(normalize_custom_claims(&json!([1]), SessionValues::Json).is_err());
    }

    #[test]
    fn stringified_format_wraps_the_object() {
        let c = HasuraClaims {
            user_id: "u".into(),
            default_role: "user".into(),
            allowed_roles: vec!["user".into()],
            aal: Aal::Aal1,
            custom: Map::new(),
        };
        let v = c.to_value(Some("s1"), ClaimsFormat::StringifiedJson);
        let parsed: Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
        assert_eq!(parsed["x-hasura-allowed-roles"], json!(["user"]));
        assert_eq!(parsed["x-hasura-session-id"], "s1");
        assert_eq!(parsed["x-hasura-aal"], "aal1");
    }
}
