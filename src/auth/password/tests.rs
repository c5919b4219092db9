//! Tests of the password hasher.
use super::*;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash},
    Algorithm, Argon2, Version,
};

/// A hasher with `threads` threads, a queue of `queue`, and `extra` settings.
fn hasher_with(threads: usize, queue: usize, extra: &[&str]) -> PasswordHasher {
    let queue = queue.to_string();
    let mut args = vec![
        "--password-hash-queue",
        &queue,
        "--legacy-hmac-secret",
        "old-secret",
    ];
    if !extra.contains(&"--password-hash-nice") {
        args.extend(["--password-hash-nice", "0"]);
    }
    args.extend_from_slice(extra);
    let config = crate::config::Config::from_args(args).unwrap();
    PasswordHasher::new(&config.passwords, threads).unwrap()
}

fn hasher() -> PasswordHasher {
    hasher_with(2, 16, &[])
}

#[tokio::test]
async fn argon2id_round_trip_with_explicit_params() {
    let h = hasher();
    let hash = h.hash(&Secret::new("correct horse")).await.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let ok = h
        .verify(&Secret::new("correct horse"), Some(&hash))
        .await
        .unwrap();
    assert_eq!(
        ok,
        PasswordCheck {
            ok: true,
            needs_rehash: false
        }
    );
    assert!(
        !h.verify(&Secret::new("wrong horse"), Some(&hash))
            .await
            .unwrap()
            .ok
    );
}

#[tokio::test]
async fn phc_strings_interoperate_with_the_argon2_crate() {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
    let h = hasher();
    let ours = h.hash(&Secret::new("portable pw")).await.unwrap();
    let parsed = PasswordHash::new(&ours).unwrap();
    assert!(Argon2::default()
        .verify_password(b"portable pw", &parsed)
        .is_ok());
    assert!(Argon2::default()
        .verify_password(b"other pw", &parsed)
        .is_err());
    let theirs = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(8192, 3, 2, None).unwrap(),
    )
    .hash_password(b"portable pw", &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    let v = h
        .verify(&Secret::new("portable pw"), Some(&theirs))
        .await
        .unwrap();
    assert_eq!(
        v,
        PasswordCheck {
            ok: true,
            needs_rehash: true
        }
    );
    assert!(
        !h.verify(&Secret::new("portable px"), Some(&theirs))
            .await
            .unwrap()
            .ok
    );
}

#[tokio::test]
async fn argon2_versions_and_limits() {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let h = hasher();
    // Version 0x10 hashes, with and without `v=` (the reference default), verify and upgrade.
    let old = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x10,
        Params::new(19_456, 2, 1, None).unwrap(),
    )
    .hash_password(b"old version pw", &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    assert!(old.starts_with("$argon2id$v=16$"), "{old}");
    assert_eq!(
        h.verify(&Secret::new("old version pw"), Some(&old))
            .await
            .unwrap(),
        PasswordCheck {
            ok: true,
            needs_rehash: true
        }
    );
    let no_v = old.replace("$v=16", "");
    assert_eq!(
        h.verify(&Secret::new("old version pw"), Some(&no_v))
            .await
            .unwrap(),
        PasswordCheck {
            ok: true,
            needs_rehash: true
        }
    );
    // Absurd imported parameters are refused without computing anything.
    let huge = "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    assert!(!is_supported_hash(huge));
    assert!(!h.verify(&Secret::new("x"), Some(huge)).await.unwrap().ok);
    assert!(!is_supported_hash(
        "$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA"
    ));
    assert!(!is_supported_hash(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0"
    ));
    assert!(is_supported_hash(&old));
}

#[tokio::test]
async fn an_unknown_account_costs_a_full_argon2id_verification() {
    use std::sync::atomic::Ordering;
    let h = hasher();
    assert!(
        h.dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "same parameters as real hashes"
    );
    let before = h.stats.queued.load(Ordering::Relaxed);
    assert!(
        !h.verify(&Secret::new("whatever pw"), None)
            .await
            .unwrap()
            .ok
    );
    assert_eq!(
        h.stats.queued.load(Ordering::Relaxed),
        before + 1,
        "the dummy hash was really verified"
    );
    let real = h.hash(&Secret::new("whatever pw")).await.unwrap();
    let before = h.stats.queued.load(Ordering::Relaxed);
    assert!(
        !h.verify(&Secret::new("wrong pw!"), Some(&real))
            .await
            .unwrap()
            .ok
    );
    assert_eq!(
        h.stats.queued.load(Ordering::Relaxed),
        before + 1,
        "a wrong password costs one verification too"
    );
}

#[tokio::test]
async fn unknown_account_never_verifies() {
    let h = hasher();
    assert!(
        !h.verify(&Secret::new("dummy password, never matches"), None)
            .await
            .unwrap()
            .ok
    );
}

