//! Command-line interface: one binary, several subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::{
    auth::keys::{generate_private_key_pem, KeySet},
    cli_admin::{AuditCommand, ImportCommand, SessionCommand, UserCommand},
    config::{ClaimsFormat, Config, DbArgs, JwtAlgorithm},
    http::{self, AppState},
    store, telemetry,
};

#[derive(Parser, Debug)]
#[command(
    name = "hasura-jwt-auth",
    version,
    about = "Authentication server for Hasura GraphQL Engine with users in PostgreSQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the migrations, then serve the HTTP API.
    Serve(Box<Config>),
    /// Run the migrations only.
    Migrate(DbArgs),
    /// Configuration for Hasura.
    #[command(subcommand)]
    Hasura(HasuraCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Users: add, list, show, disable, enable, set-roles, set-password, delete.
    #[command(subcommand)]
    User(UserCommand),
    /// Sessions: list, revoke.
    #[command(subcommand)]
    Session(SessionCommand),
    /// The audit log: list, prune.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import users from the PL/pgSQL hasura-jwt-auth or from a file.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Subcommand, Debug)]
pub enum HasuraCommand {
    /// Print HASURA_GRAPHQL_JWT_SECRET for the current configuration.
    JwtSecret {
        #[command(flatten)]
        config: Box<Config>,
        /// `key` embeds the signing key (PEM or HMAC secret); `jwk-url` points Hasura at this
        /// server's JWKS (needed for rotation without restarting Hasura). Default: `jwk-url`
        /// when AUTH_PUBLIC_URL is set and the key is asymmetric, else `key`.
        #[arg(long, value_enum)]
        mode: Option<SecretMode>,
    },
    /// Write actions.graphql and actions.yaml (Hasura metadata for the actions handler) into DIR.
    Metadata {
        /// Hasura's metadata directory.
        dir: PathBuf,
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SecretMode {
    Key,
    JwkUrl,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate a new key: a PKCS#8 PEM private key, or an HMAC secret for HS*.
    Generate {
        #[arg(long, value_enum, ignore_case = true, default_value = "EdDSA")]
        algorithm: JwtAlgorithm,
        /// Write to this file (created with mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the configured keys: algorithm, kid, file; the signing key first.
    List {
        #[command(flatten)]
        config: Box<Config>,
    },
}

/// Runs the command; the binary turns an error into a message and exit code 1.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate(db) => {
            telemetry::init(crate::config::LogFormat::Text);
            let pool = store::connect(&db).await?;
            store::migrate(&pool, &db.db_schema).await?;
            println!("migrations applied to schema {}", db.db_schema);
            Ok(())
        }
        Command::Hasura(HasuraCommand::JwtSecret { config, mode }) => {
            config.validate()?;
            let keys = KeySet::load(&config.keys)?;
            println!("{}", hasura_jwt_secret(&config, &keys, mode));
            Ok(())
        }
        Command::Hasura(HasuraCommand::Metadata { dir, config }) => {
            config.validate()?;
            crate::hasura_metadata::write(&config, &dir)?;
            println!(
                "wrote (replaced) {0}/actions.graphql and {0}/actions.yaml; merge by hand if the project had actions of its own.\nSet {1} and HASURA_JWT_AUTH_URL in Hasura's environment, then run: hasura metadata apply",
                dir.display(),
                crate::hasura_metadata::SECRET_ENV
            );
            Ok(())
        }
        Command::Keys(KeysCommand::List { config }) => crate::cli_admin::list_keys(&config),
        Command::User(cmd) => crate::cli_admin::run_user(cmd).await,
        Command::Session(cmd) => crate::cli_admin::run_session(cmd).await,
        Command::Audit(cmd) => crate::cli_admin::run_audit(cmd).await,
        Command::Import(cmd) => crate::cli_admin::run_import(cmd).await,
        Command::Keys(KeysCommand::Generate { algorithm, out }) => {
            let key = generate_private_key_pem(algorithm)?;
            match out {
                Some(path) => {
                    crate::auth::keys::write_private_file(&path, key.expose())?;
                    eprintln!("wrote a new {} key to {}", algorithm.name(), path.display());
                }
                None => println!("{}", key.expose().trim_end()),
            }
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    config.validate()?;
    let keys = KeySet::load(&config.keys)?;
    if keys.development {
        tracing::warn!(
            key = %keys.signing().source,
            "no signing key configured: using a DEVELOPMENT Ed25519 key. Configure AUTH_JWT_SECRET or \
             AUTH_JWT_PRIVATE_KEY_FILE in production"
        );
    }
    tracing::info!(alg = keys.signing().alg.name(), kid = ?keys.signing().kid, "signing key loaded");
    let pool = store::connect(&config.db).await?;
    store::migrate(&pool, &config.db.db_schema).await?;
    if let Some(sql) = &config.custom_claims_sql {
        store::check_custom_claims_sql(&pool, sql).await?;
    }
    let state = AppState::new(config, pool.clone(), keys)?;
    tokio::spawn(prune_sessions(state.clone()));
    http::serve(state).await
}

/// Deletes sessions past their idle timeout or maximum lifetime, and audit entries past
/// their retention, every ten minutes.
async fn prune_sessions(state: AppState) {
    let policy = state.auth.policy.clone();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        state.sign_in_limiter.forget_idle();
        if let Some(retention) = state.config.audit_retention.0 {
            match crate::admin::prune_audit_log(&state.auth.pool, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(entries = n, "pruned old audit entries"),
                Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
            }
        }
        let idle = policy.idle_timeout.map(|d| d.as_secs_f64());
        let max = policy.max_lifetime.map(|d| d.as_secs_f64());
        if idle.is_none() && max.is_none() {
            continue;
        }
        match store::sessions::prune_expired(&state.auth.pool, idle, max).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "pruned expired sessions"),
            Err(e) => tracing::warn!(error = %e, "pruning expired sessions failed"),
        }
    }
}

