//! One decision for every event kind: REST TOKEN and REQUEST, HTTP API payload 1.0 and 2.0
//! (simple and IAM-policy responses), each driven by its file in `events/`, with sessions in the
//! in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_keys::KeyRing;
use authgate_runtime::{Env, EventHandler, Resources};
use authgate_testkit::event;
use authgate_token::{Algorithm, Key, KeySet, Subject, TokenIssuer};
use authgate_users::{InMemoryUserStore, SessionId, SessionStore, UserId, now_ms};
use authorizer::{Authorizer, Unauthorized};
use serde_json::Value;

const ISS: &str = "urn:authgate:kinds";
const AUD: &str = "authgate-api";
const SECRET: &[u8] = b"event-kinds-test-secret-32-bytes!";
const KINDS: [&str; 4] = [
    "authorizer.json",
    "authorizer-request.json",
    "authorizer-http-v1.json",
    "authorizer-http-v2.json",
];

fn keys(secret: &[u8]) -> Arc<KeySet> {
    Arc::new(KeySet::signing("v1", [Key::hmac("v1", secret, Algorithm::HS256).unwrap()]).unwrap())
}

struct Fixture {
    store: Arc<InMemoryUserStore>,
    user: UserId,
    session: SessionId,
}

async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let (user, session, _) =
        authgate_users::contract::user_with_session(store.as_ref(), now_ms()).await;
    Fixture {
        store,
        user: user.id,
        session: session.id,
    }
}

impl Fixture {
    async fn authorizer(&self, vars: &[(&str, &str)]) -> Authorizer {
        let mut env = Env::from_pairs([("TOKEN_ISSUER", ISS), ("TOKEN_AUDIENCE", AUD)]);
        for (name, value) in vars {
            env = env.with(name, *value);
        }
        let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(keys(SECRET))));
        authorizer::build(&env, &Resources::new(self.store.clone(), ring))
            .await
            .unwrap()
    }

    fn token(&self, secret: &[u8], permissions: &[&str], issued: i64) -> String {
        let (id, sid) = (self.user.to_string(), self.session.to_string());
        TokenIssuer::new(keys(secret), ISS, AUD, Duration::from_secs(900))
            .unwrap()
            .issue_at(
                &Subject {
                    id: &id,
                    email: "alice@example.com",
                    session: &sid,
                    permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                    ..Default::default()
                },
                issued,
            )
            .unwrap()
            .token
    }

    fn valid(&self) -> String {
        self.token(SECRET, &[], authgate_token::now_unix())
    }
}

/// `events/<name>` with `token` in place of its placeholder, as the Lambda receives it.
fn event_with(name: &str, token: &str) -> authorizer::Event {
    serde_json::from_str(&event(name).replace("REPLACE_WITH_AN_ACCESS_TOKEN", token)).unwrap()
}

async fn decide(authorizer: &Authorizer, name: &str, token: &str) -> Result<Value, Unauthorized> {
    let answer = authorizer.handle(event_with(name, token)).await?;
    Ok(serde_json::to_value(answer).unwrap())
}

/// Whether an answer lets the request through to `/users/me`.
fn allows(name: &str, answer: &Value) -> bool {
    if name == "authorizer-http-v2.json" {
        return answer["isAuthorized"] == true;
    }
    let statement = &answer["policyDocument"]["Statement"][0];
    statement["Effect"] == "Allow"
        && statement["Resource"].as_array().unwrap().iter().any(|r| {
            r.as_str().unwrap().ends_with("/*/*") || r.as_str().unwrap().ends_with("/GET/users/me")
        })
}

#[tokio::test]
async fn a_valid_token_is_allowed_in_every_event_kind_with_the_same_context() {
    let f = fixture().await;
    let authorizer = f.authorizer(&[]).await;
    let token = f.valid();
    let mut contexts = Vec::new();
    for name in KINDS {
        let answer = decide(&authorizer, name, &token).await.expect(name);
        assert!(allows(name, &answer), "{name}: {answer}");
        contexts.push(answer["context"].clone());
    }
    for context in &contexts {
        assert_eq!(context["sub"], f.user.to_string());
        assert_eq!(context["verified_by"], "authgate");
        for key in ["claims", "scope", "roles"] {
            assert!(context.get(key).is_some(), "{key}");
        }
    }
    let v2 = decide(&authorizer, "authorizer-http-v2.json", &token)
        .await
        .unwrap();
    assert_eq!(
        v2.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["context", "isAuthorized"],
        "a simple response, nothing else"
    );
}

