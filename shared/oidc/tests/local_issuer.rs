//! Outside issuers against a local OIDC issuer this test starts on 127.0.0.1: discovery, JWKS,
//! caching, refetch on an unknown `kid`, pinned algorithms, and failing closed when the issuer is
//! slow, all through the real HTTP client; then the authorizer accepting such tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An issuer this slow never answers within a test run.
const HANGS: Duration = Duration::from_secs(3600);
/// Far longer than the fetch timeout, far shorter than [`HANGS`]: only a call that waits on the
/// hanging issuer runs into it.
const NOT_WAITING: Duration = Duration::from_secs(30);

use authgate_oidc::{FetchPolicy, IssuerConfig, OidcError, OutsideIssuers, parse_trusted_issuers};
use authgate_token::{Key, KeySet, VerifyError, now_unix};
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

/// What the local issuer serves, changeable while it runs.
struct IssuerState {
    base: String,
    keys: Mutex<KeySet>,
    strip_alg: Mutex<bool>,
    delay: Mutex<Duration>,
    fetches: AtomicUsize,
}

struct LocalIssuer {
    state: Arc<IssuerState>,
    issuer: String,
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> axum::Json<Value> {
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    state.fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(
        json!({"issuer": format!("{}/", state.base), "jwks_uri": format!("{}/keys", state.base)}),
    )
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> axum::Json<Value> {
    let mut jwks = state.keys.lock().unwrap().public_jwks();
    if *state.strip_alg.lock().unwrap() {
        for key in jwks["keys"].as_array_mut().unwrap() {
            key.as_object_mut().unwrap().remove("alg");
        }
    }
    axum::Json(jwks)
}

fn es256(kid: &str) -> Key {
    Key::from_secret_material(
        kid,
        "ES256",
        format!("seed-of-{kid}-padded-well-past-32-bytes").as_bytes(),
    )
    .unwrap()
}

async fn start_issuer() -> LocalIssuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(IssuerState {
        base: base.clone(),
        keys: Mutex::new(KeySet::signing("k1", [es256("k1")]).unwrap()),
        strip_alg: Mutex::new(false),
        delay: Mutex::new(Duration::ZERO),
        fetches: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/keys", get(jwks))
        .with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    LocalIssuer {
        state,
        issuer: format!("{base}/"),
    }
}

impl LocalIssuer {
    fn config(&self) -> IssuerConfig {
        IssuerConfig {
            issuer: self.issuer.clone(),
            audience: "https://api.example.com".into(),
            algorithms: vec!["ES256".into()],
        }
    }

    fn claims(&self) -> Value {
        let now = now_unix();
        json!({"iss": self.issuer, "sub": "auth0|123", "aud": ["https://api.example.com", "https://tenant/userinfo"],
               "iat": now, "exp": now + 600, "scope": "openid read:items", "permissions": ["read:items", "write:items"]})
    }

    fn sign(&self, claims: &Value) -> String {
        self.state
            .keys
            .lock()
            .unwrap()
            .signing_key()
            .unwrap()
            .sign(Some("JWT"), claims)
            .unwrap()
    }
}

fn policy() -> FetchPolicy {
    FetchPolicy {
        jwks_ttl: Duration::from_secs(600),
        min_refetch_interval: Duration::ZERO,
        timeout: Duration::from_millis(500),
    }
}

#[tokio::test]
async fn outside_tokens_verify_with_the_discovered_jwks_and_their_scopes_are_mapped() {
    let issuer = start_issuer().await;
    let outside = OutsideIssuers::new(vec![issuer.config()], policy()).unwrap();
    assert!(outside.trusts(&issuer.issuer));
    let claims = outside
        .verify(
            &issuer.sign(&issuer.claims()),
            &issuer.issuer,
            now_unix(),
            30,
        )
        .await
        .unwrap();
    assert_eq!(claims.sub, "auth0|123");
    assert_eq!(claims.scopes, vec!["openid", "read:items", "write:items"]);
    let context = authgate_token::outside::outside_authorizer_context(&claims);
    assert_eq!(context["scope"], "openid read:items write:items");
    assert_eq!(context["iss"], issuer.issuer.as_str());
}

#[tokio::test]
async fn keys_are_cached_and_an_unknown_kid_refetches_at_most_once_per_interval() {
    let issuer = start_issuer().await;
    let slow_refetch = FetchPolicy {
        min_refetch_interval: Duration::from_secs(3600),
        ..policy()
    };
    let outside = OutsideIssuers::new(vec![issuer.config()], slow_refetch).unwrap();
    for _ in 0..5 {
        outside
            .verify(
                &issuer.sign(&issuer.claims()),
                &issuer.issuer,
                now_unix(),
                30,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        issuer.state.fetches.load(Ordering::SeqCst),
        1,
        "one discovery fetch for five tokens"
    );
    *issuer.state.keys.lock().unwrap() = KeySet::signing("k2", [es256("k2")]).unwrap();
    for _ in 0..5 {
        let err = outside
            .verify(
                &issuer.sign(&issuer.claims()),
                &issuer.issuer,
                now_unix(),
                30,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                OidcError::Unavailable { .. } | OidcError::Token(VerifyError::UnknownKid)
            ),
            "{err:?}"
        );
    }
    assert_eq!(
        issuer.state.fetches.load(Ordering::SeqCst),
        1,
        "unknown kids do not hammer the issuer"
    );

    let outside = OutsideIssuers::new(vec![issuer.config()], policy()).unwrap();
    outside
        .verify(
            &issuer.sign(&issuer.claims()),
            &issuer.issuer,
            now_unix(),
            30,
        )
        .await
        .unwrap();
    *issuer.state.keys.lock().unwrap() = KeySet::signing("k3", [es256("k3")]).unwrap();
    outside
        .verify(
            &issuer.sign(&issuer.claims()),
            &issuer.issuer,
            now_unix(),
            30,
        )
        .await
        .expect("refetched for the new kid");
}

#[tokio::test]
async fn wrong_audience_issuer_expiry_and_algorithm_are_rejected() {
    let issuer = start_issuer().await;
    let outside = OutsideIssuers::new(vec![issuer.config()], policy()).unwrap();
    let verify = |claims: Value| {
        let token = issuer.sign(&claims);
        let (outside, iss) = (&outside, issuer.issuer.clone());
        async move { outside.verify(&token, &iss, now_unix(), 30).await }
    };
    let mut claims = issuer.claims();
    claims["aud"] = json!("https://other.example.com");
    assert!(matches!(
        verify(claims).await,
        Err(OidcError::Token(VerifyError::InvalidAudience))
    ));
    let mut claims = issuer.claims();
    claims["exp"] = json!(now_unix() - 3600);
    assert!(matches!(
        verify(claims).await,
        Err(OidcError::Token(VerifyError::Expired))
    ));
    let mut claims = issuer.claims();
    claims["iss"] = json!("https://evil.example/");
    assert!(matches!(
        verify(claims).await,
        Err(OidcError::Token(VerifyError::InvalidIssuer))
    ));

    // HS256 signed with the issuer's public key as the HMAC secret: the classic confusion attack.
    let public = issuer.state.keys.lock().unwrap().public_jwks()["keys"][0].to_string();
    let forged = Key::hmac("k1", public.as_bytes(), authgate_token::Algorithm::HS256)
        .unwrap()
        .sign(Some("JWT"), &issuer.claims())
        .unwrap();
    let err = outside
        .verify(&forged, &issuer.issuer, now_unix(), 30)
        .await
        .unwrap_err();
    assert!(
        matches!(err, OidcError::Token(VerifyError::AlgorithmMismatch)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_jwk_without_alg_is_pinned_to_the_single_configured_algorithm() {
    let issuer = start_issuer().await;
    *issuer.state.strip_alg.lock().unwrap() = true;
    let outside = OutsideIssuers::new(vec![issuer.config()], policy()).unwrap();
    assert!(
        outside
            .verify(
                &issuer.sign(&issuer.claims()),
                &issuer.issuer,
                now_unix(),
                30
            )
            .await
            .is_ok()
    );
    let mut two = issuer.config();
    two.algorithms.push("RS256".into());
    let outside = OutsideIssuers::new(vec![two], policy()).unwrap();
    assert!(
        outside
            .verify(
                &issuer.sign(&issuer.claims()),
                &issuer.issuer,
                now_unix(),
                30
            )
            .await
            .is_err(),
        "ambiguous: key unused"
    );
}

#[tokio::test]
async fn a_slow_issuer_fails_closed_within_the_timeout() {
    let issuer = start_issuer().await;
    *issuer.state.delay.lock().unwrap() = HANGS;
    let outside = OutsideIssuers::new(vec![issuer.config()], policy()).unwrap();
    let token = issuer.sign(&issuer.claims());
    let err = tokio::time::timeout(
        NOT_WAITING,
        outside.verify(&token, &issuer.issuer, now_unix(), 30),
    )
    .await
    .expect("the fetch timeout ends the wait for a hanging issuer")
    .unwrap_err();
    assert!(matches!(err, OidcError::Unavailable { .. }), "{err:?}");
}

#[test]
fn an_outside_issuer_may_not_claim_authgates_own_iss() {
    let configs = parse_trusted_issuers(
        r#"[{"issuer": "urn:authgate:prod", "audience": "x", "algorithms": ["RS256"]}]"#,
    )
    .unwrap();
    assert!(matches!(
        authgate_oidc::check_not_own(&configs, "urn:authgate:prod"),
        Err(OidcError::OwnIssuer(_))
    ));
    assert!(authgate_oidc::check_not_own(&configs, "urn:authgate:other").is_ok());
}

#[test]
fn configuration_refuses_symmetric_or_missing_algorithms() {
    let ok = parse_trusted_issuers(
        r#"[{"issuer": "https://a/", "audience": "x", "algorithms": ["RS256", "ES256"]}]"#,
    )
    .unwrap();
    assert_eq!(ok.len(), 1);
    assert!(parse_trusted_issuers("").unwrap().is_empty());
    for bad in [
        r#"[{"issuer": "https://a/", "audience": "x", "algorithms": ["HS256"]}]"#,
        r#"[{"issuer": "https://a/", "audience": "x", "algorithms": []}]"#,
        r#"[{"issuer": "https://a/", "audience": "x", "algorithms": ["none"]}]"#,
        r#"[{"issuer": "https://a/", "algorithms": ["RS256"]}]"#,
        "not json",
    ] {
        assert!(parse_trusted_issuers(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn the_authorizer_accepts_outside_tokens_and_a_slow_issuer_does_not_slow_its_own() {
    use authgate_token::{Subject, TokenIssuer, TokenVerifier, VerifierConfig};
    use authgate_users::{InMemoryUserStore, now_ms};

    let issuer = start_issuer().await;
    let store = Arc::new(InMemoryUserStore::new());
    let own_keys = Arc::new(
        KeySet::signing(
            "own",
            [Key::hmac("own", &[9; 32], authgate_token::Algorithm::HS256).unwrap()],
        )
        .unwrap(),
    );
    let config = VerifierConfig {
        issuer: "urn:authgate:test".into(),
        audience: "authgate-api".into(),
        leeway_secs: 30,
    };
    let outside = Arc::new(OutsideIssuers::new(vec![issuer.config()], policy()).unwrap());
    let authorizer =
        authorizer::Authorizer::new(TokenVerifier::new(own_keys.clone(), config), store.clone())
            .with_outside_issuers(outside);
    let event = |token: &str| {
        serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest>(
            json!({
                "type": "TOKEN", "authorizationToken": format!("Bearer {token}"),
                "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/Prod/GET/items"
            }),
        )
        .unwrap()
    };

    let allowed = authorizer
        .handle(&event(&issuer.sign(&issuer.claims())))
        .await
        .expect("outside token allowed");
    let wire = serde_json::to_value(&allowed).unwrap();
    assert_eq!(wire["principalId"], "auth0|123");
    assert_eq!(wire["context"]["scope"], "openid read:items write:items");
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
    })
    .unwrap()
    .token;
    *issuer.state.delay.lock().unwrap() = HANGS;
    let decided = tokio::time::timeout(NOT_WAITING, authorizer.handle(&event(&own)))
        .await
        .expect("own tokens never wait on an outside issuer");
    assert!(decided.is_ok());
}
