//! The user object in Supabase Auth's (GoTrue's) shape, used by the HTTP API, the actions
//! handler and the CLI.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::store::{identities::ExternalIdentity, users::User};

/// A user as the API shows it. Roles are in `app_metadata`; no secret is ever here.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub aud: String,
    /// Supabase's database role of signed-in users; always `authenticated`.
    pub role: &'static str,
    pub email: String,
    pub phone: &'static str,
    /// `provider`, `providers`, `default_role`, `allowed_roles`, and what admins set.
    #[schema(value_type = Object)]
    pub app_metadata: Map<String, Value>,
    #[schema(value_type = Object)]
    pub user_metadata: Value,
    pub identities: Vec<IdentityView>,
    /// Second factors (verified, or unverified and not yet expired).
    pub factors: Vec<super::FactorView>,
    pub banned_until: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub is_anonymous: bool,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the address was confirmed (`null` while it is not).
    pub email_confirmed_at: Option<DateTime<Utc>>,
    /// The same, under its older name.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// An address waiting for its confirmation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    pub invited_at: Option<DateTime<Utc>>,
}

impl UserView {
    /// `user` as seen by clients of audience `aud` (see `Config::user_audience`).
    pub fn new(user: &User, aud: &str) -> Self {
        let mut app_metadata = match &user.app_metadata {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        let mut providers: Vec<&str> = Vec::new();
        if user.email_identity {
            providers.push("email");
        }
        for identity in user.external_identities.iter() {
            if !providers.contains(&identity.provider.as_str()) {
                providers.push(&identity.provider);
            }
        }
        // The provider the account was created with: email, or its first external identity.
        let provider = if user.email_identity {
            "email"
        } else {
            providers.first().copied().unwrap_or("email")
        };
        // An anonymous user has no way in but its session: no provider (as Supabase Auth).
        if !user.is_anonymous {
            app_metadata.insert("provider".into(), json!(provider));
            app_metadata.insert("providers".into(), json!(providers));
        }
        app_metadata.insert("default_role".into(), json!(user.default_role));
        app_metadata.insert("allowed_roles".into(), json!(user.allowed_roles));
        Self {
            id: user.id,
            aud: aud.to_owned(),
            role: "authenticated",
            email: user.email.clone(),
            phone: "",
            app_metadata,
            user_metadata: user.user_metadata.clone(),
            identities: user
                .email_identity
                .then(|| IdentityView::email(user))
                .into_iter()
                .chain(
                    user.external_identities
                        .iter()
                        .map(|i| IdentityView::external(user, i)),
                )
                .collect(),
            factors: user.factors.iter().map(Into::into).collect(),
            banned_until: user.banned_until,
            disabled: !user.enabled,
            is_anonymous: user.is_anonymous,
            last_sign_in_at: user.last_sign_in_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
            email_confirmed_at: user.email_confirmed_at,
            confirmed_at: user.email_confirmed_at,
            new_email: user.email_change.clone(),
            invited_at: user.invited_at,
        }
    }
}

/// One way a user signs in, in Supabase Auth's shape. Every user has the `email` identity
/// (email and password); its `identity_id` is derived from the user id, so it is stable.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentityView {
    pub identity_id: Uuid,
    /// The user's id at the provider: for `email`, the user id itself.
    pub id: String,
    pub user_id: Uuid,
    #[schema(value_type = Object)]
    pub identity_data: Value,
    pub provider: String,
    pub email: String,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl IdentityView {
    /// An external identity of `user`.
    pub fn external(user: &User, identity: &ExternalIdentity) -> Self {
        Self {
            identity_id: identity.id,
            id: identity.provider_id.clone(),
            user_id: user.id,
            identity_data: identity.identity_data.clone(),
            provider: identity.provider.clone(),
            email: identity.email.clone().unwrap_or_default(),
            last_sign_in_at: identity.last_sign_in_at,
            created_at: identity.created_at,
            updated_at: identity.updated_at,
        }
    }

    /// The `email` identity of `user`.
    pub fn email(user: &User) -> Self {
        Self {
            identity_id: Uuid::new_v5(&user.id, b"identity/email"),
            id: user.id.to_string(),
            user_id: user.id,
            identity_data: json!({
                "sub": user.id.to_string(),
                "email": user.email,
                "email_verified": user.email_verified_at.is_some(),
                "phone_verified": false,
            }),
            provider: "email".into(),
            email: user.email.clone(),
            last_sign_in_at: user.last_sign_in_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Keys of `app_metadata` that the server computes from other columns (see [`UserView`]);
/// whatever a caller sends under these names is not stored as it is.
pub const COMPUTED_APP_METADATA: [&str; 4] =
    ["default_role", "allowed_roles", "provider", "providers"];
