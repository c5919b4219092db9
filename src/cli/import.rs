//! `import …`: users from the PL/pgSQL hasura-jwt-auth or from a file.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::{
    admin::{import, Actor},
    app,
    config::{parse_role, Config},
    secret::Secret,
    store,
};

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import the `hasura_user` table of the PL/pgSQL hasura-jwt-auth.
    HasuraJwtAuth {
        /// PostgreSQL URL of the database that holds the table.
        #[arg(long, env = "AUTH_IMPORT_FROM", hide_env_values = true)]
        from: Secret,
        /// Table name, optionally schema-qualified.
        #[arg(long, default_value = "hasura_user")]
        table: String,
        /// Roles imported users may have, comma-separated (default: AUTH_DEFAULT_ALLOWED_ROLES);
        /// a user with any other role is not imported.
        #[arg(long, value_delimiter = ',', value_parser = parse_role)]
        allowed_roles: Option<Vec<String>>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Import users from a JSON (array of objects) or CSV file with bcrypt or Argon2 hashes.
    Users {
        #[arg(long)]
        file: PathBuf,
        /// Name recorded with `legacy_id`s in `legacy_user_ids`.
        #[arg(long, default_value = "file")]
        source: String,
        /// Roles imported users may have, comma-separated (default: AUTH_DEFAULT_ALLOWED_ROLES);
        /// a user with any other role is not imported.
        #[arg(long, value_delimiter = ',', value_parser = parse_role)]
        allowed_roles: Option<Vec<String>>,
        #[command(flatten)]
        config: Box<Config>,
    },
}

fn print_report(report: &import::Report) {
    for (row, why) in &report.skipped {
        println!("skipped {row}: {why}");
    }
    for (row, why) in &report.failed {
        eprintln!("failed {row}: {why}");
    }
    println!(
        "imported {}, skipped {}, failed {}",
        report.imported,
        report.skipped.len(),
        report.failed.len()
    );
}

pub async fn run(cmd: ImportCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let report = match cmd {
        ImportCommand::HasuraJwtAuth {
            from,
            table,
            allowed_roles,
            config,
        } => {
            // Not needed to import, but without it no imported password can be checked.
            config.passwords.legacy_hmac_secret.as_ref().context(
                "set AUTH_LEGACY_HMAC_SECRET (--legacy-hmac-secret) to the old JWT secret: it is part of the old password hashes",
            )?;
            let admin = app::admin(&config).await?;
            let source = store::connect_source(&from)
                .await
                .context("cannot connect to the --from database")?;
            let target = import::Target {
                pool: &admin.pool,
                default_role: &config.accounts.default_role,
                default_allowed_roles: &config.accounts.default_allowed_roles,
                permitted_roles: allowed_roles
                    .as_deref()
                    .unwrap_or(&config.accounts.default_allowed_roles),
                source: import::PLPGSQL_SOURCE,
            };
            import::from_hasura_jwt_auth(&source, &table, &target, &actor).await?
        }
        ImportCommand::Users {
            file,
            source,
            allowed_roles,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let target = import::Target {
                pool: &admin.pool,
                default_role: &config.accounts.default_role,
                default_allowed_roles: &config.accounts.default_allowed_roles,
                permitted_roles: allowed_roles
                    .as_deref()
                    .unwrap_or(&config.accounts.default_allowed_roles),
                source: &source,
            };
            import::from_file(&file, &target, &actor).await?
        }
    };
    print_report(&report);
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} row(s) could not be imported (nothing was written for them)",
            report.failed.len()
        );
    }
    Ok(())
}
