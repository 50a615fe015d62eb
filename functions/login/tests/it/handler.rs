//! The login handler, driven by the events in `events/`, on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate_http::HttpHandler;
use authgate_testkit::{json_body, request, with_body};
use authgate_token::{TokenVerifier, Validation};
use authgate_users::UserStore;
use login::INVALID_CREDENTIALS;

use crate::common::{AUD, ISS, fixture, fixture_with, keys};

fn verify(token: &str) -> authgate_token::AccessClaims {
    TokenVerifier::new(keys(), Validation::own(ISS, AUD, 30))
        .verify(token)
        .expect("issued token verifies")
}

#[tokio::test]
async fn json_login_returns_a_bearer_token_that_verifies() {
    let f = fixture().await;
    let response = f.login.handle(request("login.json")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_body(&response);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    let claims = verify(body["access_token"].as_str().unwrap());
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(
        authgate_users::RefreshToken::parse(refresh).is_ok(),
        "an opaque refresh token"
    );
    let sid = claims.sid.as_deref().unwrap().parse().unwrap();
    use authgate_users::SessionStore;
    let state = f
        .store
        .state(sid, claims.sub.parse().unwrap())
        .await
        .unwrap();
    assert!(
        state.may_act(authgate_users::now_ms()).is_ok(),
        "the login started a live session"
    );
    let user = f.alice().await;
    assert_eq!(claims.sub, user.id.to_string());
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
}

#[tokio::test]
async fn oauth2_password_form_login_works_like_swagger_ui_sends_it() {
    let f = fixture().await;
    let response = f.login.handle(request("login-form.json")).await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    verify(json_body(&response)["access_token"].as_str().unwrap());
    let no_grant_type = with_body(
        request("login-form.json"),
        "username=Alice%40Example.com&password=correct+horse+battery+staple",
    );
    assert_eq!(f.login.handle(no_grant_type).await.status(), 200);
}

#[tokio::test]
async fn every_credential_failure_is_the_same_401() {
    let f = fixture().await;
    let wrong_password = f.login.handle(request("login-wrong-password.json")).await;
    let unknown = f
        .login
        .handle(with_body(
            request("login.json"),
            r#"{"email": "nobody@example.com", "password": "correct horse battery staple"}"#,
        ))
        .await;
    let malformed_email = f
        .login
        .handle(with_body(
            request("login.json"),
            r#"{"email": "nobody", "password": "x"}"#,
        ))
        .await;
    for response in [wrong_password, unknown, malformed_email] {
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            json_body(&response),
            serde_json::json!({"detail": INVALID_CREDENTIALS})
        );
    }
}

#[tokio::test]
async fn login_rejects_unknown_user_in_constant_time() {
    // Constant time here means: the same Argon2 work as for a known user, one verification.
    let f = fixture().await;
    let before = f.login.password_verifications();
    f.login.handle(request("login-wrong-password.json")).await;
    let known_cost = f.login.password_verifications() - before;
    let before = f.login.password_verifications();
    let unknown = with_body(
        request("login.json"),
        r#"{"email": "nobody@example.com", "password": "correct horse battery staple"}"#,
    );
    assert_eq!(f.login.handle(unknown).await.status(), 401);
    let unknown_cost = f.login.password_verifications() - before;
    assert_eq!((known_cost, unknown_cost), (1, 1));
}

