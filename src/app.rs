//! The composition root: the one place that builds the application (pool, keys, password
//! hasher, services) from the configuration. `serve`, every CLI command, the tests and the
//! benchmark all build through here, so they run the same wiring.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::{
    admin::Admin,
    auth::{
        keys::KeySet,
        password::PasswordHasher,
        rate_limit::{Limits, SharedLimiter},
        refresh::{batch::RotationBatcher, salts::SaltCache},
        session_cache::SessionCache,
        tokens::AccessTokens,
        Auth,
    },
    config::{Config, DbArgs},
    mail::{delivery::Delivery, Mailer, Templates},
    store,
};

/// Everything a request handler needs, behind one `Arc`: every request clones the state, so
/// a clone is one reference count (read the fields through `Deref`). No global state: tests
/// build as many as they like.
#[derive(Clone)]
pub struct App(Arc<Services>);

impl std::ops::Deref for App {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What an [`App`] holds.
pub struct Services {
    pub auth: Auth,
    pub admin: Admin,
    /// Sends the outbox; run it with [`App::start_background`].
    pub delivery: Delivery,
    pub config: Arc<Config>,
}

impl App {
    /// The server as `serve` runs it: validated settings, keys, a migrated database, a
    /// checked custom-claims query, and the services.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        config.validate()?;
        let keys = load_keys(&config)?;
        let pool = database(&config.db).await?;
        if let Some(sql) = &config.hasura.custom_claims_sql {
            store::claims::check_custom_claims_sql(&pool, sql).await?;
        }
        Self::assemble(config, pool, keys)
    }

    /// The services over a pool and keys the caller made (tests and the benchmark bring their
    /// own database and keys).
    pub fn from_parts(config: Config, pool: PgPool, keys: KeySet) -> anyhow::Result<Self> {
        config.validate()?;
        Self::assemble(config, pool, keys)
    }

    /// Wires the services from validated settings. Each reads the settings it needs from the
    /// one `Config` they share.
    fn assemble(config: Config, pool: PgPool, keys: KeySet) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let cache_size = config.sessions.session_cache_size;
        let hasher = PasswordHasher::new(&config.passwords, config.passwords.concurrency())?;
        let mailer = Mailer::new(Templates::load(config.mail.email_templates_dir.as_deref())?);
        let delivery = Delivery::new(&config.mail, pool.clone(), mailer.wake_handle())?;
        let session_cache = Arc::new(SessionCache::new(cache_size));
        let rotations = Arc::new(RotationBatcher::new(
            pool.clone(),
            (&config.sessions).into(),
            config.sessions.refresh_batch_max,
            store::ACQUIRE_TIMEOUT,
        ));
        Ok(Self(Arc::new(Services {
            admin: Admin {
                pool: pool.clone(),
                session_cache: session_cache.clone(),
                hasher: hasher.clone(),
                config: config.clone(),
            },
            auth: Auth {
                tokens: AccessTokens::new(&config, Arc::new(keys)),
                limits: limits(&config, &pool),
                hasher,
                mailer,
                providers: crate::auth::external::Providers::from_config(&config)?,
                session_cache,
                salt_cache: Arc::new(SaltCache::new(cache_size)),
                rotations,
                mfa_key: mfa_key(&config)?,
                passkeys: crate::auth::passkeys::Passkeys::from_config(&config)?,
                config: config.clone(),
                pool,
            },
            delivery,
            config,
        })))
    }

    pub fn pool(&self) -> &PgPool {
        &self.auth.pool
    }

    /// Keeps the session cache in step with the database (when the cache is on).
    pub fn start_session_listener(&self) -> Option<JoinHandle<()>> {
        (self.config.sessions.session_cache_size > 0).then(|| {
            tokio::spawn(crate::auth::session_cache::run_listener(
                self.pool().clone(),
                self.config.db.db_schema.clone(),
                self.auth.session_cache.clone(),
            ))
        })
    }

    /// Starts the background work of a running server: housekeeping, email requests and
    /// delivery, and the session cache's listener.
    pub fn start_background(&self) {
        let auth = self.auth.clone();
        supervised("housekeeping", move || {
            crate::housekeeping::run(auth.clone())
        });
        self.start_session_listener();
        self.start_mail();
    }

    /// Starts the email workers: requests for messages, and delivery.
    pub fn start_mail(&self) -> [JoinHandle<()>; 2] {
        let auth = self.auth.clone();
        let delivery = self.delivery.clone();
        [
            supervised("email requests", move || {
                crate::auth::email::queue::run(auth.clone())
            }),
            supervised("email delivery", move || delivery.clone().run()),
        ]
    }
}

