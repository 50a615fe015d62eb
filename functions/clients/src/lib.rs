//! OAuth client administration: `POST /clients`, `GET /clients` (paginated),
//! `GET/PATCH/DELETE /clients/{id}` and `POST /clients/{id}/secret`, what `authgate client` does
//! from the command line, over HTTP.
//!
//! The gateway decides first (`ROUTE_PERMISSIONS`: `clients:read` to read, `clients:write` to
//! change); this function decides again at the top of each request from the caller as stored now
//! ([`Callers`]). A caller gives a client only the administration permissions it holds itself,
//! so `clients:write` alone cannot mint a client with `users:roles`. A secret is shown once, at
//! registration and at each rotation, and only its hash is kept; a rotated-out secret keeps
//! working for `CLIENT_SECRET_OVERLAP_SECONDS` (or the request's `overlap_seconds`), so a
//! deployment can roll.

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_accounts::{Caller, CallerError, Callers};
use authgate_config::{CLIENT_SECRET_OVERLAP_SECONDS, Env as Settings};
use authgate_http::{ApiError, Endpoint, body, json_response};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_users::{
    ADMINISTRATION_PERMISSIONS, CLIENTS_READ, CLIENTS_WRITE, Client, ClientId, ClientView,
    IssuedClient, StoreError, now_ms, parse_scopes,
};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};

/// The longest client name.
pub const MAX_NAME_CHARS: usize = 100;
/// The shortest and longest lifetime a client's tokens may be given, as the deployment's
/// `ACCESS_TOKEN_TTL_SECONDS` is bounded.
pub const TOKEN_TTL_BOUNDS: (u64, u64) = (60, 86_400);

/// `POST /clients` and `PATCH /clients/{id}`: every field optional in a patch, nothing else
/// accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    audience: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    access_token_ttl_secs: Option<Option<u64>>,
    disabled: Option<bool>,
}

/// A member that is present, `null` included: absent is `None`, `null` is `Some(None)`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// `POST /clients/{id}/secret`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rotation {
    overlap_seconds: Option<u64>,
}

#[derive(Serialize)]
struct Page {
    clients: Vec<ClientView>,
    next_cursor: Option<String>,
}

/// Everything that can stop a client administration request.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error(transparent)]
    Caller(#[from] CallerError),
    #[error("no such client")]
    NotFound,
    #[error("the client changed while it was being changed")]
    Changed,
    #[error("client store failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ClientsError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::Changed => Self::Changed,
            other => Self::Store(other),
        }
    }
}

