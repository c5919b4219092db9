//! `organization …`: list, create and delete organizations; list, add and remove members.
//! Users are named by id or email.

use clap::Subcommand;
use uuid::Uuid;

use crate::{
    admin::Actor, app, auth::organizations::NewOrganization, config::Config, error::Error,
};

#[derive(Subcommand, Debug)]
pub enum OrganizationCommand {
    /// List organizations by name, with their numbers of members.
    List {
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Create an organization with a user as its administrator.
    Create {
        name: String,
        /// The user (id or email) who administers it.
        #[arg(long)]
        admin: String,
        /// Made from the name when absent.
        #[arg(long)]
        slug: Option<String>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Delete an organization and its memberships.
    Delete {
        id: Uuid,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// List an organization's members.
    Members {
        id: Uuid,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Put a user in an organization with roles (or set a member's roles).
    AddMember {
        id: Uuid,
        user: String,
        /// Among AUTH_ORGANIZATION_ROLES, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Remove a member (not the last administrator).
    RemoveMember {
        id: Uuid,
        user: String,
        #[command(flatten)]
        config: Box<Config>,
    },
}

pub async fn run(cmd: OrganizationCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let or_anyhow = Error::into_anyhow;
    match cmd {
        OrganizationCommand::List {
            page,
            per_page,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let (listed, total) = admin
                .list_organizations(page, per_page)
                .await
                .map_err(or_anyhow)?;
            for l in &listed {
                let o = &l.organization;
                println!("{}  {}  {}  {} members", o.id, o.slug, o.name, l.members);
            }
            eprintln!("{} of {total} organizations", listed.len());
        }
        OrganizationCommand::Create {
            name,
            admin: who,
            slug,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let user = admin.find_user(&who).await.map_err(or_anyhow)?;
            let new = NewOrganization {
                name,
                slug,
                metadata: None,
            };
            let made = admin
                .create_organization(new, user.id, &actor)
                .await
                .map_err(or_anyhow)?;
            let o = &made.organization;
            println!(
                "{}  {}  {} (administered by {})",
                o.id, o.slug, o.name, user.email
            );
        }
        OrganizationCommand::Delete { id, config } => {
            let admin = app::admin(&config).await?;
            admin
                .delete_organization(id, &actor)
                .await
                .map_err(or_anyhow)?;
            println!("deleted organization {id}");
        }
        other => members(other, &actor).await?,
    }
    Ok(())
}

async fn members(cmd: OrganizationCommand, actor: &Actor) -> anyhow::Result<()> {
    let or_anyhow = Error::into_anyhow;
    match cmd {
        OrganizationCommand::Members { id, config } => {
            let admin = app::admin(&config).await?;
            for m in admin.organization_members(id).await.map_err(or_anyhow)? {
                println!("{}  {}  {}", m.user_id, m.email, m.roles.join(","));
            }
        }
        OrganizationCommand::AddMember {
            id,
            user,
            roles,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let user = admin.find_user(&user).await.map_err(or_anyhow)?;
            let m = admin
                .put_organization_member(id, user.id, &roles, actor)
                .await
                .map_err(or_anyhow)?;
            println!("{} is a member of {id} with {}", m.email, m.roles.join(","));
        }
        OrganizationCommand::RemoveMember { id, user, config } => {
            let admin = app::admin(&config).await?;
            let user = admin.find_user(&user).await.map_err(or_anyhow)?;
            admin
                .remove_organization_member(id, user.id, actor)
                .await
                .map_err(or_anyhow)?;
            println!("removed {} from {id}", user.email);
        }
        _ => unreachable!("handled by run"),
    }
    Ok(())
}
