//! `GET /openapi.json`: the OpenAPI 3.1 description of the JSON API, generated (utoipa) from
//! the `#[utoipa::path]` attributes on the handlers and the schemas derived on the types they
//! send (`crate::api`). A test
//! sends real requests to every documented route and validates each answer against this
//! document (with no undocumented fields allowed), so the two cannot drift apart.
//!
//! Not described here: the browser flows that answer with redirects or HTML (`/authorize`,
//! `/callback`, `GET /verify`, the hosted pages under `/ui`, `/user/identities/authorize`),
//! and the Hasura actions handler, whose contract is the generated actions metadata.

use axum::{extract::State, Json};
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

use crate::{
    api::{IdentityView, UserView},
    app::App,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hasura-jwt-auth",
        description = "Authentication for Hasura with users in PostgreSQL, in the Supabase Auth \
                       (GoTrue) dialect. Errors have the shape `Error`."
    ),
    paths(
        super::token::signup,
        super::token::token,
        super::token::logout,
        super::token::revoke,
        super::user::get_user,
        super::user::update_user,
        super::user::reauthenticate,
        super::sessions::list,
        super::sessions::end,
        super::factors::enroll,
        super::factors::challenge,
        super::factors::verify,
        super::factors::unenroll,
        super::factors::generate_recovery_codes,
        super::factors::recovery_codes_left,
        super::factors::verify_recovery_code,
        super::organizations::create,
        super::organizations::list,
        super::organizations::show,
        super::organizations::remove,
        super::organizations::members,
        super::organizations::set_roles,
        super::organizations::remove_member,
        super::organizations::leave,
        super::organizations::activate,
        super::organizations::deactivate,
        super::organizations::invitations::invite,
        super::organizations::invitations::list_sent,
        super::organizations::invitations::withdraw,
        super::organizations::invitations::list_received,
        super::organizations::invitations::inspect,
        super::organizations::invitations::accept,
        super::api_keys::create,
        super::api_keys::list,
        super::api_keys::revoke,
        super::api_keys::rotate,
        super::api_keys::organization_keys,
        super::api_keys::revoke_organization_key,
        super::passkeys::registration_options,
        super::passkeys::registration_verify,
        super::passkeys::authentication_options,
        super::passkeys::authentication_verify,
        super::passkeys::list,
        super::passkeys::rename,
        super::passkeys::remove,
        super::email::recover,
        super::email::otp,
        super::email::magiclink,
        super::email::resend,
        super::email::verify::verify,
        super::external::settings,
        super::well_known::jwks,
        super::well_known::metadata,
        super::well_known::openid_configuration,
        super::webhook::webhook_get,
        super::webhook::webhook_post,
        super::health::live,
        super::health::health,
        super::health::ready,
        super::admin::users::create_user,
        super::admin::users::list_users,
        super::admin::users::get_user,
        super::admin::users::update_user,
        super::admin::users::delete_user,
        super::admin::users::provider_tokens,
        super::admin::factors::list_factors,
        super::admin::factors::delete_factor,
        super::admin::factors::list_passkeys,
        super::admin::factors::delete_passkey,
        super::admin::sessions::list_sessions,
        super::admin::sessions::revoke_all_sessions,
        super::admin::sessions::revoke_session,
        super::admin::audit::audit,
        super::admin::links::generate_link,
        super::admin::links::invite,
        super::oauth::register,
        super::oauth::flow::authorize,
        super::oauth::flow::details,
        super::oauth::flow::consent,
        super::oauth::token::token,
        super::oauth::token::revoke,
        super::oauth::token::userinfo,
        super::oauth::grants::list,
        super::oauth::grants::revoke,
        super::admin::oauth_clients::grants,
        super::admin::oauth_clients::create,
        super::admin::oauth_clients::list,
        super::admin::oauth_clients::show,
        super::admin::oauth_clients::update,
        super::admin::oauth_clients::remove,
        super::admin::oauth_clients::regenerate_secret,
        super::admin::organizations::list_organizations,
        super::admin::organizations::create_organization,
        super::admin::organizations::delete_organization,
        super::admin::organizations::members,
        super::admin::organizations::put_member,
        super::admin::organizations::remove_member,
        openapi_json,
    ),
    components(schemas(UserView, IdentityView)),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_secret",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document, with this server's public URL as its server.
pub fn document(app: &App) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.servers = Some(vec![utoipa::openapi::Server::new(app.config.public_url())]);
    doc
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(super) async fn openapi_json(State(app): State<App>) -> Json<utoipa::openapi::OpenApi> {
    Json(document(&app))
}
