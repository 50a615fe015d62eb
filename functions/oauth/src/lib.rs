//! The OAuth 2 endpoints, so that any OAuth library works with authgate unchanged: the token
//! endpoint `POST /oauth2/token` (RFC 6749 §3.2), revocation `POST /oauth2/revoke` (RFC 7009)
//! and introspection `POST /oauth2/introspect` (RFC 7662).
//!
//! The token endpoint takes:
//!
//! - `client_credentials` (§4.4): a client authenticated with `client_secret_basic` or
//!   `client_secret_post` (§2.3.1) gets a token of its own (RFC 9068), for the scopes it asks
//!   that it has (`invalid_scope` otherwise), or all of them when it asks for none (§3.3);
//! - `password` (§4.3) and `refresh_token` (§6): the same sign-in and refresh as `/auth/login`
//!   and `/auth/refresh`, answered in OAuth's shape. A client that presents credentials with
//!   them must authenticate; one that presents none is served as those routes serve everyone.
//!
//! Revocation and introspection take a client's credentials (RFC 7009 §2.1, RFC 7662 §2.1).
//! Revoking a refresh token ends its session; revoking an access token makes the authorizer
//! refuse it from then on (within its cache TTL). A client revokes and sees its own tokens, and
//! users' tokens it holds (holding one is the authority to end it); introspecting a user's token
//! or another client's needs `tokens:introspect` among the client's scopes. A token the caller
//! may not touch is answered as an unknown one: revocation says 200 (RFC 7009 §2.2), introspection
//! `{"active": false}` (RFC 7662 §2.2), so neither tells whether it exists.
//!
//! Every error is §5.2's `{"error", "error_description"}`, never cached; `invalid_client` is 401
//! with `WWW-Authenticate`. Failed client authentications are throttled per client id as
//! sign-ins are per account (429 with `Retry-After`).

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_accounts::{
    ClientAuth, ClientAuthError, ClientTokenError, ClientTokens, INVALID_CREDENTIALS,
    INVALID_REFRESH_TOKEN, PasswordSignIn, RefreshFailure, SessionRefresh, SignInError,
};
use authgate_config::TokenSettings;
use authgate_http::oauth::{GRANT_TYPES, OAuthError, OAuthErrorCode, Params, presented_client};
use authgate_http::{
    HttpHandler, client_token_response, json_response, source_ip, token_holder, token_response,
};
use authgate_keys::RingVerifier;
use authgate_runtime::{AccountStore, Backend, Env, InitError, KeysOnce};
use authgate_token::{AccessClaims, Holder, now_unix};
use authgate_users::{
    Client, RefreshRecord, RefreshToken, StoreError, TOKENS_INTROSPECT, holder_may_act, now_ms,
    parse_scopes,
};
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// `error_description` of a failed client authentication.
pub const INVALID_CLIENT: &str = "Client authentication failed";

/// The OAuth endpoints and the services they call.
pub struct OAuth {
    clients: ClientAuth,
    client_tokens: ClientTokens,
    sign_in: PasswordSignIn,
    refresh: SessionRefresh,
    verifier: RingVerifier,
    store: Arc<dyn AccountStore>,
}

/// The OAuth function: clients, users and sessions from `backend`'s store, tokens signed and
/// verified with its keys (read once), as `env`'s settings say.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<OAuth, InitError> {
    let backend = KeysOnce::load(env, backend).await?;
    Ok(OAuth {
        clients: ClientAuth::build(env, &backend)?,
        client_tokens: ClientTokens::build(env, &backend).await?,
        sign_in: PasswordSignIn::build(env, &backend).await?,
        refresh: SessionRefresh::build(env, &backend).await?,
        verifier: RingVerifier::new(
            TokenSettings::from_env(env)?.validation(),
            backend.keys(env).await?,
        ),
        store: backend.store(env)?,
    })
}

/// A presented token, as far as this deployment knows it.
enum Found {
    /// One of authgate's access tokens, verified and unexpired.
    Access(Box<AccessClaims>),
    /// A refresh token authgate issued (spent or not).
    Refresh(RefreshRecord),
    /// Anything else: malformed, expired, forged, or unknown.
    Unknown,
}

#[async_trait::async_trait]
impl HttpHandler for OAuth {
    async fn handle(&self, request: Request) -> Response<Body> {
        self.respond(&request)
            .await
            .unwrap_or_else(OAuthError::into_response)
    }
}

