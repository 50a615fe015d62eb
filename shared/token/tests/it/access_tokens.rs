//! Issue-then-verify round trips, and every forgery the verifier must refuse.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_token::{
    AccessClaims, Algorithm, ClientGrant, Holder, Key, KeySet, MAX_TOKEN_BYTES, Subject,
    TokenIssuer, TokenVerifier, Validation, VerifyError, verify_own_encoded,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const SECRET: &[u8] = b"test-secret-of-at-least-32-bytes!!";
const OTHER_SECRET: &[u8] = b"another-secret-of-32-bytes-or-more";
const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://auth.example.test";
const AUD: &str = "authgate-api";

fn keys() -> Arc<KeySet> {
    Arc::new(KeySet::signing("v1", [Key::hmac("v1", SECRET, Algorithm::HS256).unwrap()]).unwrap())
}

fn verifier() -> TokenVerifier {
    TokenVerifier::new(keys(), Validation::own(ISS, AUD, 30))
}

fn issue(now: i64) -> String {
    let issuer = TokenIssuer::new(keys(), ISS, AUD, Duration::from_secs(900)).unwrap();
    issuer
        .issue_at(
            &Subject {
                id: "user-1",
                email: "a@example.com",
                session: "s-1",
                ..Default::default()
            },
            now,
        )
        .unwrap()
        .token
}

fn good_claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "user-1", "iat": NOW, "nbf": NOW, "exp": NOW + 900,
           "jti": "j-1", "email": "a@example.com", "sid": "s-1"})
}

fn good_header() -> Value {
    json!({"alg": "HS256", "typ": "at+jwt", "kid": "v1"})
}

/// Builds a token from raw parts, signed with HS256 under `secret`: the attacker's toolkit.
fn forge(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{c}");
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{input}.{sig}")
}

#[test]
fn issued_token_verifies_and_round_trips_claims() {
    let token = issue(NOW);
    let claims = verifier().verify_at(&token, NOW + 1).expect("valid token");
    assert_eq!(claims.sub, "user-1");
    assert_eq!(claims.email.as_deref(), Some("a@example.com"));
    assert_eq!(claims.holder(), Holder::User { session: "s-1" });
    assert_eq!(claims.exp, NOW + 900);
    assert_eq!((claims.iss.as_str(), claims.aud.as_str()), (ISS, AUD));
}

#[test]
fn issued_token_header_names_kid_and_access_token_type() {
    let token = issue(NOW);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "v1"})
    );
}

#[test]
fn hand_built_token_with_correct_parts_is_accepted() {
    // Proves the forge() helper is faithful, so the rejections below are about the change made.
    let token = forge(&good_header(), &good_claims(), SECRET);
    assert!(verifier().verify_at(&token, NOW).is_ok());
}

#[test]
fn rejects_alg_none() {
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": "v1"});
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(good_claims().to_string());
    for token in [format!("{h}.{c}."), format!("{h}.{c}")] {
        assert!(verifier().verify_at(&token, NOW).is_err());
    }
}

#[test]
fn rejects_token_signed_with_another_key() {
    let token = forge(&good_header(), &good_claims(), OTHER_SECRET);
    assert_eq!(
        verifier().verify_at(&token, NOW),
        Err(VerifyError::InvalidSignature)
    );
}

#[test]
fn rejects_altered_claims() {
    let token = issue(NOW);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("admin");
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        verifier().verify_at(&altered, NOW),
        Err(VerifyError::InvalidSignature)
    );
}

#[test]
fn rejects_expired_token_after_leeway() {
    let token = issue(NOW);
    assert!(verifier().verify_at(&token, NOW + 900 + 29).is_ok());
    assert_eq!(
        verifier().verify_at(&token, NOW + 900 + 30),
        Err(VerifyError::Expired)
    );
}

