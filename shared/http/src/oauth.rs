//! What the OAuth 2 endpoints share: errors as RFC 6749 §5.2 has them, and reading the client's
//! credentials from a request as §2.3.1 allows (HTTP Basic, or the form body).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::Body;
use lambda_http::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde::Serialize;

/// The grant types the token endpoint takes, as metadata lists them (RFC 8414 §2).
pub const GRANT_TYPES: [&str; 3] = ["client_credentials", "password", "refresh_token"];
/// How clients authenticate at the token endpoint (RFC 8414 §2): with a secret (RFC 6749
/// §2.3.1), or as a public client for the password and refresh-token grants.
pub const TOKEN_AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];
/// How clients authenticate at the revocation and introspection endpoints.
pub const CLIENT_AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The error codes of RFC 6749 §5.2 (and §4.1.2.1's `server_error` and
/// `temporarily_unavailable`, which token endpoints answer too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
}

/// An error of an OAuth endpoint: `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error:?}: {error_description}")]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    pub error_description: String,
    /// Set when a throttle refused the request: 429 with `Retry-After` (RFC 6585 §4).
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl OAuthError {
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            retry_after_secs: None,
        }
    }

    /// A request a throttle refused: RFC 6749 has no code for it, so the status says it (429,
    /// RFC 6585 §4) and the code is §5.2's `invalid_request`, with the reason in the description.
    pub fn throttled(throttled: &authgate_users::Throttled) -> Self {
        Self {
            retry_after_secs: Some(throttled.retry_after_secs()),
            ..Self::new(OAuthErrorCode::InvalidRequest, throttled.to_string())
        }
    }

    /// The server's own failure: an opaque `server_error` (RFC 6749 §5.2 lists none for token
    /// endpoints, so this follows §4.1.2.1), while the log keeps the cause's chain.
    pub fn server(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %crate::error_chain(cause), "OAuth endpoint failed");
        Self::new(
            OAuthErrorCode::ServerError,
            "The server could not complete the request",
        )
    }

    /// The status §5.2 gives the code: 401 for a client that failed to authenticate, 500 and
    /// 503 for the server's own trouble, 429 for a throttled request, 400 for the rest.
    pub fn status(&self) -> StatusCode {
        if self.retry_after_secs.is_some() {
            return StatusCode::TOO_MANY_REQUESTS;
        }
        match self.error {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON response, never cached (§5.1); a 401 names the scheme to authenticate with, as
    /// §5.2 requires of `invalid_client`.
    pub fn into_response(self) -> Response<Body> {
        let mut response = crate::token::no_store(crate::json_response(self.status(), &self));
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.error == OAuthErrorCode::InvalidClient {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"authgate\""),
            );
        }
        response
    }
}

/// The parameters of an OAuth request body: `application/x-www-form-urlencoded` (RFC 6749
/// §3.2), each name at most once (§3.1: "Request and response parameters MUST NOT be included
/// more than once"), an empty value read as absent (§3.1: "Parameters sent without a value MUST
/// be treated as if they were omitted").
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Params {
    /// The form of `request`: `invalid_request` for another media type, a body that does not
    /// read as a form, or a name given twice.
    pub fn read(request: &lambda_http::Request) -> Result<Self, OAuthError> {
        if crate::body::media_type(request) != crate::body::MediaType::Form
            || request.headers().get(header::CONTENT_TYPE).is_none()
        {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let bytes: &[u8] = match request.body() {
            Body::Empty => &[],
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|_| {
            OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "the body is not a valid form",
            )
        })?;
        let mut seen = std::collections::BTreeSet::new();
        for (name, _) in &pairs {
            if !seen.insert(name.as_str()) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    format!("{name} is given more than once"),
                ));
            }
        }
        Ok(Self(
            pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        ))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                format!("{name} is required"),
            )
        })
    }

    /// Every pair, as [`presented_client`] reads them.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: the `Authorization: Basic` header.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// A client's id and secret as presented. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedClient {
    pub client_id: String,
    pub client_secret: String,
    pub method: ClientAuthMethod,
}

