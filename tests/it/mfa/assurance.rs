//! Multi-factor authentication: the assurance level and methods in tokens and Hasura's
//! claims.

use crate::common::{self, hasura, jwt_payload, str_of, PASSWORD, SECRET};
use axum::http::StatusCode;
use sqlx::PgPool;

fn access(res: &common::Response) -> String {
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    str_of(&res.body, "access_token").to_owned()
}

#[sqlx::test(migrations = false)]
async fn tokens_say_how_sure_the_session_is_and_refresh_keeps_it(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let signed_up = app.signup("a@example.com").await;
    let token = access(&signed_up);
    let payload = jwt_payload(&token);
    assert_eq!(payload["aal"], "aal1");
    assert_eq!(payload["is_anonymous"], false);
    assert_eq!(payload["session_id"], payload["sid"]);
    let amr = payload["amr"].as_array().unwrap();
    assert_eq!(amr.len(), 1);
    assert_eq!(amr[0]["method"], "password");
    let at = amr[0]["timestamp"].as_i64().unwrap();
    assert!((at - chrono::Utc::now().timestamp()).abs() <= 5, "{at}");
    let claims = hasura::check(&token, &hasura::hmac(SECRET), &hasura::Expect::default());
    assert_eq!(claims["x-hasura-aal"], "aal1");

    // A refresh keeps the level and the methods, as stored with the session.
    let session_id = str_of(&payload, "session_id").to_owned();
    sqlx::query(
        "UPDATE sessions SET aal = 2,
                amr = jsonb_build_array(jsonb_build_object('method', 'totp', 'timestamp', 1700000000)) || amr
         WHERE id = $1::uuid",
    )
    .bind(&session_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let refreshed = app.refresh(str_of(&signed_up.body, "refresh_token")).await;
    let payload = jwt_payload(&access(&refreshed));
    assert_eq!(payload["aal"], "aal2");
    assert_eq!(payload["session_id"], session_id.as_str());
    let methods: Vec<_> = payload["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["method"].clone())
        .collect();
    assert_eq!(methods, ["totp", "password"]);
    let claims = hasura::check(
        &access(&refreshed),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_eq!(claims["x-hasura-aal"], "aal2");

    // A sign-in opens another session at aal1, whatever the first one reached.
    let signed_in = app.sign_in("a@example.com", PASSWORD).await;
    let payload = jwt_payload(&access(&signed_in));
    assert_eq!(payload["aal"], "aal1");
    assert_ne!(payload["session_id"], session_id.as_str());
}
