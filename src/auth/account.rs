//! Rules for what users and administrators may store in an account: email addresses and
//! metadata objects (new passwords: `password::policy`). Pure functions, shared by
//! self-service, the admin API, the CLI and imports.

use serde_json::{Map, Value};

use crate::{
    error::{Code, Error, Result},
    store::users::User,
};

/// Largest metadata object accepted, as JSON text.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Trims, normalises and checks an email address; the result is how the address is stored
/// and looked up.
///
/// - The whole address is Unicode NFC, and lowercased.
/// - Invisible and control code points (zero-width characters, bidirectional overrides,
///   fillers, tags, …) are refused anywhere: they make look-alike addresses.
/// - The local part is at most 64 bytes of the characters an HTML form accepts
///   (`A-Z a-z 0-9 . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -`, as Supabase Auth) plus letters and
///   digits of any script (internationalised addresses, RFC 6531), without a leading,
///   trailing or doubled dot.
/// - The domain must pass IDNA (UTS #46, STD3 rules, DNS lengths) and have at least two labels;
///   it is stored in its Unicode form, so `bücher.de` and `xn--bcher-kva.de` are one domain.
pub fn normalize_email(raw: &str) -> Result<String> {
    use unicode_normalization::UnicodeNormalization;
    let invalid = || {
        Error::new(
            Code::EmailAddressInvalid,
            "Unable to validate email address: invalid format",
        )
    };
    let email: String = raw.trim().nfc().collect::<String>().to_lowercase();
    if email.is_empty() || email.len() > 254 || email.chars().any(is_invisible) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(is_local_part_char);
    if !local_ok || domain.contains('@') {
        return Err(invalid());
    }
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| invalid())?;
    if !ascii.contains('.') || ascii.split('.').any(str::is_empty) {
        return Err(invalid());
    }
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    result.map_err(|_| invalid())?;
    Ok(format!("{local}@{unicode}"))
}

fn is_local_part_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c)
    } else {
        c.is_alphabetic() || c.is_numeric()
    }
}

/// Code points that show nothing (or change how the text around them shows): controls,
/// whitespace, and Unicode's default-ignorable and bidirectional-control characters.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}')
}

/// Checks user-supplied metadata named `name`: a JSON object of at most 16 KiB that
/// PostgreSQL's `jsonb` can store (no `\u0000`). `None` and JSON `null` mean "none given".
pub fn validate_metadata(value: Option<Value>, name: &str) -> Result<Option<Value>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => {
            if v.to_string().len() > MAX_METADATA_BYTES {
                Err(Error::validation_failed(format!(
                    "{name} must be at most 16 KiB"
                )))
            } else if has_nul(&v) {
                Err(Error::validation_failed(format!(
                    "{name} must not contain NUL characters"
                )))
            } else {
                Ok(Some(v))
            }
        }
        Some(_) => Err(Error::validation_failed(format!(
            "{name} must be a JSON object"
        ))),
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
/// as empty. The merged object named `name` must stay within [`MAX_METADATA_BYTES`] too:
/// every refresh and `GET /user` load it, so it must not grow patch by patch.
pub fn merge_metadata(current: &Value, patch: Value, name: &str) -> Result<Value> {
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
    let merged = Value::Object(merged);
    if merged.to_string().len() > MAX_METADATA_BYTES {
        return Err(Error::validation_failed(format!(
            "{name} would grow beyond 16 KiB: remove keys first"
        )));
    }
    Ok(merged)
}

/// 403 `anonymous_user_not_allowed`: what needs an address or protects an account.
pub fn refuse_anonymous(user: &User) -> Result<()> {
    if user.is_anonymous {
        return Err(Error::new(
            Code::AnonymousUserNotAllowed,
            "Anonymous user not allowed to perform these actions",
        ));
    }
    Ok(())
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
        assert_eq!(
            normalize_email("o'brien+tag@mail.example.co.uk").unwrap(),
            "o'brien+tag@mail.example.co.uk"
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
            // What Supabase Auth refuses too.
            "xx:;x@x.x",
            "a(b)@example.com",
            "a,b@example.com",
            "a\"b@example.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@exam_ple.com",
        ] {
            let e = normalize_email(bad).unwrap_err();
            assert_eq!(e.code, Code::EmailAddressInvalid, "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(normalize_email(&format!("a@{}.com", "b".repeat(250))).is_err());
    }

    #[test]
    fn look_alike_addresses_are_refused() {
        for bad in [
            "ali\u{200B}ce@example.com",    // zero-width space
            "ali\u{200D}ce@example.com",    // zero-width joiner
            "ali\u{202E}ecilA@example.com", // right-to-left override
            "ali\u{2066}ce@example.com",    // bidi isolate
            "ali\u{00AD}ce@example.com",    // soft hyphen
            "ali\u{3164}ce@example.com",    // Hangul filler, a "letter" that shows nothing
            "alice\u{FEFF}@example.com",    // byte-order mark
            "alice@exa\u{200B}mple.com",
            "alice@example.com\u{E0041}", // tag character
            "ali\u{0007}ce@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn international_addresses_are_normalised() {
        // NFC: a decomposed accent is the same address as the composed one.
        assert_eq!(
            normalize_email("Jose\u{301}@Example.com").unwrap(),
            "jos\u{e9}@example.com"
        );
        // IDNA: the Unicode and the Punycode spelling of a domain are one domain.
        assert_eq!(
            normalize_email("anna@B\u{fc}cher.DE").unwrap(),
            "anna@b\u{fc}cher.de"
        );
        assert_eq!(
            normalize_email("anna@xn--bcher-kva.de").unwrap(),
            "anna@b\u{fc}cher.de"
        );
        assert_eq!(
            normalize_email("\u{7528}\u{6237}@\u{4f8b}\u{5b50}.\u{516c}\u{53f8}").unwrap(),
            "\u{7528}\u{6237}@\u{4f8b}\u{5b50}.\u{516c}\u{53f8}"
        );
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
            (Code::ValidationFailed, "data must be a JSON object")
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
            "data",
        )
        .unwrap();
        assert_eq!(
            merged,
            json!({"keep": 1, "new": "x", "nested": {"a": null, "c": 3}})
        );
        assert_eq!(
            merge_metadata(&Value::Null, json!({"a": 1}), "data").unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            merge_metadata(&current, json!({}), "data").unwrap(),
            current
        );
        // Each patch is small, but the merged object may not outgrow the limit.
        let half = "x".repeat(MAX_METADATA_BYTES / 2);
        let big = merge_metadata(&Value::Null, json!({"a": half}), "data").unwrap();
        let e = merge_metadata(&big, json!({"b": half}), "data").unwrap_err();
        assert!(e.message.contains("16 KiB"), "{e}");
        assert!(merge_metadata(&big, json!({"a": null, "b": half}), "data").is_ok());
    }
}
