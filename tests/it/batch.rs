//! Refreshes that arrive together rotate in one statement (`AUTH_REFRESH_BATCH_MAX`). Two
//! rotation statements run at a time, so refreshes sent at once queue behind the first two
//! and go together in the next. Each must come out as it would alone:
//! its own session rotated once, a racing duplicate converged, a failed check answered as
//! such without touching the others.

use std::collections::HashMap;

use axum::http::StatusCode;
use hasura_jwt_auth::auth::refresh_token::RefreshToken;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::common::{self, str_of, TestApp};

fn refresh_token(res: &common::Response) -> String {
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    str_of(&res.body, "refresh_token").to_owned()
}

/// Signs up `n` users; their first refresh tokens.
async fn sessions(app: &TestApp, n: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for i in 0..n {
        tokens.push(refresh_token(
            &app.signup(&format!("batch{i}@example.com")).await,
        ));
    }
    tokens
}

async fn counters(app: &TestApp) -> HashMap<uuid::Uuid, i64> {
    sqlx::query_as::<_, (uuid::Uuid, i64)>("SELECT id, token_counter FROM sessions")
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[sqlx::test(migrations = false)]
async fn refreshes_sent_together_rotate_together_each_as_alone(
    _: PgPoolOptions,
    opts: PgConnectOptions,
) {
    let app = common::app(opts, &[]).await;
    let tokens = sessions(&app, 12).await;
    // Session 0's user is disabled; session 1 is presented with a forged secret; sessions 2
    // and 3 are presented twice (a racing retry); the rest once.
    let user0 = sqlx::query_scalar::<_, uuid::Uuid>("SELECT user_id FROM sessions WHERE id = $1")
        .bind(RefreshToken::parse(&tokens[0]).unwrap().session_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET enabled = false WHERE id = $1")
        .bind(user0)
        .execute(&app.pool)
        .await
        .unwrap();
    let forged = RefreshToken::parse(&tokens[1]).unwrap();
    let forged = RefreshToken::new_chain(forged.session_id).token;
    let mut presented: Vec<String> = tokens.clone();
    presented[1] = {
        // Same session and counter as the real token, another secret.
        let real = RefreshToken::parse(&tokens[1]).unwrap();
        assert_eq!(real.counter, forged.counter);
        forged.encode()
    };
    presented.push(tokens[2].clone());
    presented.push(tokens[3].clone());

    let before = app.state.auth.rotations.largest_batch();
    let answers = futures::future::join_all(presented.iter().map(|rt| app.refresh(rt))).await;
    assert!(
        app.state.auth.rotations.largest_batch() > before.max(1),
        "some refreshes shared a statement"
    );

    // The failed checks are answered as alone, and changed nothing else.
    assert_eq!(str_of(&answers[0].body, "error_code"), "user_banned");
    assert_eq!(
        str_of(&answers[1].body, "error_code"),
        "refresh_token_not_found"
    );
    // Every other session rotated exactly once; the duplicates converged on one token.
    let mut next = HashMap::new();
    for (rt, answer) in presented.iter().zip(&answers).skip(2) {
        let new = refresh_token(answer);
        if let Some(earlier) = next.insert(rt.clone(), new.clone()) {
            assert_eq!(earlier, new, "a racing duplicate converges");
        }
    }
    let after = counters(&app).await;
    assert!(
        !after.contains_key(&RefreshToken::parse(&tokens[0]).unwrap().session_id),
        "the disabled user's sessions are gone"
    );
    assert_eq!(
        after[&RefreshToken::parse(&tokens[1]).unwrap().session_id],
        0
    );
    for rt in &tokens[2..] {
        let id = RefreshToken::parse(rt).unwrap().session_id;
        assert_eq!(after[&id], 1, "rotated once");
        // The token each got is the session's current one.
        refresh_token(&app.refresh(&next[rt]).await);
    }
    assert_eq!(
        counters(&app).await.values().filter(|c| **c == 2).count(),
        10
    );
    // The real token of session 1 is still current.
    refresh_token(&app.refresh(&tokens[1]).await);
}

#[sqlx::test(migrations = false)]
async fn batch_max_1_runs_every_refresh_alone(_: PgPoolOptions, opts: PgConnectOptions) {
    let app = common::app(opts, &["--refresh-batch-max", "1"]).await;
    let tokens = sessions(&app, 6).await;
    let answers = futures::future::join_all(tokens.iter().map(|rt| app.refresh(rt))).await;
    for answer in &answers {
        refresh_token(answer);
    }
    assert_eq!(app.state.auth.rotations.largest_batch(), 0);
    assert!(counters(&app).await.values().all(|c| *c == 1));
}

#[sqlx::test(migrations = false)]
async fn a_statement_that_fails_in_the_database_fails_only_its_own_refresh(
    _: PgPoolOptions,
    opts: PgConnectOptions,
) {
    use axum::{body::Body, http::Request};
    let app = common::app(opts, &[]).await;
    let tokens = sessions(&app, 12).await;
    // A database that refuses to write one client's refresh, and so any statement carrying it.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.user_agent = 'refused-client' THEN RAISE EXCEPTION 'refused'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_marked BEFORE UPDATE ON sessions
             FOR EACH ROW EXECUTE FUNCTION refuse_marked();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let refresh_as = |rt: &str, agent: &'static str| {
        let req = Request::post("/token?grant_type=refresh_token")
            .header("content-type", "application/json")
            .header("user-agent", agent)
            .body(Body::from(
                serde_json::json!({"refresh_token": rt}).to_string(),
            ))
            .unwrap();
        app.request(req)
    };
    // The refused one goes last, behind the first statements: it shares the next one.
    let answers = futures::future::join_all(
        tokens
            .iter()
            .enumerate()
            .map(|(i, rt)| refresh_as(rt, if i == 11 { "refused-client" } else { "bench" })),
    )
    .await;
    assert!(app.state.auth.rotations.largest_batch() > 1);
    for answer in &answers[..11] {
        refresh_token(answer);
    }
    assert_eq!(answers[11].status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !answers[11].body.to_string().contains("refused"),
        "no internals: {:?}",
        answers[11].body
    );
    let after = counters(&app).await;
    assert_eq!(after.values().filter(|c| **c == 1).count(), 11);
    assert_eq!(
        after[&RefreshToken::parse(&tokens[11]).unwrap().session_id],
        0
    );
}