#[tokio::test]
async fn bcrypt_and_weaker_argon2_verify_and_ask_for_an_upgrade() {
    let h = hasher();
    let bc = bcrypt::hash("pässword1", 4).unwrap();
    assert_eq!(
        h.verify(&Secret::new("pässword1"), Some(&bc))
            .await
            .unwrap(),
        PasswordCheck {
            ok: true,
            needs_rehash: true
        }
    );
    let weak = hasher_with(1, 4, &["--argon2-iterations", "3"]);
    let other = weak.hash(&Secret::new("abcdefgh")).await.unwrap();
    assert_eq!(
        h.verify(&Secret::new("abcdefgh"), Some(&other))
            .await
            .unwrap(),
        PasswordCheck {
            ok: true,
            needs_rehash: true
        }
    );
    assert!(
        !h.verify(&Secret::new("x"), Some("garbage"))
            .await
            .unwrap()
            .ok
    );
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_with_retry_after() {
    let h = hasher_with(1, 1, &[]);
    let pw = Secret::new("queue pw");
    // One thread, one queue slot: of three at once, at least one cannot even queue.
    let results = futures_join3(
        h.verify(&pw, None),
        h.verify(&pw, None),
        h.verify(&pw, None),
    )
    .await;
    let refused: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!refused.is_empty(), "the queue is bounded");
    for e in refused {
        assert_eq!(e.kind, crate::error::Kind::Unavailable);
        assert_eq!(e.retry_after, Some(1));
    }
}

async fn futures_join3<T>(
    a: impl std::future::Future<Output = T>,
    b: impl std::future::Future<Output = T>,
    c: impl std::future::Future<Output = T>,
) -> [T; 3] {
    let (a, b, c) = tokio::join!(a, b, c);
    [a, b, c]
}

#[tokio::test]
async fn jobs_nobody_waits_for_are_skipped() {
    use std::time::Duration;
    let h = hasher_with(1, 8, &[]);
    let pw = Secret::new("abandoned pw");
    // Queue a job that keeps the one thread busy.
    let mut busy = Box::pin(h.verify(&pw, None));
    assert!(futures::poll!(&mut busy).is_pending());
    // Queued behind it, then given up (its request timed out).
    let gave_up = tokio::time::timeout(Duration::from_millis(1), h.verify(&pw, None)).await;
    assert!(gave_up.is_err(), "still queued after 1 ms");
    busy.await.unwrap();
    // A later job runs after the abandoned one has been skipped.
    h.verify(&pw, None).await.unwrap();
    assert_eq!(h.stats().abandoned.load(Ordering::Relaxed), 1);
    assert_eq!(h.stats().argon2_runs.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn every_failure_costs_an_argon2id_verification() {
    let h = hasher();
    let runs = || h.stats().argon2_runs.load(Ordering::Relaxed);
    let pw = Secret::new("some password");
    let current = h.hash(&Secret::new("other password")).await.unwrap();
    let bcrypt = bcrypt::hash("other password", 4).unwrap();
    let plpgsql = imported::plpgsql_hash(
        &bcrypt::hash(
            imported::plpgsql_hmac_text("old-secret", "other password"),
            4,
        )
        .unwrap(),
    );
    let too_costly = "$2b$13$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";
    for stored in [
        None,
        Some(current.as_str()),
        Some(bcrypt.as_str()),
        Some(plpgsql.as_str()),
        Some(too_costly),
        Some("garbage"),
    ] {
        let before = runs();
        assert!(!h.verify(&pw, stored).await.unwrap().ok);
        assert_eq!(runs() - before, 1, "one Argon2id run for {stored:?}");
    }
}

#[test]
fn imported_hash_costs_are_capped() {
    assert!(is_supported_hash(&bcrypt::hash("x", 4).unwrap()));
    assert!(is_supported_hash(
        "$2b$12$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
    ));
    assert!(!is_supported_hash(
        "$2b$13$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
    ));
    assert!(!is_supported_hash(
        "$2b$31$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
    ));
    let salt = "c2FsdHNhbHRzYWx0";
    let out = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    assert!(is_supported_hash(&format!(
        "$argon2id$v=19$m=131072,t=10,p=8${salt}${out}"
    )));
    for (m, t, p) in [(131_073, 2, 1), (19_456, 11, 1), (19_456, 2, 9)] {
        assert!(!is_supported_hash(&format!(
            "$argon2id$v=19$m={m},t={t},p={p}${salt}${out}"
        )));
    }
}

/// A hashing thread keeps its 19 MiB only while there is work: once it has waited a second
/// for more, it gives them back, so an idle server holds no hashing memory.
#[tokio::test]
async fn idle_hashing_threads_hold_no_memory() {
    let h = hasher_with(1, 4, &[]);
    let held_while_hashing = h
        .run(|| {
            argon::hash_phc(
                &Params::new(19_456, 2, 1, None).unwrap(),
                "pw",
                Memory::Reuse,
            )
            .unwrap();
            argon::thread_memory_kib()
        })
        .await
        .unwrap();
    assert_eq!(held_while_hashing, 19_456);
    // A thread that has waited a second for work frees its buffer; each probe is a job of
    // its own, sent after more than that second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        let held = h.run(argon::thread_memory_kib).await.unwrap();
        if held == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still holds {held} KiB"
        );
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashing_threads_run_at_a_lower_priority() {
    use rustix::process::getpriority_process;
    let mine = getpriority_process(None).unwrap();
    let lowered = hasher_with(1, 4, &["--password-hash-nice", "5"]);
    let theirs = lowered.run(|| getpriority_process(None).unwrap()).await;
    assert_eq!(theirs.unwrap(), (mine + 5).min(19));
    // 0 leaves them at the server's priority.
    let same = hasher().run(|| getpriority_process(None).unwrap()).await;
    assert_eq!(same.unwrap(), mine);
}
