//! Who calls an administration route, as stored now, and what they may do: the one check at the
//! top of every administration handler (users, clients). A user acts with the permissions of
//! their current roles, a client with its current scopes; either must still be there and
//! enabled, so a demoted administrator's or a disabled client's token stops here at once, whatever
//! the token says.

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_config::AuthzSettings;
use authgate_http::{ClaimsError, RequestClaimsExt};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_token::Holder;
use authgate_users::{Client, Denied, RoleMap, StoreError, User, UserId, user_may_act};
use lambda_http::Request;

/// The caller of an administration route.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A signed-in user.
    User(User),
    /// A client, with its own token (client-credentials grant).
    Client(Client),
    /// A user, with one of their API keys: what the user may do and the key grants.
    Key {
        user: User,
        /// The key's scopes the authorizer granted.
        scopes: BTreeSet<String>,
    },
}

impl Caller {
    /// Whether the caller is the user `id`.
    pub fn is_user(&self, id: UserId) -> bool {
        match self {
            Caller::User(user) | Caller::Key { user, .. } => user.id == id,
            Caller::Client(_) => false,
        }
    }

    /// The caller's id, for logs.
    pub fn id(&self) -> String {
        match self {
            Caller::User(user) | Caller::Key { user, .. } => user.id.to_string(),
            Caller::Client(client) => client.id.to_string(),
        }
    }
}

/// Why a caller may not do what it asks.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    #[error("the caller may not act: {0}")]
    Denied(#[from] Denied),
    #[error("the caller lacks {0}")]
    NotPermitted(&'static str),
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl From<CallerError> for authgate_http::ApiError {
    fn from(err: CallerError) -> Self {
        match err {
            CallerError::Claims(e) => e.into(),
            CallerError::Denied(denied) => denied.into(),
            CallerError::NotPermitted(_) => {
                authgate_http::ApiError::Forbidden(authgate_http::NOT_ENOUGH_PERMISSIONS.into())
            }
            CallerError::Store(e) => authgate_http::ApiError::internal(e),
        }
    }
}

/// Reads callers from the store and decides what they may do, with the deployment's roles.
pub struct Callers {
    store: Arc<dyn AccountStore>,
    roles: RoleMap,
}

impl Callers {
    /// From `env`'s roles and `backend`'s store.
    pub fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            roles: AuthzSettings::from_env(env)?.roles,
        })
    }

    /// The roles this deployment defines.
    pub fn roles(&self) -> &RoleMap {
        &self.roles
    }

    /// What `caller` may do now.
    pub fn permissions(&self, caller: &Caller) -> BTreeSet<String> {
        match caller {
            Caller::User(user) => self.roles.permissions(&user.roles),
            Caller::Client(client) => client.scopes.clone(),
            Caller::Key { user, scopes } => self
                .roles
                .permissions(&user.roles)
                .intersection(scopes)
                .cloned()
                .collect(),
        }
    }

    /// The caller of `request` as stored now, if it may act and holds `permission`.
    pub async fn require(
        &self,
        request: &Request,
        permission: &'static str,
    ) -> Result<Caller, CallerError> {
        let caller = self.caller(request).await?;
        self.check(&caller, permission)?;
        Ok(caller)
    }

    /// `Ok` if `caller` holds `permission` now.
    pub fn check(&self, caller: &Caller, permission: &'static str) -> Result<(), CallerError> {
        if self.permissions(caller).contains(permission) {
            Ok(())
        } else {
            tracing::warn!(caller = %caller.id(), permission, "administration refused: permission not held");
            Err(CallerError::NotPermitted(permission))
        }
    }

    /// Whether `caller` may manage `target`: only if it holds every administration permission
    /// the target holds, so a support role cannot take over an administrator's account.
    pub fn may_manage(&self, caller: &Caller, target: &User) -> bool {
        self.roles
            .may_be_managed_with(&self.permissions(caller), &target.roles)
    }

    /// The caller of `request` as stored now, if it may act.
    async fn caller(&self, request: &Request) -> Result<Caller, CallerError> {
        let claims = request.verified_claims()?;
        match claims.holder() {
            Holder::User { .. } => {
                let claims = request.user_claims()?;
                let id = claims.user().parse().map_err(|_| Denied::UnknownUser)?;
                Ok(Caller::User(user_may_act(self.store.get_by_id(id).await?)?))
            }
            Holder::ApiKey { .. } => {
                let id = claims.sub.parse().map_err(|_| Denied::UnknownUser)?;
                let user = user_may_act(self.store.get_by_id(id).await?)?;
                let scopes = claims
                    .scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                Ok(Caller::Key { user, scopes })
            }
            Holder::Client { client_id } => {
                let id = client_id.parse().map_err(|_| Denied::UnknownClient)?;
                match self.store.client(id).await? {
                    Some(client) if !client.disabled => Ok(Caller::Client(client)),
                    Some(_) => Err(Denied::DisabledClient.into()),
                    None => Err(Denied::UnknownClient.into()),
                }
            }
        }
    }
}
