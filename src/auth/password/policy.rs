//! What a new password must be, as Supabase Auth has it: at least `AUTH_PASSWORD_MIN_LENGTH`
//! characters, and with `AUTH_PASSWORD_REQUIRED_CHARACTERS` at least one character of each
//! listed set. A password that falls short is refused with `weak_password` and the reasons
//! (`length`, `characters`) that clients such as auth-js read.

use crate::{
    config::{PasswordArgs, MAX_PASSWORD_CHARS},
    error::{Code, Error},
};

/// `Ok` for a new password that meets the rules of `args`; otherwise 422 `weak_password`
/// naming every rule it breaks (`reasons`), or `validation_failed` for one too long to hash.
pub fn check(args: &PasswordArgs, password: &str) -> Result<(), Error> {
    let chars = password.chars().count();
    if chars > MAX_PASSWORD_CHARS {
        return Err(Error::validation_failed(format!(
            "Password cannot be longer than {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let mut reasons = Vec::new();
    let mut messages = Vec::new();
    if chars < args.password_min_length {
        reasons.push("length");
        messages.push(format!(
            "Password should be at least {} characters.",
            args.password_min_length
        ));
    }
    let sets = &args.password_required_characters.0;
    if sets
        .iter()
        .any(|set| !password.chars().any(|c| set.contains(c)))
    {
        reasons.push("characters");
        messages.push(format!(
            "Password should contain at least one character of each: {}.",
            sets.join(", ")
        ));
    }
    if reasons.is_empty() {
        return Ok(());
    }
    Err(Error::new(Code::WeakPassword, messages.join(" ")).with_reasons(reasons))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> PasswordArgs {
        crate::config::Config::from_args(extra.iter().copied())
            .unwrap()
            .passwords
    }

    #[test]
    fn reasons_name_every_broken_rule() {
        let strict = args(&[
            "--password-min-length",
            "10",
            "--password-required-characters",
            "abc:0123456789",
        ]);
        let e = check(&strict, "short").unwrap_err();
        assert_eq!(e.code, Code::WeakPassword);
        assert_eq!(e.reasons, ["length", "characters"]);
        assert_eq!(
            check(&strict, "long enough, no digit").unwrap_err().reasons,
            ["characters"]
        );
        assert!(check(&strict, "long enough 4 b").is_ok());
        let long = check(&strict, &"a1".repeat(200)).unwrap_err();
        assert_eq!(long.code, Code::ValidationFailed);
        let default = args(&[]);
        assert!(check(&default, "12345678").is_ok());
        assert_eq!(check(&default, "1234567").unwrap_err().reasons, ["length"]);
    }
}
