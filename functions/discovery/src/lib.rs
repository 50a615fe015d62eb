//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`: what another service
//! needs to verify authgate's tokens without sharing a secret.
//!
//! The JWK Set holds the public keys of `AWSCURRENT` and `AWSPREVIOUS` (so tokens signed before a
//! rotation still verify elsewhere); with HS256 it is empty, since a symmetric key is never
//! published. The discovery document names the issuer, the JWKS URL and the signing algorithm, in
//! the shape OIDC clients and API Gateway HTTP APIs' JWT authorizers read.

use std::sync::Arc;

use authgate_http::json_response;
use authgate_keys::KeyRing;
use authgate_token::KeySet;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

/// The discovery handler.
pub struct Discovery {
    keys: Arc<KeyRing>,
    issuer: String,
}

/// `https://{domain}/{stage}` as the client reached the API.
fn base_url(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() {
        let domain = context.domain_name.clone().unwrap_or_default();
        let stage = context.stage.clone().unwrap_or_default();
        let scheme = if domain.starts_with("localhost") || domain.starts_with("127.") {
            "http"
        } else {
            "https"
        };
        if !domain.is_empty() {
            return format!("{scheme}://{domain}/{stage}");
        }
    }
    String::new()
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

impl Discovery {
    /// A handler publishing `keys` for tokens of `issuer`.
    pub fn new(keys: Arc<KeyRing>, issuer: impl Into<String>) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
        }
    }

    /// Handles one request; every outcome is a response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let keys = self.keys.fresh().await;
        let is_config = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => {
                context.resource_path.as_deref() == Some("/.well-known/openid-configuration")
            }
            _ => request.uri().path().ends_with("/openid-configuration"),
        };
        let body = if is_config {
            let base = base_url(&request);
            json!({
                "issuer": self.issuer,
                "jwks_uri": format!("{base}/.well-known/jwks.json"),
                "token_endpoint": format!("{base}/auth/login"),
                "grant_types_supported": ["password", "refresh_token"],
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": algorithms(&keys),
                "token_endpoint_auth_methods_supported": ["none"],
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