#[tokio::test]
async fn disabled_user_cannot_log_in() {
    let f = fixture().await;
    let user = f.alice().await;
    f.store.set_disabled(user.id, true).await.unwrap();
    let response = f.login.handle(request("login.json")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(json_body(&response)["detail"], INVALID_CREDENTIALS);
}

#[tokio::test]
async fn malformed_requests_are_client_errors_not_401() {
    let f = fixture().await;
    let cases = [
        (
            request("login.json"),
            r#"{"email": "alice@example.com""#,
            400,
        ),
        (
            request("login.json"),
            r#"{"email": "alice@example.com"}"#,
            422,
        ),
        (
            request("login.json"),
            r#"{"username": "a", "password": "b"}"#,
            422,
        ),
        (
            request("login-form.json"),
            "grant_type=client_credentials&username=a&password=b",
            400,
        ),
        (
            request("login-form.json"),
            "grant_type=password&username=a",
            422,
        ),
    ];
    for (req, body, status) in cases {
        let response = f.login.handle(with_body(req, body)).await;
        assert_eq!(response.status(), status, "{body}");
        assert!(json_body(&response)["detail"].is_string());
    }
    let mut xml = request("login.json");
    xml.headers_mut()
        .insert("content-type", "application/xml".parse().unwrap());
    assert_eq!(f.login.handle(xml).await.status(), 415);
}

#[tokio::test]
async fn a_body_naming_a_member_twice_is_refused_not_read_last_one_wins() {
    let f = fixture().await;
    let response = f
        .login
        .handle(with_body(
            request("login.json"),
            r#"{"email": "alice@example.com", "password": "wrong", "password": "correct horse battery staple"}"#,
        ))
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        json_body(&response)["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate member name"),
        "{:?}",
        response.body()
    );
}

fn attempt(email: &str, password: &str) -> lambda_http::Request {
    let body = serde_json::json!({"email": email, "password": password});
    with_body(request("login.json"), &body.to_string())
}

#[tokio::test]
async fn repeated_failures_make_even_the_right_password_wait_and_a_success_resets_them() {
    let f = fixture_with(&[
        ("LOGIN_FREE_FAILURES", "3"),
        ("LOGIN_MAX_DELAY_SECONDS", "1"),
    ])
    .await;
    for _ in 0..3 {
        let wrong = f
            .login
            .handle(attempt("alice@example.com", "not her password"))
            .await;
        assert_eq!(wrong.status(), 401);
    }
    let right = f.login.handle(request("login.json")).await;
    assert_eq!(right.status(), 429, "the right password waits too");
    assert_eq!(right.headers()["retry-after"], "1");
    assert_eq!(
        json_body(&right)["detail"],
        "Too many failed login attempts; try again later"
    );
    let before = f.login.password_verifications();
    let _ = f
        .login
        .handle(attempt("alice@example.com", "another guess"))
        .await;
    assert_eq!(
        f.login.password_verifications(),
        before,
        "a throttled attempt checks no password"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(f.login.handle(request("login.json")).await.status(), 200);
    for _ in 0..3 {
        let wrong = f
            .login
            .handle(attempt("alice@example.com", "not her password"))
            .await;
        assert_eq!(
            wrong.status(),
            401,
            "the success forgot the earlier failures"
        );
    }
}

#[tokio::test]
async fn an_unknown_email_is_throttled_exactly_like_a_known_one() {
    let f = fixture_with(&[("LOGIN_FREE_FAILURES", "2")]).await;
    let statuses = |email: &'static str| {
        let login = &f.login;
        async move {
            let mut statuses = Vec::new();
            for _ in 0..4 {
                statuses.push(
                    login
                        .handle(attempt(email, "a wrong password"))
                        .await
                        .status(),
                );
            }
            statuses
        }
    };
    let known = statuses("alice@example.com").await;
    let unknown = statuses("nobody@example.com").await;
    assert_eq!(known, [401, 401, 429, 429]);
    assert_eq!(unknown, known);
}

#[tokio::test]
async fn one_address_failing_across_many_accounts_is_capped() {
    let f = fixture_with(&[("LOGIN_ADDRESS_FAILURES", "3")]).await;
    for i in 0..3 {
        let email = format!("user{i}@example.com");
        assert_eq!(
            f.login
                .handle(attempt(&email, "password guess 1"))
                .await
                .status(),
            401
        );
    }
    let capped = f.login.handle(request("login.json")).await;
    assert_eq!(
        capped.status(),
        429,
        "the fixture's address is over its cap"
    );
    let retry: u64 = capped.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
}

