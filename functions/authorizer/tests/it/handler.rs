//! The TOKEN authorizer, driven by `events/authorizer*.json`, with sessions in the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_keys::KeyRing;
use authgate_runtime::{AccountStore, Env, EventHandler, Resources};
use authgate_testkit::event;
use authgate_token::{AccessClaims, Algorithm, Key, KeySet, Subject, TokenIssuer};
use authgate_users::{
    Email, InMemoryUserStore, NewUser, RefreshError, RefreshToken, Rotated, RotationPolicy,
    Session, SessionId, SessionState, SessionStore, StoreError, TokenHash, User, UserChanges,
    UserId, UserPage, UserStore, now_ms,
};
use authorizer::{Authorizer, Unauthorized};
use serde_json::{Value, json};

const ISS: &str = "urn:authgate:test";
const AUD: &str = "authgate-api";
const SECRET: &[u8] = b"authorizer-test-secret-32-bytes!!";

fn keys(secret: &[u8]) -> Arc<KeySet> {
    Arc::new(KeySet::signing("v1", [Key::hmac("v1", secret, Algorithm::HS256).unwrap()]).unwrap())
}

/// The authorizer as every deployment builds it, on `store` and a fixed key ring.
async fn authorizer_on(store: Arc<dyn AccountStore>) -> Authorizer {
    authorizer_with(store, &[]).await
}

/// [`authorizer_on`] with these variables set too.
async fn authorizer_with(store: Arc<dyn AccountStore>, vars: &[(&str, &str)]) -> Authorizer {
    let mut env = Env::from_pairs([("TOKEN_ISSUER", ISS), ("TOKEN_AUDIENCE", AUD)]);
    for (name, value) in vars {
        env = env.with(name, *value);
    }
    let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(keys(SECRET))));
    authorizer::build(&env, &Resources::new(store, ring))
        .await
        .unwrap()
}

/// A store holding alice and one live session of hers.
struct Fixture {
    store: Arc<InMemoryUserStore>,
    user: UserId,
    session: SessionId,
    authorizer: Authorizer,
}

async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let (user, session, _) =
        authgate_users::contract::user_with_session(store.as_ref(), now_ms()).await;
    let authorizer = authorizer_on(store.clone()).await;
    Fixture {
        store,
        user: user.id,
        session: session.id,
        authorizer,
    }
}

impl Fixture {
    fn token_with(&self, secret: &[u8], issuer: &str, ttl: u64, now: i64) -> String {
        let (id, sid) = (self.user.to_string(), self.session.to_string());
        TokenIssuer::new(keys(secret), issuer, AUD, Duration::from_secs(ttl))
            .unwrap()
            .issue_at(
                &Subject {
                    id: &id,
                    email: "alice@example.com",
                    session: &sid,
                    ..Default::default()
                },
                now,
            )
            .unwrap()
            .token
    }

    fn token(&self) -> String {
        self.token_with(SECRET, ISS, 900, authgate_token::now_unix())
    }
}

