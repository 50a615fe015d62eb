//! The logout handler, driven by `events/logout*.json`, on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_http::{HttpHandler, RequestClaimsExt, with_claims};
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request};
use authgate_token::KeySet;
use authgate_users::{
    Email, InMemoryUserStore, NewUser, PasswordHash, RefreshToken, Session, SessionStore,
    UserStore, now_ms,
};
use lambda_http::Request;
use logout::Logout;

/// Functions built on `store`; they use no keys.
fn on(store: Arc<InMemoryUserStore>) -> Resources {
    Resources::new(store, Arc::new(KeyRing::fixed(KeySet::default())))
}

async fn logout_on(store: Arc<InMemoryUserStore>) -> Logout {
    logout::build(&Env::default(), &on(store)).await.unwrap()
}

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

/// A store with alice and two sessions of hers; requests carry the first session's claims.
async fn fixture() -> (Arc<InMemoryUserStore>, Session, Session) {
    let store = Arc::new(InMemoryUserStore::new());
    let user = store
        .create(NewUser {
            email: Email::parse("alice@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: Default::default(),
        })
        .await
        .unwrap();
    let now = now_ms() - 1000;
    let mut sessions = Vec::new();
    for offset in [0, 1] {
        let session = Session {
            id: uuid::Uuid::new_v4(),
            user_id: user.id,
            created_at_ms: now + offset,
            expires_at_ms: now + 3_600_000,
            revoked: false,
        };
        store
            .start(
                &session,
                &RefreshToken::generate().hash(),
                now + 600_000,
                &user,
            )
            .await
            .unwrap();
        sessions.push(session);
    }
    let second = sessions.pop().unwrap();
    (store, sessions.pop().unwrap(), second)
}

fn request_for(fixture: &str, session: &Session) -> Request {
    let request = request(fixture);
    let mut claims = request.verified_claims().unwrap();
    claims.sub = session.user_id.to_string();
    claims.sid = Some(session.id.to_string());
    with_claims(request, &claims)
}

#[tokio::test]
async fn logout_ends_only_the_callers_session() {
    let (store, one, two) = fixture().await;
    let response = logout_on(store.clone())
        .await
        .handle(request_for("logout.json", &one))
        .await;
    assert_eq!(response.status(), 204);
    assert!(
        store
            .state(one.id, one.user_id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_err()
    );
    assert!(
        store
            .state(two.id, two.user_id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_ok()
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user() {
    let (store, one, two) = fixture().await;
    let response = logout_on(store.clone())
        .await
        .handle(request_for("logout-all.json", &one))
        .await;
    assert_eq!(response.status(), 204);
    assert!(
        store
            .state(one.id, one.user_id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_err()
    );
    assert!(
        store
            .state(two.id, two.user_id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_err()
    );
}

#[tokio::test]
async fn an_outside_token_naming_an_authgate_user_ends_none_of_their_sessions() {
    let (store, one, two) = fixture().await;
    let mut outside = authgate_testkit::outside_claims(&one.user_id.to_string(), &[]);
    outside.raw.insert("sid".into(), one.id.to_string().into());
    let request = authgate_http::with_outside_claims(request("logout-all.json"), &outside);
    let response = logout_on(store.clone()).await.handle(request).await;
    assert_eq!(response.status(), 403);
    for session in [one, two] {
        assert!(
            store
                .state(session.id, session.user_id)
                .await
                .unwrap()
                .may_act(now_ms())
                .is_ok()
        );
    }
}

#[tokio::test]
async fn logout_without_verified_claims_is_401() {
    let (store, _, _) = fixture().await;
    let response = logout_on(store)
        .await
        .handle(request("me-without-authorizer.json"))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(json_body(&response)["detail"], "Not authenticated");
}
