//! Parsers of setting values shared by several groups.

use std::{str::FromStr, time::Duration};

/// A duration that can be turned off (`off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionalDuration(pub Option<Duration>);

/// Seconds (`900`) or a humantime duration (`15m`, `1h 30m`, `7d`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = u64::from_str(s) {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{e}: use seconds (900) or a duration such as 15m, 12h or 7d"))
}

/// Like [`parse_duration`], plus `off` (or `0`) for no limit.
pub fn parse_optional_duration(s: &str) -> Result<OptionalDuration, String> {
    match s.trim() {
        "off" | "none" | "0" => Ok(OptionalDuration(None)),
        other => parse_duration(other).map(|d| OptionalDuration(Some(d))),
    }
}

/// A lowercase SQL identifier (the schema name goes into SQL text, so nothing else passes).
pub fn parse_identifier(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("expected a lowercase SQL identifier such as auth (letters, digits, _)".into())
    }
}

/// A role name (surrounding whitespace trimmed) that passes [`crate::roles::validate_role`].
pub fn parse_role(s: &str) -> Result<String, String> {
    crate::roles::validate_role(s.trim()).map(str::to_owned)
}

/// The 32 bytes of a key given in base64 (`openssl rand -base64 32`); `setting` names it in
/// the error.
pub fn key_bytes(value: &crate::secret::Secret, setting: &str) -> anyhow::Result<Vec<u8>> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    STANDARD
        .decode(value.expose().trim())
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            anyhow::anyhow!("{setting} must be 32 bytes in base64 (openssl rand -base64 32)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("900"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("soon").unwrap_err().contains("15m"));
        assert_eq!(parse_optional_duration("off"), Ok(OptionalDuration(None)));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(parse_identifier("auth").is_ok());
        assert!(parse_identifier("auth; drop").is_err());
        assert!(parse_identifier("Auth").is_err());
    }
}
