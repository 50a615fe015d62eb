//! What the local gateway needs from `template.yaml`: routes, the authorizer, gateway responses.
//!
//! The gateway is configured from the template itself rather than from a copy, so `authgate serve`
//! serves exactly the routes `sam deploy` creates, with the same authorizer settings and the same
//! 401/403 bodies.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// The template this binary was built with.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

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
}

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_mapping()?.get(key)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A scalar, or a `!Ref` to a parameter resolved to its default.
fn resolve(value: &Value, defaults: &BTreeMap<String, String>) -> Option<String> {
    if let Value::Tagged(tagged) = value
        && tagged.tag == "!Ref"
    {
        return scalar(&tagged.value).and_then(|name| defaults.get(&name).cloned());
    }
    scalar(value)
}

/// The logical id inside `!GetAtt Name.Arn` or `!Ref Name`.
fn referenced_id(value: &Value) -> Option<String> {
    let Value::Tagged(tagged) = value else {
        return None;
    };
    let target = scalar(&tagged.value)?;
    match tagged.tag.to_string().as_str() {
        "!GetAtt" => target.split('.').next().map(str::to_owned),
        "!Ref" => Some(target),
        _ => None,
    }
}

impl ApiSpec {
    /// Reads the gateway configuration out of a SAM template.
    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let doc: Value =
            serde_yaml::from_str(yaml).map_err(|e| TemplateError::Yaml(e.to_string()))?;
        let mut defaults = BTreeMap::new();
        if let Some(Value::Mapping(params)) = get(&doc, "Parameters") {
            for (name, param) in params {
                if let (Some(name), Some(default)) =
                    (scalar(name), get(param, "Default").and_then(scalar))
                {
                    defaults.insert(name, default);
                }
            }
        }
        let Some(Value::Mapping(resources)) = get(&doc, "Resources") else {
            return Err(TemplateError::Missing("Resources".into()));
        };

        let mut authorizer = None;
        let mut gateway_responses = BTreeMap::new();
        let mut api_id = None;
        for (id, resource) in resources {
            if get(resource, "Type").and_then(scalar).as_deref() != Some("AWS::Serverless::Api") {
                continue;
            }
            api_id = scalar(id);
            let props = get(resource, "Properties");
            let auth = props.and_then(|p| get(p, "Auth"));
            if let Some(default) = auth
                .and_then(|a| get(a, "DefaultAuthorizer"))
                .and_then(scalar)
            {
                let config = auth
                    .and_then(|a| get(a, "Authorizers"))
                    .and_then(|a| get(a, &default))
                    .ok_or_else(|| TemplateError::Missing(format!("authorizer {default}")))?;
                let function = get(config, "FunctionArn")
                    .and_then(referenced_id)
                    .ok_or_else(|| TemplateError::Unsupported(format!("{default}.FunctionArn")))?;
                let identity = get(config, "Identity");
                authorizer = Some(AuthorizerConfig {
                    function,
                    header: identity
                        .and_then(|i| get(i, "Header"))
                        .and_then(scalar)
                        .unwrap_or_else(|| "Authorization".into()),
                    validation_expression: identity
                        .and_then(|i| get(i, "ValidationExpression"))
                        .and_then(scalar),
                    cache_ttl_secs: identity
                        .and_then(|i| get(i, "ReauthorizeEvery"))
                        .and_then(|v| resolve(v, &defaults))
                        .map(|v| {
                            v.parse()
                                .map_err(|_| TemplateError::Unsupported("ReauthorizeEvery".into()))
                        })
                        .transpose()?
                        .unwrap_or(300),
                });
            }
            if let Some(Value::Mapping(responses)) = props.and_then(|p| get(p, "GatewayResponses"))
            {
                for (kind, response) in responses {
                    let Some(kind) = scalar(kind) else { continue };
                    let headers =
                        match get(response, "ResponseParameters").and_then(|p| get(p, "Headers")) {
                            Some(Value::Mapping(h)) => h
                                .iter()
                                .filter_map(|(k, v)| {
                                    Some((scalar(k)?, scalar(v)?.trim_matches('\'').to_owned()))
                                })
                                .collect(),
                            _ => Vec::new(),
                        };
                    gateway_responses.insert(
                        kind,
                        GatewayResponse {
                            status: get(response, "StatusCode")
                                .and_then(scalar)
                                .and_then(|s| s.parse().ok()),
                            body: get(response, "ResponseTemplates")
                                .and_then(|t| get(t, "application/json"))
                                .and_then(scalar),
                            headers,
                        },
                    );
                }
            }
        }
        let api_id = api_id.ok_or_else(|| TemplateError::Missing("AWS::Serverless::Api".into()))?;

        let mut routes = Vec::new();
        for (id, resource) in resources {
            if get(resource, "Type").and_then(scalar).as_deref()
                != Some("AWS::Serverless::Function")
            {
                continue;
            }
            let Some(function) = scalar(id) else { continue };
            let Some(Value::Mapping(events)) =
                get(resource, "Properties").and_then(|p| get(p, "Events"))
            else {
                continue;
            };
            for (name, event) in events {
                if get(event, "Type").and_then(scalar).as_deref() != Some("Api") {
                    continue;
                }
                let where_ = format!("{function}.Events.{}", scalar(name).unwrap_or_default());
                let props = get(event, "Properties")
                    .ok_or_else(|| TemplateError::Missing(where_.clone()))?;
                if let Some(api) = get(props, "RestApiId")
                    && referenced_id(api).as_deref() != Some(api_id.as_str())
                {
                    return Err(TemplateError::Unsupported(format!("{where_}.RestApiId")));
                }
                let path = get(props, "Path")
                    .and_then(scalar)
                    .ok_or_else(|| TemplateError::Missing(format!("{where_}.Path")))?;
                let method = get(props, "Method")
                    .and_then(scalar)
                    .ok_or_else(|| TemplateError::Missing(format!("{where_}.Method")))?;
                let route_authorizer = get(props, "Auth")
                    .and_then(|a| get(a, "Authorizer"))
                    .and_then(scalar);
                let protected = match route_authorizer.as_deref() {
                    Some("NONE") => false,
                    Some(_) => true,
                    None => authorizer.is_some(),
                };
                let method = method.to_ascii_uppercase();
                routes.push(Route {
                    method: if method == "ANY" {
                        "ANY".into()
                    } else {
                        method
                    },
                    path,
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
        })
    }

    /// The route for `method` and `path`, with its path parameters.
    pub fn route(&self, method: &str, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.routes.iter().find_map(|route| {
            if route.method != "ANY" && route.method != method {
                return None;
            }
            let pattern: Vec<&str> = route.path.trim_matches('/').split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut params = BTreeMap::new();
            for (p, s) in pattern.iter().zip(&segments) {
                if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    if s.is_empty() {
                        return None;
                    }
                    params.insert(name.to_owned(), (*s).to_owned());
                } else if p != s {
                    return None;
                }
            }
            Some((route, params))
        })
    }
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
                ("GET", "/.well-known/jwks.json", "DiscoveryFunction", false),
                (
                    "GET",
                    "/.well-known/openid-configuration",
                    "DiscoveryFunction",
                    false
                ),
                ("GET", "/users/me", "MeFunction", true),
                ("POST", "/auth/login", "LoginFunction", false),
                ("POST", "/auth/logout", "LogoutFunction", true),
                ("POST", "/auth/logout-all", "LogoutFunction", true),
                ("POST", "/auth/refresh", "RefreshFunction", false),
                ("POST", "/auth/register", "RegisterFunction", false),
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
}
