//! The caller's API keys at `/users/me/api-keys`, driven by `events/me-api-keys-*.json`, on the
//! in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_http::{HttpHandler, RequestClaimsExt, with_claims};
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::KeySet;
use authgate_users::{
    ADMIN_ROLE, ApiKey, ApiKeyStore, Email, InMemoryUserStore, NewUser, PasswordHash, User,
    UserStore, parse_roles,
};
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

async fn fixture() -> (me::Me, Arc<InMemoryUserStore>, User) {
    let store = Arc::new(InMemoryUserStore::new());
    let admin = store
        .create(NewUser {
            email: Email::parse("root@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: parse_roles([ADMIN_ROLE]).unwrap(),
        })
        .await
        .unwrap();
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:t"), ("TOKEN_AUDIENCE", "aud")]);
    let resources = Resources::new(store.clone(), Arc::new(KeyRing::fixed(KeySet::default())));
    (me::build(&env, &resources).await.unwrap(), store, admin)
}

/// `events/<name>` as `user` calls it, with `body` when given.
fn call(name: &str, user: &User, body: Option<Value>) -> Request {
    let mut request = request(name);
    if let Some(body) = body {
        request = with_body(request, &body.to_string());
    }
    let mut claims = request.verified_claims().unwrap();
    claims.sub = user.id.to_string();
    with_claims(request, &claims)
}

#[tokio::test]
async fn a_user_makes_lists_and_revokes_keys_holding_only_their_own_permissions() {
    let (me, store, admin) = fixture().await;
    let made = me
        .handle(call("me-api-keys-create.json", &admin, None))
        .await;
    assert_eq!(made.status(), 201, "{:?}", made.body());
    let body = json_body(&made);
    let key = ApiKey::parse(body["key"].as_str().unwrap()).expect("a well-formed key");
    assert_eq!(key.user(), admin.id);
    assert_eq!(body["scopes"], json!(["users:read"]));
    assert!(body["expires_at"].is_string());
    let stored = store.api_key(&key.hash()).await.unwrap().unwrap();
    assert_eq!(stored.id.to_string(), body["id"].as_str().unwrap());

    let listed = json_body(&me.handle(call("me-api-keys-list.json", &admin, None)).await);
    assert_eq!(listed[0]["id"], body["id"]);
    assert!(listed[0].get("key").is_none(), "{listed}");
    assert!(!listed.to_string().contains(key.as_str()));

    for (asked, why) in [
        (
            json!({"name": "x", "scopes": ["items:write"]}),
            "a permission not held",
        ),
        (json!({"name": "x", "expires_in_days": 0}), "no lifetime"),
        (json!({"name": "x", "expires_in_days": 366}), "over a year"),
        (json!({"name": ""}), "no name"),
        (json!({"name": "x", "scopes": ["two words"]}), "not a name"),
        (json!({"name": "x", "key": "mine"}), "an unknown field"),
    ] {
        let response = me
            .handle(call("me-api-keys-create.json", &admin, Some(asked)))
            .await;
        assert_eq!(response.status(), 422, "{why}: {:?}", response.body());
    }

    let mut delete = call("me-api-keys-delete.json", &admin, None);
    delete = delete.with_path_parameters(std::collections::HashMap::from([(
        "key_id".to_owned(),
        stored.id.to_string(),
    )]));
    let deleted = me.handle(delete.clone()).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(store.api_key(&key.hash()).await.unwrap(), None);
    assert_eq!(me.handle(delete).await.status(), 404, "already revoked");
}

#[tokio::test]
async fn a_request_made_with_an_api_key_makes_no_keys() {
    let (me, _, admin) = fixture().await;
    let request = request("me-api-keys-create.json");
    let user = request.verified_claims().unwrap();
    let claims = authgate_token::AccessClaims::for_api_key(
        &user.iss,
        &user.aud,
        &admin.id.to_string(),
        &uuid::Uuid::new_v4().to_string(),
        "users:read".into(),
        user.iat,
        user.exp,
    );
    let response = me.handle(with_claims(request, &claims)).await;
    assert_eq!(response.status(), 403, "{:?}", response.body());
}
