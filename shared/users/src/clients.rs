//! OAuth clients (RFC 6749 §2): machines that get tokens of their own with the client-credentials
//! grant (§4.4). A client is stored with its secret's SHA-256 hash only; the secret is shown once.
//! A rotation keeps the previous secret working for an overlap, so a deployment can roll.

use std::collections::BTreeSet;

use crate::credentials::ClientSecret;
use crate::sessions::TokenHash;
use crate::store::StoreError;

/// A client's id: its `client_id`, and the `sub` of its tokens.
pub type ClientId = uuid::Uuid;

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    /// The scopes it may be granted; a token request asks for a subset.
    pub scopes: BTreeSet<String>,
    /// The `aud` of its tokens, when not the deployment's.
    pub audience: Option<String>,
    /// The lifetime of its access tokens, when not the deployment's.
    pub access_token_ttl_secs: Option<u64>,
    pub created_at_ms: i64,
    pub secret_rotated_at_ms: i64,
    pub disabled: bool,
    pub secret_hash: TokenHash,
    /// The secret before the last rotation, while its overlap lasts.
    pub previous_secret: Option<PreviousSecret>,
    /// Bumped by every write: a write applies only over the version it read.
    pub version: u64,
}

/// What is shown of a client, by the admin API and the command line: everything but its
/// secrets' hashes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientView {
    pub client_id: ClientId,
    pub name: String,
    pub scopes: BTreeSet<String>,
    pub audience: Option<String>,
    pub access_token_ttl_secs: Option<u64>,
    pub created_at_ms: i64,
    pub secret_rotated_at_ms: i64,
    pub disabled: bool,
}

impl From<&Client> for ClientView {
    fn from(client: &Client) -> Self {
        Self {
            client_id: client.id,
            name: client.name.clone(),
            scopes: client.scopes.clone(),
            audience: client.audience.clone(),
            access_token_ttl_secs: client.access_token_ttl_secs,
            created_at_ms: client.created_at_ms,
            secret_rotated_at_ms: client.secret_rotated_at_ms,
            disabled: client.disabled,
        }
    }
}

/// A client with its new secret, shown once: at registration and at each rotation.
#[derive(serde::Serialize)]
pub struct IssuedClient {
    #[serde(flatten)]
    pub client: ClientView,
    pub client_secret: String,
}

impl IssuedClient {
    /// `client` and `secret`, to be shown once.
    pub fn new(client: &Client, secret: &ClientSecret) -> Self {
        Self {
            client: ClientView::from(client),
            client_secret: secret.as_str().to_owned(),
        }
    }
}

impl std::fmt::Debug for IssuedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedClient")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// A rotated-out secret and the end of its overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    pub hash: TokenHash,
    pub valid_until_ms: i64,
}

impl Client {
    /// A new client named `name` with `scopes`, registered at `now_ms`, and its secret, which
    /// only its hash is kept of.
    pub fn register(name: &str, scopes: BTreeSet<String>, now_ms: i64) -> (Self, ClientSecret) {
        let secret = ClientSecret::generate();
        let client = Self {
            id: uuid::Uuid::new_v4(),
            name: name.to_owned(),
            scopes,
            audience: None,
            access_token_ttl_secs: None,
            created_at_ms: now_ms,
            secret_rotated_at_ms: now_ms,
            disabled: false,
            secret_hash: secret.hash(),
            previous_secret: None,
            version: 0,
        };
        (client, secret)
    }

