//! Reading requests: bodies size-bounded, media-type checked, and precise about what is wrong;
//! a list request's page.

use lambda_http::http::header;
use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;

use crate::{ApiError, MAX_BODY_BYTES};

/// The media type a body was sent as, as far as authgate cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json` or `application/*+json`, or no `Content-Type` at all.
    Json,
    /// `application/x-www-form-urlencoded`, as OAuth2 clients and Swagger UI send.
    Form,
    /// Anything else.
    Other,
}

/// The request's media type, from `Content-Type` (parameters such as `charset` ignored).
pub fn media_type(request: &Request) -> MediaType {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return MediaType::Json;
    };
    let Ok(value) = value.to_str() else {
        return MediaType::Other;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => MediaType::Json,
        "application/x-www-form-urlencoded" => MediaType::Form,
        e if e.starts_with("application/") && e.ends_with("+json") => MediaType::Json,
        _ => MediaType::Other,
    }
}

/// The body bytes, refused past [`MAX_BODY_BYTES`].
pub fn bytes(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            max: MAX_BODY_BYTES,
        });
    }
    Ok(bytes)
}

/// Parses a JSON object body into `T`: malformed JSON is 400; anything but an object, or an
/// object of the wrong shape, is 422. (Derived structs would otherwise accept a JSON array as
/// positional fields.)
pub fn json<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = bytes(request)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "request body is empty; expected JSON".into(),
        ));
    }
    let value = authgate_token::strict_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::Unprocessable(
            "request body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::Unprocessable(format!("invalid request body: {e}")))
}

/// Parses an `application/x-www-form-urlencoded` body into `T`; a wrong shape is 422.
pub fn form<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(bytes(request)?)
        .map_err(|e| ApiError::Unprocessable(format!("invalid form body: {e}")))
}

/// Refuses a body that is neither JSON nor (when `form_ok`) a form, with 415.
pub fn require_media_type(request: &Request, form_ok: bool) -> Result<MediaType, ApiError> {
    match media_type(request) {
        MediaType::Json => Ok(MediaType::Json),
        MediaType::Form if form_ok => Ok(MediaType::Form),
        _ if form_ok => Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json or application/x-www-form-urlencoded".into(),
        )),
        _ => Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json".into(),
        )),
    }
}

/// Items per page when a list request names no `limit`.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest `limit` a list request may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// A list request's page: its `limit` (1 to [`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when
/// absent; 422 otherwise) and its `cursor`, the same for every paged admin route.
pub fn page(request: &Request) -> Result<(usize, Option<String>), ApiError> {
    use lambda_http::RequestExt;
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
    Ok((limit, query.first("cursor").map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Creds {
        email: String,
        password: String,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    #[test]
    fn malformed_json_is_400() {
        let err = json::<Creds>(&request(None, "{\"email\": ")).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(_)), "{err:?}");
    }

    #[test]
    fn wrong_shape_is_422_naming_the_problem() {
        for (body, needle) in [
            (r#"{"email": "a@b.co"}"#, "missing field `password`"),
            (
                r#"{"email": "a@b.co", "password": 12345678}"#,
                "invalid type",
            ),
            (
                r#"{"email": "a@b.co", "password": "x", "admin": true}"#,
                "unknown field `admin`",
            ),
            (r#"["a@b.co", "x"]"#, "must be a JSON object"),
        ] {
            match json::<Creds>(&request(Some("application/json"), body)) {
                Err(ApiError::Unprocessable(detail)) => {
                    assert!(detail.contains(needle), "{detail}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn oversize_body_is_refused_before_parsing() {
        let body = format!(
            r#"{{"email": "{}", "password": "x"}}"#,
            "a".repeat(MAX_BODY_BYTES)
        );
        let err = json::<Creds>(&request(None, &body)).unwrap_err();
        assert!(matches!(err, ApiError::PayloadTooLarge { .. }), "{err:?}");
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        assert_eq!(
            media_type(&request(Some("Application/JSON; charset=utf-8"), "")),
            MediaType::Json
        );
        assert_eq!(
            media_type(&request(Some("application/x-www-form-urlencoded"), "")),
            MediaType::Form
        );
        assert_eq!(
            media_type(&request(Some("text/plain"), "")),
            MediaType::Other
        );
        assert!(matches!(
            require_media_type(&request(Some("text/plain"), ""), false),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
