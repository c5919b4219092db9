//! OAuth clients: the rules a registration or an update must meet, in Supabase Auth's words,
//! and the secrets of confidential clients (256 bits, URL-safe base64, stored as SHA-256).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::{rngs::OsRng, RngCore};

use crate::{
    error::{Error, Result},
    secret::Secret,
    store::{
        self,
        oauth_clients::{NewClient, OAuthClient, Patch},
    },
};

pub const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];
const AUTH_METHODS: [&str; 3] = ["none", "client_secret_basic", "client_secret_post"];
const MAX_REDIRECT_URIS: usize = 10;

/// What a registration (or an update) names; absent fields take defaults (or stay).
#[derive(Debug, Default, Clone)]
pub struct ClientParams {
    pub redirect_uris: Option<Vec<String>>,
    pub client_type: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// The Hasura roles the client's tokens may carry, at most (administrators only).
    pub allowed_roles: Option<Vec<String>>,
}

/// A registration that meets the rules, with its defaults filled in.
#[derive(Debug, PartialEq)]
pub struct Checked {
    pub client_type: &'static str,
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub allowed_roles: Option<Vec<String>>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::validation_failed(message.into())
}

/// A redirect URI as OAuth 2.1 wants it: absolute with a host, no fragment, not a scheme
/// that runs code, plain `http` only to the loopback host.
pub fn check_redirect_uri(uri: &str) -> std::result::Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| e.to_string())?;
    let host = parsed.host_str().filter(|h| !h.is_empty());
    let Some(host) = host else {
        return Err("must have a scheme and a host".into());
    };
    let scheme = parsed.scheme().to_ascii_lowercase();
    if ["javascript", "data", "file", "vbscript", "about", "blob"].contains(&scheme.as_str()) {
        return Err(format!("scheme {scheme} is not allowed"));
    }
    if scheme == "http" && !["localhost", "127.0.0.1", "[::1]"].contains(&host) {
        return Err("http is only allowed for localhost".into());
    }
    if parsed.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(())
}

fn check_redirect_uris(uris: &[String]) -> Result<()> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid("redirect_uris cannot exceed 10 items"));
    }
    for uri in uris {
        check_redirect_uri(uri)
            .map_err(|why| invalid(format!("invalid redirect_uri '{uri}': {why}")))?;
    }
    Ok(())
}

fn check_grant_types(grants: &[String]) -> Result<()> {
    match grants.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
        Some(g) => Err(invalid(format!(
            "grant_type '{g}' is not supported (authorization_code, refresh_token)"
        ))),
        None => Ok(()),
    }
}

/// Valid role names, none twice (an empty list: the user's default role).
fn check_roles(roles: Option<&[String]>) -> Result<()> {
    for (i, role) in roles.unwrap_or_default().iter().enumerate() {
        crate::roles::validate_role(role).map_err(|e| invalid(format!("allowed_roles: {e}")))?;
        if roles.unwrap_or_default()[..i].contains(role) {
            return Err(invalid(format!("allowed_roles: {role:?} is listed twice")));
        }
    }
    Ok(())
}

fn check_texts(p: &ClientParams) -> Result<()> {
    check_roles(p.allowed_roles.as_deref())?;
    if p.client_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 1024)
    {
        return Err(invalid("client_name cannot exceed 1024 characters"));
    }
    for (name, value) in [("client_uri", &p.client_uri), ("logo_uri", &p.logo_uri)] {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        // Shown to users on consent: web addresses only, never a script or inline data.
        let web = url::Url::parse(value)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some());
        if value.chars().count() > 2048 || !web {
            return Err(invalid(format!("{name} must be a valid http(s) URL")));
        }
    }
    Ok(())
}

/// The client type an authentication method implies.
fn type_of_method(method: &str) -> &'static str {
    if method == "none" {
        "public"
    } else {
        "confidential"
    }
}

fn check_method(method: &str) -> Result<()> {
    if !AUTH_METHODS.contains(&method) {
        return Err(invalid(format!(
            "token_endpoint_auth_method must be one of: {}",
            AUTH_METHODS.join(", ")
        )));
    }
    Ok(())
}

/// Checks a registration and fills in its defaults: both grant types; the client type named,
/// else implied by the authentication method, else confidential; the method named, else
/// `none` for public and `client_secret_basic` for confidential clients.
pub fn check_new(p: ClientParams) -> Result<Checked> {
    let redirect_uris = p.redirect_uris.clone().unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(invalid("redirect_uris is required"));
    }
    check_redirect_uris(&redirect_uris)?;
    let grant_types = match p.grant_types.clone().filter(|g| !g.is_empty()) {
        Some(g) => g,
        None => GRANT_TYPES.map(str::to_owned).to_vec(),
    };
    check_grant_types(&grant_types)?;
    check_texts(&p)?;
    let client_type = match p.client_type.as_deref() {
        None => p
            .token_endpoint_auth_method
            .as_deref()
            .map_or("confidential", type_of_method),
        Some("public") => "public",
        Some("confidential") => "confidential",
        Some(_) => return Err(invalid("client_type must be public or confidential")),
    };
    let method = match p.token_endpoint_auth_method {
        Some(m) => m,
        None if client_type == "public" => "none".to_owned(),
        None => "client_secret_basic".to_owned(),
    };
    check_method(&method)?;
    if type_of_method(&method) != client_type {
        return Err(invalid(format!(
            "client_type '{client_type}' is inconsistent with token_endpoint_auth_method '{method}'"
        )));
    }
    Ok(Checked {
        client_type,
        token_endpoint_auth_method: method,
        redirect_uris,
        grant_types,
        client_name: p.client_name.filter(|n| !n.is_empty()),
        client_uri: p.client_uri.filter(|n| !n.is_empty()),
        logo_uri: p.logo_uri.filter(|n| !n.is_empty()),
        allowed_roles: p.allowed_roles.filter(|r| !r.is_empty()),
    })
}