#[test]
fn rejects_token_not_yet_valid() {
    let mut claims = good_claims();
    claims["nbf"] = json!(NOW + 120);
    let token = forge(&good_header(), &claims, SECRET);
    assert_eq!(
        verifier().verify_at(&token, NOW),
        Err(VerifyError::NotYetValid)
    );
}

#[test]
fn rejects_token_issued_in_the_future() {
    let mut claims = good_claims();
    claims["iat"] = json!(NOW + 120);
    let token = forge(&good_header(), &claims, SECRET);
    assert_eq!(
        verifier().verify_at(&token, NOW),
        Err(VerifyError::IssuedInFuture)
    );
}

#[test]
fn rejects_wrong_issuer_and_audience() {
    let mut claims = good_claims();
    claims["iss"] = json!("https://evil.example");
    assert_eq!(
        verifier().verify_at(&forge(&good_header(), &claims, SECRET), NOW),
        Err(VerifyError::InvalidIssuer)
    );
    let mut claims = good_claims();
    claims["aud"] = json!(["other-api"]);
    assert_eq!(
        verifier().verify_at(&forge(&good_header(), &claims, SECRET), NOW),
        Err(VerifyError::InvalidAudience)
    );
}

#[test]
fn accepts_audience_as_array_containing_this_api() {
    let mut claims = good_claims();
    claims["aud"] = json!(["other-api", AUD]);
    assert!(
        verifier()
            .verify_at(&forge(&good_header(), &claims, SECRET), NOW)
            .is_ok()
    );
}

#[test]
fn the_encoded_claims_are_the_verified_payload_and_read_as_the_claims_verified() {
    let keys = keys();
    let validation = Validation::own(ISS, AUD, 30);
    let token = issue(NOW);
    let (claims, encoded) = verify_own_encoded(&keys, &validation, &token, NOW + 1).unwrap();
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    assert_eq!(encoded.as_bytes(), payload);
    assert_eq!(
        serde_json::from_str::<AccessClaims>(&encoded).unwrap(),
        claims
    );

    let mut listed = good_claims();
    listed["aud"] = json!(["other-api", AUD]);
    let token = forge(&good_header(), &listed, SECRET);
    let (claims, encoded) = verify_own_encoded(&keys, &validation, &token, NOW).unwrap();
    let read: AccessClaims = serde_json::from_str(&encoded).unwrap();
    assert_eq!(
        (read.aud.as_str(), &read),
        (AUD, &claims),
        "one audience, the one checked"
    );
}

#[test]
fn a_client_token_names_its_client_as_subject_and_carries_no_user() {
    let issuer = TokenIssuer::new(keys(), ISS, AUD, Duration::from_secs(900)).unwrap();
    let grant = ClientGrant {
        client_id: "client-1",
        scopes: vec!["items:read".into()],
        ttl: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    let issued = issuer.issue_client_at(&grant, NOW).unwrap();
    assert_eq!(issued.expires_in, 60);
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(issued.token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut names: Vec<_> = payload.as_object().unwrap().keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "scope",
            "sub"
        ],
        "RFC 9068 §2.2's claims and no user's"
    );
    let claims = verifier().verify_at(&issued.token, NOW + 1).unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(
        claims.holder(),
        Holder::Client {
            client_id: "client-1"
        }
    );
    assert_eq!(
        (claims.sub.as_str(), claims.scope.as_str()),
        ("client-1", "items:read")
    );
    let elsewhere = ClientGrant {
        audience: Some("another-api"),
        ..grant
    };
    let issued = issuer.issue_client_at(&elsewhere, NOW).unwrap();
    assert_eq!(
        verifier().verify_at(&issued.token, NOW + 1),
        Err(VerifyError::InvalidAudience),
        "a client's own audience is not this API's"
    );
}

/// A change made to a claims set.
type Change = dyn Fn(&mut serde_json::Map<String, Value>);

