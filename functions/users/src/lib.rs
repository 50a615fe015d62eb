//! User administration, FastAPI Users' users router with roles and claims: `GET /users`
//! (paginated), `GET /users/{id}`, `PATCH /users/{id}`, `DELETE /users/{id}`; and a user's API
//! keys, `GET /users/{id}/api-keys` (`users:read`, as every read: the gateway's policy for
//! `GET /users/{id}` covers this path too) and `DELETE /users/{id}/api-keys/{key_id}`
//! (`users:write`).
//!
//! The gateway decides first (`ROUTE_PERMISSIONS` in template.yaml: `users:read` to read,
//! `users:write` to change); this function decides again at the top of each request from the
//! caller as stored now ([`Callers`]: a user's current roles, or a client's current scopes, for
//! a backend that administers users with its own token), not as its token says, so a demoted
//! administrator's token stops here at once. Beyond that:
//! - roles and custom claims (what a user's tokens grant) change only with `users:roles`;
//! - a caller manages only users whose administration permissions it holds itself
//!   ([`Callers::may_manage`]), so a support role cannot take over an administrator's account;
//! - nobody changes their own roles or claims, disables or deletes themselves: another
//!   administrator must, so administration can never lock itself out or promote itself.
//!
//! Disabling a user, changing their password, or taking a role or claim away ends their sessions;
//! deleting them ends their sessions and frees their email.

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_accounts::{
    AccountMail, ApiKeyError, ApiKeys, Caller, CallerError, Callers, CredentialsError,
    NewPasswords, change_user,
};
use authgate_http::{ApiError, ClaimsError, Endpoint, body, json_response};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_users::{
    AuthzError, CustomClaims, Denied, HashError, PasswordHasher, StoreError, TokenPurpose,
    USERS_READ, USERS_ROLES, USERS_WRITE, User, UserChanges, UserId, parse_roles,
};
use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};

pub use authgate_http::body::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// A user as administrators see them: never the password hash.
#[derive(Serialize)]
struct AdminView {
    id: UserId,
    email: String,
    created_at: DateTime<Utc>,
    disabled: bool,
    email_verified: bool,
    roles: BTreeSet<String>,
    claims: CustomClaims,
}

impl From<User> for AdminView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email.as_str().to_owned(),
            created_at: user.created_at,
            disabled: user.disabled,
            email_verified: user.email_verified,
            roles: user.roles,
            claims: user.claims,
        }
    }
}

#[derive(Serialize)]
struct Page {
    users: Vec<AdminView>,
    next_cursor: Option<String>,
}

/// `PATCH /users/{id}`: every field optional, nothing else accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    email: Option<String>,
    password: Option<String>,
    disabled: Option<bool>,
    roles: Option<Vec<String>>,
    claims: Option<serde_json::Value>,
}

