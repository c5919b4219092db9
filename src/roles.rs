//! Role names and the default-role / allowed-roles rule Hasura enforces.

/// A role name: 1 to 64 characters, no whitespace, commas, quotes or braces (so a role list
/// can be written as a comma-separated setting or a PostgreSQL array literal unambiguously).
pub fn validate_role(role: &str) -> Result<&str, String> {
    let ok = !role.is_empty()
        && role.chars().count() <= 64
        && role.chars().all(|c| {
            !c.is_whitespace() && !c.is_control() && !matches!(c, ',' | '"' | '{' | '}' | '\\')
        });
    if ok {
        Ok(role)
    } else {
        Err(format!(
            "invalid role {role:?}: 1 to 64 characters without whitespace, commas, quotes or braces"
        ))
    }
}

/// Checks a user's roles: every name valid, the list non-empty and free of duplicates, the
/// default role among the allowed ones (Hasura refuses a default role that is not allowed).
pub fn validate_roles(default_role: &str, allowed_roles: &[String]) -> Result<(), String> {
    validate_role(default_role)?;
    if allowed_roles.is_empty() {
        return Err("allowed roles must not be empty".into());
    }
    for (i, role) in allowed_roles.iter().enumerate() {
        validate_role(role)?;
        if allowed_roles[..i].contains(role) {
            return Err(format!("role {role:?} is listed twice"));
        }
    }
    if !allowed_roles.iter().any(|r| r == default_role) {
        return Err(format!(
            "the default role {default_role:?} must be one of the allowed roles ({})",
            allowed_roles.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_role_must_be_allowed() {
        let allowed = vec!["user".to_owned(), "editor".to_owned()];
        assert!(validate_roles("user", &allowed).is_ok());
        assert!(validate_roles("admin", &allowed)
            .unwrap_err()
            .contains("must be one of"));
        assert!(validate_roles("user", &[]).is_err());
        assert!(validate_roles("user", &["user".into(), "user".into()]).is_err());
        assert!(validate_role("a b").is_err());
        assert!(validate_role("").is_err());
    }
}
