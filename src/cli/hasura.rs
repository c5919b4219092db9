//! `hasura …`: print Hasura's JWT configuration, write the actions metadata.

use std::path::PathBuf;

use clap::Subcommand;

use crate::{
    app,
    config::Config,
    hasura_config::{self, SecretMode, ACTIONS_SECRET_ENV},
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
            println!("{}", hasura_config::hasura_jwt_secret(&config, &keys, mode));
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
