//! The composition root: the one place that builds the application (pool, keys, password
//! hasher, services) from the configuration. `serve`, every CLI command, the tests and the
//! benchmark all build through here, so they run the same wiring.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::{
    admin::Admin,
    auth::{
        email::EmailPolicy,
        keys::KeySet,
        lockout::Lockout,
        password::{HasherSettings, PasswordHasher},
        rate_limit::{Limits, SharedLimiter},
        rotation_batch::RotationBatcher,
        session_cache::SessionCache,
        tokens::AccessTokens,
        Auth, Policy,
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
    /// The hosted pages' templates; `None` with `AUTH_DISABLE_UI`.
    pub pages: Option<Arc<crate::http::ui::Pages>>,
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

    /// Wires the services from validated settings.
    fn assemble(config: Config, pool: PgPool, keys: KeySet) -> anyhow::Result<Self> {
        let tokens = AccessTokens {
            keys: Arc::new(keys),
            issuer: config.issuer(),
            audience: config.tokens.jwt_audience.clone(),
            ttl: config.tokens.access_token_ttl,
            namespace: config.hasura.hasura_claims_namespace.clone(),
            format: config.hasura.hasura_claims_format,
            verified: Arc::new(crate::auth::verified_tokens::VerifiedTokens::new(
                config.sessions.session_cache_size,
            )),
        };
        let hasher = password_hasher(&config, config.passwords.concurrency())?;
        let policy = Policy {
            reuse_interval: config.sessions.refresh_token_reuse_interval,
            idle_timeout: config.sessions.session_idle_timeout.0,
            max_lifetime: config.sessions.session_max_lifetime.0,
            default_role: config.accounts.default_role.clone(),
            default_allowed_roles: config.accounts.default_allowed_roles.clone(),
            disable_signup: config.accounts.disable_signup,
            email_confirmation_required: config.mail.email_confirmation_required,
            custom_claims_sql: config.hasura.custom_claims_sql.clone(),
            session_values: config.hasura.session_values(),
            reauthentication_window: config.sessions.reauthentication_window,
            lockout: Lockout {
                threshold: config.accounts.account_lockout_threshold,
                max: config.accounts.account_lockout_max,
            },
            email: EmailPolicy {
                site_url: config.site_url(),
                public_url: config.public_url(),
                redirect_urls: redirect_urls(&config),
                secure_email_change: config.mail.secure_email_change,
                link_ttl: config.mail.email_link_ttl,
                code_ttl: config.mail.email_code_ttl,
                code_attempts: config.mail.email_code_attempts,
                min_interval: config.mail.email_min_interval,
                hourly_limit: config.mail.email_hourly_limit,
            },
        };
        let mailer = Mailer::new(Templates::load(config.mail.email_templates_dir.as_deref())?);
        let delivery = Delivery::new(&config.mail, pool.clone(), mailer.wake_handle())?;
        let limits = limits(&config, &pool);
        let session_cache = Arc::new(SessionCache::new(config.sessions.session_cache_size));
        let rotations = Arc::new(RotationBatcher::new(
            pool.clone(),
            policy.lifetimes(),
            config.sessions.refresh_batch_max,
            store::ACQUIRE_TIMEOUT,
        ));
        Ok(Self(Arc::new(Services {
            admin: admin_service(&config, pool.clone(), hasher.clone(), session_cache.clone()),
            auth: Auth {
                pool,
                tokens,
                hasher,
                policy: Arc::new(policy),
                mailer,
                providers: crate::auth::external::Providers::from_config(&config)?,
                session_cache,
                salt_cache: Arc::new(crate::auth::salt_cache::SaltCache::new(
                    config.sessions.session_cache_size,
                )),
                rotations,
                limits,
            },
            delivery,
            pages: match config.ui.disable_ui {
                true => None,
                false => Some(Arc::new(crate::http::ui::Pages::load(&config)?)),
            },
            config: Arc::new(config),
        })))
    }

    pub fn pool(&self) -> &PgPool {
        &self.auth.pool
    }

    /// Keeps the session cache in step with the database (when the cache is on).
    pub fn start_session_listener(&self) {
        if self.config.sessions.session_cache_size > 0 {
            tokio::spawn(crate::auth::session_cache::run_listener(
                self.pool().clone(),
                self.config.db.db_schema.clone(),
                self.auth.session_cache.clone(),
            ));
        }
    }

    /// Starts the background work of a running server: housekeeping, email requests and
    /// delivery, and the session cache's listener.
    pub fn start_background(&self) {
        let app = self.clone();
        supervised("housekeeping", move || {
            crate::housekeeping::run(app.clone())
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

/// Where email links and external sign-ins may lead: `AUTH_REDIRECT_URLS`, and the hosted
/// pages (a recovery link lands on their "set a new password" page).
fn redirect_urls(config: &Config) -> Vec<String> {
    let mut urls = config.mail.redirect_urls.clone();
    if !config.ui.disable_ui {
        urls.push(format!("{}/ui/**", config.public_url()));
    }
    urls
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

/// The password hasher with the configured Argon2id parameters and `threads` hashing threads.
pub fn password_hasher(config: &Config, threads: usize) -> anyhow::Result<PasswordHasher> {
    let p = &config.passwords;
    PasswordHasher::new(HasherSettings {
        memory_kib: p.argon2_memory_kib,
        iterations: p.argon2_iterations,
        parallelism: p.argon2_parallelism,
        threads,
        queue: p.password_hash_queue,
        nice: p.password_hash_nice,
        plpgsql_secret: p.legacy_hmac_secret.clone(),
        policy: p.policy(),
    })
}

fn admin_service(
    config: &Config,
    pool: PgPool,
    hasher: PasswordHasher,
    session_cache: Arc<SessionCache>,
) -> Admin {
    Admin {
        pool,
        session_cache,
        hasher,
        default_role: config.accounts.default_role.clone(),
        default_allowed_roles: config.accounts.default_allowed_roles.clone(),
    }
}

/// The administration service alone, as the CLI's user, session, audit and import commands
/// use it: no signing keys needed, one hashing thread.
pub async fn admin(config: &Config) -> anyhow::Result<Admin> {
    config.validate()?;
    let pool = database(&config.db).await?;
    // The CLI keeps no sessions in memory: its changes reach the servers through the database.
    let no_cache = Arc::new(SessionCache::new(0));
    Ok(admin_service(
        config,
        pool,
        password_hasher(config, 1)?,
        no_cache,
    ))
}