#[tokio::test]
async fn expired_forged_and_ended_tokens_are_refused_in_every_event_kind() {
    let f = fixture().await;
    let authorizer = f.authorizer(&[]).await;
    let expired = f.token(SECRET, &[], authgate_token::now_unix() - 3600);
    let forged = f.token(
        b"not-the-deployment-secret-32-byte",
        &[],
        authgate_token::now_unix(),
    );
    for name in KINDS {
        for (why, token) in [
            ("expired", &expired),
            ("forged", &forged),
            ("garbage", &"x.y.z".to_owned()),
        ] {
            assert_eq!(
                decide(&authorizer, name, token).await,
                Err(Unauthorized),
                "{name} {why}"
            );
        }
    }
    let token = f.valid();
    f.store.revoke(f.session).await.unwrap();
    for name in KINDS {
        assert_eq!(
            decide(&authorizer, name, &token).await,
            Err(Unauthorized),
            "{name} ended session"
        );
    }
}

#[tokio::test]
async fn a_missing_permission_is_refused_in_every_event_kind() {
    let f = fixture().await;
    let rules = r#"{"GET /users/me": ["profile:read"]}"#;
    let authorizer = f.authorizer(&[("ROUTE_PERMISSIONS", rules)]).await;
    let without = f.valid();
    let with = f.token(SECRET, &["profile:read"], authgate_token::now_unix());
    for name in KINDS {
        let refused = decide(&authorizer, name, &without).await.expect(name);
        assert!(
            !allows(name, &refused),
            "{name} without the permission: {refused}"
        );
        let allowed = decide(&authorizer, name, &with).await.expect(name);
        assert!(allows(name, &allowed), "{name} with it: {allowed}");
    }
}