#[test]
fn a_token_that_is_neither_a_users_nor_a_clients_is_refused() {
    let client = |change: &Change| {
        let mut claims = good_claims();
        let object = claims.as_object_mut().unwrap();
        object.remove("email");
        object.remove("sid");
        object.insert("sub".into(), json!("client-1"));
        object.insert("client_id".into(), json!("client-1"));
        change(object);
        verifier().verify_at(&forge(&good_header(), &claims, SECRET), NOW)
    };
    assert!(client(&|_| {}).is_ok());
    let refused: [(&str, &Change); 5] = [
        ("client_id is not sub", &|c| {
            c.insert("client_id".into(), json!("client-2"));
        }),
        ("no client_id", &|c| {
            c.remove("client_id");
        }),
        ("a session but no email", &|c| {
            c.insert("sid".into(), json!("s-1"));
        }),
        ("an email but no session", &|c| {
            c.insert("email".into(), json!("a@example.com"));
        }),
        ("client_id not a string", &|c| {
            c.insert("client_id".into(), json!(7));
        }),
    ];
    for (why, change) in refused {
        assert_eq!(client(change), Err(VerifyError::InvalidClaims), "{why}");
    }
    for name in ["email", "sid"] {
        let mut user = good_claims();
        user.as_object_mut().unwrap().remove(name);
        assert_eq!(
            verifier().verify_at(&forge(&good_header(), &user, SECRET), NOW),
            Err(VerifyError::InvalidClaims),
            "a user's token without {name}"
        );
    }
    let mut user_via_client = good_claims();
    user_via_client["client_id"] = json!("client-1");
    assert!(
        verifier()
            .verify_at(&forge(&good_header(), &user_via_client, SECRET), NOW)
            .is_ok_and(|c| c.holder() == Holder::User { session: "s-1" }),
        "a user's token may name the client it was issued through"
    );
}

#[test]
fn rejects_each_missing_required_claim() {
    for name in ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"] {
        let mut claims = good_claims();
        claims.as_object_mut().unwrap().remove(name);
        let result = verifier().verify_at(&forge(&good_header(), &claims, SECRET), NOW);
        assert_eq!(
            result,
            Err(VerifyError::MissingClaim(name)),
            "without {name}"
        );
    }
}

#[test]
fn rejects_empty_subject() {
    let mut claims = good_claims();
    claims["sub"] = json!("");
    assert_eq!(
        verifier().verify_at(&forge(&good_header(), &claims, SECRET), NOW),
        Err(VerifyError::InvalidSubject)
    );
}

#[test]
fn rejects_unknown_and_missing_kid() {
    let mut header = good_header();
    header["kid"] = json!("v0");
    assert_eq!(
        verifier().verify_at(&forge(&header, &good_claims(), SECRET), NOW),
        Err(VerifyError::UnknownKid)
    );
    header.as_object_mut().unwrap().remove("kid");
    assert_eq!(
        verifier().verify_at(&forge(&header, &good_claims(), SECRET), NOW),
        Err(VerifyError::MissingKid)
    );
}

#[test]
fn rejects_headers_that_bring_their_own_key_or_critical_extensions() {
    let cases = [
        (
            "jwk",
            json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET)}),
        ),
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ];
    for (name, value) in cases {
        let mut header = good_header();
        header[name] = value;
        assert_eq!(
            verifier().verify_at(&forge(&header, &good_claims(), SECRET), NOW),
            Err(VerifyError::ForbiddenHeader(name)),
            "header {name}"
        );
    }
}

#[test]
fn rejects_wrong_or_missing_typ() {
    let mut header = good_header();
    header["typ"] = json!("JWT");
    assert_eq!(
        verifier().verify_at(&forge(&header, &good_claims(), SECRET), NOW),
        Err(VerifyError::WrongType)
    );
    header["typ"] = json!("refresh+jwt");
    assert_eq!(
        verifier().verify_at(&forge(&header, &good_claims(), SECRET), NOW),
        Err(VerifyError::WrongType)
    );
    header.as_object_mut().unwrap().remove("typ");
    assert_eq!(
        verifier().verify_at(&forge(&header, &good_claims(), SECRET), NOW),
        Err(VerifyError::WrongType)
    );
    header["typ"] = json!("application/AT+JWT");
    assert!(
        verifier()
            .verify_at(&forge(&header, &good_claims(), SECRET), NOW)
            .is_ok()
    );
}

