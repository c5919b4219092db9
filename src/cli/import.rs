//! `import …`: users from the PL/pgSQL hasura-jwt-auth, from a file, or moving in from
//! Supabase Auth or nhost (with their identities, factors and live sessions).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::{
    admin::{import, migrate, Actor},
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
    /// Move in from Supabase Auth: users (same ids, bcrypt passwords), identities, TOTP
    /// factors and live sessions, whose refresh tokens keep working here. Re-runs update
    /// changed users and skip the rest.
    Supabase {
        /// PostgreSQL URL of the Supabase database (its `auth` schema is read).
        #[arg(long, env = "AUTH_IMPORT_FROM", hide_env_values = true)]
        from: Secret,
        /// The key of `raw_app_meta_data` holding each user's role or roles (the first is the
        /// default role); users without it get AUTH_DEFAULT_ROLE and AUTH_DEFAULT_ALLOWED_ROLES.
        #[arg(long)]
        role_key: Option<String>,
        #[command(flatten)]
        options: MigrateOptions,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Move in from nhost's hasura-auth: users (same ids, bcrypt passwords, roles from
    /// `auth.user_roles`), provider identities, TOTP secrets and live refresh tokens, which
    /// keep working here. Re-runs update changed users and skip the rest.
    Nhost {
        /// PostgreSQL URL of the nhost database (its `auth` schema is read).
        #[arg(long, env = "AUTH_IMPORT_FROM", hide_env_values = true)]
        from: Secret,
        #[command(flatten)]
        options: MigrateOptions,
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

/// What `import supabase` and `import nhost` share.
#[derive(clap::Args, Debug)]
pub struct MigrateOptions {
    /// Report what would be imported and skipped, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Users per batch; each batch is one transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    batch_size: i64,
    /// Roles imported users may have, comma-separated (default: AUTH_DEFAULT_ALLOWED_ROLES);
    /// a user with any other role is skipped.
    #[arg(long, value_delimiter = ',', value_parser = parse_role)]
    allowed_roles: Option<Vec<String>>,
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
        ImportCommand::Supabase {
            from,
            role_key,
            options,
            config,
        } => {
            let origin = migrate::Origin::Supabase;
            return move_in(origin, &from, role_key.as_deref(), &options, &config).await;
        }
        ImportCommand::Nhost {
            from,
            options,
            config,
        } => return move_in(migrate::Origin::Nhost, &from, None, &options, &config).await,
        ImportCommand::HasuraJwtAuth {
            from,
            table,
            allowed_roles,
            config,
        } => from_plpgsql(&from, &table, allowed_roles.as_deref(), &config, &actor).await?,
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

/// `import hasura-jwt-auth`: the `hasura_user` table of the PL/pgSQL hasura-jwt-auth.
async fn from_plpgsql(
    from: &Secret,
    table: &str,
    allowed_roles: Option<&[String]>,
    config: &Config,
    actor: &Actor,
) -> anyhow::Result<import::Report> {
    // Not needed to import, but without it no imported password can be checked.
    config.passwords.legacy_hmac_secret.as_ref().context(
                "set AUTH_LEGACY_HMAC_SECRET (--legacy-hmac-secret) to the old JWT secret: it is part of the old password hashes",
            )?;
    let admin = app::admin(config).await?;
    let source = store::connect_source(from)
        .await
        .context("cannot connect to the --from database")?;
    let target = import::Target {
        pool: &admin.pool,
        default_role: &config.accounts.default_role,
        default_allowed_roles: &config.accounts.default_allowed_roles,
        permitted_roles: allowed_roles.unwrap_or(&config.accounts.default_allowed_roles),
        source: import::PLPGSQL_SOURCE,
    };
    import::from_hasura_jwt_auth(&source, table, &target, actor).await
}

async fn move_in(
    origin: migrate::Origin,
    from: &Secret,
    role_key: Option<&str>,
    options: &MigrateOptions,
    config: &Config,
) -> anyhow::Result<()> {
    // Progress is logged when stderr is not a terminal.
    crate::telemetry::init(config.server.log_format);
    let admin = app::admin(config).await?;
    let mfa_key = app::mfa_key(config)?;
    let source = store::connect_source(from)
        .await
        .context("cannot connect to the --from database")?;
    let target = migrate::Target {
        pool: &admin.pool,
        mfa_key: &mfa_key,
        dry_run: options.dry_run,
    };
    let mapping = migrate::Mapping {
        role_key,
        default_role: &config.accounts.default_role,
        default_allowed_roles: &config.accounts.default_allowed_roles,
        permitted_roles: options
            .allowed_roles
            .as_deref()
            .unwrap_or(&config.accounts.default_allowed_roles),
        anonymous_role: &config.anonymous.anonymous_role,
    };
    let mut progress = Progress::new();
    let report = migrate::run(
        origin,
        &source,
        &target,
        &mapping,
        options.batch_size,
        &mut |done, total| progress.show(done, total),
    )
    .await?;
    progress.finish();
    print_migration(&report, options.dry_run);
    Ok(())
}

/// Progress on stderr: a bar redrawn in place on a terminal, a line per step otherwise.
struct Progress {
    terminal: bool,
    started: std::time::Instant,
}

impl Progress {
    fn new() -> Self {
        use std::io::IsTerminal;
        Self {
            terminal: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
        }
    }

    fn show(&mut self, done: usize, total: i64) {
        let total = total.max(done as i64).max(1);
        let secs = self.started.elapsed().as_secs_f64();
        if self.terminal {
            let filled = (done as i64 * 30 / total) as usize;
            eprint!(
                "\r[{}{}] {done}/{total} users ({secs:.0} s)",
                "#".repeat(filled),
                " ".repeat(30 - filled.min(30))
            );
        } else {
            tracing::info!(done, total, seconds = secs, "import progress");
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

fn print_migration(report: &migrate::Report, dry_run: bool) {
    for (row, why) in &report.skipped {
        println!("skipped {row}: {why}");
    }
    for (user, what) in &report.notes {
        println!("note {user}: {what}");
    }
    let would = if dry_run { "would import" } else { "imported" };
    println!(
        "{would} {} new, updated {}, unchanged {}, skipped {}; {} identities, {} factors, {} sessions",
        report.imported,
        report.updated,
        report.unchanged,
        report.skipped.len(),
        report.identities,
        report.factors,
        report.sessions
    );
    if dry_run {
        println!("dry run: nothing was written");
    }
}
