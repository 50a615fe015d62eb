//! Outside issuers against a local OIDC issuer this test starts on 127.0.0.1: discovery, JWKS,
//! caching, refetch on an unknown `kid`, pinned algorithms, and failing closed when the issuer is
//! slow, all through the real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::Ordering;
use std::time::Duration;

/// An issuer this slow never answers within a test run.
const HANGS: Duration = Duration::from_secs(3600);
/// Far longer than the fetch timeout, far shorter than [`HANGS`]: only a call that waits on the
/// hanging issuer runs into it.
const NOT_WAITING: Duration = Duration::from_secs(30);

use authgate_oidc::{FetchPolicy, IssuerConfig, OidcError, OutsideIssuers, parse_trusted_issuers};
use authgate_testkit::oidc::{AUDIENCE, LocalIssuer, es256, start_issuer};
use authgate_token::{Key, KeySet, VerifyError, now_unix};
use serde_json::{Value, json};

fn config(issuer: &LocalIssuer) -> IssuerConfig {
    IssuerConfig {
        issuer: issuer.issuer.clone(),
        audience: AUDIENCE.into(),
        algorithms: vec!["ES256".into()],
        typ: None,
    }
}

fn policy() -> FetchPolicy {
    FetchPolicy {
        jwks_ttl: Duration::from_secs(600),
        min_refetch_interval: Duration::ZERO,
        timeout: Duration::from_millis(500),
        ..FetchPolicy::default()
    }
}

#[tokio::test]
async fn outside_tokens_verify_with_the_discovered_jwks_and_their_scopes_are_mapped() {
    let issuer = start_issuer().await;
    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    assert!(outside.trusts(&issuer.issuer));
    let claims = outside
        .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
        .await
        .unwrap();
    assert_eq!(claims.sub, "auth0|123");
    assert_eq!(claims.scopes, vec!["openid", "read:items", "write:items"]);
    let context = authgate_token::outside::outside_authorizer_context(&claims);
    assert_eq!(context.scope, "openid read:items write:items");
    assert_eq!(context.iss, issuer.issuer);
}