/// The route a request came in on: API Gateway's resource, or the path when there is none.
fn route(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) if context.resource_path.is_some() => {
            context.resource_path.clone().unwrap_or_default()
        }
        _ => request.uri().path().to_owned(),
    }
}

impl OAuth {
    async fn respond(&self, request: &Request) -> Result<Response<Body>, OAuthError> {
        let route = route(request);
        let endpoint = route.rsplit('/').next().unwrap_or_default();
        if request.method() != Method::POST {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "the OAuth endpoints take POST",
            ));
        }
        let params = Params::read(request)?;
        match endpoint {
            "token" => self.token(request, &params).await,
            "revoke" => self.revoke(request, &params).await,
            "introspect" => self.introspect(request, &params).await,
            _ => Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "no such OAuth endpoint",
            )),
        }
    }

    /// RFC 6749 §3.2.
    async fn token(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Response<Body>, OAuthError> {
        match params.required("grant_type")? {
            "client_credentials" => self.client_credentials(request, params).await,
            "password" => self.password(request, params).await,
            "refresh_token" => self.refresh_token(request, params).await,
            other => Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type {other:?} is not supported; use one of {}",
                    GRANT_TYPES.join(", ")
                ),
            )),
        }
    }

    /// The client the request authenticates, if it presents credentials.
    async fn client(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Option<Client>, OAuthError> {
        let Some(presented) = presented_client(request.headers(), params.pairs())? else {
            return Ok(None);
        };
        match self
            .clients
            .authenticate(&presented, source_ip(request))
            .await
        {
            Ok(client) => Ok(Some(client)),
            Err(ClientAuthError::Invalid) => Err(OAuthError::new(
                OAuthErrorCode::InvalidClient,
                INVALID_CLIENT,
            )),
            Err(ClientAuthError::Throttled(throttled)) => Err(OAuthError::throttled(&throttled)),
            Err(ClientAuthError::Store(e)) => Err(OAuthError::server(&e)),
        }
    }

    /// The client the request must authenticate.
    async fn authenticated(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Client, OAuthError> {
        self.client(request, params).await?.ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "this request needs the client's id and secret",
            )
        })
    }

    /// RFC 6749 §4.4.
    async fn client_credentials(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Response<Body>, OAuthError> {
        let client = self.authenticated(request, params).await?;
        let requested = params
            .get("scope")
            .map(|scope| {
                parse_scopes(scope)
                    .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))
            })
            .transpose()?
            .filter(|scopes: &BTreeSet<String>| !scopes.is_empty());
        match self.client_tokens.issue(&client, requested).await {
            Ok(issued) => Ok(client_token_response(&issued)),
            Err(ClientTokenError::InvalidScope(scope)) => Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                format!("scope {scope:?} is not granted to this client"),
            )),
            Err(e @ ClientTokenError::Sign(_)) => Err(OAuthError::server(&e)),
        }
    }

    /// RFC 6749 §4.3, as `/auth/login`.
    async fn password(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Response<Body>, OAuthError> {
        self.client(request, params).await?;
        let username = params.required("username")?;
        let password = params.required("password")?.to_owned();
        match self
            .sign_in
            .sign_in(username, password, source_ip(request))
            .await
        {
            Ok((issued, refresh)) => Ok(token_response(&issued, refresh.as_str())),
            Err(SignInError::InvalidCredentials) => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                INVALID_CREDENTIALS,
            )),
            Err(SignInError::Throttled(throttled)) => Err(OAuthError::throttled(&throttled)),
            Err(SignInError::EmailNotVerified(_)) => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                authgate_http::EMAIL_NOT_VERIFIED,
            )),
            Err(e) => Err(OAuthError::server(&e)),
        }
    }

    /// RFC 6749 §6, as `/auth/refresh`.
    async fn refresh_token(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Response<Body>, OAuthError> {
        self.client(request, params).await?;
        let presented = params.required("refresh_token")?;
        match self.refresh.refresh(presented).await {
            Ok((issued, next)) => Ok(token_response(&issued, next.as_str())),
            Err(RefreshFailure::Refused(_)) => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                INVALID_REFRESH_TOKEN,
            )),
            Err(RefreshFailure::EmailNotVerified(_)) => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                authgate_http::EMAIL_NOT_VERIFIED,
            )),
            Err(e) => Err(OAuthError::server(&e)),
        }
    }

    /// What `token` is: a refresh token by its shape and record, else an access token if it
    /// verifies now.
    async fn find(&self, token: &str) -> Result<Found, OAuthError> {
        if let Ok(refresh) = RefreshToken::parse(token) {
            return match self.store.refresh_record(&refresh.hash()).await {
                Ok(Some(record)) => Ok(Found::Refresh(record)),
                Ok(None) => Ok(Found::Unknown),
                Err(e) => Err(OAuthError::server(&e)),
            };
        }
        Ok(match self.verifier.verify(token, now_unix()).await {
            Ok(claims) => Found::Access(Box::new(claims)),
            Err(_) => Found::Unknown,
        })
    }

    /// RFC 7009 §2.1: the token ends (a refresh token's whole session), and the answer is 200
    /// whatever it was (§2.2).
    async fn revoke(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Response<Body>, OAuthError> {
        let client = self.authenticated(request, params).await?;
        let token = params.required("token")?;
        let stored = |e: StoreError| OAuthError::server(&e);
        match self.find(token).await? {
            Found::Refresh(record) => {
                self.store.revoke(record.session).await.map_err(stored)?;
                tracing::info!(client_id = %client.id, sid = %record.session, "session revoked by its refresh token");
            }
            Found::Access(claims) if may_touch(&client, &claims) => {
                self.store
                    .revoke_access_token(&claims.jti, claims.exp.saturating_mul(1000))
                    .await
                    .map_err(stored)?;
                tracing::info!(client_id = %client.id, jti = %claims.jti, "access token revoked");
            }
            Found::Access(_) | Found::Unknown => {}
        }
        let mut response = Response::new(Body::Empty);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// RFC 7662 §2: whether the token is active now, and what it says when it is.
    async fn introspect(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Response<Body>, OAuthError> {
        let client = self.authenticated(request, params).await?;
        let token = params.required("token")?;
        let any = client.scopes.contains(TOKENS_INTROSPECT);
        let now = now_ms();
        let stored = |e: StoreError| OAuthError::server(&e);
        let answer = match self.find(token).await? {
            Found::Access(claims) if any || owns(&client, &claims) => match token_holder(&claims) {
                Some(holder) => {
                    match holder_may_act(self.store.as_ref(), holder, &claims.jti, now)
                        .await
                        .map_err(stored)?
                    {
                        Ok(client_now) => Some(access_introspection(*claims, client_now)),
                        Err(_) => None,
                    }
                }
                None => None,
            },
            Found::Refresh(record) if any => {
                let live = record.consumed_at_ms.is_none() && record.expires_at_ms > now;
                let state = self
                    .store
                    .state(record.session, record.user_id)
                    .await
                    .map_err(stored)?;
                (live && state.may_act(now).is_ok()).then(|| {
                    serde_json::json!({
                        "active": true,
                        "token_type": "refresh_token",
                        "sub": record.user_id.to_string(),
                        "exp": record.expires_at_ms / 1000,
                    })
                })
            }
            _ => None,
        };
        let body = answer.unwrap_or_else(|| serde_json::json!({"active": false}));
        let mut response = json_response(StatusCode::OK, &body);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }
}

/// Whether `claims` were issued to `client` itself.
fn owns(client: &Client, claims: &AccessClaims) -> bool {
    matches!(claims.holder(), Holder::Client { client_id } if client_id == client.id.to_string())
}

/// Whether `client` may revoke the access token of `claims`: its own, or a user's it holds.
fn may_touch(client: &Client, claims: &AccessClaims) -> bool {
    match claims.holder() {
        Holder::User { .. } => true,
        Holder::Client { .. } | Holder::ApiKey { .. } => owns(client, claims),
    }
}

/// RFC 7662 §2.2's members for an active access token. A client's token grants only the
/// scopes its client still has, as the authorizer decides.
fn access_introspection(
    claims: AccessClaims,
    client_now: Option<authgate_users::ClientState>,
) -> serde_json::Value {
    let scope: Vec<&str> = claims
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .filter(|s| client_now.as_ref().is_none_or(|c| c.scopes.contains(*s)))
        .collect();
    let mut body = serde_json::json!({
        "active": true,
        "token_type": "Bearer",
        "scope": scope.join(" "),
        "sub": claims.sub,
        "iss": claims.iss,
        "aud": claims.aud,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti,
    });
    if let (Some(client_id), Some(object)) = (&claims.client_id, body.as_object_mut()) {
        object.insert("client_id".into(), client_id.clone().into());
    }
    if let (Some(email), Some(object)) = (&claims.email, body.as_object_mut()) {
        object.insert("username".into(), email.clone().into());
    }
    body
}
