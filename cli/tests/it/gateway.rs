//! The local gateway against the real template: routing, the authorizer's 401/403 semantics, the
//! policy cache, and the proxy event the handlers receive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authgate::serve::gateway::{
    AuthorizerFunction, Gateway, GatewayError, HttpFunction, IncomingRequest, OutgoingResponse,
};
use authgate::serve::template::{ApiSpec, TEMPLATE};
use authgate_http::RequestClaimsExt;
use authorizer::Policy;
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_http::http::{HeaderMap, HeaderValue};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

const TOKEN: &str = "Bearer aaa.bbb.ccc";

/// A function that echoes what it received: path, resource, stage, claims, body.
fn echo() -> HttpFunction {
    Arc::new(|request: Request| {
        Box::pin(async move {
            let context = request.request_context();
            let (stage, resource) = match &context {
                lambda_http::request::RequestContext::ApiGatewayV1(c) => {
                    (c.stage.clone(), c.resource_path.clone())
                }
                _ => (None, None),
            };
            let body = match request.body() {
                Body::Text(t) => t.clone(),
                _ => String::new(),
            };
            let echoed = json!({
                "path": request.uri().path(),
                "stage": stage,
                "resource": resource,
                "claims_sub": request.verified_claims().ok().map(|c| c.sub),
                "query": request.query_string_parameters().first("q"),
                "id": request.path_parameters().first("id"),
                "body": body,
            });
            let mut response = Response::new(Body::Text(echoed.to_string()));
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            response
        })
    })
}

fn all_functions() -> HashMap<String, HttpFunction> {
    [
        "RegisterFunction",
        "LoginFunction",
        "RefreshFunction",
        "LogoutFunction",
        "DiscoveryFunction",
        "MeFunction",
        "UsersFunction",
        "RecoveryFunction",
        "OAuthFunction",
        "ClientsFunction",
    ]
    .into_iter()
    .map(|f| (f.to_owned(), echo()))
    .collect()
}

fn claims_context() -> authgate_token::AuthorizerContext {
    let claims = authgate_token::AccessClaims {
        iss: "i".into(),
        sub: "user-7".into(),
        aud: "a".into(),
        iat: 1,
        nbf: 1,
        exp: i64::MAX,
        jti: "j".into(),
        client_id: None,
        api_key_id: None,
        email: Some("u@example.com".into()),
        email_verified: false,
        sid: Some("s-1".into()),
        roles: Vec::new(),
        scope: String::new(),
        custom: Default::default(),
    };
    authgate_token::authorizer_context(&claims)
}

/// An authorizer returning one statement of `effect` on `resource`, counting its calls.
fn authorizer(
    effect: IamPolicyEffect,
    resource: &str,
    calls: Arc<AtomicUsize>,
) -> AuthorizerFunction {
    let resource = resource.to_owned();
    Arc::new(move |_event| {
        calls.fetch_add(1, Ordering::SeqCst);
        let mut statement = IamPolicyStatement::default();
        statement.action = vec!["execute-api:Invoke".into()];
        statement.effect = effect.clone();
        statement.resource = vec![resource.clone()];
        let mut response = Policy::default();
        response.principal_id = Some("user-7".into());
        response.policy_document.version = Some("2012-10-17".into());
        response.policy_document.statement = vec![statement];
        response.context = claims_context();
        Box::pin(std::future::ready(Ok(response)))
    })
}

fn gateway(auth: AuthorizerFunction, ttl: u64) -> Gateway {
    Gateway::new(
        ApiSpec::parse(TEMPLATE).unwrap(),
        all_functions(),
        Some(("AuthorizerFunction".into(), auth)),
        Some(Duration::from_secs(ttl)),
    )
    .unwrap()
}

