//! `authgate client`: register OAuth clients (RFC 6749 §2) for the client-credentials grant, in
//! whichever store `serve` would use. A secret is printed once, when made; only its hash is kept.

use std::io::Write;

use authgate_config::{CLIENT_SECRET_OVERLAP_SECONDS, Env};
use authgate_users::{
    Client, ClientId, ClientStore, ClientView, IssuedClient, StoreError, now_ms, parse_scopes,
};

use crate::CommandError;
use crate::backends::BackendArgs;

/// `authgate client ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and its secret, which is shown only this once.
    Create {
        #[arg(long)]
        name: String,
        /// The scopes it may be granted, space-separated ("items:read items:write").
        #[arg(long, default_value = "")]
        scopes: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List every client, without secrets.
    List {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Give a client a new secret; the old one keeps working for the overlap.
    RotateSecret {
        id: ClientId,
        /// Seconds the old secret keeps working, so deployments can roll.
        #[arg(long, default_value = CLIENT_SECRET_OVERLAP_SECONDS.default)]
        overlap: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Disable a client: it gets no more tokens.
    Disable {
        id: ClientId,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Re-enable a disabled client.
    Enable {
        id: ClientId,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Delete a client.
    Delete {
        id: ClientId,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

/// `client` changed by `change`, written over the version read; a write that came between is
/// reported rather than overwritten.
async fn change(
    store: &dyn ClientStore,
    id: ClientId,
    change: impl FnOnce(Client) -> Client,
) -> Result<Client, CommandError> {
    let read = store.client(id).await?.ok_or(StoreError::NotFound)?;
    let changed = change(read);
    store.update_client(&changed).await?;
    Ok(changed)
}

/// Runs a `client` subcommand.
pub async fn client(command: ClientCommand, out: &mut impl Write) -> Result<(), CommandError> {
    match command {
        ClientCommand::Create {
            name,
            scopes,
            backend,
        } => {
            let scopes = parse_scopes(&scopes)?;
            let store = backend.store().await?.store;
            let (client, secret) = Client::register(&name, scopes, now_ms());
            store.create_client(&client).await?;
            let shown = IssuedClient::new(&client, &secret);
            writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
        }
        ClientCommand::List { backend } => {
            let store = backend.store().await?.store;
            let (mut clients, mut cursor) = (Vec::new(), None::<String>);
            loop {
                let page = store.clients(100, cursor.as_deref()).await?;
                clients.extend(page.clients.iter().map(ClientView::from));
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&clients)?)?;
        }
        ClientCommand::RotateSecret {
            id,
            overlap,
            backend,
        } => {
            let overlap = Env::from_pairs([(CLIENT_SECRET_OVERLAP_SECONDS.name, overlap)])
                .number::<u64>(&CLIENT_SECRET_OVERLAP_SECONDS)?;
            let store = backend.store().await?.store;
            let read = store.client(id).await?.ok_or(StoreError::NotFound)?;
            let (rotated, secret) = read.rotated(now_ms(), overlap);
            store.update_client(&rotated).await?;
            let shown = IssuedClient::new(&rotated, &secret);
            writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
        }
        ClientCommand::Disable { id, backend } => {
            let store = backend.store().await?.store;
            change(store.as_ref(), id, |c| Client {
                disabled: true,
                ..c
            })
            .await?;
            writeln!(out, "disabled {id}")?;
        }
        ClientCommand::Enable { id, backend } => {
            let store = backend.store().await?.store;
            change(store.as_ref(), id, |c| Client {
                disabled: false,
                ..c
            })
            .await?;
            writeln!(out, "enabled {id}")?;
        }
        ClientCommand::Delete { id, backend } => {
            let store = backend.store().await?.store;
            store.delete_client(id).await?;
            writeln!(out, "deleted {id}")?;
        }
    }
    Ok(())
}
