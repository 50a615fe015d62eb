//! The `/users/me` handler, driven by `events/me*.json`, on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_http::{HttpHandler, RequestClaimsExt, with_claims};
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request};
use authgate_token::KeySet;
use authgate_users::{Email, InMemoryUserStore, NewUser, PasswordHash, User, UserStore};
use lambda_http::Request;
use me::Me;

/// Functions built on `store`; they use no keys.
fn on(store: Arc<InMemoryUserStore>) -> Resources {
    Resources::new(store, Arc::new(KeyRing::fixed(KeySet::default())))
}

async fn me_on(store: Arc<InMemoryUserStore>) -> Me {
    me::build(&Env::default(), &on(store)).await.unwrap()
}

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

async fn store_with_alice() -> (Arc<InMemoryUserStore>, User) {
    let store = Arc::new(InMemoryUserStore::new());
    let user = store
        .create(NewUser {
            email: Email::parse("alice@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: Default::default(),
        })
        .await
        .unwrap();
    (store, user)
}

/// The fixture's claims, re-pointed at `user`.
fn request_for(user: &User) -> Request {
    let request = request("me.json");
    let mut claims = request.verified_claims().unwrap();
    claims.sub = user.id.to_string();
    with_claims(request, &claims)
}

#[test]
fn claims_are_read_from_the_authorizer_context_of_a_real_event() {
    let claims = request("me.json")
        .verified_claims()
        .expect("fixture carries claims");
    assert_eq!(claims.sub, "0b9a3c1e-8f0e-4c43-9a57-5b8f7f0d2a11");
    assert_eq!(claims.email, "alice@example.com");
    assert_eq!(claims.exp - claims.iat, 900);
}

#[tokio::test]
async fn returns_the_caller_and_their_claims() {
    let (store, user) = store_with_alice().await;
    let response = me_on(store).await.handle(request_for(&user)).await;
    assert_eq!(response.status(), 200);
    let body = json_body(&response);
    assert_eq!(body["id"], user.id.to_string());
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["claims"]["sub"], user.id.to_string());
    assert_eq!(body["claims"]["aud"], "authgate-api");
    assert!(body.get("password_hash").is_none());
}

#[tokio::test]
async fn no_authorizer_context_is_401_never_anonymous() {
    let (store, _) = store_with_alice().await;
    let response = me_on(store)
        .await
        .handle(request("me-without-authorizer.json"))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(json_body(&response)["detail"], "Not authenticated");
}

#[tokio::test]
async fn unknown_and_disabled_users_are_401() {
    let (store, user) = store_with_alice().await;
    let me = me_on(store.clone()).await;
    assert_eq!(
        me.handle(request("me.json")).await.status(),
        401,
        "fixture's user is not in the store"
    );
    store.set_disabled(user.id, true).await.unwrap();
    let response = me.handle(request_for(&user)).await;
    assert_eq!(response.status(), 401, "one access rule, one status");
    assert_eq!(json_body(&response)["detail"], "Inactive user");
}
