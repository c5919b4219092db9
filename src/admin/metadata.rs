//! `app_metadata` as administrators send it: the roles travel in it (`default_role`,
//! `allowed_roles`, as the user object shows them) but are stored in their own columns.

use serde_json::{Map, Value};

use crate::{
    api::COMPUTED_APP_METADATA,
    error::{Code, Error, Result},
    roles::validate_roles,
};

/// `app_metadata` split into what is stored where.
#[derive(Debug, PartialEq)]
pub struct AppMetadata {
    pub default_role: String,
    pub allowed_roles: Vec<String>,
    /// The other keys (`None`: no `app_metadata` was given).
    pub rest: Option<Value>,
}

/// Splits `app_metadata` into the roles and the rest; roles missing from it stay the current
/// ones, and the two are checked against each other. Computed keys (`provider`, …) are dropped.
pub fn split_app_metadata(
    app_metadata: Option<&Value>,
    current_default: &str,
    current_allowed: &[String],
) -> Result<AppMetadata> {
    let Some(app) = app_metadata else {
        return Ok(AppMetadata {
            default_role: current_default.to_owned(),
            allowed_roles: current_allowed.to_vec(),
            rest: None,
        });
    };
    let Value::Object(map) = app else {
        return Err(Error::validation_failed(
            "app_metadata must be a JSON object",
        ));
    };
    let default_role = match map.get("default_role") {
        None => current_default.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(Error::validation_failed(
                "app_metadata.default_role must be a string",
            ))
        }
    };
    let not_strings =
        || Error::validation_failed("app_metadata.allowed_roles must be an array of strings");
    let allowed_roles = match map.get("allowed_roles") {
        None => current_allowed.to_vec(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(not_strings)?,
        Some(_) => return Err(not_strings()),
    };
    validate_roles(&default_role, &allowed_roles).map_err(|e| Error::new(Code::InvalidRoles, e))?;
    let rest: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !COMPUTED_APP_METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(AppMetadata {
        default_role,
        allowed_roles,
        rest: Some(Value::Object(rest)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn roles_come_out_of_app_metadata() {
        let current = roles(&["user"]);
        let split = split_app_metadata(
            Some(
                &json!({"default_role": "editor", "allowed_roles": ["user", "editor"],
                         "plan": "pro", "provider": "email", "providers": ["x"]}),
            ),
            "user",
            &current,
        )
        .unwrap();
        assert_eq!(
            split,
            AppMetadata {
                default_role: "editor".into(),
                allowed_roles: roles(&["user", "editor"]),
                rest: Some(json!({"plan": "pro"})),
            }
        );
        let untouched = split_app_metadata(None, "user", &current).unwrap();
        assert_eq!(untouched.rest, None);
        assert_eq!(untouched.allowed_roles, current);
        let only_plan = split_app_metadata(Some(&json!({"plan": 1})), "user", &current).unwrap();
        assert_eq!(only_plan.default_role, "user");
        assert_eq!(only_plan.rest, Some(json!({"plan": 1})));
    }

    #[test]
    fn bad_roles_are_refused() {
        let current = roles(&["user"]);
        let err = |v: Value| {
            split_app_metadata(Some(&v), "user", &current)
                .unwrap_err()
                .code
        };
        assert_eq!(err(json!({"default_role": "admin"})), Code::InvalidRoles);
        assert_eq!(err(json!({"allowed_roles": []})), Code::InvalidRoles);
        assert_eq!(err(json!({"default_role": 1})), Code::ValidationFailed);
        assert_eq!(err(json!({"allowed_roles": [1]})), Code::ValidationFailed);
        assert_eq!(
            err(json!({"allowed_roles": "user"})),
            Code::ValidationFailed
        );
        assert_eq!(err(json!([1])), Code::ValidationFailed);
    }
}
