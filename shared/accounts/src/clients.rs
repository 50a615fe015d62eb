//! OAuth clients at the endpoints: authenticating a client (RFC 6749 §2.3.1), throttled per
//! client as sign-ins are per account, and what a client's token says (RFC 6749 §4.4, RFC 9068).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use authgate_config::{ThrottleSettings, TokenSettings};
use authgate_http::oauth::PresentedClient;
use authgate_keys::RingIssuer;
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_token::{ClientGrant, IssuedToken, SignError};
use authgate_users::{
    Client, ClientSecret, Guessed, LoginLimits, StoreError, ThrottleError, Throttled, now_ms,
};

/// Why a client was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// Unknown client, wrong secret or a disabled client: one answer for all.
    #[error("client authentication failed")]
    Invalid,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error("client store failed")]
    Store(#[from] StoreError),
}

impl From<ThrottleError> for ClientAuthError {
    fn from(err: ThrottleError) -> Self {
        match err {
            ThrottleError::Throttled(throttled) => Self::Throttled(throttled),
            ThrottleError::Store(e) => Self::Store(e),
        }
    }
}

/// Authenticates clients by id and secret. Every attempt is counted against the presented
/// client id before the secret is checked (and the count taken back on success), with the
/// sign-in limits (`LOGIN_*`): guessing one client's secret is as slow as one account's
/// password, and an unknown id is throttled like a known one.
pub struct ClientAuth {
    store: Arc<dyn AccountStore>,
    limits: LoginLimits,
}

impl ClientAuth {
    /// From `env`'s throttle settings and `backend`'s store.
    pub fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            limits: ThrottleSettings::from_env(env)?.login,
        })
    }

    /// The client `presented` names, if its secret is right and it is enabled.
    pub async fn authenticate(
        &self,
        presented: &PresentedClient,
        ip: Option<&str>,
    ) -> Result<Client, ClientAuthError> {
        let store = self.store.as_ref();
        let guessed = Guessed::secret_of(&presented.client_id);
        let attempt = self.limits.begin(store, &guessed, ip, now_ms()).await?;
        let client = match (
            presented.client_id.parse(),
            ClientSecret::parse(&presented.client_secret),
        ) {
            (Ok(id), Ok(secret)) => self
                .store
                .client(id)
                .await?
                .filter(|client| !client.disabled && client.accepts(&secret, now_ms())),
            _ => None,
        };
        match client {
            Some(client) => {
                attempt.succeeded(store).await?;
                Ok(client)
            }
            None => {
                attempt.failed(store).await?;
                tracing::warn!(
                    source_ip = ip.unwrap_or("unknown"),
                    "client authentication refused"
                );
                Err(ClientAuthError::Invalid)
            }
        }
    }
}

/// Why a client got no token.
#[derive(Debug, thiserror::Error)]
pub enum ClientTokenError {
    /// The request asked for a scope the client does not have (RFC 6749 §5.2 `invalid_scope`).
    #[error("scope {0:?} is not the client's")]
    InvalidScope(String),
    #[error("token signing failed")]
    Sign(#[from] SignError),
}

/// What a client's access token says, decided in one place: `sub` and `client_id` the client's
/// id, `scope` what it asked for (all of its scopes when it asked for none), the client's own
/// audience and lifetime where it has them.
pub struct ClientTokens {
    issuer: RingIssuer,
}

impl ClientTokens {
    /// From `env`'s token settings and `backend`'s keys.
    pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            issuer: crate::ring_issuer(TokenSettings::from_env(env)?, backend, env).await?,
        })
    }

    /// A token for `client` with `requested` scopes (RFC 6749 §3.3), which must be the client's.
    pub async fn issue(
        &self,
        client: &Client,
        requested: Option<BTreeSet<String>>,
    ) -> Result<IssuedToken, ClientTokenError> {
        let scopes = match requested {
            Some(requested) => {
                if let Some(foreign) = requested.difference(&client.scopes).next() {
                    return Err(ClientTokenError::InvalidScope(foreign.clone()));
                }
                requested
            }
            None => client.scopes.clone(),
        };
        let id = client.id.to_string();
        let issued = self.issuer.current().await?.issue_client_at(
            &ClientGrant {
                client_id: &id,
                scopes: scopes.into_iter().collect(),
                audience: client.audience.as_deref(),
                ttl: client.access_token_ttl_secs.map(Duration::from_secs),
            },
            authgate_token::now_unix(),
        )?;
        tracing::info!(client_id = %id, jti = %issued.claims.jti, "client token issued");
        Ok(issued)
    }
}