#[tokio::test]
async fn id_tokens_are_refused_and_an_access_token_may_name_the_audience_as_client_id() {
    let issuer = start_issuer().await;
    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    let verify = |typ: Option<&'static str>, claims: Value| {
        let token = issuer.sign_typed(typ, &claims);
        let (outside, iss) = (&outside, issuer.issuer.clone());
        async move { outside.verify(&token, &iss, now_unix()).await }
    };
    let mut id_token = issuer.claims();
    id_token["token_use"] = json!("id");
    assert!(matches!(
        verify(Some("JWT"), id_token).await,
        Err(OidcError::Token(VerifyError::WrongType))
    ));
    assert!(matches!(
        verify(Some("id_token+jwt"), issuer.claims()).await,
        Err(OidcError::Token(VerifyError::WrongType))
    ));
    let mut cognito_access = issuer.claims();
    let claims = cognito_access.as_object_mut().unwrap();
    claims.remove("aud");
    claims.insert("client_id".into(), json!(AUDIENCE));
    claims.insert("token_use".into(), json!("access"));
    let verified = verify(None, cognito_access).await.unwrap();
    assert_eq!(verified.sub, "auth0|123");

    let strict = IssuerConfig {
        typ: Some("at+jwt".into()),
        ..config(&issuer)
    };
    let outside = OutsideIssuers::new(vec![strict], policy(), 30).unwrap();
    let iss = issuer.issuer.clone();
    assert!(matches!(
        outside
            .verify(&issuer.sign(&issuer.claims()), &iss, now_unix())
            .await,
        Err(OidcError::Token(VerifyError::WrongType))
    ));
    outside
        .verify(
            &issuer.sign_typed(Some("at+jwt"), &issuer.claims()),
            &iss,
            now_unix(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn keys_are_cached_and_an_unknown_kid_refetches_at_most_once_per_interval() {
    let issuer = start_issuer().await;
    let slow_refetch = FetchPolicy {
        min_refetch_interval: Duration::from_secs(3600),
        ..policy()
    };
    let outside = OutsideIssuers::new(vec![config(&issuer)], slow_refetch, 30).unwrap();
    for _ in 0..5 {
        outside
            .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
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
            .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
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

    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    outside
        .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
        .await
        .unwrap();
    *issuer.state.keys.lock().unwrap() = KeySet::signing("k3", [es256("k3")]).unwrap();
    outside
        .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
        .await
        .expect("refetched for the new kid");
}

#[tokio::test]
async fn wrong_audience_issuer_expiry_and_algorithm_are_rejected() {
    let issuer = start_issuer().await;
    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    let verify = |claims: Value| {
        let token = issuer.sign(&claims);
        let (outside, iss) = (&outside, issuer.issuer.clone());
        async move { outside.verify(&token, &iss, now_unix()).await }
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
        .verify(&forged, &issuer.issuer, now_unix())
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
    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    assert!(
        outside
            .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
            .await
            .is_ok()
    );
    let mut two = config(&issuer);
    two.algorithms.push("RS256".into());
    let outside = OutsideIssuers::new(vec![two], policy(), 30).unwrap();
    assert!(
        outside
            .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
            .await
            .is_err(),
        "ambiguous: key unused"
    );
}

#[tokio::test]
async fn a_slow_issuer_fails_closed_within_the_timeout() {
    let issuer = start_issuer().await;
    *issuer.state.delay.lock().unwrap() = HANGS;
    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    let token = issuer.sign(&issuer.claims());
    let err = tokio::time::timeout(
        NOT_WAITING,
        outside.verify(&token, &issuer.issuer, now_unix()),
    )
    .await
    .expect("the fetch timeout ends the wait for a hanging issuer")
    .unwrap_err();
    assert!(matches!(err, OidcError::Unavailable { .. }), "{err:?}");
}

#[test]
fn an_outside_issuer_may_not_claim_authgates_own_iss() {
    let configs = parse_trusted_issuers(
        r#"[{"issuer": "https://auth.example.com/", "audience": "x", "algorithms": ["RS256"]}]"#,
    )
    .unwrap();
    assert!(matches!(
        authgate_oidc::check_not_own(&configs, "https://auth.example.com/"),
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

/// A token of `issuer` signed with `key`'s private half.
fn sign_with(key: &Key, claims: &Value) -> String {
    key.sign(Some("JWT"), claims).unwrap()
}

#[test]
fn issuers_must_be_https_except_on_this_machine() {
    for bad in [
        r#"[{"issuer": "http://tenant.example.com/", "audience": "x", "algorithms": ["RS256"]}]"#,
        r#"[{"issuer": "http://10.0.0.7/", "audience": "x", "algorithms": ["RS256"]}]"#,
        r#"[{"issuer": "ftp://tenant.example.com/", "audience": "x", "algorithms": ["RS256"]}]"#,
    ] {
        assert!(
            matches!(parse_trusted_issuers(bad), Err(OidcError::Config(_))),
            "{bad}"
        );
    }
    for good in [
        "https://tenant.example.com/",
        "http://127.0.0.1:8080/",
        "http://localhost/",
    ] {
        let json = json!([{"issuer": good, "audience": "x", "algorithms": ["RS256"]}]).to_string();
        assert!(parse_trusted_issuers(&json).is_ok(), "{good}");
    }
}

#[tokio::test]
async fn a_jwks_larger_than_the_cap_is_refused() {
    let issuer = start_issuer().await;
    issuer
        .state
        .extra_jwks
        .lock()
        .unwrap()
        .push(json!({"kty": "oct", "kid": "padding", "k": "A".repeat(300 * 1024)}));
    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    let err = outside
        .verify(&issuer.sign(&issuer.claims()), &issuer.issuer, now_unix())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::Unavailable { reason, .. } if reason.contains("larger than")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_kid_named_twice_is_dropped_and_the_other_keys_still_verify() {
    let issuer = start_issuer().await;
    let k2 = es256("k2");
    *issuer.state.keys.lock().unwrap() = KeySet::signing("k1", [es256("k1"), k2.clone()]).unwrap();
    let twin = es256("k1-twin").public_jwk().unwrap().clone();
    let mut duplicate = twin;
    duplicate["kid"] = json!("k1");
    issuer.state.extra_jwks.lock().unwrap().push(duplicate);
    let outside = OutsideIssuers::new(vec![config(&issuer)], policy(), 30).unwrap();
    let claims = issuer.claims();
    assert!(
        outside
            .verify(&sign_with(&k2, &claims), &issuer.issuer, now_unix())
            .await
            .is_ok(),
        "k2 still verifies"
    );
    assert!(
        outside
            .verify(&issuer.sign(&claims), &issuer.issuer, now_unix())
            .await
            .is_err(),
        "the ambiguous k1 does not"
    );
}

#[tokio::test]
async fn the_last_good_keys_serve_while_the_issuer_fails_then_fail_closed() {
    let issuer = start_issuer().await;
    let token = issuer.sign(&issuer.claims());
    let always_refetch = FetchPolicy {
        jwks_ttl: Duration::ZERO,
        max_stale: Duration::from_secs(3600),
        ..policy()
    };
    let outside = OutsideIssuers::new(vec![config(&issuer)], always_refetch, 30).unwrap();
    assert!(
        outside
            .verify(&token, &issuer.issuer, now_unix())
            .await
            .is_ok()
    );
    *issuer.state.failing.lock().unwrap() = true;
    assert!(
        outside
            .verify(&token, &issuer.issuer, now_unix())
            .await
            .is_ok(),
        "stale-if-error: the issuer answers 500, the last good keys still serve"
    );

    let no_stale = FetchPolicy {
        jwks_ttl: Duration::ZERO,
        max_stale: Duration::ZERO,
        ..policy()
    };
    *issuer.state.failing.lock().unwrap() = false;
    let strict = OutsideIssuers::new(vec![config(&issuer)], no_stale, 30).unwrap();
    assert!(
        strict
            .verify(&token, &issuer.issuer, now_unix())
            .await
            .is_ok()
    );
    *issuer.state.failing.lock().unwrap() = true;
    let err = strict
        .verify(&token, &issuer.issuer, now_unix())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OidcError::Unavailable { .. }),
        "past the stale window: {err:?}"
    );
}