impl std::fmt::Debug for PresentedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedClient")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// One `application/x-www-form-urlencoded` component: `+` is a space, then `%XX` escapes.
fn form_decode(component: &str) -> Option<String> {
    let spaced = component.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The client credentials of a token, revocation or introspection request (RFC 6749 §2.3.1): from
/// `Authorization: Basic` (id and secret each form-urlencoded, then joined by `:` and base64),
/// or from the form's `client_id` and `client_secret`. Neither is `Ok(None)`; both, or a header
/// that does not read, is `invalid_request` or `invalid_client` as the RFC has it.
pub fn presented_client(
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Option<PresentedClient>, OAuthError> {
    let field = |name: &str| -> Result<Option<&str>, OAuthError> {
        let mut values = form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (_, Some(_)) => Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                format!("{name} is given more than once"),
            )),
            (value, None) => Ok(value),
        }
    };
    let posted = match (field("client_id")?, field("client_secret")?) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => None,
    };
    let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
    let basic = match (authorizations.next(), authorizations.next()) {
        (_, Some(_)) => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "more than one Authorization header",
            ));
        }
        (None, None) => None,
        (Some(value), None) => Some(read_basic(value)?),
    };
    let unreadable = || {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "the Authorization header is not HTTP Basic client credentials",
        )
    };
    match (basic, posted) {
        (Some(_), Some(_)) => Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "client credentials in both the Authorization header and the body",
        )),
        (Some(None), None) => Err(unreadable()),
        (Some(Some((client_id, client_secret))), None) => Ok(Some(PresentedClient {
            client_id,
            client_secret,
            method: ClientAuthMethod::Basic,
        })),
        (None, Some((client_id, client_secret))) => Ok(Some(PresentedClient {
            client_id,
            client_secret,
            method: ClientAuthMethod::Post,
        })),
        (None, None) => Ok(None),
    }
}

/// The id and secret of a `Basic` header; `Ok(None)` when it is another scheme or does not read.
fn read_basic(value: &HeaderValue) -> Result<Option<(String, String)>, OAuthError> {
    let Ok(value) = value.to_str() else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let Some(decoded) = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return Ok(None);
    };
    let Some((id, secret)) = decoded.split_once(':') else {
        return Ok(None);
    };
    Ok(form_decode(id).zip(form_decode(secret)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn basic_credentials_are_form_decoded_after_base64() {
        let found = presented_client(&basic("my%20app", "s3cr%3At+x"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.client_id.as_str(), found.client_secret.as_str()),
            ("my app", "s3cr:t x")
        );
        assert_eq!(found.method, ClientAuthMethod::Basic);
        assert!(
            !format!("{found:?}").contains("s3cr"),
            "Debug hides the secret"
        );
    }

    #[test]
    fn posted_credentials_are_read_from_the_form() {
        let found = presented_client(
            &HeaderMap::new(),
            &form(&[("client_id", "app"), ("client_secret", "s")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.method, ClientAuthMethod::Post);
        assert_eq!(
            presented_client(&HeaderMap::new(), &form(&[("client_id", "app")])),
            Ok(None)
        );
    }

    #[test]
    fn two_methods_repeats_and_unreadable_headers_are_refused() {
        let both = presented_client(
            &basic("app", "s"),
            &form(&[("client_id", "app"), ("client_secret", "s")]),
        );
        assert_eq!(both.unwrap_err().error, OAuthErrorCode::InvalidRequest);
        let twice = presented_client(
            &HeaderMap::new(),
            &form(&[
                ("client_id", "a"),
                ("client_id", "b"),
                ("client_secret", "s"),
            ]),
        );
        assert_eq!(twice.unwrap_err().error, OAuthErrorCode::InvalidRequest);
        for bad in ["Basic !!!", "Bearer abc", "Basic", "Basic YWJj"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, bad.parse().unwrap());
            let refused = presented_client(&headers, &[]).unwrap_err();
            assert_eq!(refused.error, OAuthErrorCode::InvalidClient, "{bad}");
        }
    }

    #[test]
    fn errors_are_rfc_6749_json_and_invalid_client_asks_for_basic() {
        let response =
            OAuthError::new(OAuthErrorCode::InvalidClient, "unknown client").into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"authgate\""
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let Body::Text(body) = response.body() else {
            panic!("a text body");
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
            serde_json::json!({"error": "invalid_client", "error_description": "unknown client"})
        );
        let scope = OAuthError::new(OAuthErrorCode::InvalidScope, "x").into_response();
        assert_eq!(scope.status(), 400);
        assert!(scope.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
