//! Refreshes that arrive together rotate in one statement (`AUTH_REFRESH_BATCH_MAX`). Two
//! rotation statements run at a time and the test runtime has one thread, so of refreshes
//! sent at once the first two run alone and the rest queue and go together in the next
//! statement. Each must come out as it would alone: its own session rotated once with its own
//! user, a racing duplicate converged, a failed check answered as such without touching the
//! others, a locked session skipped rather than waited for.

use std::{collections::HashMap, time::Duration};

use axum::{body::Body, http::Request, http::StatusCode};
use hasura_jwt_auth::auth::refresh::token::RefreshToken;
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::{self, jwt_payload, str_of, TestApp};

fn refresh_token(res: &common::Response) -> String {
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    str_of(&res.body, "refresh_token").to_owned()
}

fn session_of(token: &str) -> Uuid {
    RefreshToken::parse(token).unwrap().session_id
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

/// Session id → (user id, token counter).
async fn rows(app: &TestApp) -> HashMap<Uuid, (Uuid, i64)> {
    sqlx::query_as::<_, (Uuid, Uuid, i64)>("SELECT id, user_id, token_counter FROM sessions")
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, user, counter)| (id, (user, counter)))
        .collect()
}

async fn exec(app: &TestApp, sql: &str, session: Uuid) {
    sqlx::query(sql)
        .bind(session)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// Makes the database run `action` whenever it writes a session of client `agent`.
async fn on_update_for(app: &TestApp, agent: &str, action: &str) {
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION on_marked() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.user_agent = '{agent}' THEN {action}; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER on_marked BEFORE UPDATE ON sessions
             FOR EACH ROW EXECUTE FUNCTION on_marked();"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
}

fn refresh_as<'a>(
    app: &'a TestApp,
    rt: &str,
    agent: &str,
) -> impl std::future::Future<Output = common::Response> + 'a {
    let req = Request::post("/token?grant_type=refresh_token")
        .header("content-type", "application/json")
        .header("user-agent", agent)
        .body(Body::from(
            serde_json::json!({"refresh_token": rt}).to_string(),
        ))
        .unwrap();
    app.request(req)
}

#[sqlx::test(migrations = false)]
async fn refreshes_sent_together_rotate_together_each_as_alone(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let tokens = sessions(&app, 14).await;
    let before = rows(&app).await;
    // Sessions 0-9 are refreshed as they are; 2 and 3 twice (a racing retry). The last four
    // fail a check, each a different one, and come last so that they share a statement.
    let user_of = |i: usize| before[&session_of(&tokens[i])].0;
    sqlx::query("UPDATE users SET enabled = false WHERE id = $1")
        .bind(user_of(10))
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET banned_until = now() + interval '1 hour' WHERE id = $1")
        .bind(user_of(11))
        .execute(&app.pool)
        .await
        .unwrap();
    let forged = RefreshToken::new_chain(session_of(&tokens[12])).token;
    assert_eq!(
        forged.counter,
        RefreshToken::parse(&tokens[12]).unwrap().counter
    );
    exec(
        &app,
        "UPDATE sessions SET refreshed_at = now() - interval '8 days' WHERE id = $1",
        session_of(&tokens[13]),
    )
    .await;
    let mut presented: Vec<String> = tokens[..10].to_vec();
    presented.extend([tokens[2].clone(), tokens[3].clone()]);
    presented.extend([tokens[10].clone(), tokens[11].clone(), forged.encode()]);
    presented.push(tokens[13].clone());

    let answers = futures::future::join_all(presented.iter().map(|rt| app.refresh(rt))).await;
    assert!(
        app.state.auth.rotations.largest_batch() >= 10,
        "the queued refreshes shared a statement: {}",
        app.state.auth.rotations.largest_batch()
    );

    // The failed checks are answered as alone.
    let codes: Vec<_> = answers[12..]
        .iter()
        .map(|a| str_of(&a.body, "error_code").to_owned())
        .collect();
    assert_eq!(
        codes,
        [
            "user_banned",
            "user_banned",
            "refresh_token_not_found",
            "session_expired"
        ]
    );
    // Each other refresh rotated its own session once, for its own user; the duplicates
    // converged on one token.
    let mut next = HashMap::new();
    for (rt, answer) in presented.iter().zip(&answers).take(12) {
        let new = refresh_token(answer);
        let claims = jwt_payload(str_of(&answer.body, "access_token"));
        let (user, _) = before[&session_of(rt)];
        assert_eq!(claims["sub"], user.to_string(), "its own user");
        assert_eq!(str_of(&answer.body["user"], "id"), user.to_string());
        assert_eq!(session_of(&new), session_of(rt));
        if let Some(earlier) = next.insert(rt.clone(), new.clone()) {
            assert_eq!(earlier, new, "a racing duplicate converges");
        }
    }
    let after = rows(&app).await;
    for rt in &tokens[..10] {
        assert_eq!(after[&session_of(rt)].1, 1, "rotated once");
        refresh_token(&app.refresh(&next[rt]).await);
    }
    for gone in [10, 11, 13] {
        assert!(
            !after.contains_key(&session_of(&tokens[gone])),
            "session {gone} ended"
        );
    }
    assert_eq!(
        after[&session_of(&tokens[12])].1,
        0,
        "the forged token changed nothing"
    );
    refresh_token(&app.refresh(&tokens[12]).await);
}