/// The fixture with its placeholder replaced by `token`, as JSON.
fn json_with(name: &str, token: &str) -> Value {
    let text = event(name).replace("REPLACE_WITH_AN_ACCESS_TOKEN", token);
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The fixture with its placeholder replaced by `token`, read as the Lambda reads it.
fn event_with(name: &str, token: &str) -> authorizer::Event {
    read(json_with(name, token))
}

fn read(event: Value) -> authorizer::Event {
    serde_json::from_value(event).expect("every JSON value reads as an event")
}

#[tokio::test]
async fn valid_token_gets_an_allow_policy_for_the_whole_stage_with_claims_in_context() {
    let f = fixture().await;
    let response = f
        .authorizer
        .handle(event_with("authorizer.json", &f.token()))
        .await
        .expect("allowed");
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["principalId"], f.user.to_string());
    assert_eq!(
        wire["policyDocument"],
        json!({"Version": "2012-10-17", "Statement": [{
            "Action": ["execute-api:Invoke"],
            "Effect": "Allow",
            "Resource": ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/Prod/*/*"]
        }]})
    );
    let context = &wire["context"];
    assert_eq!(context["sub"], f.user.to_string());
    assert_eq!(context["email"], "alice@example.com");
    let claims: AccessClaims = serde_json::from_str(context["claims"].as_str().unwrap()).unwrap();
    assert_eq!(
        (claims.iss.as_str(), claims.sid),
        (ISS, Some(f.session.to_string()))
    );
    for value in context.as_object().unwrap().values() {
        assert!(
            !value.is_object() && !value.is_array(),
            "API Gateway context values must be flat"
        );
    }
}

#[tokio::test]
async fn every_bad_authorization_is_unauthorized() {
    let f = fixture().await;
    let now = authgate_token::now_unix();
    let cases: Vec<(&str, authorizer::Event)> = vec![
        (
            "no scheme",
            event_with("authorizer-missing-scheme.json", &f.token()),
        ),
        (
            "placeholder",
            event_with("authorizer.json", "REPLACE_WITH_AN_ACCESS_TOKEN"),
        ),
        (
            "expired",
            event_with(
                "authorizer.json",
                &f.token_with(SECRET, ISS, 60, now - 3600),
            ),
        ),
        (
            "not yet valid",
            event_with(
                "authorizer.json",
                &f.token_with(SECRET, ISS, 900, now + 3600),
            ),
        ),
        (
            "wrong key",
            event_with(
                "authorizer.json",
                &f.token_with(b"some-other-secret-of-32-bytes-xx!", ISS, 900, now),
            ),
        ),
        (
            "wrong issuer",
            event_with(
                "authorizer.json",
                &f.token_with(SECRET, "urn:evil", 900, now),
            ),
        ),
        (
            "missing token",
            serde_json::from_value(
                json!({"type": "TOKEN", "methodArn": "arn:aws:execute-api:us-east-1:1:a/b/GET/x"}),
            )
            .unwrap(),
        ),
        ("bad method arn", {
            let mut e = json_with("authorizer.json", &f.token());
            e["methodArn"] = json!("arn:aws:s3:::bucket");
            read(e)
        }),
        ("no method arn", {
            let mut e = json_with("authorizer.json", &f.token());
            e.as_object_mut().unwrap().remove("methodArn");
            read(e)
        }),
    ];
    for (name, event) in cases {
        assert_eq!(
            f.authorizer.handle(event.clone()).await.map(|_| ()),
            Err(Unauthorized),
            "{name}"
        );
    }
}

#[tokio::test]
async fn tokens_of_ended_sessions_are_unauthorized() {
    let f = fixture().await;
    let token = f.token();
    let event = event_with("authorizer.json", &token);
    assert!(f.authorizer.handle(event.clone()).await.is_ok());
    f.store.revoke(f.session).await.unwrap();
    assert_eq!(
        f.authorizer.handle(event.clone()).await.map(|_| ()),
        Err(Unauthorized),
        "logout"
    );

    let f = fixture().await;
    let event = event_with("authorizer.json", &f.token());
    f.store.revoke_all(f.user, now_ms() + 1).await.unwrap();
    assert_eq!(
        f.authorizer.handle(event.clone()).await.map(|_| ()),
        Err(Unauthorized),
        "logout-all"
    );

    let f = fixture().await;
    let event = event_with("authorizer.json", &f.token());
    f.store.set_disabled(f.user, true).await.unwrap();
    assert_eq!(
        f.authorizer.handle(event.clone()).await.map(|_| ()),
        Err(Unauthorized),
        "disabled user"
    );
}

/// A store that cannot answer.
struct Down;

#[async_trait::async_trait]
impl UserStore for Down {
    async fn create(&self, _: NewUser) -> Result<User, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn get_by_id(&self, _: UserId) -> Result<Option<User>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn get_by_email(&self, _: &Email) -> Result<Option<User>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn update(&self, _: UserId, _: UserChanges) -> Result<User, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn delete(&self, _: UserId) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn list(&self) -> Result<Vec<User>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn page(&self, _: usize, _: Option<&str>) -> Result<UserPage, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
}

#[async_trait::async_trait]
impl SessionStore for Down {
    async fn start(
        &self,
        _: &Session,
        _: &TokenHash,
        _: i64,
        _: &authgate_users::User,
    ) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn rotate(
        &self,
        _: &TokenHash,
        _: &TokenHash,
        _: i64,
        _: RotationPolicy,
    ) -> Result<Rotated, RefreshError> {
        Err(StoreError::Backend("down".into()).into())
    }
    async fn revoke(&self, _: SessionId) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn revoke_all(&self, _: UserId, _: i64) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn state(&self, _: SessionId, _: UserId) -> Result<SessionState, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn refresh_record(
        &self,
        _: &TokenHash,
    ) -> Result<Option<authgate_users::RefreshRecord>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
}

#[async_trait::async_trait]
impl authgate_users::ThrottleStore for Down {
    async fn backoff(
        &self,
        _: &authgate_users::ThrottleKey,
    ) -> Result<Option<authgate_users::Backoff>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn swap_backoff(
        &self,
        _: &authgate_users::ThrottleKey,
        _: Option<&authgate_users::Backoff>,
        _: &authgate_users::Backoff,
    ) -> Result<bool, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn clear_backoff(&self, _: &authgate_users::ThrottleKey) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn add(
        &self,
        _: &authgate_users::ThrottleKey,
        _: i64,
        _: i64,
    ) -> Result<i64, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
}

#[async_trait::async_trait]
impl authgate_users::ActionTokenStore for Down {
    async fn put_action(
        &self,
        _: &TokenHash,
        _: &authgate_users::ActionRecord,
    ) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn take_action(
        &self,
        _: &TokenHash,
    ) -> Result<Option<authgate_users::ActionRecord>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
}

#[async_trait::async_trait]
impl authgate_users::ClientStore for Down {
    async fn create_client(&self, _: &authgate_users::Client) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn client(
        &self,
        _: authgate_users::ClientId,
    ) -> Result<Option<authgate_users::Client>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn clients(
        &self,
        _: usize,
        _: Option<&str>,
    ) -> Result<authgate_users::ClientPage, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn update_client(&self, _: &authgate_users::Client) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn delete_client(&self, _: authgate_users::ClientId) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
}

#[async_trait::async_trait]
impl authgate_users::ApiKeyStore for Down {
    async fn create_api_key(&self, _: &authgate_users::ApiKeyRecord) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn api_keys(&self, _: UserId) -> Result<Vec<authgate_users::ApiKeyRecord>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn api_key(
        &self,
        _: &TokenHash,
    ) -> Result<Option<authgate_users::ApiKeyRecord>, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn delete_api_key(
        &self,
        _: UserId,
        _: authgate_users::ApiKeyId,
    ) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
}

#[async_trait::async_trait]
impl authgate_users::TokenChecks for Down {
    async fn revoke_access_token(&self, _: &str, _: i64) -> Result<(), StoreError> {
        Err(StoreError::Backend("down".into()))
    }
    async fn access_token_revoked(&self, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::Backend("down".into()))
    }
}

#[tokio::test]
async fn an_unreachable_session_store_fails_closed() {
    let f = fixture().await;
    let authorizer = authorizer_on(Arc::new(Down)).await;
    let event = event_with("authorizer.json", &f.token());
    assert_eq!(
        authorizer.handle(event.clone()).await.map(|_| ()),
        Err(Unauthorized)
    );
}

#[tokio::test]
async fn a_refresh_token_is_never_an_access_token() {
    let f = fixture().await;
    let refresh = RefreshToken::generate();
    let event = event_with("authorizer.json", refresh.as_str());
    assert_eq!(
        f.authorizer.handle(event.clone()).await.map(|_| ()),
        Err(Unauthorized)
    );
}

#[tokio::test]
async fn hostile_header_values_never_panic() {
    let f = fixture().await;
    let long = format!("Bearer {}", "A".repeat(100_000));
    for header in [
        "",
        " ",
        "Bearer",
        "Bearer  ",
        "Bearer ....",
        "Bearer \u{0}",
        long.as_str(),
    ] {
        let mut event = json_with("authorizer.json", "x");
        event["authorizationToken"] = json!(header);
        let event = read(event);
        assert_eq!(
            f.authorizer.handle(event.clone()).await.map(|_| ()),
            Err(Unauthorized),
            "{header:.20}"
        );
    }
}

#[test]
fn unauthorized_serializes_as_the_message_api_gateway_maps_to_401() {
    let diagnostic = lambda_runtime::Diagnostic::from(Unauthorized);
    let wire: Value =
        json!({"errorType": diagnostic.error_type, "errorMessage": diagnostic.error_message});
    assert_eq!(wire["errorMessage"], "Unauthorized");
}

#[tokio::test]
async fn with_route_rules_the_policy_allows_exactly_the_routes_the_tokens_permissions_satisfy() {
    let store = Arc::new(InMemoryUserStore::new());
    let (user, session, _) =
        authgate_users::contract::user_with_session(store.as_ref(), now_ms()).await;
    let rules = r#"{"GET /users/me": [], "GET /users": ["users:read"], "DELETE /users/{id}": ["users:write"]}"#;
    let authorizer = authorizer_with(store, &[("ROUTE_PERMISSIONS", rules)]).await;
    let token = |permissions: &[&str]| {
        let (id, sid) = (user.id.to_string(), session.id.to_string());
        TokenIssuer::new(keys(SECRET), ISS, AUD, Duration::from_secs(900))
            .unwrap()
            .issue(&Subject {
                id: &id,
                email: "alice@example.com",
                session: &sid,
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                ..Default::default()
            })
            .unwrap()
            .token
    };
    let resources = |token: String| {
        let authorizer = &authorizer;
        async move {
            let response = authorizer
                .handle(event_with("authorizer.json", &token))
                .await
                .expect("a valid token gets a policy");
            let wire = serde_json::to_value(&response).unwrap();
            let statement = wire["policyDocument"]["Statement"][0].clone();
            (statement["Effect"].clone(), statement["Resource"].clone())
        }
    };
    let stage = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/Prod";
    assert_eq!(
        resources(token(&[])).await,
        (json!("Allow"), json!([format!("{stage}/GET/users/me")]))
    );
    assert_eq!(
        resources(token(&["users:read", "users:write"])).await,
        (
            json!("Allow"),
            json!([
                format!("{stage}/DELETE/users/*"),
                format!("{stage}/GET/users"),
                format!("{stage}/GET/users/me")
            ])
        )
    );
}

#[tokio::test]
async fn a_token_that_may_call_no_route_gets_an_explicit_deny() {
    let f = fixture().await;
    let authorizer = authorizer_with(
        f.store.clone(),
        &[("ROUTE_PERMISSIONS", r#"{"GET /users": ["users:read"]}"#)],
    )
    .await;
    let response = authorizer
        .handle(event_with("authorizer.json", &f.token()))
        .await
        .expect("still a valid token");
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["policyDocument"]["Statement"][0]["Effect"], "Deny");
}

#[tokio::test]
async fn malformed_route_rules_stop_the_init() {
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", ISS),
        ("TOKEN_AUDIENCE", AUD),
        ("ROUTE_PERMISSIONS", "[]"),
    ]);
    let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(keys(SECRET))));
    let err = authorizer::build(
        &env,
        &Resources::new(Arc::new(InMemoryUserStore::new()), ring),
    )
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("ROUTE_PERMISSIONS"), "{err}");
}

#[tokio::test]
async fn a_clients_token_gets_the_routes_its_scopes_satisfy_while_the_client_may_act() {
    use authgate_users::{Client, ClientStore};
    let store = Arc::new(InMemoryUserStore::new());
    let scopes = ["items:read".to_owned(), "users:read".to_owned()];
    let (client, _) = Client::register("partner", scopes.into_iter().collect(), now_ms());
    store.create_client(&client).await.unwrap();
    let rules =
        r#"{"GET /users/me": [], "GET /users": ["users:read"], "GET /items": ["items:read"]}"#;
    let authorizer = authorizer_with(store.clone(), &[("ROUTE_PERMISSIONS", rules)]).await;
    let id = client.id.to_string();
    let token = TokenIssuer::new(keys(SECRET), ISS, AUD, Duration::from_secs(900))
        .unwrap()
        .issue_client_at(
            &authgate_token::ClientGrant {
                client_id: &id,
                scopes: vec!["items:read".into(), "users:read".into()],
                ..Default::default()
            },
            authgate_token::now_unix(),
        )
        .unwrap()
        .token;
    let decide = || {
        let authorizer = &authorizer;
        let token = token.clone();
        async move {
            authorizer
                .handle(event_with("authorizer.json", &token))
                .await
                .map(|response| serde_json::to_value(&response).unwrap())
        }
    };
    let stage = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/Prod";
    let wire = decide().await.expect("an enabled client's token");
    assert_eq!(wire["principalId"], id);
    assert_eq!(
        wire["policyDocument"]["Statement"][0]["Resource"],
        json!([
            format!("{stage}/GET/items"),
            format!("{stage}/GET/users"),
            format!("{stage}/GET/users/me")
        ])
    );
    let context = &wire["context"];
    assert_eq!(
        (
            &context["holder"],
            &context["client_id"],
            &context["verified_by"]
        ),
        (&json!("client"), &json!(id), &json!("authgate"))
    );
    assert!(context.get("email").is_none() && context.get("roles").is_none());

    let narrowed = Client {
        scopes: ["items:read".to_owned()].into_iter().collect(),
        ..client.clone()
    };
    store.update_client(&narrowed).await.unwrap();
    let wire = decide().await.expect("still enabled");
    assert_eq!(
        wire["policyDocument"]["Statement"][0]["Resource"],
        json!([
            format!("{stage}/GET/items"),
            format!("{stage}/GET/users/me")
        ]),
        "a scope taken from the client is no longer granted by its tokens"
    );
    let stored = store.client(client.id).await.unwrap().unwrap();
    store
        .update_client(&Client {
            disabled: true,
            ..stored
        })
        .await
        .unwrap();
    assert_eq!(decide().await.err(), Some(Unauthorized), "disabled");
    store.delete_client(client.id).await.unwrap();
    assert_eq!(decide().await.err(), Some(Unauthorized), "deleted");
}

#[tokio::test]
async fn an_api_key_gets_the_routes_its_scopes_and_its_users_roles_both_grant() {
    use authgate_users::{ApiKeyRecord, ApiKeyStore, parse_roles};
    let store = Arc::new(InMemoryUserStore::new());
    let user = store
        .create(NewUser {
            email: Email::parse("script-owner@example.com").unwrap(),
            password_hash: authgate_users::PasswordHash::from_phc(
                "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
            )
            .unwrap(),
            roles: parse_roles(["editor"]).unwrap(),
        })
        .await
        .unwrap();
    let scopes = ["items:read".to_owned(), "items:write".to_owned()];
    let (record, key) = ApiKeyRecord::issue(
        user.id,
        "script",
        scopes.into_iter().collect(),
        Some(now_ms() + 60_000),
        now_ms(),
    );
    store.create_api_key(&record).await.unwrap();
    let rules = r#"{"GET /items": ["items:read"], "POST /items": ["items:write"], "GET /users": ["users:read"]}"#;
    let authorizer = authorizer_with(
        store.clone(),
        &[
            ("ROUTE_PERMISSIONS", rules),
            (
                "ROLES",
                r#"{"editor": ["items:read", "items:write"], "reader": ["items:read"]}"#,
            ),
        ],
    )
    .await;
    let decide = |token: String| {
        let authorizer = &authorizer;
        async move {
            authorizer
                .handle(event_with("authorizer.json", &token))
                .await
                .map(|response| serde_json::to_value(&response).unwrap())
        }
    };
    let stage = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/Prod";
    let wire = decide(key.as_str().to_owned()).await.expect("a live key");
    assert_eq!(wire["principalId"], user.id.to_string());
    assert_eq!(
        wire["policyDocument"]["Statement"][0]["Resource"],
        json!([format!("{stage}/GET/items"), format!("{stage}/POST/items")])
    );
    let context = &wire["context"];
    assert_eq!(
        (&context["holder"], &context["sub"], &context["scope"]),
        (
            &json!("api_key"),
            &json!(user.id.to_string()),
            &json!("items:read items:write")
        )
    );
    let claims: AccessClaims = serde_json::from_str(context["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims.api_key_id, Some(record.id.to_string()));
    assert!(
        !context.to_string().contains(key.as_str()),
        "the key is never passed on"
    );

    store
        .update(
            user.id,
            UserChanges {
                roles: Some(parse_roles(["reader"]).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let wire = decide(key.as_str().to_owned()).await.expect("still live");
    assert_eq!(
        wire["policyDocument"]["Statement"][0]["Resource"],
        json!([format!("{stage}/GET/items")]),
        "a demoted user's key loses the permission"
    );

    let flipped = {
        let mut text = key.as_str().to_owned();
        let last = if text.ends_with('0') { "1" } else { "0" };
        text.replace_range(text.len() - 1.., last);
        text
    };
    assert_eq!(
        decide(flipped).await.err(),
        Some(Unauthorized),
        "bad checksum"
    );
    let unknown = authgate_users::ApiKey::generate(user.id);
    assert_eq!(
        decide(unknown.as_str().to_owned()).await.err(),
        Some(Unauthorized),
        "well formed but never issued"
    );
    store.set_disabled(user.id, true).await.unwrap();
    assert_eq!(
        decide(key.as_str().to_owned()).await.err(),
        Some(Unauthorized),
        "a disabled user's key"
    );
    store.set_disabled(user.id, false).await.unwrap();
    store.delete_api_key(user.id, record.id).await.unwrap();
    assert_eq!(
        decide(key.as_str().to_owned()).await.err(),
        Some(Unauthorized),
        "a revoked key"
    );
}