    /// This client with a new secret from `now_ms`; the current one keeps working for
    /// `overlap_secs` (a previous secret still in its overlap is replaced).
    pub fn rotated(&self, now_ms: i64, overlap_secs: u64) -> (Self, ClientSecret) {
        let secret = ClientSecret::generate();
        let overlap_ms = i64::try_from(overlap_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let client = Self {
            secret_hash: secret.hash(),
            secret_rotated_at_ms: now_ms,
            previous_secret: Some(PreviousSecret {
                hash: self.secret_hash.clone(),
                valid_until_ms: now_ms.saturating_add(overlap_ms),
            }),
            ..self.clone()
        };
        (client, secret)
    }

    /// Whether `secret` is this client's at `now_ms`: the current one, or the previous one within
    /// its overlap. Hashes are compared in constant time.
    pub fn accepts(&self, secret: &ClientSecret, now_ms: i64) -> bool {
        let presented = secret.hash();
        let same = |stored: &TokenHash| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                stored.as_str().as_bytes(),
                presented.as_str().as_bytes(),
            ))
        };
        let previous = self
            .previous_secret
            .as_ref()
            .is_some_and(|p| now_ms < p.valid_until_ms && same(&p.hash));
        same(&self.secret_hash) | previous
    }
}

/// What the authorizer asks of a client token's client: whether it may act, and with which
/// scopes (a token grants only the scopes its client still has); and of the token, whether it
/// was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientState {
    pub disabled: bool,
    pub scopes: BTreeSet<String>,
    pub token_revoked: bool,
}

impl From<Client> for ClientState {
    fn from(client: Client) -> Self {
        Self {
            disabled: client.disabled,
            scopes: client.scopes,
            token_revoked: false,
        }
    }
}

/// A page of clients in id order, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPage {
    pub clients: Vec<Client>,
    pub next: Option<String>,
}

/// Where clients live, beside users.
#[async_trait::async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client as given; `Changed` if its id is taken.
    async fn create_client(&self, client: &Client) -> Result<(), StoreError>;

    /// The client with this id.
    async fn client(&self, id: ClientId) -> Result<Option<Client>, StoreError>;

    /// At most `limit` clients after `cursor`, in id order.
    async fn clients(&self, limit: usize, cursor: Option<&str>) -> Result<ClientPage, StoreError>;

    /// Writes `client` as version `client.version + 1`, only while the stored client is still at
    /// `client.version`: `Changed` if another write came first, `NotFound` if it is gone.
    async fn update_client(&self, client: &Client) -> Result<(), StoreError>;

    /// Deletes the client; `NotFound` if there was none.
    async fn delete_client(&self, id: ClientId) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(secret: &ClientSecret) -> Client {
        Client {
            id: uuid::Uuid::new_v4(),
            name: "partner".into(),
            scopes: BTreeSet::from(["items:read".to_owned()]),
            audience: None,
            access_token_ttl_secs: None,
            created_at_ms: 0,
            secret_rotated_at_ms: 0,
            disabled: false,
            secret_hash: secret.hash(),
            previous_secret: None,
            version: 0,
        }
    }

    #[test]
    fn a_rotation_gives_a_new_secret_and_keeps_the_old_one_for_the_overlap() {
        let (client, first) = Client::register("partner", BTreeSet::new(), 1_000);
        assert!(client.accepts(&first, 1_000));
        let (rotated, second) = client.rotated(2_000, 60);
        assert_eq!((rotated.id, rotated.version), (client.id, client.version));
        assert!(rotated.accepts(&second, 2_000));
        assert!(rotated.accepts(&first, 61_999));
        assert!(!rotated.accepts(&first, 62_000));
        let (again, third) = rotated.rotated(3_000, 0);
        assert!(again.accepts(&third, 3_000));
        assert!(
            !again.accepts(&first, 3_000),
            "only the last secret overlaps"
        );
        assert!(!again.accepts(&second, 3_000), "no overlap asked for");
    }

    #[test]
    fn the_current_secret_and_the_previous_one_within_its_overlap_are_accepted() {
        let (old, new) = (ClientSecret::generate(), ClientSecret::generate());
        let mut c = client(&new);
        assert!(c.accepts(&new, 5));
        assert!(!c.accepts(&old, 5));
        c.previous_secret = Some(PreviousSecret {
            hash: old.hash(),
            valid_until_ms: 10,
        });
        assert!(c.accepts(&old, 9));
        assert!(!c.accepts(&old, 10), "the overlap has ended");
        assert!(c.accepts(&new, 10));
        assert!(!c.accepts(&ClientSecret::generate(), 9));
    }
}