#[sqlx::test(migrations = false)]
async fn a_locked_session_is_skipped_not_waited_for(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let tokens = sessions(&app, 6).await;
    let locked = session_of(&tokens[5]);
    // Another transaction holds the last session's row (a revocation in progress, say).
    let mut other = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM sessions WHERE id = $1 FOR UPDATE")
        .bind(locked)
        .execute(&mut *other)
        .await
        .unwrap();
    let others = futures::future::join_all(tokens[..5].iter().map(|rt| app.refresh(rt)));
    let waiting = app.refresh(&tokens[5]);
    tokio::pin!(waiting);
    // The five finish while the lock is held; the statement they shared with the locked
    // session did not wait for it.
    let answers = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            // The five first, so that the locked one queues behind them.
            biased;
            answers = others => answers,
            _ = &mut waiting => panic!("the locked session cannot rotate first"),
        }
    })
    .await
    .expect("the other refreshes did not wait for the lock");
    for answer in &answers {
        refresh_token(answer);
    }
    assert!(app.state.auth.rotations.largest_batch() > 1);
    // Released, the skipped refresh completes on its own.
    other.commit().await.unwrap();
    let rt = refresh_token(&waiting.await);
    assert_eq!(session_of(&rt), locked);
    assert_eq!(rows(&app).await[&locked].1, 1);
}

#[sqlx::test(migrations = false)]
async fn a_statement_that_fails_in_the_database_fails_only_its_own_refresh(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let tokens = sessions(&app, 12).await;
    // A database that refuses to write one client's refresh, and so any statement carrying it.
    on_update_for(&app, "refused-client", "RAISE EXCEPTION 'refused'").await;
    // The refused one goes last, behind the first statements: it shares the next one.
    let answers = futures::future::join_all(
        tokens
            .iter()
            .enumerate()
            .map(|(i, rt)| refresh_as(&app, rt, if i == 11 { "refused-client" } else { "bench" })),
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
    let after = rows(&app).await;
    assert_eq!(after.values().filter(|(_, c)| *c == 1).count(), 11);
    assert_eq!(after[&session_of(&tokens[11])].1, 0);
}

#[sqlx::test(migrations = false)]
async fn a_refresh_that_cannot_start_in_time_gets_503_and_changes_nothing(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let tokens = sessions(&app, 3).await;
    // A database that takes 2 s over one client's refreshes: two of them hold both
    // statement places for longer than a refresh may wait (1 s, the pool's wait).
    on_update_for(&app, "slow-client", "PERFORM pg_sleep(2)").await;
    let answers = futures::future::join3(
        refresh_as(&app, &tokens[0], "slow-client"),
        refresh_as(&app, &tokens[1], "slow-client"),
        refresh_as(&app, &tokens[2], "patient-client"),
    )
    .await;
    refresh_token(&answers.0);
    refresh_token(&answers.1);
    let late = answers.2;
    assert_eq!(late.status, StatusCode::SERVICE_UNAVAILABLE, "{late:?}");
    assert_eq!(late.headers["retry-after"], "1");
    // Given up before its statement started: the token it holds is still the current one.
    assert_eq!(rows(&app).await[&session_of(&tokens[2])].1, 0);
    refresh_token(&app.refresh(&tokens[2]).await);
}

#[sqlx::test(migrations = false)]
async fn batch_max_1_runs_every_refresh_alone(db: PgPool) {
    let app = common::app(&db, &["--refresh-batch-max", "1"]).await;
    let tokens = sessions(&app, 6).await;
    let answers = futures::future::join_all(tokens.iter().map(|rt| app.refresh(rt))).await;
    for answer in &answers {
        refresh_token(answer);
    }
    assert_eq!(app.state.auth.rotations.largest_batch(), 0);
    assert!(rows(&app).await.values().all(|(_, c)| *c == 1));
}