/// The rate limits of the core, in the database's `client_rate_limits`.
fn limits(config: &Config, pool: &PgPool) -> Limits {
    Limits {
        sign_in: SharedLimiter::per_minute(
            pool.clone(),
            "sign_in",
            config.accounts.rate_limit_sign_in,
        ),
        email: SharedLimiter::per_hour(pool.clone(), "email", config.mail.rate_limit_email),
        code_guesses: SharedLimiter::per_hour(
            pool.clone(),
            "code_guesses",
            config.mail.email_code_guesses_per_hour,
        ),
        anonymous: SharedLimiter::per_hour(
            pool.clone(),
            "anonymous_sign_in",
            config.anonymous.rate_limit_anonymous_users,
        ),
        api_key: SharedLimiter::per_minute(
            pool.clone(),
            "api_key",
            config.organizations.api_key_rate_limit,
        ),
        oauth_registration: SharedLimiter::per_hour(
            pool.clone(),
            "oauth_registration",
            config.oauth_server.rate_limit_oauth_registration,
        ),
        oauth_authorize: SharedLimiter::per_minute(
            pool.clone(),
            "oauth_authorize",
            config.oauth_server.rate_limit_oauth_authorize,
        ),
    }
}

/// Runs the loop that `start` makes, starting it again (with an error in the log) should it
/// panic: a background worker must not stop silently. Aborting the handle stops it.
fn supervised<F, Fut>(name: &'static str, start: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    /// Aborts the loop when the supervisor is aborted (dropped at its await).
    struct AbortOnDrop(JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    tokio::spawn(async move {
        loop {
            let mut running = AbortOnDrop(tokio::spawn(start()));
            match (&mut running.0).await {
                Err(e) if e.is_panic() => {
                    tracing::error!(task = name, "background task panicked; starting it again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                _ => return,
            }
        }
    })
}

/// The signing keys, with a warning in the log when the development key is in use.
pub fn load_keys(config: &Config) -> anyhow::Result<KeySet> {
    let keys = KeySet::load(&config.keys)?;
    if keys.development {
        tracing::warn!(
            key = %keys.signing().source,
            "no signing key configured: using a DEVELOPMENT Ed25519 key. Configure AUTH_JWT_SECRET or \
             AUTH_JWT_PRIVATE_KEY_FILE in production"
        );
    }
    tracing::info!(alg = keys.signing().alg.name(), kid = ?keys.signing().kid, "signing key loaded");
    Ok(keys)
}

/// A pool on the configured database, migrated to this version's schema.
pub async fn database(db: &DbArgs) -> anyhow::Result<PgPool> {
    let pool = store::connect(db).await?;
    store::migrate(&pool, &db.db_schema).await?;
    Ok(pool)
}

/// The administration service alone, as the CLI's user, session, audit and import commands
/// use it: no signing keys needed, one hashing thread.
pub async fn admin(config: &Config) -> anyhow::Result<Admin> {
    config.validate()?;
    let pool = database(&config.db).await?;
    // The CLI keeps no sessions in memory: its changes reach the servers through the database.
    Ok(Admin {
        pool,
        session_cache: Arc::new(SessionCache::new(0)),
        hasher: PasswordHasher::new(&config.passwords, 1)?,
        config: Arc::new(config.clone()),
    })
}

/// The key TOTP secrets are sealed with: `AUTH_MFA_KEY`, else a development key in
/// `AUTH_DATA_DIR` (with a warning).
pub fn mfa_key(config: &Config) -> anyhow::Result<crate::auth::sealing::SealingKey> {
    let (key, generated) = crate::auth::mfa::load_key(&config.mfa, &config.keys.data_dir)?;
    if generated {
        tracing::warn!(
            data_dir = %config.keys.data_dir.display(),
            "TOTP secrets are encrypted with a development key kept in AUTH_DATA_DIR: \
             set AUTH_MFA_KEY (openssl rand -base64 32), the same on every instance"
        );
    }
    Ok(key)
}
