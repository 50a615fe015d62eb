//! `GET /.well-known/jwks.json`, `GET /.well-known/openid-configuration` and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414): what another service needs to
//! verify authgate's tokens without sharing a secret, and what an OAuth client needs to find the
//! token, revocation and introspection endpoints.
//!
//! The JWK Set holds the public keys of `AWSCURRENT` and `AWSPREVIOUS` (so tokens signed before a
//! rotation still verify elsewhere); with HS256 it is empty, since a symmetric key is never
//! published. Both metadata documents are the same: the issuer, the JWKS URL, the signing
//! algorithm and the endpoints with what they take (RFC 8414 §2), in the shape OIDC clients, OAuth
//! libraries and API Gateway HTTP APIs' JWT authorizers read.

use std::sync::Arc;

use authgate_config::{AuthzSettings, TokenSettings};
use authgate_http::oauth::{CLIENT_AUTH_METHODS, GRANT_TYPES, TOKEN_AUTH_METHODS};
use authgate_http::{HttpHandler, json_response};
use authgate_keys::KeyRing;
use authgate_runtime::{Backend, Env, InitError};
use authgate_token::KeySet;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

/// The discovery handler.
pub struct Discovery {
    keys: Arc<KeyRing>,
    issuer: String,
    scopes: Vec<String>,
}

/// The API's base URL as the client reached it: https, which API Gateway's endpoints always are,
/// the domain, and the part of the request path before the route's resource path (`/{stage}` on
/// the execute-api domain, a base path mapping or nothing on a custom domain). Only on a loopback
/// domain (`authgate serve`, plain HTTP) does `X-Forwarded-Proto: http` make it http: anywhere
/// else the header is the client's to set, and the answer is cached publicly.
fn base_url(request: &Request) -> String {
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return String::new();
    };
    let Some(domain) = context.domain_name.as_deref().filter(|d| !d.is_empty()) else {
        return String::new();
    };
    let says_http = request
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"http"));
    let scheme = if says_http && is_loopback(domain) {
        "http"
    } else {
        "https"
    };
    let stage_prefix = format!("/{}", context.stage.as_deref().unwrap_or_default());
    let prefix = match (context.path.as_deref(), context.resource_path.as_deref()) {
        (Some(path), Some(resource)) => path.strip_suffix(resource).unwrap_or(&stage_prefix),
        _ => &stage_prefix,
    };
    format!("{scheme}://{domain}{}", prefix.trim_end_matches('/'))
}

/// Whether `domain` (a host, with or without a port) names this machine.
fn is_loopback(domain: &str) -> bool {
    let host = match domain.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => domain.rsplit_once(':').map_or(domain, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn algorithms(keys: &KeySet) -> Vec<String> {
    let mut algs: Vec<String> = keys.public_jwks()["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["alg"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    algs.sort();
    algs.dedup();
    algs
}

/// The discovery function: the public halves of `backend`'s keys, for tokens of `env`'s issuer.
/// It needs no store.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Discovery, InitError> {
    Ok(Discovery {
        keys: backend.verifying_keys(env).await?,
        issuer: TokenSettings::from_env(env)?.issuer,
        scopes: AuthzSettings::from_env(env)?
            .roles
            .all_permissions()
            .into_iter()
            .collect(),
    })
}

#[async_trait::async_trait]
impl HttpHandler for Discovery {
    async fn handle(&self, request: Request) -> Response<Body> {
        let keys = self.keys.fresh().await;
        let route = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => {
                context.resource_path.clone().unwrap_or_default()
            }
            _ => request.uri().path().to_owned(),
        };
        let is_metadata = route.ends_with("/openid-configuration")
            || route.ends_with("/oauth-authorization-server");
        let body = if is_metadata {
            let base = base_url(&request);
            json!({
                "issuer": self.issuer,
                "jwks_uri": format!("{base}/.well-known/jwks.json"),
                "token_endpoint": format!("{base}/oauth2/token"),
                "revocation_endpoint": format!("{base}/oauth2/revoke"),
                "introspection_endpoint": format!("{base}/oauth2/introspect"),
                "grant_types_supported": GRANT_TYPES,
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
                "scopes_supported": self.scopes,
                "id_token_signing_alg_values_supported": algorithms(&keys),
                "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
                "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
                "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            })
        } else {
            keys.public_jwks()
        };
        let mut response = json_response(StatusCode::OK, &body);
        // Verifiers cache these; five minutes matches how fast functions follow a rotation.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        response
    }
}
