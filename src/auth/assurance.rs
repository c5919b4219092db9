//! How sure a session is of who holds it (NIST SP 800-63B's authenticator assurance levels,
//! as Supabase Auth names them): `aal1` after one factor (a password, a link, a provider),
//! `aal2` after a second one. Access tokens carry the level (`aal`) and how it was reached
//! (`amr`: `[{method, timestamp}]`, newest first, with Supabase Auth's method names); a
//! refresh keeps the session's level.

use serde_json::Value;

/// An authenticator assurance level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aal {
    Aal1,
    Aal2,
}

impl Aal {
    /// From the level stored with a session (1 or 2).
    pub fn from_level(level: i16) -> Self {
        if level >= 2 {
            Self::Aal2
        } else {
            Self::Aal1
        }
    }

    pub fn level(self) -> i16 {
        match self {
            Self::Aal1 => 1,
            Self::Aal2 => 2,
        }
    }

    /// As tokens carry it: `aal1`, `aal2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
        }
    }

    /// From a token's `aal` claim; anything else is `aal1`.
    pub fn from_claim(claim: Option<&str>) -> Self {
        if claim == Some("aal2") {
            Self::Aal2
        } else {
            Self::Aal1
        }
    }
}

/// A session's level and its `amr` entries, as its access tokens carry them.
#[derive(Debug, Clone, PartialEq)]
pub struct Assurance {
    pub aal: Aal,
    /// `[{method, timestamp}]`, newest first (as stored with the session).
    pub amr: Value,
}

impl Assurance {
    /// A session just opened by `method` (see [`amr_method`]) at `timestamp` (Unix seconds).
    pub fn one_factor(method: &str, timestamp: i64) -> Self {
        let entry = serde_json::json!({"method": amr_method(method), "timestamp": timestamp});
        Self {
            aal: Aal::Aal1,
            amr: Value::Array(vec![entry]),
        }
    }

    /// From what is stored with a session.
    pub fn stored(aal: i16, amr: Value) -> Self {
        Self {
            aal: Aal::from_level(aal),
            amr,
        }
    }
}

/// The `amr` method of a session opened by `method` (what the audit log records: `password`,
/// `sign_up`, an email link or code's type, or an identity provider's name), in Supabase
/// Auth's names: `password`, `otp` for links and codes, `oauth` for identity providers (a name
/// already among these stays).
pub fn amr_method(method: &str) -> &'static str {
    match method {
        "password" | "sign_up" => "password",
        "signup" | "invite" | "magiclink" | "recovery" | "email_change" | "email" | "otp" => "otp",
        "passkey" => "passkey",
        "anonymous" => "anonymous",
        _ => "oauth",
    }
}

/// The roles of a session at `aal` whose user has `default` and `allowed`, when the roles
/// `gated` need aal2 (`AUTH_MFA_AAL2_ROLES`): at aal1 the gated roles are left out; a gated
/// default gives way to the first role left; a user with only gated roles has `fallback` (the
/// unauthenticated role) alone until a second factor is verified. (A user who must use a
/// second factor, `AUTH_MFA_REQUIRED`, has `fallback` alone at aal1: see
/// `Auth::claims_of`.)
pub fn roles_at<'a>(
    aal: Aal,
    default: &'a str,
    allowed: &'a [String],
    gated: &[String],
    fallback: &'a str,
) -> (&'a str, Vec<&'a str>) {
    let kept: Vec<&str> = allowed
        .iter()
        .map(String::as_str)
        .filter(|r| aal == Aal::Aal2 || !gated.iter().any(|g| g == r))
        .collect();
    match kept.first() {
        None => (fallback, vec![fallback]),
        Some(first) if !kept.contains(&default) => (first, kept),
        Some(_) => (default, kept),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gated_roles_wait_for_aal2() {
        let allowed = vec!["user".to_owned(), "admin".to_owned()];
        let gated = vec!["admin".to_owned()];
        assert_eq!(
            roles_at(Aal::Aal1, "user", &allowed, &gated, "anonymous"),
            ("user", vec!["user"])
        );
        assert_eq!(
            roles_at(Aal::Aal2, "user", &allowed, &gated, "anonymous"),
            ("user", vec!["user", "admin"])
        );
        assert_eq!(
            roles_at(Aal::Aal1, "admin", &allowed, &gated, "anonymous"),
            ("user", vec!["user"])
        );
        assert_eq!(
            roles_at(Aal::Aal1, "user", &allowed, &[], "anonymous"),
            ("user", vec!["user", "admin"])
        );
        let only = vec!["admin".to_owned()];
        assert_eq!(
            roles_at(Aal::Aal1, "admin", &only, &gated, "anonymous"),
            ("anonymous", vec!["anonymous"])
        );
    }

    #[test]
    fn levels_and_methods() {
        assert_eq!(Aal::from_level(2), Aal::Aal2);
        assert_eq!(Aal::from_level(1).as_str(), "aal1");
        assert_eq!(Aal::from_claim(Some("aal2")), Aal::Aal2);
        assert_eq!(Aal::from_claim(Some("aal3")), Aal::Aal1);
        assert_eq!(amr_method("sign_up"), "password");
        assert_eq!(amr_method("magiclink"), "otp");
        assert_eq!(amr_method("acme"), "oauth");
    }
}
