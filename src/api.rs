//! Typed shapes of the public API: what the HTTP API (and the Hasura actions, and the CLI)
//! send, in Supabase Auth's (GoTrue's) shapes where it has one. The OpenAPI document's schemas
//! are derived on these very types (`utoipa`), so the document describes what is sent; view
//! types stand between database rows and answers.

mod actions;
mod admin;
mod api_keys;
mod error;
mod meta;
mod mfa;
mod oauth;
mod organizations;
mod passkeys;
mod session;
mod user;

pub use actions::{ActionError, ActionErrorExtensions, AuthSession, Done};
pub use admin::{AdminSession, AdminSessions, AuditEntry, Revoked, UserPage};
pub use api_keys::{ApiKeyView, IssuedApiKeyView, KeyTokenResponse, TokenResponse};
pub use error::{ErrorBody, WeakPassword};
pub use meta::{
    AuthorizationServerMetadata, Health, Jwk, Jwks, Migrations, ProviderMetadata, Readiness,
    ServerMetadata, Settings,
};
pub use mfa::{
    ChallengeResponse, EnrollResponse, FactorView, RecoveryCodes, RecoveryCodesLeft, TotpView,
    UnenrollResponse,
};
pub use oauth::{
    OAuthAuthorizationDetails, OAuthClientGrantList, OAuthClientGrantView, OAuthClientList,
    OAuthClientSummary, OAuthClientView, OAuthGrantView, OAuthRedirect, OAuthTokenResponse,
    OAuthUserSummary,
};
pub use organizations::{
    InvitationView, ListedOrganizationView, MemberView, OfferedInvitationView, OrganizationPage,
    OrganizationRef, OrganizationView,
};
pub use passkeys::{CeremonyResponse, PasskeyView};
pub use session::{
    Empty, Message, OwnSession, SessionList, SessionResponse, SessionVariables, SignupResponse,
    VerifyResponse, WebhookDenied,
};
pub use user::{IdentityView, UserView, COMPUTED_APP_METADATA};