async fn call(
    gateway: &Gateway,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> OutgoingResponse {
    send(gateway, method, path, authorization, b"{\"x\": 1}").await
}

async fn send(
    gateway: &Gateway,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> OutgoingResponse {
    let mut headers = HeaderMap::new();
    if let Some(value) = authorization {
        headers.insert("authorization", HeaderValue::from_str(value).unwrap());
    }
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let (path, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    gateway
        .handle(IncomingRequest {
            method,
            path,
            query,
            headers: &headers,
            body,
            source_ip: "127.0.0.1".into(),
        })
        .await
}

fn json_body(response: &OutgoingResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

#[tokio::test]
async fn public_routes_get_the_proxy_event_without_the_authorizer() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = gateway(authorizer(IamPolicyEffect::Allow, "*", calls.clone()), 300);
    let response = call(&gw, "POST", "/auth/register?q=1", None).await;
    assert_eq!(response.status, 200);
    let body = json_body(&response);
    // As in Lambda: lambda_http puts the stage in the URI path of REST API events.
    assert_eq!(body["path"], "/Prod/auth/register");
    assert_eq!(body["resource"], "/auth/register");
    assert_eq!(body["stage"], "Prod");
    assert_eq!(body["query"], "1");
    assert_eq!(body["body"], "{\"x\": 1}");
    assert_eq!(body["claims_sub"], Value::Null);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn allow_policy_forwards_the_authorizer_context_to_the_function() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = gateway(
        authorizer(
            IamPolicyEffect::Allow,
            "arn:aws:execute-api:*:*:*/Prod/*/*",
            calls,
        ),
        300,
    );
    let response = call(&gw, "GET", "/users/me", Some(TOKEN)).await;
    assert_eq!(response.status, 200);
    assert_eq!(json_body(&response)["claims_sub"], "user-7");
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401_with_the_templates_body() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = gateway(authorizer(IamPolicyEffect::Allow, "*", calls.clone()), 300);
    for header in [None, Some("Basic dXNlcjpwYXNz"), Some("Bearer not-a-jwt")] {
        let response = call(&gw, "GET", "/users/me", header).await;
        assert_eq!(response.status, 401, "{header:?}");
        assert_eq!(json_body(&response), json!({"detail": "Not authenticated"}));
        assert_eq!(response.headers["www-authenticate"], "Bearer");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the validation expression stops them before the authorizer"
    );
}

#[tokio::test]
async fn authorizer_error_is_401() {
    let refusing: AuthorizerFunction =
        Arc::new(|_| Box::pin(std::future::ready(Err(authorizer::Unauthorized))));
    let gw = gateway(refusing, 300);
    let response = call(&gw, "GET", "/users/me", Some(TOKEN)).await;
    assert_eq!(response.status, 401);
    assert_eq!(json_body(&response), json!({"detail": "Not authenticated"}));
}

#[tokio::test]
async fn deny_policy_or_policy_not_covering_the_method_is_403() {
    let calls = Arc::new(AtomicUsize::new(0));
    for (effect, resource) in [
        (IamPolicyEffect::Deny, "*"),
        (
            IamPolicyEffect::Allow,
            "arn:aws:execute-api:*:*:*/Prod/POST/*",
        ),
        (IamPolicyEffect::Allow, "arn:aws:execute-api:*:*:*/Dev/*/*"),
    ] {
        let gw = gateway(authorizer(effect, resource, calls.clone()), 300);
        let response = call(&gw, "GET", "/users/me", Some(TOKEN)).await;
        assert_eq!(response.status, 403, "{resource}");
        assert_eq!(
            json_body(&response),
            json!({"detail": "Not enough permissions"})
        );
    }
}

#[tokio::test]
async fn policy_is_cached_per_token_for_the_ttl() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = gateway(authorizer(IamPolicyEffect::Allow, "*", calls.clone()), 300);
    for _ in 0..3 {
        assert_eq!(call(&gw, "GET", "/users/me", Some(TOKEN)).await.status, 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        call(&gw, "GET", "/users/me", Some("Bearer ddd.eee.fff"))
            .await
            .status,
        200
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "another token is another cache entry"
    );

    let uncached = Arc::new(AtomicUsize::new(0));
    let gw = gateway(authorizer(IamPolicyEffect::Allow, "*", uncached.clone()), 0);
    for _ in 0..3 {
        call(&gw, "GET", "/users/me", Some(TOKEN)).await;
    }
    assert_eq!(
        uncached.load(Ordering::SeqCst),
        3,
        "TTL 0 disables the cache"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_templates_404() {
    let gw = gateway(
        authorizer(IamPolicyEffect::Allow, "*", Arc::new(AtomicUsize::new(0))),
        300,
    );
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/auth/register"),
        ("PUT", "/users/me"),
    ] {
        let response = call(&gw, method, path, Some(TOKEN)).await;
        assert_eq!(response.status, 404, "{method} {path}");
        assert_eq!(json_body(&response), json!({"detail": "Not Found"}));
    }
}

#[tokio::test]
async fn every_template_route_has_a_local_function_and_every_local_function_a_route() {
    // The gateway that `serve` builds from the real template and the real handlers.
    let store = Arc::new(authgate_users::InMemoryUserStore::new());
    let dir = tempfile::tempdir().unwrap();
    let file = authgate_keys::KeyFile::new(dir.path().join("key.json"));
    let keys = Arc::new(
        authgate_keys::KeyRing::load(
            Arc::new(file),
            Duration::from_secs(300),
            Duration::from_secs(60),
        )
        .await
        .unwrap(),
    );
    let resources = authgate_runtime::Resources::new(store, keys);
    let env = authgate::settings::SettingsArgs::default().env();
    let gw = authgate::serve::build_gateway(&resources, &env, None)
        .await
        .expect("template and handlers agree");
    assert_eq!(gw.routes().len(), 32);
}

#[test]
fn a_route_added_only_to_the_template_is_an_error() {
    let extra = TEMPLATE.replace(
        "  AuthorizerFunction:\n    Type: AWS::Serverless::Function\n",
        "  AdminFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        Admin:\n          Type: Api\n          Properties:\n            RestApiId: !Ref AuthApi\n            Path: /admin\n            Method: get\n\n  AuthorizerFunction:\n    Type: AWS::Serverless::Function\n",
    );
    let spec = ApiSpec::parse(&extra).unwrap();
    let err = Gateway::new(spec, all_functions(), None, None)
        .err()
        .unwrap();
    assert_eq!(
        err,
        GatewayError::MissingFunction {
            method: "GET".into(),
            path: "/admin".into(),
            function: "AdminFunction".into()
        }
    );
}

#[test]
fn a_function_added_only_locally_is_an_error() {
    let mut functions = all_functions();
    functions.insert("AdminFunction".into(), echo());
    let auth: AuthorizerFunction =
        Arc::new(|_| Box::pin(std::future::ready(Err(authorizer::Unauthorized))));
    let err = Gateway::new(
        ApiSpec::parse(TEMPLATE).unwrap(),
        functions,
        Some(("AuthorizerFunction".into(), auth)),
        None,
    )
    .err()
    .unwrap();
    assert_eq!(err, GatewayError::UnusedFunction("AdminFunction".into()));
}

#[tokio::test]
async fn a_route_rule_answers_tokens_without_the_permission_403_with_a_json_detail() {
    use authgate_users::{UserChanges, UserStore, parse_roles};
    let store = Arc::new(authgate_users::InMemoryUserStore::new());
    let keys = Arc::new(authgate_keys::KeyRing::fixed(
        authgate_token::KeySet::signing(
            "k",
            [authgate_token::Key::hmac("k", &[7; 32], authgate_token::Algorithm::HS256).unwrap()],
        )
        .unwrap(),
    ));
    let resources = authgate_runtime::Resources::new(store.clone(), keys);
    let env = authgate::settings::SettingsArgs::default().env().with(
        authorizer::ROUTE_PERMISSIONS.name,
        r#"{"GET /users/me": ["users:read"], "POST /auth/logout": [], "POST /auth/logout-all": []}"#,
    );
    let gw = authgate::serve::build_gateway(&resources, &env, Some(Duration::ZERO))
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for (email, admin) in [("plain@example.com", false), ("root@example.com", true)] {
        let credentials = json!({"email": email, "password": "correct horse battery staple"});
        let registered = send(
            &gw,
            "POST",
            "/auth/register",
            None,
            credentials.to_string().as_bytes(),
        )
        .await;
        assert_eq!(registered.status, 201);
        if admin {
            let id = json_body(&registered)["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let roles = Some(parse_roles([authgate_users::ADMIN_ROLE]).unwrap());
            store
                .update(
                    id,
                    UserChanges {
                        roles,
                        ..UserChanges::default()
                    },
                )
                .await
                .unwrap();
        }
        let login = send(
            &gw,
            "POST",
            "/auth/login",
            None,
            credentials.to_string().as_bytes(),
        )
        .await;
        tokens.push(format!(
            "Bearer {}",
            json_body(&login)["access_token"].as_str().unwrap()
        ));
    }
    let plain = call(&gw, "GET", "/users/me", Some(&tokens[0])).await;
    assert_eq!(plain.status, 403);
    assert_eq!(
        json_body(&plain),
        json!({"detail": "Not enough permissions"})
    );
    let admin = call(&gw, "GET", "/users/me", Some(&tokens[1])).await;
    assert_eq!(
        admin.status,
        200,
        "{}",
        String::from_utf8_lossy(&admin.body)
    );
    assert_eq!(json_body(&admin)["email"], "root@example.com");
    let logout = call(&gw, "POST", "/auth/logout", Some(&tokens[0])).await;
    assert_eq!(
        logout.status, 204,
        "a route needing no permission is open to any valid token"
    );
}

#[tokio::test]
async fn a_header_value_that_is_not_utf8_reaches_the_function_instead_of_a_500() {
    let gw = gateway(
        authorizer(IamPolicyEffect::Allow, "*", Arc::new(AtomicUsize::new(0))),
        300,
    );
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static(TOKEN));
    headers.insert("x-note", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    let response = gw
        .handle(IncomingRequest {
            method: "POST",
            path: "/auth/logout",
            query: None,
            headers: &headers,
            body: b"",
            source_ip: "127.0.0.1".into(),
        })
        .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

/// The gateway served over HTTP on a free 127.0.0.1 port within `limits`, until the sender drops.
async fn serving(
    limits: authgate::serve::server::Limits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = Arc::new(gateway(authorizer(IamPolicyEffect::Allow, "*", calls), 0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(authgate::serve::server::run_with(
        gw,
        listener,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

/// Everything the server sends on `stream` until it closes it (or 5 s pass: then `None`).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    match tokio::time::timeout(Duration::from_secs(5), read).await {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

fn quick(connections: usize) -> authgate::serve::server::Limits {
    authgate::serve::server::Limits {
        header: Duration::from_millis(300),
        body: Duration::from_millis(300),
        connections,
    }
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_or_idle_is_dropped() {
    use tokio::io::AsyncWriteExt;
    let (addr, _stop) = serving(quick(16)).await;
    let mut half_open = tokio::net::TcpStream::connect(addr).await.unwrap();
    half_open
        .write_all(b"GET /users/me HTTP/1.1\r\nHost: local\r\n")
        .await
        .unwrap();
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        read_until_closed(&mut half_open).await.is_some(),
        "a half-sent head is dropped"
    );
    assert!(
        read_until_closed(&mut idle).await.is_some(),
        "an idle connection is dropped"
    );
    let mut kept_alive = tokio::net::TcpStream::connect(addr).await.unwrap();
    kept_alive
        .write_all(b"GET /nope HTTP/1.1\r\nHost: local\r\n\r\n")
        .await
        .unwrap();
    let answered = read_until_closed(&mut kept_alive)
        .await
        .expect("a kept-alive connection left idle is dropped");
    assert!(answered.starts_with("HTTP/1.1 404"), "{answered}");
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let answered = read_until_closed(&mut garbage).await.expect("answered");
    assert!(answered.starts_with("HTTP/1.1 400"), "{answered}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_with_a_json_detail() {
    use tokio::io::AsyncWriteExt;
    let (addr, _stop) = serving(quick(16)).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /auth/register HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\"",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await.expect("answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.ends_with(r#"{"detail":"Request Timeout"}"#),
        "{answer}"
    );
}

#[tokio::test]
async fn connections_over_the_limit_get_503_with_a_json_detail_and_others_are_served_after() {
    use tokio::io::AsyncWriteExt;
    let limits = authgate::serve::server::Limits {
        header: Duration::from_millis(1500),
        ..quick(2)
    };
    let (addr, _stop) = serving(limits).await;
    let held: Vec<_> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr))).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = tokio::net::TcpStream::connect(addr).await.unwrap();
    let answer = read_until_closed(&mut over).await.expect("answered");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.ends_with(r#"{"detail":"Too many connections"}"#));
    drop(held);
    let mut served = None;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /nope HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_until_closed(&mut stream).await.unwrap_or_default();
        if !answer.starts_with("HTTP/1.1 503") {
            served = Some(answer);
            break;
        }
    }
    let served = served.expect("served once the held connections closed");
    assert!(served.starts_with("HTTP/1.1 404"), "{served}");
    assert!(served.ends_with(r#"{"detail": "Not Found"}"#), "{served}");
}

#[tokio::test]
async fn path_parameters_reach_the_function_percent_decoded_as_api_gateway_sends_them() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = gateway(authorizer(IamPolicyEffect::Allow, "*", calls), 300);
    let response = call(&gw, "GET", "/users/a%40b%2Fc%20d", Some(TOKEN)).await;
    assert_eq!(response.status, 200);
    let echoed: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(echoed["id"], "a@b/c d");
}

#[tokio::test]
async fn the_authorizer_cache_holds_a_bounded_number_of_tokens() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = gateway(authorizer(IamPolicyEffect::Allow, "*", calls.clone()), 300);
    let tokens = authgate::serve::gateway::MAX_CACHED_AUTHORIZATIONS + 50;
    for i in 0..tokens {
        let response = call(&gw, "GET", "/users/me", Some(&format!("Bearer t.{i}.x"))).await;
        assert_eq!(response.status, 200);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        tokens,
        "each token authorized once"
    );
    assert_eq!(
        gw.cached_authorizations(),
        authgate::serve::gateway::MAX_CACHED_AUTHORIZATIONS
    );
    let again = call(
        &gw,
        "GET",
        "/users/me",
        Some(&format!("Bearer t.{}.x", tokens - 1)),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        tokens,
        "the newest stays cached"
    );
}

#[tokio::test]
async fn two_authorization_headers_are_refused_before_the_authorizer() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gw = gateway(authorizer(IamPolicyEffect::Allow, "*", calls.clone()), 0);
    let mut headers = HeaderMap::new();
    headers.append("authorization", HeaderValue::from_static(TOKEN));
    headers.append("authorization", HeaderValue::from_static("Bearer x.y.z"));
    let response = gw
        .handle(IncomingRequest {
            method: "GET",
            path: "/users/me",
            query: None,
            headers: &headers,
            body: b"",
            source_ip: "127.0.0.1".into(),
        })
        .await;
    assert_eq!(response.status, 401);
    assert!(json_body(&response)["detail"].is_string());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no token chosen from two");
}
