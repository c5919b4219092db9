//! Command-line interface: one binary, several subcommands, one module per command group.
//! Every command builds what it needs through the composition root ([`crate::app`]).

mod audit;
mod hasura;
mod import;
mod keys;
mod organizations;
mod sessions;
mod user;

use clap::{Parser, Subcommand};

use crate::{
    app::{self, App},
    config::{Config, DbArgs, LogFormat},
    http, telemetry,
};

pub use audit::AuditCommand;
pub use hasura::HasuraCommand;
pub use import::ImportCommand;
pub use keys::KeysCommand;
pub use organizations::OrganizationCommand;
pub use sessions::SessionCommand;
pub use user::UserCommand;

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
    /// Organizations: list, create, delete, members, add-member, remove-member.
    #[command(subcommand)]
    Organization(OrganizationCommand),
    /// The audit log: list, prune.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import users from the PL/pgSQL hasura-jwt-auth or from a file.
    #[command(subcommand)]
    Import(ImportCommand),
}

/// Runs the command; the binary turns an error into a message and exit code 1.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate(db) => {
            telemetry::init(LogFormat::Text);
            app::database(&db).await?;
            println!("migrations applied to schema {}", db.db_schema);
            Ok(())
        }
        Command::Hasura(cmd) => hasura::run(cmd),
        Command::Keys(cmd) => keys::run(cmd),
        Command::User(cmd) => user::run(cmd).await,
        Command::Session(cmd) => sessions::run(cmd).await,
        Command::Organization(cmd) => organizations::run(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Import(cmd) => import::run(cmd).await,
    }
}

/// `serve`: builds the application, starts housekeeping, serves HTTP until a signal.
async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.server.log_format);
    let app = App::build(config).await?;
    app.start_background();
    http::serve(app).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every setting of the configuration (read from its definition) is in `serve --help` and
    /// in README.md.
    #[test]
    fn help_documents_every_setting() {
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        let settings: Vec<String> = Config::command()
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|env| env.to_string_lossy().into_owned())
            .collect();
        assert!(settings.len() >= 40, "{settings:?}");
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let mut undocumented = Vec::new();
        for var in &settings {
            assert!(
                help.contains(var.as_str()),
                "{var} missing from serve --help"
            );
            if !readme.contains(&format!("`{var}`")) {
                undocumented.push(var.as_str());
            }
        }
        assert!(
            undocumented.is_empty(),
            "missing from README.md: {undocumented:?}"
        );
    }
}
