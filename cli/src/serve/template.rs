//! What the local gateway needs from `template.yaml`: routes, the authorizer, gateway responses.
//!
//! The gateway is configured from the template itself rather than from a copy, so `authgate serve`
//! serves exactly the routes `sam deploy` creates, with the same authorizer settings and the same
//! 401/403 bodies.

use std::collections::BTreeMap;

use serde::Deserialize;

/// API Gateway's authorizer result cache TTL when the template sets none.
const DEFAULT_AUTHORIZER_CACHE_TTL_SECS: u64 = 300;

/// The template this binary was built with.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// The template cannot be used as a gateway configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template is not valid YAML: {0}")]
    Yaml(String),
    #[error("template has no {0}")]
    Missing(String),
    #[error("template value at {0} is not what the local gateway understands")]
    Unsupported(String),
}

/// One API route: method, path, the function that serves it, and whether the authorizer guards it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// Upper-case HTTP method, or `ANY`.
    pub method: String,
    /// Path as declared, e.g. `/users/me` or `/items/{id}`.
    pub path: String,
    /// Logical id of the function.
    pub function: String,
    /// Whether the authorizer runs first.
    pub protected: bool,
}

/// A `GatewayResponses` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayResponse {
    /// Status override, if any.
    pub status: Option<u16>,
    /// The `application/json` body template.
    pub body: Option<String>,
    /// Extra headers (values already unquoted).
    pub headers: Vec<(String, String)>,
}

/// The TOKEN authorizer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// Logical id of the authorizer function.
    pub function: String,
    /// Request header holding the token.
    pub header: String,
    /// API Gateway's pre-check of the header, if any.
    pub validation_expression: Option<String>,
    /// Result cache TTL, seconds (the parameter's default when it is a `!Ref`).
    pub cache_ttl_secs: u64,
}

/// The gateway-relevant parts of the template.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    /// Every route of the API, sorted.
    pub routes: Vec<Route>,
    /// The default authorizer.
    pub authorizer: Option<AuthorizerConfig>,
    /// Gateway responses by type (`UNAUTHORIZED`, `ACCESS_DENIED`, ...).
    pub gateway_responses: BTreeMap<String, GatewayResponse>,
    /// Default of each template parameter.
    pub parameter_defaults: BTreeMap<String, String>,
    /// The variables every function gets (`Globals.Function.Environment`), with parameters at
    /// their defaults; a value the local gateway cannot compute (an `!If`, a `!Sub`) is absent.
    pub function_environment: BTreeMap<String, String>,
    /// The variables each function sets for itself, by logical id, resolved the same way (a
    /// reference to another resource, such as the table's name, is absent).
    pub own_environment: BTreeMap<String, BTreeMap<String, String>>,
}

/// A leaf value: a literal, or an intrinsic function (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...).
#[derive(Debug, Clone, PartialEq)]
enum Leaf {
    Literal(String),
    Ref(String),
    GetAtt(String),
    Other,
}

impl<'de> Deserialize<'de> for Leaf {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use yaml_serde::Value;
        let literal = |value: &Value| match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let value = Value::deserialize(deserializer)?;
        Ok(match &value {
            Value::Tagged(tagged) => {
                match (tagged.tag.to_string().as_str(), literal(&tagged.value)) {
                    ("!Ref", Some(name)) => Leaf::Ref(name),
                    ("!GetAtt", Some(target)) => Leaf::GetAtt(target),
                    _ => Leaf::Other,
                }
            }
            other => literal(other).map_or(Leaf::Other, Leaf::Literal),
        })
    }
}

impl Leaf {
    /// The value with parameters at their defaults, if it can be computed here.
    fn resolve(&self, defaults: &BTreeMap<String, String>) -> Option<String> {
        match self {
            Leaf::Literal(value) => Some(value.clone()),
            Leaf::Ref(name) => defaults.get(name).cloned(),
            _ => None,
        }
    }