#[test]
fn rejects_algorithm_other_than_the_keys_pinned_one() {
    let mut header = good_header();
    header["alg"] = json!("HS512");
    assert_eq!(
        verifier().verify_at(&forge(&header, &good_claims(), SECRET), NOW),
        Err(VerifyError::AlgorithmMismatch)
    );
}

#[test]
fn rejects_oversize_token_before_decoding() {
    let mut claims = good_claims();
    claims["pad"] = json!("x".repeat(MAX_TOKEN_BYTES));
    let token = forge(&good_header(), &claims, SECRET);
    assert_eq!(
        verifier().verify_at(&token, NOW),
        Err(VerifyError::TooLarge {
            max: MAX_TOKEN_BYTES
        })
    );
}

#[test]
fn rejects_garbage_without_panicking() {
    let inputs = [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b.c.d",
        "Bearer x",
        "\u{0}.\u{0}.\u{0}",
        "e30.e30.e30",
        "é.é.é",
    ];
    for input in inputs {
        assert!(verifier().verify_at(input, NOW).is_err(), "{input:?}");
    }
}

#[test]
fn rejects_padded_base64() {
    let token = issue(NOW);
    let parts: Vec<&str> = token.split('.').collect();
    let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
    assert_eq!(
        verifier().verify_at(&padded, NOW),
        Err(VerifyError::Malformed)
    );
}

#[test]
fn verifies_tokens_of_a_previous_key_still_in_the_set() {
    let old = Arc::new(
        KeySet::signing(
            "v0",
            [Key::hmac("v0", OTHER_SECRET, Algorithm::HS256).unwrap()],
        )
        .unwrap(),
    );
    let old_token = TokenIssuer::new(old, ISS, AUD, Duration::from_secs(900))
        .unwrap()
        .issue_at(
            &Subject {
                id: "u",
                email: "u@example.com",
                session: "s-1",
                ..Default::default()
            },
            NOW,
        )
        .unwrap()
        .token;
    let both = KeySet::signing(
        "v1",
        [
            Key::hmac("v1", SECRET, Algorithm::HS256).unwrap(),
            Key::hmac("v0", OTHER_SECRET, Algorithm::HS256).unwrap(),
        ],
    )
    .unwrap();
    let config = Validation::own(ISS, AUD, 30);
    assert!(
        TokenVerifier::new(Arc::new(both), config.clone())
            .verify_at(&old_token, NOW)
            .is_ok()
    );
    assert_eq!(
        verifier().verify_at(&old_token, NOW),
        Err(VerifyError::UnknownKid)
    );
}

/// `forge` from raw JSON texts, which may name a member twice.
fn forge_raw(header: &str, claims: &str, secret: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(header);
    let c = URL_SAFE_NO_PAD.encode(claims);
    let input = format!("{h}.{c}");
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{input}.{sig}")
}

#[test]
fn rejects_a_header_or_claims_that_name_a_member_twice() {
    let header = good_header().to_string();
    let claims = good_claims().to_string();
    let good = forge_raw(&header, &claims, SECRET);
    assert!(
        verifier().verify_at(&good, NOW + 1).is_ok(),
        "the raw forge is sound"
    );
    let twice_typ = header.replacen('{', r#"{"typ":"JWT","#, 1);
    assert_eq!(
        verifier().verify_at(&forge_raw(&twice_typ, &claims, SECRET), NOW + 1),
        Err(VerifyError::InvalidHeader)
    );
    let twice_sub = claims.replacen('{', r#"{"sub":"someone-else","#, 1);
    assert_eq!(
        verifier().verify_at(&forge_raw(&header, &twice_sub, SECRET), NOW + 1),
        Err(VerifyError::InvalidClaims)
    );
}