/// Checks an update of `client` (its type cannot change); 400 when it names nothing.
pub fn check_update<'a>(client: &OAuthClient, p: &'a ClientParams) -> Result<Patch<'a>> {
    let patch = Patch {
        redirect_uris: p.redirect_uris.as_deref(),
        grant_types: p.grant_types.as_deref(),
        client_name: p.client_name.as_deref(),
        client_uri: p.client_uri.as_deref(),
        logo_uri: p.logo_uri.as_deref(),
        token_endpoint_auth_method: p.token_endpoint_auth_method.as_deref(),
        allowed_roles: p.allowed_roles.as_deref(),
    };
    let named = [
        patch.redirect_uris.is_some(),
        patch.grant_types.is_some(),
        patch.client_name.is_some(),
        patch.client_uri.is_some(),
        patch.logo_uri.is_some(),
        patch.token_endpoint_auth_method.is_some(),
        patch.allowed_roles.is_some(),
    ];
    if !named.contains(&true) {
        return Err(invalid("No fields provided for update"));
    }
    if let Some(uris) = patch.redirect_uris {
        if uris.is_empty() {
            return Err(invalid("redirect_uris cannot be empty"));
        }
        check_redirect_uris(uris)?;
    }
    if let Some(grants) = patch.grant_types {
        if grants.is_empty() {
            return Err(invalid("grant_types cannot be empty"));
        }
        check_grant_types(grants)?;
    }
    check_texts(p)?;
    if let Some(method) = patch.token_endpoint_auth_method {
        check_method(method)?;
        if type_of_method(method) != client.client_type {
            return Err(invalid(format!(
                "token_endpoint_auth_method '{method}' does not fit a {} client",
                client.client_type
            )));
        }
    }
    Ok(patch)
}

/// Stores a checked registration (`manual` by an administrator, or `dynamic`) inside `db`,
/// with a secret for a confidential client (returned, to be shown this once).
pub async fn store_new(
    db: &mut sqlx::PgConnection,
    checked: &Checked,
    registration_type: &str,
) -> Result<(OAuthClient, Option<Secret>)> {
    let secret = (checked.client_type == "confidential").then(new_secret);
    let new = NewClient {
        client_type: checked.client_type,
        token_endpoint_auth_method: &checked.token_endpoint_auth_method,
        secret_hash: secret.as_ref().map(|(_, hash)| hash.as_slice()),
        registration_type,
        redirect_uris: &checked.redirect_uris,
        grant_types: &checked.grant_types,
        client_name: checked.client_name.as_deref(),
        client_uri: checked.client_uri.as_deref(),
        logo_uri: checked.logo_uri.as_deref(),
        allowed_roles: checked.allowed_roles.as_deref(),
    };
    let client = store::oauth_clients::insert(&mut *db, &new).await?;
    Ok((client, secret.map(|(secret, _)| secret)))
}

/// A new client secret (shown once) and the hash stored of it.
pub fn new_secret() -> (Secret, [u8; 32]) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = B64.encode(bytes);
    let hash = crate::auth::email::sha256(secret.as_bytes());
    (Secret::new(secret), hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_oauth_2_1() {
        for ok in [
            "https://app.example.com/callback",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "com.example.app://callback",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "javascript://x/alert(1)",
            "/relative",
            "https://",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registrations_get_defaults_and_consistent_types() {
        let uris = Some(vec!["https://a.example/cb".to_owned()]);
        let base = ClientParams {
            redirect_uris: uris,
            ..Default::default()
        };
        let c = check_new(base.clone()).unwrap();
        assert_eq!(
            (c.client_type, c.token_endpoint_auth_method.as_str()),
            ("confidential", "client_secret_basic")
        );
        assert_eq!(c.grant_types, GRANT_TYPES);
        let public = ClientParams {
            token_endpoint_auth_method: Some("none".into()),
            ..base.clone()
        };
        assert_eq!(check_new(public).unwrap().client_type, "public");
        let mismatch = ClientParams {
            client_type: Some("public".into()),
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..base.clone()
        };
        assert!(check_new(mismatch).is_err());
        assert!(check_new(ClientParams::default()).is_err());
        let grants = ClientParams {
            grant_types: Some(vec!["password".into()]),
            ..base.clone()
        };
        assert!(check_new(grants).is_err());
        for logo in [
            "javascript:alert(1)",
            "data:image/svg+xml,<svg/>",
            "ftp://x.example/l.png",
        ] {
            let shown = ClientParams {
                logo_uri: Some(logo.into()),
                ..base.clone()
            };
            assert!(check_new(shown).is_err(), "{logo}");
        }
    }
}
