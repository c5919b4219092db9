//! `keys …`: generate a signing key, list the configured ones.

use std::path::PathBuf;

use clap::Subcommand;

use crate::{
    app,
    auth::keys::{generate_private_key_pem, write_private_file},
    config::{Config, JwtAlgorithm},
};

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

pub fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Generate { algorithm, out } => {
            let key = generate_private_key_pem(algorithm)?;
            match out {
                Some(path) => {
                    write_private_file(&path, key.expose())?;
                    eprintln!("wrote a new {} key to {}", algorithm.name(), path.display());
                }
                None => println!("{}", key.expose().trim_end()),
            }
        }
        KeysCommand::List { config } => {
            let keys = app::load_keys(&config)?;
            for (i, key) in keys.all().enumerate() {
                println!(
                    "{}  {:<6} kid={}  {}",
                    if i == 0 { "signing  " } else { "published" },
                    key.alg.name(),
                    key.kid.as_deref().unwrap_or("-"),
                    key.source
                );
            }
        }
    }
    Ok(())
}
