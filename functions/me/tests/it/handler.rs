//! The `/users/me` handler, driven by `events/me*.json`, on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_http::{HttpHandler, RequestClaimsExt, with_claims};
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request};
use authgate_token::{Algorithm, Key, KeySet, TokenVerifier, Validation};
use authgate_users::contract::user_with_password;
use authgate_users::{
    Email, InMemoryUserStore, NewUser, Password, PasswordHash, PasswordHasher, SessionStore, User,
    UserStore, now_ms,
};
use lambda_http::Request;
use me::Me;

fn keys() -> KeySet {
    let key = Key::hmac(
        "v1",
        b"me-test-secret-of-at-least-32-bytes",
        Algorithm::HS256,
    )
    .unwrap();
    KeySet::signing("v1", [key]).unwrap()
}

/// The function as every deployment builds it, on `store` and a fixed key.
async fn me_on(store: Arc<InMemoryUserStore>) -> Me {
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:t"), ("TOKEN_AUDIENCE", "aud")]);
    let resources = Resources::new(store, Arc::new(KeyRing::fixed(keys())));
    me::build(&env, &resources).await.unwrap()
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
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
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
async fn an_outside_token_whose_sub_is_an_authgate_users_id_does_not_reach_that_user() {
    let (store, user) = store_with_alice().await;
    let outside = authgate_testkit::outside_claims(&user.id.to_string(), &[]);
    let request = authgate_http::with_outside_claims(request("me.json"), &outside);
    let response = me_on(store).await.handle(request).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        json_body(&response)["detail"],
        authgate_http::OWN_TOKENS_ONLY
    );
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

/// Alice with the fixtures' real password, and one live session of hers.
async fn alice_with_password() -> (Arc<InMemoryUserStore>, User, authgate_users::Session) {
    let store = Arc::new(InMemoryUserStore::new());
    let user = user_with_password(
        store.as_ref(),
        "alice@example.com",
        "correct horse battery staple",
    )
    .await;
    let now = now_ms() - 10;
    let session = authgate_users::Session {
        id: uuid::Uuid::new_v4(),
        user_id: user.id,
        created_at_ms: now,
        expires_at_ms: now + 3_600_000,
        revoked: false,
    };
    store
        .start(
            &session,
            &authgate_users::RefreshToken::generate().hash(),
            now + 600_000,
            &user,
        )
        .await
        .unwrap();
    (store, user, session)
}

fn patch_for(user: &User, body: serde_json::Value) -> Request {
    let request = authgate_testkit::with_body(request("me-patch.json"), &body.to_string());
    let mut claims = request.verified_claims().unwrap();
    claims.sub = user.id.to_string();
    with_claims(request, &claims)
}

#[tokio::test]
async fn a_new_password_ends_every_session_and_this_client_continues_in_a_new_one_through_refresh()
{
    let (store, user, old) = alice_with_password().await;
    let me = me_on(store.clone()).await;
    let response = me.handle(patch_for(&user, serde_json::json!({
        "password": "a brand new passphrase", "current_password": "correct horse battery staple"
    }))).await;
    assert_eq!(response.status(), 200);
    let body = json_body(&response);
    assert!(body.get("password_hash").is_none());
    assert!(
        body.get("access_token").is_none(),
        "me signs nothing: it holds no key"
    );
    let refresh_token = body["refresh_token"]
        .as_str()
        .expect("the new session's refresh token");
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:t"), ("TOKEN_AUDIENCE", "aud")]);
    let refresh = refresh::build(
        &env,
        &Resources::new(store.clone(), Arc::new(KeyRing::fixed(keys()))),
    )
    .await
    .unwrap();
    let body = serde_json::json!({"refresh_token": refresh_token}).to_string();
    let refreshed = refresh
        .handle(authgate_testkit::with_body(request("refresh.json"), &body))
        .await;
    assert_eq!(
        refreshed.status(),
        200,
        "/auth/refresh turns it into tokens"
    );
    let access = json_body(&refreshed)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = TokenVerifier::new(Arc::new(keys()), Validation::own("urn:t", "aud", 30))
        .verify(&access)
        .unwrap();
    assert_ne!(claims.sid, Some(old.id.to_string()));
    let state = store.state(old.id, user.id).await.unwrap();
    assert!(state.may_act(now_ms()).is_err(), "the old session ended");
    let fresh = store
        .state(claims.sid.as_deref().unwrap().parse().unwrap(), user.id)
        .await
        .unwrap();
    assert!(fresh.may_act(now_ms()).is_ok(), "the new one lives");
    let stored = store.get_by_id(user.id).await.unwrap().unwrap();
    assert!(
        PasswordHasher::new()
            .verify(
                Password::for_verification("a brand new passphrase".to_owned()),
                Some(stored.password_hash)
            )
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn changes_need_the_current_password_and_a_free_email() {
    let (store, user, session) = alice_with_password().await;
    store
        .create(NewUser {
            email: Email::parse("bob@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: Default::default(),
        })
        .await
        .unwrap();
    let me = me_on(store.clone()).await;
    for (body, status) in [
        (
            serde_json::json!({"email": "new@example.com", "current_password": "wrong password!"}),
            400,
        ),
        (serde_json::json!({"email": "new@example.com"}), 422),
        (
            serde_json::json!({"email": "BOB@example.com", "current_password": "correct horse battery staple"}),
            409,
        ),
        (
            serde_json::json!({"password": "short", "current_password": "correct horse battery staple"}),
            422,
        ),
        (
            serde_json::json!({"roles": ["admin"], "current_password": "correct horse battery staple"}),
            422,
        ),
    ] {
        let response = me.handle(patch_for(&user, body.clone())).await;
        assert_eq!(response.status(), status, "{body}");
    }
    let response = me
        .handle(patch_for(
            &user,
            serde_json::json!({
                "email": "alice.new@example.com", "current_password": "correct horse battery staple"
            }),
        ))
        .await;
    assert_eq!(response.status(), 200);
    let body = json_body(&response);
    assert_eq!(body["email"], "alice.new@example.com");
    assert!(
        body.get("refresh_token").is_none(),
        "an email change keeps the session"
    );
    assert!(
        store
            .state(session.id, user.id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_ok()
    );
}

#[tokio::test]
async fn a_new_email_is_unverified_and_gets_a_verification_mail() {
    let (store, user, _) = alice_with_password().await;
    store
        .update(
            user.id,
            authgate_users::UserChanges {
                email_verified: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mailer = authgate_runtime::RecordingMailer::new();
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:t"), ("TOKEN_AUDIENCE", "aud")]);
    let resources = Resources::new(store.clone(), Arc::new(KeyRing::fixed(keys())))
        .with_mailer(Arc::new(mailer.clone()));
    let me = me::build(&env, &resources).await.unwrap();
    let response = me
        .handle(patch_for(
            &user,
            serde_json::json!({"email": "alice@new.example", "current_password": "correct horse battery staple"}),
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_body(&response)["email_verified"], false);
    assert!(
        !store
            .get_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "alice@new.example");
    assert_eq!(sent[0].subject, "Verify your email address");
}

#[tokio::test]
async fn wrong_current_passwords_wait_like_failed_logins() {
    let (store, user, _) = alice_with_password().await;
    let me = me_on(store).await;
    let guess = |password: &str| {
        patch_for(
            &user,
            serde_json::json!({"email": "mine@example.com", "current_password": password}),
        )
    };
    for i in 0..5 {
        let response = me.handle(guess(&format!("guess number {i}"))).await;
        assert_eq!(response.status(), 400, "guess {i}");
    }
    for password in ["guess number 5", "correct horse battery staple"] {
        let response = me.handle(guess(password)).await;
        assert_eq!(response.status(), 429, "{password}");
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(json_body(&response)["detail"].is_string());
    }
}

#[tokio::test]
async fn every_verification_mail_counts_toward_the_address_cap() {
    let (store, user, _) = alice_with_password().await;
    let mailer = authgate_runtime::RecordingMailer::new();
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", "urn:t"),
        ("TOKEN_AUDIENCE", "aud"),
        ("MAILS_PER_ADDRESS", "2"),
    ]);
    let resources = Resources::new(store.clone(), Arc::new(KeyRing::fixed(keys())))
        .with_mailer(Arc::new(mailer.clone()));
    let me = me::build(&env, &resources).await.unwrap();
    for round in 0..4 {
        for email in ["victim@example.com", "alice@example.com"] {
            let response = me
                .handle(patch_for(
                    &user,
                    serde_json::json!({"email": email, "current_password": "correct horse battery staple"}),
                ))
                .await;
            assert_eq!(response.status(), 200, "round {round}, {email}");
        }
    }
    let to_victim = mailer
        .sent()
        .iter()
        .filter(|m| m.to == "victim@example.com")
        .count();
    assert_eq!(to_victim, 2, "the cap holds for mail an email change sends");
}
