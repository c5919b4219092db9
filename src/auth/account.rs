//! Rules for what users and administrators may store in an account: email addresses,
//! metadata objects and new passwords. Pure functions (plus hashing), shared by self-service,
//! the admin API, the CLI and imports.

use serde_json::{Map, Value};

use crate::{
    auth::password::{check_new_password, PasswordHasher},
    error::{code, Error, Result},
    secret::Secret,
};

/// Largest metadata object accepted, as JSON text.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Trims, lowercases and checks an email address.
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let invalid = || {
        Error::validation(
            code::EMAIL_ADDRESS_INVALID,
            "Unable to validate email address: invalid format",
        )
    };
    if email.is_empty()
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

/// Checks user-supplied metadata named `name`: a JSON object of at most 16 KiB that
/// PostgreSQL's `jsonb` can store (no `\u0000`). `None` and JSON `null` mean "none given".
pub fn validate_metadata(value: Option<Value>, name: &str) -> Result<Option<Value>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => {
            if v.to_string().len() > MAX_METADATA_BYTES {
                Err(Error::invalid(format!("{name} must be at most 16 KiB")))
            } else if has_nul(&v) {
                Err(Error::invalid(format!(
                    "{name} must not contain NUL characters"
                )))
            } else {
                Ok(Some(v))
            }
        }
        Some(_) => Err(Error::invalid(format!("{name} must be a JSON object"))),
    }
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Merges a metadata `patch` into `current`, key by key at the top level, as Supabase Auth
/// does: a key with `null` removes that key, any other value replaces it whole (nested objects
/// are not merged, and nulls inside them are kept). A `current` that is not an object counts
/// as empty.
pub fn merge_metadata(current: &Value, patch: Value) -> Value {
    let mut merged = match current {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    if let Value::Object(patch) = patch {
        for (k, v) in patch {
            if v.is_null() {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
    }
    Value::Object(merged)
}

/// Checks a new password against the length rules and hashes it with Argon2id.
pub async fn hash_new_password(hasher: &PasswordHasher, password: &Secret) -> Result<String> {
    check_new_password(password.expose())
        .map_err(|reason| Error::validation(code::WEAK_PASSWORD, reason))?;
    Ok(hasher.hash(password).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "alice@exa mple.com",
            "alice@-example.com",
            "alice@example..com",
            "alice@@example.com",
            "alice\u{0}@example.com",
        ] {
            let e = normalize_email(bad).unwrap_err();
            assert_eq!(e.code, code::EMAIL_ADDRESS_INVALID, "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(normalize_email(&format!("a@{}.com", "b".repeat(250))).is_err());
    }

    #[test]
    fn metadata_must_be_a_small_object_without_nul() {
        assert!(validate_metadata(None, "data").unwrap().is_none());
        assert!(validate_metadata(Some(Value::Null), "data")
            .unwrap()
            .is_none());
        assert_eq!(
            validate_metadata(Some(json!({"a": 1})), "data").unwrap(),
            Some(json!({"a": 1}))
        );
        let e = validate_metadata(Some(json!([1])), "data").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_ref()),
            (code::VALIDATION_FAILED, "data must be a JSON object")
        );
        let big = json!({"k": "x".repeat(MAX_METADATA_BYTES)});
        assert!(validate_metadata(Some(big), "data").is_err());
        assert!(validate_metadata(Some(json!({"a": ["b\u{0}"]})), "data").is_err());
        assert!(validate_metadata(Some(json!({"a\u{0}": 1})), "data").is_err());
    }

    #[test]
    fn metadata_merges_top_level_keys_and_null_removes() {
        let current = json!({"keep": 1, "drop": 2, "nested": {"a": 1, "b": 2}});
        let merged = merge_metadata(
            &current,
            json!({"drop": null, "new": "x", "nested": {"a": null, "c": 3}}),
        );
        assert_eq!(
            merged,
            json!({"keep": 1, "new": "x", "nested": {"a": null, "c": 3}})
        );
        assert_eq!(
            merge_metadata(&Value::Null, json!({"a": 1})),
            json!({"a": 1})
        );
        assert_eq!(merge_metadata(&current, json!({})), current);
    }
}
