//! Identities joining accounts: a verified address joins its account (an unverified one never),
//! a signed-in user links and unlinks providers, an unverified identity goes when the owner
//! proves the address, and no account opens on an unverified address when confirmation is
//! required.

use super::{callback, me, oidc_app, params, pkce, sign_in, user_count, CALLBACK, WELCOME};
use crate::common::{
    self,
    oidc::{Browser, Oidc},
    str_of, PASSWORD,
};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn a_verified_address_joins_its_account_an_unverified_one_never(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let alice = app.signup("alice@example.com").await;
    assert_eq!(alice.status, StatusCode::OK, "{alice:?}");
    let victim = app.signup("victim@example.com").await;
    assert_eq!(victim.status, StatusCode::OK, "{victim:?}");

    // alice's address is verified at the provider: her identity joins her account. It is
    // the first proof of the address (the sign-up proved nothing), so the password chosen at
    // sign-up goes: whoever signed up might not have been alice.
    let location = sign_in(&app, WELCOME, "alice").await;
    let user = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(user["id"], alice.body["user"]["id"]);
    assert_eq!(user["app_metadata"]["providers"], json!(["email", "acme"]));
    assert_eq!(user["identities"].as_array().unwrap().len(), 2);
    assert_eq!(
        user["identities"][0]["identity_data"]["email_verified"],
        true
    );
    assert_eq!(
        app.sign_in("alice@example.com", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    // A proven address keeps what is set up after the proof.
    let at = params(&location, '#')["access_token"].clone();
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let location = sign_in(&app, WELCOME, "alice").await;
    assert!(location.contains("access_token="), "{location}");
    assert_eq!(
        app.sign_in("alice@example.com", PASSWORD).await.status,
        StatusCode::OK
    );

    // mallory claims victim@example.com without having verified it: refused, nothing linked
    // or created.
    let location = sign_in(&app, WELCOME, "mallory").await;
    assert!(
        location.starts_with("https://app.example.com/welcome#error="),
        "{location}"
    );
    assert_eq!(params(&location, '#')["error_code"], "email_exists");
    let linked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM identities WHERE provider_id = 'mallory'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(linked, 0);
    assert_eq!(user_count(&app).await, 2);
    let res = app.sign_in("victim@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "the victim keeps their account");
}

#[sqlx::test(migrations = false)]
async fn a_signed_in_user_links_and_unlinks_providers(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let res = app.signup("carol@example.com").await;
    let token = str_of(&res.body, "access_token").to_owned();

    // Linking needs the PKCE flow.
    let link_uri = format!("/user/identities/authorize?{WELCOME}&skip_http_redirect=true");
    let res = app.call(Method::GET, &link_uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let (verifier, challenge) = pkce();
    let link_uri = format!("{link_uri}&code_challenge={challenge}&code_challenge_method=s256");
    let identity_count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM identities")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };

    // auth-js's linkIdentity: the URL as JSON, then the browser goes there. Completed in
    // someone else's browser (a link URL sent to a victim), it links nothing: the link
    // happens only at the exchange, with the verifier of the app that asked.
    let res = app.call(Method::GET, &link_uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let back = Browser::new()
        .sign_in(str_of(&res.body, "url"), "bob", CALLBACK)
        .await;
    let location = callback(&app, &back, None).await;
    let code = params(&location, '?')["code"].clone();
    assert_eq!(identity_count().await, 0);
    let res = app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": "w".repeat(43)}),
        )
        .await;
    assert_eq!(res.body["error_code"], "bad_code_verifier", "{res:?}");
    assert_eq!(identity_count().await, 0);

    // The app that asked exchanges the code: linked, and a session of the same user.
    let res = app.call(Method::GET, &link_uri, Some(&token), None).await;
    let back = Browser::new()
        .sign_in(str_of(&res.body, "url"), "bob", CALLBACK)
        .await;
    let location = callback(&app, &back, None).await;
    let code = params(&location, '?')["code"].clone();
    let res = app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let user = me(&app, &token).await;
    assert_eq!(res.body["user"]["id"], user["id"]);
    assert_eq!(
        user["email"], "carol@example.com",
        "linking keeps the user's address"
    );
    let identities = user["identities"].as_array().unwrap().clone();
    assert_eq!(identities.len(), 2, "{identities:?}");
    let acme = identities.iter().find(|i| i["provider"] == "acme").unwrap();

    // bob's identity now signs carol in.
    let location = sign_in(&app, WELCOME, "bob").await;
    let signed = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(signed["id"], user["id"]);

    // Another user cannot take it.
    let dave = app.signup("dave@example.com").await;
    let dave_token = str_of(&dave.body, "access_token").to_owned();
    let res = app
        .call(Method::GET, &link_uri, Some(&dave_token), None)
        .await;
    let back = Browser::new()
        .sign_in(str_of(&res.body, "url"), "bob", CALLBACK)
        .await;
    let location = callback(&app, &back, None).await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "identity_already_exists",
        "{location}"
    );

    let uri = format!("/user/identities/{}", str_of(acme, "identity_id"));
    let res = app.call(Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        me(&app, &token).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let res = app.call(Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");

    // A user whose only way in is the provider cannot unlink it.
    let location = sign_in(&app, WELCOME, "erin").await;
    let erin_token = params(&location, '#')["access_token"].clone();
    let erin = me(&app, &erin_token).await;
    assert_eq!(erin["identities"].as_array().unwrap().len(), 1, "{erin}");
    let uri = format!(
        "/user/identities/{}",
        str_of(&erin["identities"][0], "identity_id")
    );
    let res = app
        .call(Method::DELETE, &uri, Some(&erin_token), None)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    assert_eq!(res.body["error_code"], "single_identity_not_deletable");
    // Once erin sets a password, she has the email identity too and may unlink.
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&erin_token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        res.body["app_metadata"]["providers"],
        json!(["email", "acme"])
    );
    let res = app
        .call(Method::DELETE, &uri, Some(&erin_token), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event FROM audit_log WHERE event LIKE 'identity_%' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        events,
        ["identity_linked", "identity_unlinked", "identity_unlinked"]
    );
    // An unlinking names the provider and the session that did it.
    let (session, detail): (Option<uuid::Uuid>, Value) = sqlx::query_as(
        "SELECT session_id, detail FROM audit_log WHERE event = 'identity_unlinked'
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let sid = common::jwt_payload(&erin_token)["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(session.map(|s| s.to_string()), Some(sid));
    assert_eq!(detail["provider"], "acme");
}

/// Pre-account takeover: someone signs up first with the victim's address through a provider
/// that did not verify it. When the owner proves the address, that identity goes.
#[sqlx::test(migrations = false)]
async fn an_unverified_identity_goes_when_the_owner_proves_the_address(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let location = sign_in(&app, WELCOME, "mallory").await;
    let squatter = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(squatter["email"], "victim@example.com");
    assert!(squatter["email_confirmed_at"].is_null());

    // The owner signs in with a provider account that verified the address ("victim" has
    // victim@example.com, verified): it takes over the unconfirmed account, without
    // mallory's identity or sessions.
    let location = sign_in(&app, WELCOME, "victim").await;
    let owner = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(owner["id"], squatter["id"]);
    assert!(!owner["email_confirmed_at"].is_null());
    let subjects: Vec<&str> = owner["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["victim"]);
    assert_eq!(app.session_count(str_of(&owner, "id")).await, 1);
    // mallory is now refused.
    let location = sign_in(&app, WELCOME, "mallory").await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "email_exists",
        "{location}"
    );
}

#[sqlx::test(migrations = false)]
async fn an_unverified_address_opens_no_account_when_confirmation_is_required(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(
        &db,
        &oidc.providers_setting("acme"),
        &["--email-confirmation-required"],
    )
    .await;
    let location = sign_in(&app, WELCOME, "mallory").await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "provider_email_needs_verification",
        "{location}"
    );
    assert_eq!(user_count(&app).await, 0);
    // A verified address opens one at once.
    let location = sign_in(&app, WELCOME, "alice").await;
    assert!(location.contains("access_token="), "{location}");
}

#[sqlx::test(migrations = false)]
async fn an_anonymous_user_converts_by_linking_an_identity(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &["--anonymous-users"]).await;
    let link = |token: String| {
        let app = &app;
        async move {
            let (verifier, challenge) = pkce();
            let uri = format!(
                "/user/identities/authorize?{WELCOME}&skip_http_redirect=true\
                 &code_challenge={challenge}&code_challenge_method=s256"
            );
            let res = app.call(Method::GET, &uri, Some(&token), None).await;
            assert_eq!(res.status, StatusCode::OK, "{res:?}");
            (str_of(&res.body, "url").to_owned(), verifier)
        }
    };
    let exchange = |location: String, verifier: String| {
        let app = &app;
        async move {
            let code = params(&location, '?')["code"].clone();
            app.post(
                "/token?grant_type=pkce",
                json!({"auth_code": code, "code_verifier": verifier}),
            )
            .await
        }
    };

    // The address the identity brings belongs to another account: refused, nothing merged.
    app.signup("alice@example.com").await;
    let guest = app.post("/signup", json!({})).await;
    let token = str_of(&guest.body, "access_token").to_owned();
    let (url, verifier) = link(token.clone()).await;
    let back = Browser::new().sign_in(&url, "alice", CALLBACK).await;
    let location = callback(&app, &back, None).await;
    let res = exchange(location, verifier).await;
    assert_eq!(res.body["error_code"], "email_exists", "{res:?}");
    assert_eq!(me(&app, &token).await["is_anonymous"], true);

    // An identity of its own: the same user, now a full one with the identity's address.
    let (url, verifier) = link(token.clone()).await;
    let back = Browser::new().sign_in(&url, "gina", CALLBACK).await;
    let location = callback(&app, &back, None).await;
    let res = exchange(location, verifier).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let user = &res.body["user"];
    assert_eq!(user["id"], guest.body["user"]["id"]);
    assert_eq!(user["is_anonymous"], false);
    assert_eq!(user["email"], "gina@example.com");
    assert_eq!(user["app_metadata"]["default_role"], "user");
    let claims = common::jwt_payload(str_of(&res.body, "access_token"));
    assert_eq!(claims["is_anonymous"], false);
    assert_eq!(
        claims["https://hasura.io/jwt/claims"]["x-hasura-default-role"],
        "user"
    );
    let by: Value =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'anonymous_converted'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(by, json!({"by": "identity"}));
}