    /// The logical id a `!Ref Name` or `!GetAtt Name.Attribute` points at.
    fn referenced_id(&self) -> Option<&str> {
        match self {
            Leaf::Ref(id) => Some(id),
            Leaf::GetAtt(target) => target.split('.').next(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Template {
    #[serde(default)]
    parameters: BTreeMap<String, Parameter>,
    #[serde(default)]
    globals: Globals,
    resources: BTreeMap<String, Resource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Parameter {
    default: Option<Leaf>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Globals {
    #[serde(default)]
    function: FunctionGlobals,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FunctionGlobals {
    #[serde(default)]
    environment: Environment,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Environment {
    #[serde(default)]
    variables: BTreeMap<String, Leaf>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties", default)]
    properties: Option<yaml_serde::Value>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiProperties {
    #[serde(default)]
    auth: Option<ApiAuth>,
    #[serde(default)]
    gateway_responses: BTreeMap<String, ResponseConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiAuth {
    default_authorizer: Option<String>,
    #[serde(default)]
    authorizers: BTreeMap<String, AuthorizerDefinition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthorizerDefinition {
    function_arn: Leaf,
    #[serde(default)]
    identity: Identity,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Identity {
    header: Option<String>,
    validation_expression: Option<String>,
    reauthorize_every: Option<Leaf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseConfig {
    status_code: Option<Leaf>,
    #[serde(default)]
    response_parameters: ResponseParameters,
    #[serde(default)]
    response_templates: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseParameters {
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FunctionProperties {
    #[serde(default)]
    events: BTreeMap<String, Event>,
    #[serde(default)]
    environment: Environment,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties", default)]
    properties: Option<yaml_serde::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiEvent {
    rest_api_id: Option<Leaf>,
    path: String,
    method: String,
    #[serde(default)]
    auth: Option<RouteAuth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RouteAuth {
    authorizer: Option<String>,
}

/// `properties`, read as `T` (an absent block is `T`'s default).
fn typed<T: Default + serde::de::DeserializeOwned>(
    properties: &Option<yaml_serde::Value>,
    at: &str,
) -> Result<T, TemplateError> {
    match properties {
        None => Ok(T::default()),
        Some(value) => yaml_serde::from_value(value.clone())
            .map_err(|e| TemplateError::Unsupported(format!("{at}: {e}"))),
    }
}

impl ApiSpec {
    /// Reads the gateway configuration out of a SAM template.
    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let template: Template =
            yaml_serde::from_str(yaml).map_err(|e| TemplateError::Yaml(e.to_string()))?;
        let defaults: BTreeMap<String, String> = template
            .parameters
            .iter()
            .filter_map(|(name, p)| {
                Some((name.clone(), p.default.as_ref()?.resolve(&BTreeMap::new())?))
            })
            .collect();
        let function_environment = template
            .globals
            .function
            .environment
            .variables
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), value.resolve(&defaults)?)))
            .collect();

        let mut apis = template
            .resources
            .iter()
            .filter(|(_, r)| r.kind == "AWS::Serverless::Api");
        let (api_id, api) = apis
            .next()
            .ok_or_else(|| TemplateError::Missing("AWS::Serverless::Api".into()))?;
        if apis.next().is_some() {
            return Err(TemplateError::Unsupported(
                "more than one AWS::Serverless::Api".into(),
            ));
        }
        let api: ApiProperties = typed(&api.properties, api_id)?;
        let authorizer = match &api.auth {
            Some(ApiAuth {
                default_authorizer: Some(name),
                authorizers,
            }) => {
                let definition = authorizers
                    .get(name)
                    .ok_or_else(|| TemplateError::Missing(format!("authorizer {name}")))?;
                let function = definition
                    .function_arn
                    .referenced_id()
                    .ok_or_else(|| TemplateError::Unsupported(format!("{name}.FunctionArn")))?
                    .to_owned();
                let identity = &definition.identity;
                let cache_ttl_secs = match &identity.reauthorize_every {
                    None => DEFAULT_AUTHORIZER_CACHE_TTL_SECS,
                    Some(leaf) => leaf
                        .resolve(&defaults)
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| TemplateError::Unsupported("ReauthorizeEvery".into()))?,
                };
                Some(AuthorizerConfig {
                    function,
                    header: identity
                        .header
                        .clone()
                        .unwrap_or_else(|| "Authorization".into()),
                    validation_expression: identity.validation_expression.clone(),
                    cache_ttl_secs,
                })
            }
            _ => None,
        };
        let gateway_responses = api
            .gateway_responses
            .iter()
            .map(|(kind, response)| {
                let response = GatewayResponse {
                    status: response
                        .status_code
                        .as_ref()
                        .and_then(|s| s.resolve(&defaults))
                        .and_then(|s| s.parse().ok()),
                    body: response.response_templates.get("application/json").cloned(),
                    headers: response
                        .response_parameters
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.trim_matches('\'').to_owned()))
                        .collect(),
                };
                (kind.clone(), response)
            })
            .collect();

        let mut routes = Vec::new();
        let mut own_environment = BTreeMap::new();
        for (function, resource) in &template.resources {
            if resource.kind != "AWS::Serverless::Function" {
                continue;
            }
            let properties: FunctionProperties = typed(&resource.properties, function)?;
            own_environment.insert(
                function.clone(),
                properties
                    .environment
                    .variables
                    .iter()
                    .filter_map(|(name, value)| Some((name.clone(), value.resolve(&defaults)?)))
                    .collect(),
            );
            for (name, event) in &properties.events {
                if event.kind != "Api" {
                    continue;
                }
                let at = format!("{function}.Events.{name}");
                if event.properties.is_none() {
                    return Err(TemplateError::Missing(at));
                }
                let event: ApiEvent =
                    yaml_serde::from_value(event.properties.clone().unwrap_or_default())
                        .map_err(|e| TemplateError::Unsupported(format!("{at}: {e}")))?;
                if let Some(api) = &event.rest_api_id
                    && api.referenced_id() != Some(api_id.as_str())
                {
                    return Err(TemplateError::Unsupported(format!("{at}.RestApiId")));
                }
                let protected = match event.auth.and_then(|a| a.authorizer).as_deref() {
                    Some("NONE") => false,
                    Some(_) => true,
                    None => authorizer.is_some(),
                };
                routes.push(Route {
                    method: event.method.to_ascii_uppercase(),
                    path: event.path,
                    function: function.clone(),
                    protected,
                });
            }
        }
        routes.sort();
        Ok(Self {
            routes,
            authorizer,
            gateway_responses,
            parameter_defaults: defaults,
            function_environment,
            own_environment,
        })
    }

    /// The route for `method` and `path`, with its path parameters, chosen as API Gateway
    /// chooses: segment by segment from the left a literal beats a `{param}`, which beats a
    /// greedy `{name+}` (which takes one or more segments, and only at the end); on the chosen
    /// resource an exact method beats `ANY`.
    pub fn route(&self, method: &str, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|route| route.method == method || route.method == "ANY")
            .filter_map(|route| {
                let (rank, params) = match_path(&route.path, &segments)?;
                Some(((rank, route.method == "ANY"), route, params))
            })
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, route, params)| (route, params))
    }
}

/// How specific a matched path segment is; lower is more specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    Literal,
    Parameter,
    Greedy,
}

/// Whether `pattern` matches `segments`: the specificity of each segment (compared left to
/// right) and the path parameters.
fn match_path(
    pattern: &str,
    segments: &[&str],
) -> Option<(Vec<Specificity>, BTreeMap<String, String>)> {
    let parts: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let mut rank = Vec::with_capacity(parts.len());
    let mut params = BTreeMap::new();
    for (i, part) in parts.iter().enumerate() {
        let name = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'));
        match name {
            Some(greedy) if greedy.ends_with('+') => {
                let rest = segments.get(i..).filter(|rest| {
                    i + 1 == parts.len() && !rest.is_empty() && rest.iter().all(|s| !s.is_empty())
                })?;
                params.insert(greedy.trim_end_matches('+').to_owned(), rest.join("/"));
                rank.push(Specificity::Greedy);
                return Some((rank, params));
            }
            Some(name) => {
                let segment = segments.get(i).filter(|s| !s.is_empty())?;
                params.insert(name.to_owned(), (*segment).to_owned());
                rank.push(Specificity::Parameter);
            }
            None => {
                if segments.get(i) != Some(part) {
                    return None;
                }
                rank.push(Specificity::Literal);
            }
        }
    }
    (parts.len() == segments.len()).then_some((rank, params))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_routes_authorizer_and_gateway_responses_of_the_real_template() {
        let spec = ApiSpec::parse(TEMPLATE).unwrap();
        let routes: Vec<(&str, &str, &str, bool)> = spec
            .routes
            .iter()
            .map(|r| {
                (
                    r.method.as_str(),
                    r.path.as_str(),
                    r.function.as_str(),
                    r.protected,
                )
            })
            .collect();
        assert_eq!(
            routes,
            vec![
                ("DELETE", "/clients/{id}", "ClientsFunction", true),
                ("DELETE", "/users/me/api-keys/{key_id}", "MeFunction", true),
                ("DELETE", "/users/{id}", "UsersFunction", true),
                (
                    "DELETE",
                    "/users/{id}/api-keys/{key_id}",
                    "UsersFunction",
                    true
                ),
                ("GET", "/.well-known/jwks.json", "DiscoveryFunction", false),
                (
                    "GET",
                    "/.well-known/oauth-authorization-server",
                    "DiscoveryFunction",
                    false
                ),
                (
                    "GET",
                    "/.well-known/openid-configuration",
                    "DiscoveryFunction",
                    false
                ),
                ("GET", "/clients", "ClientsFunction", true),
                ("GET", "/clients/{id}", "ClientsFunction", true),
                ("GET", "/users", "UsersFunction", true),
                ("GET", "/users/me", "MeFunction", true),
                ("GET", "/users/me/api-keys", "MeFunction", true),
                ("GET", "/users/{id}", "UsersFunction", true),
                ("GET", "/users/{id}/api-keys", "UsersFunction", true),
                ("PATCH", "/clients/{id}", "ClientsFunction", true),
                ("PATCH", "/users/me", "MeFunction", true),
                ("PATCH", "/users/{id}", "UsersFunction", true),
                ("POST", "/auth/forgot-password", "RecoveryFunction", false),
                ("POST", "/auth/login", "LoginFunction", false),
                ("POST", "/auth/logout", "LogoutFunction", true),
                ("POST", "/auth/logout-all", "LogoutFunction", true),
                ("POST", "/auth/refresh", "RefreshFunction", false),
                ("POST", "/auth/register", "RegisterFunction", false),
                (
                    "POST",
                    "/auth/request-verify-token",
                    "RecoveryFunction",
                    false
                ),
                ("POST", "/auth/reset-password", "RecoveryFunction", false),
                ("POST", "/auth/verify", "RecoveryFunction", false),
                ("POST", "/clients", "ClientsFunction", true),
                ("POST", "/clients/{id}/secret", "ClientsFunction", true),
                ("POST", "/oauth2/introspect", "OAuthFunction", false),
                ("POST", "/oauth2/revoke", "OAuthFunction", false),
                ("POST", "/oauth2/token", "OAuthFunction", false),
                ("POST", "/users/me/api-keys", "MeFunction", true),
            ]
        );
        let authorizer = spec.authorizer.unwrap();
        assert_eq!(authorizer.function, "AuthorizerFunction");
        assert_eq!(authorizer.header, "Authorization");
        assert_eq!(authorizer.cache_ttl_secs, 300);
        assert!(authorizer.validation_expression.unwrap().starts_with('^'));
        let unauthorized = &spec.gateway_responses["UNAUTHORIZED"];
        assert_eq!(unauthorized.status, Some(401));
        assert_eq!(
            unauthorized.headers,
            vec![("WWW-Authenticate".to_owned(), "Bearer".to_owned())]
        );
        assert!(unauthorized.body.as_deref().unwrap().contains("detail"));
    }

    #[test]
    fn route_matching_honours_method_and_path_parameters() {
        let yaml = TEMPLATE.replace("Path: /users/me", "Path: /users/{id}");
        let spec = ApiSpec::parse(&yaml).unwrap();
        let (route, params) = spec.route("GET", "/users/42").unwrap();
        assert_eq!(route.function, "MeFunction");
        assert_eq!(params["id"], "42");
        assert!(spec.route("POST", "/users/42").is_none());
        assert!(spec.route("GET", "/users/42/x").is_none());
        assert!(spec.route("GET", "/nothing").is_none());
    }

    #[test]
    fn route_opting_out_of_the_default_authorizer_is_public() {
        let yaml = TEMPLATE.replace("            Path: /users/me\n            Method: get\n", "            Path: /users/me\n            Method: get\n            Auth:\n              Authorizer: NONE\n");
        let spec = ApiSpec::parse(&yaml).unwrap();
        assert!(!spec.route("GET", "/users/me").unwrap().0.protected);
    }

    fn spec_with(routes: &[(&str, &str, &str)]) -> ApiSpec {
        let mut spec = ApiSpec::parse(TEMPLATE).unwrap();
        spec.routes = routes
            .iter()
            .map(|(method, path, function)| Route {
                method: (*method).into(),
                path: (*path).into(),
                function: (*function).into(),
                protected: true,
            })
            .collect();
        spec
    }

    fn chosen(spec: &ApiSpec, method: &str, path: &str) -> Option<String> {
        spec.route(method, path).map(|(r, _)| r.function.clone())
    }

    #[test]
    fn a_literal_segment_beats_a_parameter_whatever_the_names_sort_as() {
        // "{a}" sorts before "~literal" and after "literal": neither order may decide.
        let spec = spec_with(&[
            ("GET", "/users/{a}", "Param"),
            ("GET", "/users/~me", "Tilde"),
            ("GET", "/users/me", "Me"),
        ]);
        assert_eq!(chosen(&spec, "GET", "/users/~me").as_deref(), Some("Tilde"));
        assert_eq!(chosen(&spec, "GET", "/users/me").as_deref(), Some("Me"));
        assert_eq!(chosen(&spec, "GET", "/users/42").as_deref(), Some("Param"));
    }

    #[test]
    fn an_exact_method_beats_any_on_the_same_resource() {
        let spec = spec_with(&[("ANY", "/items", "Any"), ("GET", "/items", "Get")]);
        assert_eq!(chosen(&spec, "GET", "/items").as_deref(), Some("Get"));
        assert_eq!(chosen(&spec, "DELETE", "/items").as_deref(), Some("Any"));
    }

    #[test]
    fn a_greedy_proxy_takes_the_rest_of_the_path_and_only_what_nothing_else_matches() {
        let spec = spec_with(&[
            ("ANY", "/files/{proxy+}", "Proxy"),
            ("GET", "/files/{id}", "One"),
            ("GET", "/files/readme", "Readme"),
        ]);
        assert_eq!(
            chosen(&spec, "GET", "/files/readme").as_deref(),
            Some("Readme")
        );
        assert_eq!(chosen(&spec, "GET", "/files/7").as_deref(), Some("One"));
        let (route, params) = spec.route("GET", "/files/a/b/c").unwrap();
        assert_eq!(route.function, "Proxy");
        assert_eq!(params["proxy"], "a/b/c");
        assert_eq!(chosen(&spec, "POST", "/files/7").as_deref(), Some("Proxy"));
        assert_eq!(
            chosen(&spec, "GET", "/files"),
            None,
            "a greedy variable needs a segment"
        );
    }
}
