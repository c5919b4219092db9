//! What a new password must be, as Supabase Auth has it: at least `AUTH_PASSWORD_MIN_LENGTH`
//! characters, and with `AUTH_PASSWORD_REQUIRED_CHARACTERS` at least one character of each
//! listed set. A password that falls short is refused with `weak_password` and the reasons
//! (`length`, `characters`) that clients such as auth-js read.

use crate::error::{code, Error};

/// Fewest characters the minimum length may be set to.
pub const LOWEST_MIN_LENGTH: usize = 6;
/// Longest password accepted (in characters); bounds the hashing work per request.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The rules for new passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// Sets of characters of which a password must hold at least one each.
    pub required_characters: Vec<String>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            required_characters: Vec::new(),
        }
    }
}

impl PasswordPolicy {
    /// `Ok` for a password that meets the rules; otherwise 422 `weak_password` naming every
    /// rule it breaks (`reasons`), or `validation_failed` for one too long to hash.
    pub fn check(&self, password: &str) -> Result<(), Error> {
        let chars = password.chars().count();
        if chars > MAX_PASSWORD_CHARS {
            return Err(Error::invalid(format!(
                "Password cannot be longer than {MAX_PASSWORD_CHARS} characters"
            )));
        }
        let mut reasons = Vec::new();
        let mut messages = Vec::new();
        if chars < self.min_length {
            reasons.push("length");
            messages.push(format!(
                "Password should be at least {} characters.",
                self.min_length
            ));
        }
        let missing = self
            .required_characters
            .iter()
            .any(|set| !password.chars().any(|c| set.contains(c)));
        if missing {
            reasons.push("characters");
            messages.push(format!(
                "Password should contain at least one character of each: {}.",
                self.required_characters.join(", ")
            ));
        }
        if reasons.is_empty() {
            return Ok(());
        }
        Err(Error::validation(code::WEAK_PASSWORD, messages.join(" ")).with_reasons(reasons))
    }
}

/// The character sets of `AUTH_PASSWORD_REQUIRED_CHARACTERS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CharacterSets(pub Vec<String>);

/// The character sets of `AUTH_PASSWORD_REQUIRED_CHARACTERS`: separated by `:`, where `\:`
/// stands for a colon inside a set (as Supabase Auth reads the setting).
pub fn parse_required_characters(value: &str) -> Result<CharacterSets, String> {
    let mut sets = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.clone().next() == Some(':') => {
                current.push(':');
                chars.next();
            }
            ':' => sets.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    sets.push(current);
    Ok(CharacterSets(
        sets.into_iter().filter(|s| !s.is_empty()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_every_broken_rule() {
        let policy = PasswordPolicy {
            min_length: 10,
            required_characters: parse_required_characters("abc:0123456789").unwrap().0,
        };
        let e = policy.check("short").unwrap_err();
        assert_eq!(e.code, code::WEAK_PASSWORD);
        assert_eq!(e.reasons, ["length", "characters"]);
        assert_eq!(
            policy.check("long enough, no digit").unwrap_err().reasons,
            ["characters"]
        );
        assert!(policy.check("long enough 4 b").is_ok());
        let long = policy.check(&"a1".repeat(200)).unwrap_err();
        assert_eq!(long.code, code::VALIDATION_FAILED);
        assert!(PasswordPolicy::default().check("12345678").is_ok());
        assert_eq!(
            PasswordPolicy::default()
                .check("1234567")
                .unwrap_err()
                .reasons,
            ["length"]
        );
    }

    #[test]
    fn sets_split_on_unescaped_colons() {
        assert_eq!(
            parse_required_characters(r"abc:ABC:!\:?").unwrap().0,
            ["abc", "ABC", "!:?"]
        );
        assert!(parse_required_characters("").unwrap().0.is_empty());
    }
}
