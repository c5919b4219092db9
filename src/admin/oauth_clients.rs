//! OAuth clients for the server's administrators (Supabase Auth's `/admin/oauth/clients`):
//! registered, listed, read, updated, regenerated (confidential clients' secrets) and deleted.
//! Every change is audited.

use serde_json::json;
use uuid::Uuid;

use super::{Actor, Admin};
use crate::{
    auth::oauth_server::{
        clients::{check_new, check_update, new_secret, store_new, ClientParams},
        require_enabled,
    },
    error::{Code, Error, Result},
    secret::Secret,
    store::{self, audit::event, oauth_clients::OAuthClient, oauth_grants::Grant},
};

pub fn client_not_found() -> Error {
    Error::new(Code::OAuthClientNotFound, "OAuth client not found")
}

impl Admin {
    /// Registers a client (`registration_type` `manual`); a confidential one's secret is in
    /// the answer, this once.
    pub async fn create_oauth_client(
        &self,
        params: ClientParams,
        actor: &Actor,
    ) -> Result<(OAuthClient, Option<Secret>)> {
        require_enabled(&self.config)?;
        let checked = check_new(params)?;
        let mut tx = self.pool.begin().await?;
        let (client, secret) = store_new(&mut tx, &checked, "manual").await?;
        let detail = json!({"client_id": client.id, "client_name": client.client_name});
        self.record(&mut *tx, event::OAUTH_CLIENT_CREATED, None, actor, detail)
            .await?;
        tx.commit().await?;
        Ok((client, secret))
    }

    /// Every client, newest first.
    pub async fn list_oauth_clients(&self) -> Result<Vec<OAuthClient>> {
        require_enabled(&self.config)?;
        Ok(store::oauth_clients::all(&self.pool).await?)
    }

    pub async fn get_oauth_client(&self, id: Uuid) -> Result<OAuthClient> {
        require_enabled(&self.config)?;
        store::oauth_clients::find(&self.pool, id)
            .await?
            .ok_or_else(client_not_found)
    }

    /// Changes what `params` names (not the client type). New roles end the client's sessions:
    /// its tokens never carry roles it no longer has, and its users consent to new ones.
    pub async fn update_oauth_client(
        &self,
        id: Uuid,
        params: ClientParams,
        actor: &Actor,
    ) -> Result<OAuthClient> {
        let client = self.get_oauth_client(id).await?;
        let patch = check_update(&client, &params)?;
        let mut tx = self.pool.begin().await?;
        let roles_changed = patch
            .allowed_roles
            .is_some_and(|r| Some(r) != client.allowed_roles.as_deref().or(Some(&[])));
        let client = store::oauth_clients::update(&mut *tx, id, &patch)
            .await?
            .ok_or_else(client_not_found)?;
        let mut ended = 0;
        if roles_changed {
            ended = store::sessions::delete_for_client(&mut *tx, id)
                .await?
                .len();
        }
        let detail = json!({"client_id": id, "sessions_ended": ended});
        self.record(&mut *tx, event::OAUTH_CLIENT_UPDATED, None, actor, detail)
            .await?;
        tx.commit().await?;
        Ok(client)
    }

    /// A new secret for a confidential client (the old one stops working); shown this once.
    pub async fn regenerate_oauth_client_secret(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<(OAuthClient, Secret)> {
        let client = self.get_oauth_client(id).await?;
        if client.client_type != "confidential" {
            return Err(Error::validation_failed(
                "Cannot regenerate secret for public client",
            ));
        }
        let (secret, hash) = new_secret();
        let mut tx = self.pool.begin().await?;
        let client = store::oauth_clients::set_secret(&mut *tx, id, &hash)
            .await?
            .ok_or_else(client_not_found)?;
        let detail = json!({"client_id": id});
        self.record(
            &mut *tx,
            event::OAUTH_CLIENT_SECRET_REGENERATED,
            None,
            actor,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok((client, secret))
    }

    pub async fn delete_oauth_client(&self, id: Uuid, actor: &Actor) -> Result<()> {
        require_enabled(&self.config)?;
        let mut tx = self.pool.begin().await?;
        if !store::oauth_clients::delete(&mut *tx, id).await? {
            return Err(client_not_found());
        }
        let detail = json!({"client_id": id});
        self.record(&mut *tx, event::OAUTH_CLIENT_DELETED, None, actor, detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The users who let the client act for them, with their addresses, newest first.
    pub async fn oauth_client_grants(&self, id: Uuid) -> Result<Vec<(Grant, String)>> {
        self.get_oauth_client(id).await?;
        Ok(store::oauth_grants::of_client(&self.pool, id).await?)
    }
}
