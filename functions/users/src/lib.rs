//! User administration, FastAPI Users' users router with roles and claims: `GET /users`
//! (paginated), `GET /users/{id}`, `PATCH /users/{id}`, `DELETE /users/{id}`.
//!
//! Who may call which route is the gateway's decision (`ROUTE_PERMISSIONS` in template.yaml:
//! `users:read` to read, `users:write` to change); this function trusts it and acts on the
//! verified claims. Two rules are its own, so that administration can never lock itself out: an
//! administrator cannot take `users:write` away from themselves, disable themselves or delete
//! themselves; another administrator must. Disabling a user or changing their password ends
//! their sessions; deleting them ends their sessions and frees their email.

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_config::AuthzSettings;
use authgate_http::{ApiError, ClaimsError, Endpoint, RequestClaimsExt, body, json_response};
use authgate_runtime::{
    AccountMail, AccountStore, Backend, Env, InitError, NewPasswords, change_user,
};
use authgate_users::{
    AuthzError, CustomClaims, Email, EmailError, HashError, PasswordError, PasswordHasher, RoleMap,
    StoreError, TokenPurpose, USERS_WRITE, User, UserChanges, UserId, parse_roles,
};
use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};

/// Users per page when the request names no `limit`.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest `limit` a page may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

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
    #[error("invalid email: {0}")]
    Email(#[from] EmailError),
    #[error("invalid password: {0}")]
    Password(#[from] PasswordError),
    #[error("invalid roles or claims: {0}")]
    Authz(#[from] AuthzError),
    #[error("{0}")]
    LockOut(&'static str),
    #[error("password hashing failed")]
    Hash(#[from] HashError),
    #[error("user store failed")]
    Store(#[source] StoreError),
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
            UsersError::Claims(e) => e.into(),
            UsersError::NotFound => ApiError::NotFound("User not found".into()),
            UsersError::Email(e) => e.into(),
            UsersError::Password(e) => e.into(),
            UsersError::Authz(e) => ApiError::Unprocessable(e.to_string()),
            UsersError::LockOut(why) => ApiError::Conflict(why.into()),
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
    roles: RoleMap,
    passwords: NewPasswords,
    mail: AccountMail,
}

/// The administration function: users in `backend`'s store, roles as `env` defines them. It
/// needs no keys: the authorizer verified the caller.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Users, InitError> {
    Ok(Users {
        store: backend.store(env)?,
        hasher: PasswordHasher::new(),
        roles: AuthzSettings::from_env(env)?.roles,
        passwords: NewPasswords::build(env)?,
        mail: AccountMail::build(env, backend)?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Users {
    type Error = UsersError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, UsersError> {
        // Administrators are authgate users: an outside issuer's token, whatever its scopes,
        // manages no one here.
        request.verified_claims()?;
        let resource = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
            _ => None,
        };
        let method = request.method().clone();
        match (resource.as_deref(), method) {
            (Some("/users"), Method::GET) => self.list(&request).await,
            (Some("/users/{id}"), Method::GET) => {
                let user = self.find(&request).await?;
                Ok(json_response(StatusCode::OK, &AdminView::from(user)))
            }
            (Some("/users/{id}"), Method::PATCH) => self.patch(&request).await,
            (Some("/users/{id}"), Method::DELETE) => self.delete(&request).await,
            _ => Err(ApiError::MethodNotAllowed("Method Not Allowed".into()).into()),
        }
    }
}

impl Users {
    async fn list(&self, request: &Request) -> Result<Response<Body>, UsersError> {
        let query = request.query_string_parameters();
        let limit = match query.first("limit") {
            None => DEFAULT_PAGE_SIZE,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    ApiError::Unprocessable(format!("limit: a number from 1 to {MAX_PAGE_SIZE}"))
                })?,
        };
        let page = self.store.page(limit, query.first("cursor")).await?;
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

    /// Whether the verified caller is `user`.
    fn is_caller(request: &Request, user: &User) -> Result<bool, UsersError> {
        Ok(request.verified_claims()?.sub == user.id.to_string())
    }

    async fn patch(&self, request: &Request) -> Result<Response<Body>, UsersError> {
        body::require_media_type(request, false)?;
        let patch: Patch = body::json(request)?;
        let user = self.find(request).await?;
        let roles = patch.roles.map(parse_roles).transpose()?;
        if let Some(roles) = &roles {
            self.roles.check(roles)?;
        }
        if Self::is_caller(request, &user)? {
            if roles
                .as_ref()
                .is_some_and(|roles| !self.roles.permissions(roles).contains(USERS_WRITE))
            {
                return Err(UsersError::LockOut(
                    "You cannot take users:write from yourself; another administrator must",
                ));
            }
            if patch.disabled == Some(true) {
                return Err(UsersError::LockOut(
                    "You cannot disable yourself; another administrator must",
                ));
            }
        }
        let email = patch.email.as_deref().map(Email::parse).transpose()?;
        let password_hash = match patch.password {
            Some(password) => {
                let account = email.as_ref().unwrap_or(&user.email);
                Some(
                    self.hasher
                        .hash(self.passwords.check(password, account).await?)
                        .await?,
                )
            }
            None => None,
        };
        let changes = UserChanges {
            email,
            password_hash,
            disabled: patch.disabled,
            email_verified: None,
            roles,
            claims: patch.claims.map(CustomClaims::parse).transpose()?,
        };
        let changed = change_user(self.store.as_ref(), user.id, changes).await?;
        if changed.email_changed {
            self.mail
                .send(TokenPurpose::VerifyEmail, &changed.user)
                .await?;
        }
        let ended_sessions = changed.sessions_ended_at_ms.is_some();
        tracing::info!(user_id = %user.id, ended_sessions, "user updated by an administrator");
        Ok(json_response(
            StatusCode::OK,
            &AdminView::from(changed.user),
        ))
    }

    async fn delete(&self, request: &Request) -> Result<Response<Body>, UsersError> {
        let user = self.find(request).await?;
        if Self::is_caller(request, &user)? {
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
