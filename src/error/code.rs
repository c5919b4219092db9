//! Every error code the server answers with, and the one [`Kind`] (so the one HTTP status)
//! each code has: the table below is the only place that pairs them.
//!
//! Clients match on the codes (`error_code` in API responses, `extensions.code` in Hasura
//! actions); never change one, only add. The codes Supabase Auth also has mean what they mean
//! there, so that its clients react the same way (auth-js signs the user out locally on
//! `session_not_found`, for one).

use super::Kind;

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $name:ident = $text:literal => $kind:ident,)*) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[doc = $doc])* $name,)*
        }

        impl Code {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The code as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$name => $text,)*
                }
            }

            /// The kind of failure the code names, which decides its HTTP status.
            pub const fn kind(self) -> Kind {
                match self {
                    $(Code::$name => Kind::$kind,)*
                }
            }
        }
    };
}

codes! {
    /// A field is missing, malformed or breaks a rule (400, `error: invalid_request`).
    ValidationFailed = "validation_failed" => InvalidRequest,
    /// The body does not parse as JSON (or as a form).
    BadJson = "bad_json" => BadRequest,
    UnsupportedGrantType = "unsupported_grant_type" => UnsupportedGrantType,
    /// A failed password sign-in, or a wrong `current_password`: one answer whatever the cause.
    InvalidCredentials = "invalid_credentials" => InvalidGrant,
    EmailAddressInvalid = "email_address_invalid" => Validation,
    WeakPassword = "weak_password" => Validation,
    UserAlreadyExists = "user_already_exists" => Validation,
    EmailExists = "email_exists" => Validation,
    InvalidRoles = "invalid_roles" => Validation,
    SignupDisabled = "signup_disabled" => Forbidden,
    RefreshTokenNotFound = "refresh_token_not_found" => InvalidGrant,
    RefreshTokenAlreadyUsed = "refresh_token_already_used" => InvalidGrant,
    SessionExpired = "session_expired" => InvalidGrant,
    /// The session a request acts from has ended (signed out, revoked, expired). Supabase
    /// Auth answers 403; its clients read the code, not the status.
    SessionNotFound = "session_not_found" => Unauthorized,
    /// No session with the id in the path among the user's sessions. Not `session_not_found`,
    /// which tells a client that its own session is over.
    NoSuchSession = "no_such_session" => NotFound,
    UserNotFound = "user_not_found" => NotFound,
    /// The user is disabled or banned. 401 with an access token; at the token endpoint
    /// [`super::Error::user_banned_grant`] answers as RFC 6749 and Supabase Auth do.
    UserBanned = "user_banned" => Unauthorized,
    NoAuthorization = "no_authorization" => Unauthorized,
    BadJwt = "bad_jwt" => Unauthorized,
    ReauthenticationNeeded = "reauthentication_needed" => BadRequest,
    NotAdmin = "not_admin" => Forbidden,
    /// A Hasura action call without the actions secret.
    Unauthorized = "unauthorized" => Unauthorized,
    CrossSiteRequest = "cross_site_request" => Forbidden,
    /// Nothing at this address (or a feature that is not configured).
    NotFound = "not_found" => NotFound,
    MethodNotAllowed = "method_not_allowed" => MethodNotAllowed,
    /// Another request changed the same row meanwhile; try again.
    Conflict = "conflict" => Conflict,
    RequestTooLarge = "request_too_large" => TooLarge,
    UnsupportedMediaType = "unsupported_media_type" => UnsupportedMediaType,
    OverRequestRateLimit = "over_request_rate_limit" => RateLimited,
    ServiceUnavailable = "service_unavailable" => Unavailable,
    RequestTimeout = "request_timeout" => Timeout,
    EmailNotConfirmed = "email_not_confirmed" => InvalidGrant,
    /// A link or code that is unknown, used, expired, or for another purpose.
    OtpExpired = "otp_expired" => Forbidden,
    OverEmailSendRateLimit = "over_email_send_rate_limit" => RateLimited,
    FlowStateNotFound = "flow_state_not_found" => InvalidGrant,
    FlowStateExpired = "flow_state_expired" => InvalidGrant,
    BadCodeVerifier = "bad_code_verifier" => InvalidGrant,
    UnexpectedFailure = "unexpected_failure" => Internal,
    /// The identity provider refused the sign-in.
    ProviderFailed = "provider_failed" => Forbidden,
    /// The identity provider could not be reached, or answered nonsense.
    ProviderUnavailable = "provider_unavailable" => Unavailable,
    ProviderEmailNeedsVerification = "provider_email_needs_verification" => Validation,
    BadOauthState = "bad_oauth_state" => BadRequest,
    BadIdToken = "bad_id_token" => InvalidGrant,
    IdentityAlreadyExists = "identity_already_exists" => Validation,
    SingleIdentityNotDeletable = "single_identity_not_deletable" => Validation,
    IdentityNotFound = "identity_not_found" => NotFound,
    InsufficientAal = "insufficient_aal" => Forbidden,
    MfaFactorNotFound = "mfa_factor_not_found" => NotFound,
    MfaFactorNameConflict = "mfa_factor_name_conflict" => Validation,
    TooManyEnrolledMfaFactors = "too_many_enrolled_mfa_factors" => Validation,
    MfaVerificationFailed = "mfa_verification_failed" => Validation,
    MfaChallengeExpired = "mfa_challenge_expired" => Validation,
    MfaIpAddressMismatch = "mfa_ip_address_mismatch" => Validation,
    WebauthnChallengeNotFound = "webauthn_challenge_not_found" => BadRequest,
    WebauthnChallengeExpired = "webauthn_challenge_expired" => BadRequest,
    WebauthnVerificationFailed = "webauthn_verification_failed" => BadRequest,
    WebauthnCredentialExists = "webauthn_credential_exists" => Validation,
    TooManyPasskeys = "too_many_passkeys" => Validation,
    PasskeyNotFound = "passkey_not_found" => NotFound,
    AnonymousProviderDisabled = "anonymous_provider_disabled" => Validation,
    /// Supabase Auth answers 403 `no_authorization`; that code is ours for a missing token
    /// (401), so anonymous users refused an action get their own code.
    AnonymousUserNotAllowed = "anonymous_user_not_allowed" => Forbidden,
    ManualLinkingDisabled = "manual_linking_disabled" => NotFound,
    ReauthenticationNotValid = "reauthentication_not_valid" => Validation,
    /// Also for an organization the caller is not a member of (its existence stays private).
    OrganizationNotFound = "organization_not_found" => NotFound,
    OrganizationSlugTaken = "organization_slug_taken" => Conflict,
    OrganizationAdminRequired = "organization_admin_required" => Forbidden,
    LastOrganizationAdmin = "last_organization_admin" => Validation,
    OrganizationMemberNotFound = "organization_member_not_found" => NotFound,
    /// Also for one used, withdrawn or past its expiry.
    InvitationNotFound = "invitation_not_found" => NotFound,
    /// An invitation is accepted only by the account of the address it was sent to.
    InvitationForAnotherAccount = "invitation_for_another_account" => Forbidden,
    AlreadyOrganizationMember = "already_organization_member" => Conflict,
    /// Unknown, revoked, rotated away, expired, or none of its roles left.
    InvalidApiKey = "invalid_api_key" => Unauthorized,
    ApiKeyNotFound = "api_key_not_found" => NotFound,
    ApiKeyNameTaken = "api_key_name_taken" => Conflict,
    TooManyApiKeys = "too_many_api_keys" => Validation,
    /// A feature this server's settings leave off (the OAuth server).
    FeatureDisabled = "feature_disabled" => NotFound,
    OAuthClientNotFound = "oauth_client_not_found" => NotFound,
    OAuthDynamicClientRegistrationDisabled = "oauth_dynamic_client_registration_disabled" => Forbidden,
    /// An unknown client, a wrong secret, or a secret from a public client.
    OAuthInvalidClient = "oauth_invalid_client" => InvalidClient,
    /// A code that is unknown, used, expired, for another client or redirect URI, or whose
    /// PKCE verifier does not match.
    OAuthInvalidGrant = "oauth_invalid_grant" => InvalidGrant,
    OAuthUnauthorizedClient = "oauth_unauthorized_client" => UnauthorizedClient,
    /// Unknown, expired, already answered, or another user's.
    OAuthAuthorizationNotFound = "oauth_authorization_not_found" => NotFound,
    /// A token issued to an OAuth client, at one of this server's own account endpoints: such a
    /// token is for Hasura (and `/oauth/userinfo`) only.
    OAuthClientToken = "oauth_client_token" => Forbidden,
    /// A client's token without the scope the endpoint needs (`openid` for userinfo).
    OAuthInsufficientScope = "oauth_insufficient_scope" => Forbidden,
    /// A client's grant, for a user or a client, that does not exist.
    OAuthGrantNotFound = "oauth_grant_not_found" => NotFound,
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{text}"
            );
        }
    }
}