#[tokio::test]
async fn http_api_2_0_events_get_an_iam_policy_when_simple_responses_are_off() {
    let f = fixture().await;
    let authorizer = f
        .authorizer(&[("HTTP_API_SIMPLE_RESPONSES", "false")])
        .await;
    let answer = decide(&authorizer, "authorizer-http-v2.json", &f.valid())
        .await
        .unwrap();
    assert_eq!(answer["principalId"], f.user.to_string());
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/$default/*/*"
    );
}

#[tokio::test]
async fn an_event_of_no_known_kind_or_without_a_token_is_refused() {
    let f = fixture().await;
    let authorizer = f.authorizer(&[]).await;
    for event in [
        serde_json::json!({}),
        serde_json::json!({"type": "WEBSOCKET", "methodArn": "arn:aws:execute-api:us-east-1:1:a/b/GET/x"}),
        serde_json::json!({"version": "3.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:1:a/b/GET/x"}),
        serde_json::json!({"version": "2.0", "type": "REQUEST", "identitySource": ["Bearer a.b.c"]}),
        serde_json::json!({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:a/b/GET/x", "headers": {}}),
        serde_json::json!({"type": "TOKEN", "methodArn": "arn:aws:execute-api:us-east-1:1:a/b/GET/x", "authorizationToken": ["Bearer a.b.c"]}),
        serde_json::json!({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:a/b/GET/x", "headers": "Authorization: Bearer a.b.c"}),
        serde_json::json!([{"type": "TOKEN"}]),
        serde_json::json!("TOKEN"),
        serde_json::json!(null),
    ] {
        let read: authorizer::Event = serde_json::from_value(event.clone())
            .expect("every JSON value reads as an event, to be refused by the decision");
        assert_eq!(authorizer.handle(read).await, Err(Unauthorized), "{event}");
    }
}

#[tokio::test]
async fn a_simple_response_under_route_rules_needs_the_route_among_the_identity_sources() {
    let f = fixture().await;
    let with = f.token(SECRET, &["profile:read"], authgate_token::now_unix());
    let without_route = |token: &str| {
        let mut event: Value = serde_json::from_str(
            &event("authorizer-http-v2.json").replace("REPLACE_WITH_AN_ACCESS_TOKEN", token),
        )
        .unwrap();
        event["identitySource"] = serde_json::json!([format!("Bearer {token}")]);
        serde_json::from_value::<authorizer::Event>(event).unwrap()
    };
    let ruled = f
        .authorizer(&[(
            "ROUTE_PERMISSIONS",
            r#"{"GET /users/me": ["profile:read"]}"#,
        )])
        .await;
    assert_eq!(
        ruled.handle(without_route(&with)).await,
        Err(Unauthorized),
        "a cached yes for this route would answer every route"
    );
    let answer = decide(&ruled, "authorizer-http-v2.json", &with)
        .await
        .unwrap();
    assert_eq!(
        answer["isAuthorized"], true,
        "the route is in the cache key"
    );
    let unruled = f.authorizer(&[]).await;
    let answer = serde_json::to_value(unruled.handle(without_route(&with)).await.unwrap()).unwrap();
    assert_eq!(
        answer["isAuthorized"], true,
        "no rules: every route answers alike"
    );
    let iam = f
        .authorizer(&[
            (
                "ROUTE_PERMISSIONS",
                r#"{"GET /users/me": ["profile:read"]}"#,
            ),
            ("HTTP_API_SIMPLE_RESPONSES", "false"),
        ])
        .await;
    assert!(
        iam.handle(without_route(&with)).await.is_ok(),
        "an IAM policy names its routes itself"
    );
}

#[tokio::test]
async fn rules_whose_patterns_over_allow_stop_the_authorizer_at_init() {
    let f = fixture().await;
    let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(keys(SECRET))));
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", ISS),
        ("TOKEN_AUDIENCE", AUD),
        (
            "ROUTE_PERMISSIONS",
            r#"{"GET /users/{id}": [], "GET /users/{id}/admin": ["admin"]}"#,
        ),
    ]);
    let err = authorizer::build(&env, &Resources::new(f.store.clone(), ring))
        .await
        .err()
        .expect("refused at init");
    let message = authgate_http::error_chain(&err);
    assert!(
        message.contains("GET /users/{id}/admin") && message.contains("crosses /"),
        "{message}"
    );
}

#[tokio::test]
async fn an_http_api_1_0_event_is_decided_on_the_token_in_its_identity_source() {
    let f = fixture().await;
    let authorizer = f.authorizer(&[]).await;
    let valid = f.valid();
    let with = |identity: &str, header: &str| {
        let mut event: Value = serde_json::from_str(&event("authorizer-http-v1.json")).unwrap();
        event["identitySource"] = Value::from(identity);
        event["headers"]["authorization"] = Value::from(header);
        serde_json::from_value::<authorizer::Event>(event).unwrap()
    };
    assert_eq!(
        authorizer
            .handle(with("Bearer x.y.z", &format!("Bearer {valid}")))
            .await,
        Err(Unauthorized),
        "the cache key holds another token than the header: decided on the cache key"
    );
    assert!(
        authorizer
            .handle(with(
                &format!("Bearer {valid},GET /users/me"),
                "Bearer x.y.z"
            ))
            .await
            .is_ok(),
        "the token among the identity sources"
    );
}

#[tokio::test]
async fn an_event_naming_a_member_twice_or_two_authorization_headers_is_refused() {
    let f = fixture().await;
    let authorizer = f.authorizer(&[]).await;
    let valid = f.valid();
    let arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/Prod/GET/users/me";
    let read = |text: String| serde_json::from_str::<authorizer::Event>(&text).unwrap();
    let once = format!(
        r#"{{"type": "TOKEN", "methodArn": "{arn}", "authorizationToken": "Bearer {valid}"}}"#
    );
    assert!(authorizer.handle(read(once)).await.is_ok(), "the baseline");
    let twice = format!(
        r#"{{"type": "TOKEN", "methodArn": "{arn}", "authorizationToken": "Bearer {valid}",
            "authorizationToken": "Bearer {valid}"}}"#
    );
    assert_eq!(authorizer.handle(read(twice)).await, Err(Unauthorized));
    let headers = |names: &[&str]| {
        let members: Vec<String> = names
            .iter()
            .map(|name| format!(r#""{name}": "Bearer {valid}""#))
            .collect();
        read(format!(
            r#"{{"type": "REQUEST", "methodArn": "{arn}", "headers": {{{}}}}}"#,
            members.join(", ")
        ))
    };
    assert!(authorizer.handle(headers(&["authorization"])).await.is_ok());
    assert_eq!(
        authorizer
            .handle(headers(&["Authorization", "authorization"]))
            .await,
        Err(Unauthorized)
    );
}