/// Everything that can stop an administration request.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error("no verified claims")]
    Claims(#[from] ClaimsError),
    #[error("no such user")]
    NotFound,
    #[error("invalid roles or claims: {0}")]
    Authz(#[from] AuthzError),
    #[error("{0}")]
    LockOut(&'static str),
    #[error("the caller may not act: {0}")]
    CallerDenied(#[from] Denied),
    #[error("the caller lacks {0}")]
    NotPermitted(&'static str),
    #[error("password hashing failed")]
    Hash(#[from] HashError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("user store failed")]
    Store(#[source] StoreError),
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    #[error("no such API key")]
    NoSuchKey,
}

impl From<CallerError> for UsersError {
    fn from(err: CallerError) -> Self {
        match err {
            CallerError::Claims(e) => Self::Claims(e),
            CallerError::Denied(denied) => Self::CallerDenied(denied),
            CallerError::NotPermitted(permission) => Self::NotPermitted(permission),
            CallerError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for UsersError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

impl From<UsersError> for ApiError {
    fn from(err: UsersError) -> Self {
        match err {
            UsersError::Request(api) => api,
            UsersError::ApiKey(e) => e.into(),
            UsersError::NoSuchKey => ApiError::NotFound("API key not found".into()),
            UsersError::Claims(e) => e.into(),
            UsersError::NotFound => ApiError::NotFound("User not found".into()),
            UsersError::Credentials(e) => e.into(),
            UsersError::Authz(e) => ApiError::Unprocessable(e.to_string()),
            UsersError::LockOut(why) => ApiError::Conflict(why.into()),
            UsersError::CallerDenied(denied) => denied.into(),
            UsersError::NotPermitted(_) => {
                ApiError::Forbidden(authgate_http::NOT_ENOUGH_PERMISSIONS.into())
            }
            UsersError::Store(StoreError::DuplicateEmail) => {
                ApiError::Conflict(authgate_http::EMAIL_TAKEN.into())
            }
            UsersError::Store(StoreError::BadCursor) => {
                ApiError::Unprocessable("cursor: not a cursor this API returned".into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The administration function.
pub struct Users {
    store: Arc<dyn AccountStore>,
    hasher: PasswordHasher,
    callers: Callers,
    keys: ApiKeys,
    passwords: NewPasswords,
    mail: AccountMail,
}

/// The administration function: users in `backend`'s store, roles as `env` defines them. It
/// needs no keys: the authorizer verified the caller.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Users, InitError> {
    Ok(Users {
        store: backend.store(env)?,
        hasher: PasswordHasher::new(),
        callers: Callers::build(env, backend)?,
        keys: ApiKeys::build(env, backend)?,
        passwords: NewPasswords::build(env)?,
        mail: AccountMail::build(env, backend)?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Users {
    type Error = UsersError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, UsersError> {
        let resource = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
            _ => None,
        };
        let method = request.method().clone();
        match (resource.as_deref(), method) {
            (Some("/users"), Method::GET) => {
                self.callers.require(&request, USERS_READ).await?;
                self.list(&request).await
            }
            (Some("/users/{id}"), Method::GET) => {
                self.callers.require(&request, USERS_READ).await?;
                let user = self.find(&request).await?;
                Ok(json_response(StatusCode::OK, &AdminView::from(user)))
            }
            (Some("/users/{id}"), Method::PATCH) => {
                let caller = self.callers.require(&request, USERS_WRITE).await?;
                self.patch(&request, &caller).await
            }
            (Some("/users/{id}"), Method::DELETE) => {
                let caller = self.callers.require(&request, USERS_WRITE).await?;
                self.delete(&request, &caller).await
            }
            (Some("/users/{id}/api-keys"), Method::GET) => {
                let caller = self.callers.require(&request, USERS_READ).await?;
                let user = self.managed(&request, &caller).await?;
                Ok(json_response(
                    StatusCode::OK,
                    &self.keys.list(user.id).await?,
                ))
            }
            (Some("/users/{id}/api-keys/{key_id}"), Method::DELETE) => {
                let caller = self.callers.require(&request, USERS_WRITE).await?;
                let user = self.managed(&request, &caller).await?;
                let key = request
                    .path_parameters_ref()
                    .and_then(|params| params.first("key_id"))
                    .and_then(|id| id.parse().ok())
                    .ok_or(UsersError::NoSuchKey)?;
                self.keys.revoke(user.id, key).await?;
                tracing::info!(caller = %caller.id(), user_id = %user.id, key_id = %key, "API key revoked by an administrator");
                let mut response = Response::new(Body::Empty);
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
            _ => Err(ApiError::MethodNotAllowed("Method Not Allowed".into()).into()),
        }
    }
}

impl Users {
    async fn list(&self, request: &Request) -> Result<Response<Body>, UsersError> {
        let (limit, cursor) = body::page(request)?;
        let page = self.store.page(limit, cursor.as_deref()).await?;
        Ok(json_response(
            StatusCode::OK,
            &Page {
                users: page.users.into_iter().map(AdminView::from).collect(),
                next_cursor: page.next,
            },
        ))
    }

    fn target(request: &Request) -> Result<UserId, UsersError> {
        request
            .path_parameters_ref()
            .and_then(|params| params.first("id"))
            .and_then(|id| id.parse().ok())
            .ok_or(UsersError::NotFound)
    }

    async fn find(&self, request: &Request) -> Result<User, UsersError> {
        self.store
            .get_by_id(Self::target(request)?)
            .await?
            .ok_or(UsersError::NotFound)
    }

    /// The user the request names, if `caller` may manage them.
    async fn managed(&self, request: &Request, caller: &Caller) -> Result<User, UsersError> {
        let user = self.find(request).await?;
        if !self.callers.may_manage(caller, &user) {
            tracing::warn!(caller = %caller.id(), target = %user.id, "administration refused: the target holds administration permissions the caller does not");
            return Err(UsersError::NotPermitted("the target's permissions"));
        }
        Ok(user)
    }

    async fn patch(
        &self,
        request: &Request,
        caller: &Caller,
    ) -> Result<Response<Body>, UsersError> {
        body::require_media_type(request, false)?;
        let patch: Patch = body::json(request)?;
        let user = self.managed(request, caller).await?;
        let roles = patch.roles.map(parse_roles).transpose()?;
        if let Some(roles) = &roles {
            self.callers.roles().check(roles)?;
        }
        let claims = patch.claims.map(CustomClaims::parse).transpose()?;
        let grants_change = roles.as_ref().is_some_and(|r| *r != user.roles)
            || claims.as_ref().is_some_and(|c| *c != user.claims);
        if grants_change {
            self.callers.check(caller, USERS_ROLES)?;
        }
        if caller.is_user(user.id) {
            if grants_change {
                return Err(UsersError::LockOut(
                    "You cannot change your own roles or claims; another administrator must",
                ));
            }
            if patch.disabled == Some(true) {
                return Err(UsersError::LockOut(
                    "You cannot disable yourself; another administrator must",
                ));
            }
        }
        let new = self
            .passwords
            .credentials(&self.hasher, &user, patch.email.as_deref(), patch.password)
            .await?;
        let changes = UserChanges {
            email: new.email,
            password_hash: new.password_hash,
            disabled: patch.disabled,
            email_verified: None,
            roles,
            claims,
            ..UserChanges::default()
        };
        let changed = change_user(self.store.as_ref(), user.id, changes).await?;
        if changed.email_changed {
            self.mail
                .send(TokenPurpose::VerifyEmail, &changed.user)
                .await?;
        }
        let ended_sessions = changed.sessions_ended;
        tracing::info!(user_id = %user.id, ended_sessions, "user updated by an administrator");
        Ok(json_response(
            StatusCode::OK,
            &AdminView::from(changed.user),
        ))
    }

    async fn delete(
        &self,
        request: &Request,
        caller: &Caller,
    ) -> Result<Response<Body>, UsersError> {
        let user = self.managed(request, caller).await?;
        if caller.is_user(user.id) {
            return Err(UsersError::LockOut(
                "You cannot delete yourself; another administrator must",
            ));
        }
        self.store.delete(user.id).await?;
        tracing::info!(user_id = %user.id, "user deleted by an administrator");
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    }
}