#[tokio::test]
async fn with_verification_required_an_unverified_address_gets_403_only_after_the_right_password() {
    let f = fixture_with(&[("LOGIN_REQUIRES_VERIFIED_EMAIL", "true")]).await;
    let wrong = f
        .login
        .handle(attempt("alice@example.com", "not her password"))
        .await;
    assert_eq!(
        wrong.status(),
        401,
        "a wrong password learns nothing about verification"
    );
    let right = f.login.handle(request("login.json")).await;
    assert_eq!(right.status(), 403);
    assert_eq!(json_body(&right)["detail"], "Email not verified");
    let alice = f.alice().await;
    f.store
        .update(
            alice.id,
            authgate_users::UserChanges {
                email_verified: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let verified = f.login.handle(request("login.json")).await;
    assert_eq!(verified.status(), 200);
    let claims = verify(json_body(&verified)["access_token"].as_str().unwrap());
    assert!(
        claims.email_verified,
        "the token says the address is verified"
    );
}

#[tokio::test]
async fn a_login_that_straddles_a_password_change_disable_or_logout_all_gets_no_session() {
    let f = fixture().await;
    let alice = f.alice().await;
    let new_hash = authgate_users::PasswordHasher::new()
        .hash(authgate_users::Password::for_verification(
            "an entirely new passphrase",
        ))
        .await
        .unwrap();
    let later = authgate_users::now_ms() + 1;
    for (tag, changes) in [
        (
            "password change",
            authgate_users::UserChanges {
                password_hash: Some(new_hash),
                end_sessions_at_ms: Some(later),
                ..Default::default()
            },
        ),
        (
            "logout-all",
            authgate_users::UserChanges {
                end_sessions_at_ms: Some(later + 60_000),
                ..Default::default()
            },
        ),
        (
            "disable",
            authgate_users::UserChanges {
                disabled: Some(true),
                ..Default::default()
            },
        ),
    ] {
        let racing = std::sync::Arc::new(authgate_users::contract::Interleaved::new(
            f.store.clone(),
            alice.id,
            changes,
        ));
        let env =
            authgate_runtime::Env::from_pairs([("TOKEN_ISSUER", ISS), ("TOKEN_AUDIENCE", AUD)]);
        let ring = std::sync::Arc::new(authgate_keys::KeyRing::fixed(
            std::sync::Arc::unwrap_or_clone(keys()),
        ));
        let login = login::build(&env, &authgate_runtime::Resources::new(racing, ring))
            .await
            .unwrap();
        // Each round logs in with the password alice has when the round begins.
        let password = if tag == "password change" {
            "correct horse battery staple"
        } else {
            "an entirely new passphrase"
        };
        let response = login
            .handle(with_body(
                request("login.json"),
                &serde_json::json!({"email": "alice@example.com", "password": password})
                    .to_string(),
            ))
            .await;
        assert_eq!(response.status(), 401, "{tag}: {:?}", json_body(&response));
        assert_eq!(json_body(&response)["detail"], INVALID_CREDENTIALS, "{tag}");
    }
}

#[tokio::test]
async fn a_role_no_longer_defined_is_not_named_in_the_token() {
    let f = fixture().await;
    let alice = f.alice().await;
    f.store
        .update(
            alice.id,
            authgate_users::UserChanges {
                roles: Some(authgate_users::parse_roles(["admin", "retired-role"]).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let response = f.login.handle(request("login.json")).await;
    assert_eq!(response.status(), 200);
    let claims = verify(json_body(&response)["access_token"].as_str().unwrap());
    assert_eq!(claims.roles, ["admin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_sharing_an_account_log_in_together_without_throttling_each_other() {
    let f = std::sync::Arc::new(fixture().await);
    let logins = (0..32).map(|_| {
        let f = std::sync::Arc::clone(&f);
        tokio::spawn(async move { f.login.handle(request("login.json")).await.status() })
    });
    let statuses: Vec<u16> = futures::future::join_all(logins)
        .await
        .into_iter()
        .map(|r| r.unwrap().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let wrong = f.login.handle(request("login-wrong-password.json")).await;
    assert_eq!(wrong.status(), 401, "failures still count after the burst");
}