impl From<ClientsError> for ApiError {
    fn from(err: ClientsError) -> Self {
        match err {
            ClientsError::Request(api) => api,
            ClientsError::Caller(e) => e.into(),
            ClientsError::NotFound => ApiError::NotFound("Client not found".into()),
            ClientsError::Changed => ApiError::Conflict(
                "The client was changed by another request; read it again and retry".into(),
            ),
            ClientsError::Store(StoreError::BadCursor) => {
                ApiError::Unprocessable("cursor: not a cursor this API returned".into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The client administration function.
pub struct Clients {
    store: Arc<dyn AccountStore>,
    callers: Callers,
    overlap_secs: u64,
}

/// The client administration function: clients in `backend`'s store, callers judged with
/// `env`'s roles. It needs no keys: the authorizer verified the caller.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Clients, InitError> {
    Ok(Clients {
        store: backend.store(env)?,
        callers: Callers::build(env, backend)?,
        overlap_secs: env.number(&CLIENT_SECRET_OVERLAP_SECONDS)?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Clients {
    type Error = ClientsError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, ClientsError> {
        let resource = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
            _ => None,
        };
        let method = request.method().clone();
        match (resource.as_deref(), method) {
            (Some("/clients"), Method::GET) => {
                self.callers.require(&request, CLIENTS_READ).await?;
                self.list(&request).await
            }
            (Some("/clients"), Method::POST) => {
                let caller = self.callers.require(&request, CLIENTS_WRITE).await?;
                self.create(&request, &caller).await
            }
            (Some("/clients/{id}"), Method::GET) => {
                self.callers.require(&request, CLIENTS_READ).await?;
                let client = self.find(&request).await?;
                Ok(json_response(StatusCode::OK, &ClientView::from(&client)))
            }
            (Some("/clients/{id}"), Method::PATCH) => {
                let caller = self.callers.require(&request, CLIENTS_WRITE).await?;
                self.patch(&request, &caller).await
            }
            (Some("/clients/{id}"), Method::DELETE) => {
                self.callers.require(&request, CLIENTS_WRITE).await?;
                let client = self.find(&request).await?;
                self.store.delete_client(client.id).await?;
                tracing::info!(client_id = %client.id, "client deleted by an administrator");
                let mut response = Response::new(Body::Empty);
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
            (Some("/clients/{id}/secret"), Method::POST) => {
                self.callers.require(&request, CLIENTS_WRITE).await?;
                self.rotate(&request).await
            }
            _ => Err(ApiError::MethodNotAllowed("Method Not Allowed".into()).into()),
        }
    }
}

/// A request field that is not valid.
fn invalid(reason: impl Into<String>) -> ClientsError {
    ApiError::Unprocessable(reason.into()).into()
}

impl Clients {
    async fn list(&self, request: &Request) -> Result<Response<Body>, ClientsError> {
        let (limit, cursor) = body::page(request)?;
        let page = self.store.clients(limit, cursor.as_deref()).await?;
        Ok(json_response(
            StatusCode::OK,
            &Page {
                clients: page.clients.iter().map(ClientView::from).collect(),
                next_cursor: page.next,
            },
        ))
    }

    async fn create(
        &self,
        request: &Request,
        caller: &Caller,
    ) -> Result<Response<Body>, ClientsError> {
        body::require_media_type(request, false)?;
        let fields: Fields = body::json(request)?;
        if fields.disabled.is_some() {
            return Err(invalid(
                "disabled: a new client is enabled; PATCH it to disable it",
            ));
        }
        let name = fields
            .name
            .as_deref()
            .ok_or_else(|| invalid("name: required"))?;
        let (registered, secret) = Client::register(name, BTreeSet::new(), now_ms());
        let client = self.apply(caller, registered, fields)?;
        self.store.create_client(&client).await?;
        tracing::info!(client_id = %client.id, caller = %caller.id(), "client registered by an administrator");
        Ok(json_response(
            StatusCode::CREATED,
            &IssuedClient::new(&client, &secret),
        ))
    }

    async fn patch(
        &self,
        request: &Request,
        caller: &Caller,
    ) -> Result<Response<Body>, ClientsError> {
        body::require_media_type(request, false)?;
        let fields: Fields = body::json(request)?;
        let read = self.find(request).await?;
        let changed = self.apply(caller, read, fields)?;
        self.store.update_client(&changed).await?;
        tracing::info!(client_id = %changed.id, caller = %caller.id(), "client changed by an administrator");
        let stored = Client {
            version: changed.version + 1,
            ..changed
        };
        Ok(json_response(StatusCode::OK, &ClientView::from(&stored)))
    }

    async fn rotate(&self, request: &Request) -> Result<Response<Body>, ClientsError> {
        let rotation: Rotation = match request.body() {
            Body::Empty => Rotation::default(),
            Body::Text(text) if text.trim().is_empty() => Rotation::default(),
            _ => {
                body::require_media_type(request, false)?;
                body::json(request)?
            }
        };
        let overlap = match rotation.overlap_seconds {
            None => self.overlap_secs,
            Some(secs) => {
                Settings::from_pairs([(CLIENT_SECRET_OVERLAP_SECONDS.name, secs.to_string())])
                    .number(&CLIENT_SECRET_OVERLAP_SECONDS)
                    .map_err(|e| invalid(format!("overlap_seconds: {e}")))?
            }
        };
        let read = self.find(request).await?;
        let (rotated, secret) = read.rotated(now_ms(), overlap);
        self.store.update_client(&rotated).await?;
        tracing::info!(client_id = %rotated.id, overlap_secs = overlap, "client secret rotated");
        Ok(json_response(
            StatusCode::OK,
            &IssuedClient::new(&rotated, &secret),
        ))
    }

    /// `client` with `fields` applied, each checked; administration scopes only those `caller`
    /// holds itself.
    fn apply(
        &self,
        caller: &Caller,
        mut client: Client,
        fields: Fields,
    ) -> Result<Client, ClientsError> {
        if let Some(name) = fields.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
                return Err(invalid(format!("name: 1 to {MAX_NAME_CHARS} characters")));
            }
            client.name = name.to_owned();
        }
        if let Some(scopes) = fields.scopes {
            let scopes = scopes
                .iter()
                .map(|scope| match parse_scopes(scope) {
                    Ok(one) if one.len() == 1 && !scope.contains(' ') => Ok(scope.clone()),
                    _ => Err(invalid(format!(
                        "scopes: {scope:?} is not a permission name"
                    ))),
                })
                .collect::<Result<BTreeSet<_>, _>>()?;
            let mine = self.callers.permissions(caller);
            if let Some(withheld) = scopes
                .iter()
                .filter(|s| ADMINISTRATION_PERMISSIONS.contains(&s.as_str()))
                .find(|s| !mine.contains(*s))
            {
                tracing::warn!(caller = %caller.id(), scope = %withheld, "client scope refused: the caller does not hold it");
                return Err(
                    CallerError::NotPermitted("an administration scope it does not hold").into(),
                );
            }
            client.scopes = scopes;
        }
        if let Some(audience) = fields.audience {
            client.audience = match audience.map(|a| a.trim().to_owned()) {
                Some(a) if a.is_empty() || a.len() > 256 => {
                    return Err(invalid("audience: 1 to 256 characters, or null"));
                }
                other => other,
            };
        }
        if let Some(ttl) = fields.access_token_ttl_secs {
            let (min, max) = TOKEN_TTL_BOUNDS;
            if ttl.is_some_and(|t| !(min..=max).contains(&t)) {
                return Err(invalid(format!(
                    "access_token_ttl_secs: {min} to {max}, or null"
                )));
            }
            client.access_token_ttl_secs = ttl;
        }
        if let Some(disabled) = fields.disabled {
            client.disabled = disabled;
        }
        Ok(client)
    }

    async fn find(&self, request: &Request) -> Result<Client, ClientsError> {
        let id: ClientId = request
            .path_parameters_ref()
            .and_then(|params| params.first("id"))
            .and_then(|id| id.parse().ok())
            .ok_or(ClientsError::NotFound)?;
        self.store.client(id).await?.ok_or(ClientsError::NotFound)
    }
}
