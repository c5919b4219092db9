//! `hasura …`: print Hasura's JWT configuration (v2) or AuthConfig (DDN), write the actions
//! metadata.

use std::path::PathBuf;

use clap::Subcommand;

use crate::{
    app,
    config::Config,
    hasura_config::{
        self,
        ddn::{DdnMode, DdnOptions, DdnVersion, WebhookMethod, DDN_SECRET_ENV},
        SecretMode, ACTIONS_SECRET_ENV,
    },
};

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
    /// Print Hasura DDN's AuthConfig (save it as globals/metadata/auth-config.hml).
    DdnAuthConfig {
        #[command(flatten)]
        config: Box<Config>,
        /// AuthConfig version: v4 (current) or v3.
        #[arg(long = "auth-config-version", value_enum, default_value = "v4")]
        version: DdnVersion,
        /// `jwt`: DDN verifies the access tokens; `webhook`: DDN asks /hasura/webhook.
        #[arg(long, value_enum, default_value = "jwt")]
        mode: DdnMode,
        /// JWT mode: `key` fixes the key (the HMAC secret from DDN's environment, or the public
        /// PEM); `jwk-url` reads this server's JWKS (rotation without redeploying DDN).
        /// Default: `jwk-url` when AUTH_PUBLIC_URL is set and the key is asymmetric.
        #[arg(long, value_enum)]
        key: Option<SecretMode>,
        /// Webhook mode: GET (client headers as headers) or POST (in the body).
        #[arg(long, value_enum, default_value = "get")]
        method: WebhookMethod,
        /// The variable of DDN's environment that holds the HMAC secret.
        #[arg(long, default_value = DDN_SECRET_ENV)]
        secret_env: String,
        /// Write the HMAC secret itself into the output (local development only).
        #[arg(long)]
        inline_secret: bool,
        /// JWT mode, v4: also accept API keys, through the webhook as an alternative mode
        /// (requests send `X-Hasura-Auth-Mode: api-key` and the key as the bearer token).
        #[arg(long)]
        api_keys: bool,
    },
    /// Write actions.graphql and actions.yaml (Hasura metadata for the actions handler) into DIR.
    Metadata {
        /// Hasura's metadata directory.
        dir: PathBuf,
        #[command(flatten)]
        config: Box<Config>,
    },
}

pub fn run(cmd: HasuraCommand) -> anyhow::Result<()> {
    match cmd {
        HasuraCommand::JwtSecret { config, mode } => {
            config.validate()?;
            let keys = app::load_keys(&config)?;
            if config.hasura.session_values() == crate::config::SessionValues::Json {
                eprintln!(
                    "warning: AUTH_DDN_COMPATIBILITY_DATE makes custom claims typed JSON, which \
                     Hasura v2 refuses (it needs strings): leave it unset for Hasura v2"
                );
            }
            println!("{}", hasura_config::hasura_jwt_secret(&config, &keys, mode));
        }
        HasuraCommand::DdnAuthConfig {
            config,
            version,
            mode,
            key,
            method,
            secret_env,
            inline_secret,
            api_keys,
        } => {
            config.validate()?;
            let keys = app::load_keys(&config)?;
            let opts = DdnOptions {
                version,
                mode,
                key,
                method,
                secret_env,
                inline_secret,
                api_keys,
            };
            opts.check()?;
            print!(
                "{}",
                hasura_config::ddn::auth_config_yaml(&config, &keys, &opts)
            );
        }
        HasuraCommand::Metadata { dir, config } => {
            config.validate()?;
            hasura_config::metadata::write(&config, &dir)?;
            println!(
                "wrote (replaced) {0}/actions.graphql and {0}/actions.yaml; merge by hand if the project had actions of its own.\nSet {ACTIONS_SECRET_ENV} and HASURA_JWT_AUTH_URL in Hasura's environment, then run: hasura metadata apply",
                dir.display(),
            );
        }
    }
    Ok(())
}
