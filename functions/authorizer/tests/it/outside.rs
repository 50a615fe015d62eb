//! The authorizer with a trusted outside issuer (a local OIDC issuer on 127.0.0.1): outside
//! tokens are allowed with their scopes, and an issuer that hangs never slows authgate's own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_keys::KeyRing;
use authgate_runtime::{Env, EventHandler, Resources};
use authgate_testkit::oidc::{AUDIENCE, start_issuer};
use authgate_token::{Key, KeySet, Subject, TokenIssuer};
use authgate_users::{InMemoryUserStore, now_ms};
use serde_json::json;

/// An issuer this slow never answers within a test run.
const HANGS: Duration = Duration::from_secs(3600);
/// Far longer than the fetch timeout, far shorter than [`HANGS`]: only a call that waits on the
/// hanging issuer runs into it.
const NOT_WAITING: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_authorizer_accepts_outside_tokens_and_a_slow_issuer_does_not_slow_its_own() {
    let issuer = start_issuer().await;
    let store = Arc::new(InMemoryUserStore::new());
    let own_keys = Arc::new(
        KeySet::signing(
            "own",
            [Key::hmac("own", &[9; 32], authgate_token::Algorithm::HS256).unwrap()],
        )
        .unwrap(),
    );
    let trusted = json!([{"issuer": issuer.issuer, "audience": AUDIENCE, "algorithms": ["ES256"]}]);
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", "urn:authgate:test".to_owned()),
        ("TOKEN_AUDIENCE", "authgate-api".to_owned()),
        ("TRUSTED_ISSUERS", trusted.to_string()),
        (
            "ROUTE_PERMISSIONS",
            r#"{"GET /items": ["read:items"], "DELETE /items/{id}": ["delete:items"]}"#.to_owned(),
        ),
    ]);
    let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(own_keys.clone())));
    let authorizer = authorizer::build(&env, &Resources::new(store.clone(), ring))
        .await
        .unwrap();
    let event = |token: &str| {
        serde_json::from_value::<authorizer::Event>(json!({
            "type": "TOKEN", "authorizationToken": format!("Bearer {token}"),
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/Prod/GET/items"
        }))
        .unwrap()
    };

    let allowed = authorizer
        .handle(event(&issuer.sign(&issuer.claims())))
        .await
        .expect("outside token allowed");
    let wire = serde_json::to_value(&allowed).unwrap();
    assert_eq!(wire["principalId"], "auth0|123");
    assert_eq!(wire["context"]["scope"], "openid read:items write:items");
    assert_eq!(
        wire["policyDocument"]["Statement"][0]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:api/Prod/GET/items"]),
        "Auth0's permissions gate routes as authgate's own do"
    );
    assert_eq!(wire["context"]["iss"], issuer.issuer.as_str());

    // An own token, with its session, keeps working while the outside issuer hangs.
    let (user, session, _) =
        authgate_users::contract::user_with_session(store.as_ref(), now_ms()).await;
    let (id, sid) = (user.id.to_string(), session.id.to_string());
    let own = TokenIssuer::new(
        own_keys,
        "urn:authgate:test",
        "authgate-api",
        Duration::from_secs(900),
    )
    .unwrap()
    .issue(&Subject {
        id: &id,
        email: "own@example.com",
        session: &sid,
        ..Default::default()
    })
    .unwrap()
    .token;
    *issuer.state.delay.lock().unwrap() = HANGS;
    let decided = tokio::time::timeout(NOT_WAITING, authorizer.handle(event(&own)))
        .await
        .expect("own tokens never wait on an outside issuer");
    assert!(decided.is_ok());
}
