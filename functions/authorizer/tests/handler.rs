//! The TOKEN authorizer, driven by `events/authorizer*.json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_testkit::event;
use authgate_token::{
    AccessClaims, Algorithm, Key, KeySet, Subject, TokenIssuer, TokenVerifier, VerifierConfig,
};
use authorizer::{Authorizer, Unauthorized};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use serde_json::{Value, json};

const ISS: &str = "urn:authgate:test";
const AUD: &str = "authgate-api";

fn keys(secret: &[u8]) -> Arc<KeySet> {
    Arc::new(KeySet::signing("v1", [Key::hmac("v1", secret, Algorithm::HS256).unwrap()]).unwrap())
}

const SECRET: &[u8] = b"authorizer-test-secret-32-bytes!!";

fn authorizer() -> Authorizer {
    Authorizer::new(TokenVerifier::new(
        keys(SECRET),
        VerifierConfig {
            issuer: ISS.into(),
            audience: AUD.into(),
            leeway_secs: 30,
        },
    ))
}

fn token_with(secret: &[u8], issuer: &str, ttl: u64, now: i64) -> String {
    TokenIssuer::new(keys(secret), issuer, AUD, Duration::from_secs(ttl))
        .unwrap()
        .issue_at(
            &Subject {
                id: "0b9a3c1e-8f0e-4c43-9a57-5b8f7f0d2a11",
                email: "alice@example.com",
            },
            now,
        )
        .unwrap()
        .token
}

fn valid_token() -> String {
    token_with(SECRET, ISS, 900, authgate_token::now_unix())
}

/// The fixture with its placeholder replaced by `token`.
fn event_with(name: &str, token: &str) -> ApiGatewayCustomAuthorizerRequest {
    let text = event(name).replace("REPLACE_WITH_AN_ACCESS_TOKEN", token);
    serde_json::from_str(&text).expect("fixture is a TOKEN authorizer event")
}

#[test]
fn valid_token_gets_an_allow_policy_for_the_whole_stage_with_claims_in_context() {
    let response = authorizer()
        .handle(&event_with("authorizer.json", &valid_token()))
        .expect("allowed");
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["principalId"], "0b9a3c1e-8f0e-4c43-9a57-5b8f7f0d2a11");
    assert_eq!(
        wire["policyDocument"],
        json!({"Version": "2012-10-17", "Statement": [{
            "Action": ["execute-api:Invoke"],
            "Effect": "Allow",
            "Resource": ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/Prod/*/*"]
        }]})
    );
    let context = &wire["context"];
    assert_eq!(context["sub"], "0b9a3c1e-8f0e-4c43-9a57-5b8f7f0d2a11");
    assert_eq!(context["email"], "alice@example.com");
    let claims: AccessClaims = serde_json::from_str(context["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims.iss, ISS);
    for value in context.as_object().unwrap().values() {
        assert!(
            !value.is_object() && !value.is_array(),
            "API Gateway context values must be flat"
        );
    }
}

#[test]
fn every_bad_authorization_is_unauthorized() {
    let now = authgate_token::now_unix();
    let a = authorizer();
    let cases: Vec<(&str, ApiGatewayCustomAuthorizerRequest)> = vec![
        (
            "no scheme",
            event_with("authorizer-missing-scheme.json", &valid_token()),
        ),
        (
            "placeholder",
            event_with("authorizer.json", "REPLACE_WITH_AN_ACCESS_TOKEN"),
        ),
        (
            "expired",
            event_with("authorizer.json", &token_with(SECRET, ISS, 60, now - 3600)),
        ),
        (
            "not yet valid",
            event_with("authorizer.json", &token_with(SECRET, ISS, 900, now + 3600)),
        ),
        (
            "wrong key",
            event_with(
                "authorizer.json",
                &token_with(b"some-other-secret-of-32-bytes-xx!", ISS, 900, now),
            ),
        ),
        (
            "wrong issuer",
            event_with("authorizer.json", &token_with(SECRET, "urn:evil", 900, now)),
        ),
        (
            "missing token",
            serde_json::from_value(
                json!({"type": "TOKEN", "methodArn": "arn:aws:execute-api:us-east-1:1:a/b/GET/x"}),
            )
            .unwrap(),
        ),
        ("bad method arn", {
            let mut e = event_with("authorizer.json", &valid_token());
            e.method_arn = Some("arn:aws:s3:::bucket".into());
            e
        }),
        ("no method arn", {
            let mut e = event_with("authorizer.json", &valid_token());
            e.method_arn = None;
            e
        }),
    ];
    for (name, event) in cases {
        assert_eq!(a.handle(&event).map(|_| ()), Err(Unauthorized), "{name}");
    }
}

#[test]
fn hostile_header_values_never_panic() {
    let a = authorizer();
    for header in [
        "",
        " ",
        "Bearer",
        "Bearer  ",
        "Bearer ....",
        "Bearer \u{0}",
        &format!("Bearer {}", "A".repeat(100_000)),
    ] {
        let mut event = event_with("authorizer.json", "x");
        event.authorization_token = Some(header.to_owned());
        assert_eq!(
            a.handle(&event).map(|_| ()),
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