/// The `HASURA_GRAPHQL_JWT_SECRET` value for this configuration.
pub fn hasura_jwt_secret(config: &Config, keys: &KeySet, mode: Option<SecretMode>) -> String {
    let signing = keys.signing();
    let mode = mode.unwrap_or(
        if config.public_url.is_some() && signing.hmac_secret().is_none() {
            SecretMode::JwkUrl
        } else {
            SecretMode::Key
        },
    );
    let mut v: Value = match (mode, signing.hmac_secret()) {
        (_, Some(secret)) => json!({"type": signing.hasura_type(), "key": secret.expose()}),
        (SecretMode::JwkUrl, None) => {
            json!({"jwk_url": format!("{}/.well-known/jwks.json", config.public_url())})
        }
        (SecretMode::Key, None) => {
            json!({"type": signing.hasura_type(), "key": signing.public_pem().unwrap_or_default()})
        }
    };
    v["issuer"] = json!(config.issuer());
    if let Some(aud) = &config.jwt_audience {
        v["audience"] = json!(aud);
    }
    if config.hasura_claims_namespace != "https://hasura.io/jwt/claims" {
        v["claims_namespace"] = json!(config.hasura_claims_namespace);
    }
    if config.hasura_claims_format == ClaimsFormat::StringifiedJson {
        v["claims_format"] = json!("stringified_json");
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_every_setting() {
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        for var in [
            "AUTH_DATABASE_URL",
            "AUTH_LISTEN",
            "AUTH_JWT_ISSUER",
            "AUTH_JWT_AUDIENCE",
            "AUTH_ACCESS_TOKEN_TTL",
            "AUTH_JWT_ALGORITHM",
            "AUTH_JWT_SECRET",
            "AUTH_JWT_PRIVATE_KEY_FILE",
        ] {
            assert!(help.contains(var), "{var} missing from serve --help");
        }
    }
}
