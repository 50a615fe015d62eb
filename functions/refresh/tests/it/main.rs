//! The refresh handler, driven by `events/refresh*.json`, on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_http::HttpHandler;
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::{Algorithm, Key, KeySet, TokenIssuer, TokenVerifier, Validation};
use authgate_users::{
    InMemoryUserStore, RefreshToken, Session, SessionStore, User, UserStore, now_ms,
};
use lambda_http::Request;
use refresh::{INVALID_REFRESH_TOKEN, Refresh};

fn keys() -> Arc<KeySet> {
    Arc::new(
        KeySet::signing(
            "v1",
            [Key::hmac("v1", b"refresh-test-secret-of-32-bytes!!", Algorithm::HS256).unwrap()],
        )
        .unwrap(),
    )
}

struct Fixture {
    refresh: Refresh,
    store: Arc<InMemoryUserStore>,
    user: User,
    session: Session,
    token: RefreshToken,
}

async fn fixture(grace_secs: u64) -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let (user, session, token) =
        authgate_users::contract::user_with_session(store.as_ref(), now_ms()).await;
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", "urn:t".to_owned()),
        ("TOKEN_AUDIENCE", "aud".to_owned()),
        ("REFRESH_REUSE_GRACE_SECONDS", grace_secs.to_string()),
    ]);
    let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(keys())));
    Fixture {
        refresh: refresh::build(&env, &Resources::new(store.clone(), ring))
            .await
            .unwrap(),
        store,
        user,
        session,
        token,
    }
}

fn refresh_request(fixture: &str, token: &str) -> Request {
    let template = request(fixture);
    let body = match template.body() {
        lambda_http::Body::Text(t) => {
            t.replace("REPLACE_WITH_A_REFRESH_TOKEN_43_CHARACTERS", token)
        }
        _ => panic!("fixture has a body"),
    };
    with_body(template, &body)
}

#[tokio::test]
async fn refresh_returns_a_new_pair_in_the_same_session() {
    let f = fixture(0).await;
    for fixture_name in ["refresh.json", "refresh-form.json"] {
        let f = fixture(0).await;
        let response = f
            .refresh
            .handle(refresh_request(fixture_name, f.token.as_str()))
            .await;
        assert_eq!(
            response.status(),
            200,
            "{fixture_name}: {:?}",
            response.body()
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    let response = f
        .refresh
        .handle(refresh_request("refresh.json", f.token.as_str()))
        .await;
    let body = json_body(&response);
    let next = body["refresh_token"].as_str().unwrap();
    assert_ne!(next, f.token.as_str(), "rotated");
    let verifier = TokenVerifier::new(keys(), Validation::own("urn:t", "aud", 30));
    let claims = verifier
        .verify(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (claims.sub, claims.sid),
        (f.user.id.to_string(), Some(f.session.id.to_string()))
    );
    assert_eq!(
        f.refresh
            .handle(refresh_request("refresh.json", next))
            .await
            .status(),
        200,
        "the new token works"
    );
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_is_401_and_ends_the_session() {
    let f = fixture(0).await;
    let first = f
        .refresh
        .handle(refresh_request("refresh.json", f.token.as_str()))
        .await;
    let next = json_body(&first)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reuse = f
        .refresh
        .handle(refresh_request("refresh.json", f.token.as_str()))
        .await;
    assert_eq!(reuse.status(), 401);
    assert_eq!(json_body(&reuse)["detail"], INVALID_REFRESH_TOKEN);
    assert!(
        f.store
            .state(f.session.id, f.user.id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_err()
    );
    assert_eq!(
        f.refresh
            .handle(refresh_request("refresh.json", &next))
            .await
            .status(),
        401,
        "the whole family ends"
    );
}

#[tokio::test]
async fn a_retry_within_the_grace_period_is_served() {
    let f = fixture(30).await;
    assert_eq!(
        f.refresh
            .handle(refresh_request("refresh.json", f.token.as_str()))
            .await
            .status(),
        200
    );
    assert_eq!(
        f.refresh
            .handle(refresh_request("refresh.json", f.token.as_str()))
            .await
            .status(),
        200
    );
    assert!(
        f.store
            .state(f.session.id, f.user.id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_ok()
    );
}

#[tokio::test]
async fn access_tokens_and_garbage_are_not_refresh_tokens() {
    let f = fixture(0).await;
    let access = TokenIssuer::new(keys(), "urn:t", "aud", Duration::from_secs(900))
        .unwrap()
        .issue(&authgate_token::Subject {
            id: "x",
            email: "a@example.com",
            session: "s",
            ..Default::default()
        })
        .unwrap()
        .token;
    let never_issued = RefreshToken::generate();
    for presented in [access.as_str(), "", "nonsense", never_issued.as_str()] {
        let response = f
            .refresh
            .handle(refresh_request("refresh.json", presented))
            .await;
        assert_eq!(response.status(), 401, "{presented:.20}");
        assert_eq!(json_body(&response)["detail"], INVALID_REFRESH_TOKEN);
    }
}

#[tokio::test]
async fn disabled_users_cannot_refresh() {
    let f = fixture(0).await;
    f.store.set_disabled(f.user.id, true).await.unwrap();
    assert_eq!(
        f.refresh
            .handle(refresh_request("refresh.json", f.token.as_str()))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn malformed_requests_are_client_errors() {
    let f = fixture(0).await;
    for (fixture_name, body, status) in [
        ("refresh.json", "{", 400),
        ("refresh.json", "{}", 422),
        ("refresh.json", r#"{"refresh_token": "x", "extra": 1}"#, 422),
        (
            "refresh-form.json",
            "grant_type=password&refresh_token=x",
            400,
        ),
        ("refresh-form.json", "grant_type=refresh_token", 422),
    ] {
        let response = f
            .refresh
            .handle(with_body(request(fixture_name), body))
            .await;
        assert_eq!(response.status(), status, "{body}");
    }
}

#[tokio::test]
async fn with_verified_email_required_an_unverified_address_gets_no_new_tokens() {
    let f = fixture(0).await;
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", "urn:t"),
        ("TOKEN_AUDIENCE", "aud"),
        ("LOGIN_REQUIRES_VERIFIED_EMAIL", "true"),
    ]);
    let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(keys())));
    let strict = refresh::build(&env, &Resources::new(f.store.clone(), ring))
        .await
        .unwrap();
    // The address is unverified, as after an email change.
    assert!(
        !f.store
            .get_by_id(f.user.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    let response = strict
        .handle(refresh_request("refresh.json", f.token.as_str()))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        json_body(&response)["detail"],
        authgate_http::EMAIL_NOT_VERIFIED
    );
    assert!(json_body(&response).get("access_token").is_none());
}
