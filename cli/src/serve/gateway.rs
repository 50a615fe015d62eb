//! A local API Gateway: the REST API of `template.yaml`, in front of the real handlers.
//!
//! Each request goes through the steps API Gateway takes: route lookup; for protected routes the
//! identity source and its validation expression, then the TOKEN authorizer (or its cached
//! result), then the returned policy evaluated against the method ARN; then the REST proxy event
//! (built with `aws_lambda_events` types and parsed by `lambda_http` exactly as in Lambda) handed
//! to the same handler library the Lambda runs. Gateway errors use the template's
//! `GatewayResponses`, so the 401 and 403 bodies are the deployed ones.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authorizer::{Policy, Unauthorized};
use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequest, ApiGatewayProxyRequest};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use regex::Regex;
use serde_json::{Value, json};

use super::template::{ApiSpec, GatewayResponse, Route};

/// Region, account and API id in the method ARNs the local gateway builds.
const LOCAL_ARN_PREFIX: &str = "arn:aws:execute-api:local:000000000000:local";
/// API Gateway's payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The most authorizer results the local gateway keeps: past it, the oldest goes, so a stream of
/// distinct tokens cannot grow `serve`'s memory.
pub const MAX_CACHED_AUTHORIZATIONS: usize = 10_000;

/// A function the gateway can invoke with a proxy request.
pub type HttpFunction =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync>;

/// A TOKEN authorizer: the real one in `serve`, any policy in tests.
pub type AuthorizerFunction = Arc<
    dyn Fn(
            ApiGatewayCustomAuthorizerRequest,
        ) -> Pin<Box<dyn Future<Output = AuthorizerResult> + Send>>
        + Send
        + Sync,
>;

/// What an authorizer invocation returns.
pub type AuthorizerResult = Result<Policy, Unauthorized>;

/// The template and the available handlers do not fit together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GatewayError {
    #[error(
        "route {method} {path} needs function {function}, which the local gateway does not have"
    )]
    MissingFunction {
        method: String,
        path: String,
        function: String,
    },
    #[error("function {0} is available locally but no route in template.yaml uses it")]
    UnusedFunction(String),
    #[error("routes are protected but the template declares no authorizer")]
    NoAuthorizer,
    #[error("the template names authorizer function {0}, which the local gateway does not have")]
    WrongAuthorizer(String),
    #[error("invalid authorizer validation expression: {0}")]
    BadValidationExpression(String),
}

/// An HTTP request as the gateway sees it.
#[derive(Debug)]
pub struct IncomingRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: String,
}

/// What the gateway answers.
#[derive(Debug)]
pub struct OutgoingResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

enum Decision {
    Unauthorized,
    Denied,
    Allowed {
        principal: String,
        context: serde_json::Map<String, Value>,
    },
}

struct LocalAuthorizer {
    header: String,
    validation: Option<Regex>,
    authorizer: AuthorizerFunction,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Policy)>>,
}

/// The local gateway.
pub struct Gateway {
    spec: ApiSpec,
    stage: String,
    functions: HashMap<String, HttpFunction>,
    authorizer: Option<LocalAuthorizer>,
}

use authorizer::policy_allows;

impl LocalAuthorizer {
    async fn decide(&self, headers: &HeaderMap, method_arn: &str) -> Decision {
        // The identity source named twice: which one API Gateway would pass on is not something
        // its documentation says, so the local gateway takes neither and refuses.
        let mut values = headers.get_all(self.header.as_str()).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Decision::Unauthorized;
        };
        let Ok(token) = value.to_str() else {
            return Decision::Unauthorized;
        };
        if token.is_empty()
            || self
                .validation
                .as_ref()
                .is_some_and(|re| !re.is_match(token))
        {
            return Decision::Unauthorized;
        }
        let cached = self.cached(token);
        let response = match cached {
            Some(response) => response,
            None => {
                let mut event = ApiGatewayCustomAuthorizerRequest::default();
                event.type_ = Some("TOKEN".into());
                event.authorization_token = Some(token.to_owned());
                event.method_arn = Some(method_arn.to_owned());
                match (self.authorizer)(event).await {
                    Ok(response) => {
                        self.remember(token, &response);
                        response
                    }
                    Err(_) => return Decision::Unauthorized,
                }
            }
        };
        if !policy_allows(&response, method_arn) {
            return Decision::Denied;
        }
        Decision::Allowed {
            context: response.context.fields(),
            principal: response.principal_id.unwrap_or_default(),
        }
    }

    fn cached(&self, token: &str) -> Option<Policy> {
        let cache = self.cache.lock().ok()?;
        let (at, response) = cache.get(token)?;
        (at.elapsed() < self.ttl).then(|| response.clone())
    }

    fn remember(&self, token: &str, response: &Policy) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if cache.len() >= MAX_CACHED_AUTHORIZATIONS {
                let oldest = cache
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(token, _)| token.clone());
                if let Some(oldest) = oldest {
                    cache.remove(&oldest);
                }
            }
            cache.insert(token.to_owned(), (Instant::now(), response.clone()));
        }
    }

    fn cached_results(&self) -> usize {
        self.cache.lock().map_or(0, |cache| cache.len())
    }
}

