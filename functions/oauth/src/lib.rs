//! The OAuth 2 token endpoint, `POST /oauth2/token` (RFC 6749 §3.2), so that any OAuth library
//! gets tokens from authgate unchanged:
//!
//! - `client_credentials` (§4.4): a client authenticated with `client_secret_basic` or
//!   `client_secret_post` (§2.3.1) gets a token of its own (RFC 9068), for the scopes it asks
//!   that it has (`invalid_scope` otherwise), or all of them when it asks for none (§3.3);
//! - `password` (§4.3) and `refresh_token` (§6): the same sign-in and refresh as `/auth/login`
//!   and `/auth/refresh`, answered in OAuth's shape. A client that presents credentials with
//!   them must authenticate; one that presents none is served as those routes serve everyone.
//!
//! Every error is §5.2's `{"error", "error_description"}`, never cached; `invalid_client` is 401
//! with `WWW-Authenticate`. Failed client authentications are throttled per client id as
//! sign-ins are per account (429 with `Retry-After`).

use std::collections::BTreeSet;

use authgate_accounts::{
    ClientAuth, ClientAuthError, ClientTokenError, ClientTokens, PasswordSignIn, RefreshFailure,
    SessionRefresh, SignInError,
};
use authgate_http::oauth::{OAuthError, OAuthErrorCode, Params, presented_client};
use authgate_http::{HttpHandler, client_token_response, source_ip, token_response};
use authgate_runtime::{Backend, Env, InitError};
use authgate_users::{Client, parse_scopes};
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// `error_description` of a password grant with a wrong email or password.
pub const INVALID_CREDENTIALS: &str = "Incorrect email or password";
/// `error_description` of a refused refresh token.
pub const INVALID_REFRESH_TOKEN: &str = "Invalid or expired refresh token";
/// `error_description` of a failed client authentication.
pub const INVALID_CLIENT: &str = "Client authentication failed";

/// The grant types the token endpoint takes, as metadata lists them (RFC 8414 §2).
pub const GRANT_TYPES: [&str; 3] = ["client_credentials", "password", "refresh_token"];

/// The OAuth endpoints and the services they call.
pub struct OAuth {
    clients: ClientAuth,
    client_tokens: ClientTokens,
    sign_in: PasswordSignIn,
    refresh: SessionRefresh,
}

/// The OAuth function: clients, users and sessions from `backend`'s store, tokens signed with its
/// keys, as `env`'s settings say.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<OAuth, InitError> {
    Ok(OAuth {
        clients: ClientAuth::build(env, backend)?,
        client_tokens: ClientTokens::build(env, backend).await?,
        sign_in: PasswordSignIn::build(env, backend).await?,
        refresh: SessionRefresh::build(env, backend).await?,
    })
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
        if request.method() != Method::POST || !route(request).ends_with("/oauth2/token") {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "the OAuth endpoints take POST /oauth2/token",
            ));
        }
        let params = Params::read(request)?;
        match params.required("grant_type")? {
            "client_credentials" => self.client_credentials(request, &params).await,
            "password" => self.password(request, &params).await,
            "refresh_token" => self.refresh_token(request, &params).await,
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

    /// RFC 6749 §4.4.
    async fn client_credentials(
        &self,
        request: &Request,
        params: &Params,
    ) -> Result<Response<Body>, OAuthError> {
        let client = self.client(request, params).await?.ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "client_credentials needs the client's id and secret",
            )
        })?;
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
}