impl Gateway {
    /// A gateway for `spec` with these functions by logical id; fails if the two disagree.
    pub fn new(
        spec: ApiSpec,
        functions: HashMap<String, HttpFunction>,
        authorizer: Option<(String, AuthorizerFunction)>,
        cache_ttl: Option<Duration>,
    ) -> Result<Self, GatewayError> {
        for route in &spec.routes {
            if !functions.contains_key(&route.function) {
                return Err(GatewayError::MissingFunction {
                    method: route.method.clone(),
                    path: route.path.clone(),
                    function: route.function.clone(),
                });
            }
        }
        for name in functions.keys() {
            if !spec.routes.iter().any(|r| &r.function == name) {
                return Err(GatewayError::UnusedFunction(name.clone()));
            }
        }
        let needs_authorizer = spec.routes.iter().any(|r| r.protected);
        let authorizer = match (&spec.authorizer, authorizer) {
            (Some(config), Some((name, authorizer))) => {
                if config.function != name {
                    return Err(GatewayError::WrongAuthorizer(config.function.clone()));
                }
                let validation = config
                    .validation_expression
                    .as_deref()
                    .map(Regex::new)
                    .transpose()
                    .map_err(|e| GatewayError::BadValidationExpression(e.to_string()))?;
                Some(LocalAuthorizer {
                    header: config.header.to_ascii_lowercase(),
                    validation,
                    authorizer,
                    ttl: cache_ttl.unwrap_or(Duration::from_secs(config.cache_ttl_secs)),
                    cache: Mutex::new(HashMap::new()),
                })
            }
            (Some(config), None) => {
                return Err(GatewayError::WrongAuthorizer(config.function.clone()));
            }
            (None, _) if needs_authorizer => return Err(GatewayError::NoAuthorizer),
            (None, _) => None,
        };
        let stage = spec
            .parameter_defaults
            .get("StageName")
            .cloned()
            .unwrap_or_else(|| "Prod".into());
        Ok(Self {
            spec,
            stage,
            functions,
            authorizer,
        })
    }

    /// The routes served, for the start-up banner.
    pub fn routes(&self) -> &[Route] {
        &self.spec.routes
    }

    /// The authorizer's result cache TTL, if there is an authorizer.
    pub fn authorizer_cache_ttl(&self) -> Option<Duration> {
        self.authorizer.as_ref().map(|a| a.ttl)
    }

    /// How many authorizer results are cached now.
    pub fn cached_authorizations(&self) -> usize {
        self.authorizer
            .as_ref()
            .map_or(0, LocalAuthorizer::cached_results)
    }

    /// A response of one of the template's gateway response types.
    fn gateway_response(
        &self,
        kind: &str,
        default_status: StatusCode,
        message: &str,
    ) -> OutgoingResponse {
        let fallback = if default_status.is_server_error() {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let configured: Option<&GatewayResponse> = self
            .spec
            .gateway_responses
            .get(kind)
            .or_else(|| self.spec.gateway_responses.get(fallback));
        let quoted = Value::String(message.to_owned()).to_string();
        let body = configured
            .and_then(|r| r.body.clone())
            .unwrap_or_else(|| json!({"message": message}).to_string())
            .replace("$context.error.messageString", &quoted)
            .replace("$context.error.message", message);
        let status = self
            .spec
            .gateway_responses
            .get(kind)
            .and_then(|r| r.status)
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(default_status);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in configured.map(|r| r.headers.as_slice()).unwrap_or_default() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        OutgoingResponse {
            status,
            headers,
            body: body.into_bytes(),
        }
    }

    /// API Gateway's answer to a body over its payload limit.
    pub fn payload_too_large(&self) -> OutgoingResponse {
        self.gateway_response(
            "REQUEST_TOO_LARGE",
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Too Long",
        )
    }

    /// Serves one request.
    pub async fn handle(&self, incoming: IncomingRequest<'_>) -> OutgoingResponse {
        let Some((route, raw_params)) = self.spec.route(incoming.method, incoming.path) else {
            return self.gateway_response(
                "MISSING_AUTHENTICATION_TOKEN",
                StatusCode::FORBIDDEN,
                "Missing Authentication Token",
            );
        };
        if incoming.body.len() > MAX_PAYLOAD_BYTES {
            return self.payload_too_large();
        }
        // A REST API hands its functions path parameters percent-decoded (the path itself stays
        // as the client sent it).
        let path_params: BTreeMap<String, String> = raw_params
            .into_iter()
            .map(|(name, value)| {
                let decoded = percent_encoding::percent_decode_str(&value).decode_utf8_lossy();
                (name, decoded.into_owned())
            })
            .collect();
        let method_arn = format!(
            "{LOCAL_ARN_PREFIX}/{}/{}{}",
            self.stage, incoming.method, incoming.path
        );
        let mut authorizer_fields = None;
        if route.protected {
            let Some(authorizer) = &self.authorizer else {
                return self.gateway_response(
                    "AUTHORIZER_CONFIGURATION_ERROR",
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                );
            };
            match authorizer.decide(incoming.headers, &method_arn).await {
                Decision::Unauthorized => {
                    return self.gateway_response(
                        "UNAUTHORIZED",
                        StatusCode::UNAUTHORIZED,
                        "Unauthorized",
                    );
                }
                Decision::Denied => {
                    return self.gateway_response(
                        "ACCESS_DENIED",
                        StatusCode::FORBIDDEN,
                        "User is not authorized to access this resource",
                    );
                }
                Decision::Allowed {
                    principal,
                    mut context,
                } => {
                    context.insert("principalId".into(), principal.into());
                    authorizer_fields = Some(context);
                }
            }
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let request = match self.proxy_request(
            route,
            &path_params,
            &incoming,
            authorizer_fields,
            &request_id,
        ) {
            Ok(request) => request,
            Err(e) => {
                tracing::error!(error = %e, "could not build the proxy event");
                return self.gateway_response(
                    "DEFAULT_5XX",
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                );
            }
        };
        let Some(function) = self.functions.get(&route.function) else {
            return self.gateway_response(
                "DEFAULT_5XX",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            );
        };
        let response = function(request).await;
        let (parts, body) = response.into_parts();
        let mut headers = parts.headers;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-requestid", value);
        }
        let body = match body {
            Body::Text(text) => text.into_bytes(),
            Body::Binary(bytes) => bytes,
            _ => Vec::new(),
        };
        OutgoingResponse {
            status: parts.status,
            headers,
            body,
        }
    }

    /// The REST proxy event API Gateway would send, parsed by `lambda_http` as in Lambda.
    fn proxy_request(
        &self,
        route: &Route,
        path_params: &BTreeMap<String, String>,
        incoming: &IncomingRequest<'_>,
        authorizer: Option<serde_json::Map<String, Value>>,
        request_id: &str,
    ) -> Result<Request, String> {
        let mut single = serde_json::Map::new();
        let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
        // API Gateway tells the function how the client connected; locally that is plain HTTP.
        let mut headers = incoming.headers.clone();
        headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_owned();
        for (name, value) in &headers {
            // Header values are bytes; one that is not UTF-8 is passed on with its bad bytes
            // replaced, never turned into a 500.
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            single.insert(name.as_str().to_owned(), Value::String(value.clone()));
            if let Some(Value::Array(values)) = multi.get_mut(name.as_str()) {
                values.push(Value::String(value));
            } else {
                multi.insert(name.as_str().to_owned(), json!([value]));
            }
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(incoming.query.unwrap_or("")).map_err(|e| e.to_string())?;
        let (query, multi_query) = if pairs.is_empty() {
            (Value::Null, Value::Null)
        } else {
            let mut one = serde_json::Map::new();
            let mut many: serde_json::Map<String, Value> = serde_json::Map::new();
            for (k, v) in pairs {
                one.insert(k.clone(), Value::String(v.clone()));
                match many.get_mut(&k) {
                    Some(Value::Array(values)) => values.push(Value::String(v)),
                    _ => {
                        many.insert(k, json!([v]));
                    }
                }
            }
            (Value::Object(one), Value::Object(many))
        };
        let (body, is_base64) = match std::str::from_utf8(incoming.body) {
            Ok("") => (Value::Null, false),
            Ok(text) => (Value::String(text.to_owned()), false),
            Err(_) => {
                use base64::Engine;
                (
                    Value::String(base64::engine::general_purpose::STANDARD.encode(incoming.body)),
                    true,
                )
            }
        };
        let mut context = json!({
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": incoming.method,
            // Served without the stage prefix, as on a custom domain.
            "path": incoming.path,
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": "localhost",
            "requestId": request_id,
            "requestTimeEpoch": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            "identity": {"sourceIp": incoming.source_ip, "userAgent": single.get("user-agent").cloned().unwrap_or(Value::Null)},
            "domainName": host,
            "apiId": "local",
        });
        if let Some(fields) = authorizer {
            context["authorizer"] = Value::Object(fields);
        }
        let event = json!({
            "resource": route.path,
            "path": incoming.path,
            "httpMethod": incoming.method,
            "headers": single,
            "multiValueHeaders": multi,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": if path_params.is_empty() { Value::Null } else { json!(path_params) },
            "stageVariables": Value::Null,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": is_base64,
        });
        // Checked against the aws_lambda_events type, then parsed as the Lambda runtime parses it.
        let typed: ApiGatewayProxyRequest =
            serde_json::from_value(event).map_err(|e| e.to_string())?;
        let wire = serde_json::to_string(&typed).map_err(|e| e.to_string())?;
        lambda_http::request::from_str(&wire).map_err(|e| e.to_string())
    }
}
