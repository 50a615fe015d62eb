//! The register handler, driven by the API Gateway events in `events/`, on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_http::HttpHandler;
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::KeySet;
use authgate_users::{Email, InMemoryUserStore, UserStore};
use register::Register;

/// Functions built on `store`; they use no keys.
fn on(store: Arc<InMemoryUserStore>) -> Resources {
    Resources::new(store, Arc::new(KeyRing::fixed(KeySet::default())))
}

async fn handler() -> (Register, Arc<InMemoryUserStore>) {
    let store = Arc::new(InMemoryUserStore::new());
    let register = register::build(&Env::default(), &on(store.clone()))
        .await
        .unwrap();
    (register, store)
}

#[tokio::test]
async fn register_event_creates_user_and_returns_201_without_secrets() {
    let (register, store) = handler().await;
    let response = register.handle(request("register.json")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json_body(&response);
    assert_eq!(body["email"], "alice@example.com");
    assert!(body["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(body["created_at"].as_str().unwrap().contains('T'));
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["created_at", "email", "email_verified", "id"],
        "only these, never a hash"
    );
    assert_eq!(body["email_verified"], false);

    let stored = store
        .get_by_email(&Email::parse("alice@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .password_hash
            .as_phc()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(!stored.password_hash.as_phc().contains("correct horse"));
}

#[tokio::test]
async fn duplicate_email_in_any_case_is_409() {
    let (register, _) = handler().await;
    assert_eq!(
        register.handle(request("register.json")).await.status(),
        201
    );
    let again = register.handle(request("register.json")).await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        json_body(&again)["detail"],
        "A user with this email already exists"
    );
    let upper = with_body(
        request("register.json"),
        r#"{"email": "  ALICE@Example.com ", "password": "another long password"}"#,
    );
    assert_eq!(register.handle(upper).await.status(), 409);
}

#[tokio::test]
async fn common_passwords_and_ones_containing_the_email_are_refused_with_the_reason() {
    let (register, store) = handler().await;
    for (password, why) in [
        ("Password123", "too common"),
        ("qwertyuiop", "too common"),
        ("alice-in-wonderland-42", "must not contain your email"),
    ] {
        let body = serde_json::json!({"email": "alice@example.com", "password": password});
        let response = register
            .handle(with_body(request("register.json"), &body.to_string()))
            .await;
        assert_eq!(response.status(), 422, "{password}");
        let detail = json_body(&response)["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with("password:") && detail.contains(why),
            "{detail}"
        );
    }
    assert!(store.page(10, None).await.unwrap().users.is_empty());
    let strict = register::build(
        &Env::default().with("PASSWORD_MIN_LENGTH", "15"),
        &on(store.clone()),
    )
    .await
    .unwrap();
    let body = serde_json::json!({"email": "bob@example.com", "password": "zq7!vk2#zq7!vk"});
    let response = strict
        .handle(with_body(request("register.json"), &body.to_string()))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        json_body(&response)["detail"],
        "password: password must be at least 15 characters"
    );
}

#[tokio::test]
async fn look_alikes_of_a_registered_email_are_refused_and_create_no_second_account() {
    let (register, store) = handler().await;
    assert_eq!(
        register.handle(request("register.json")).await.status(),
        201
    );
    for email in ["alice\u{200b}@example.com", "ａｌｉｃｅ@example.com"] {
        let body = serde_json::json!({"email": email, "password": "another long password"});
        let response = register
            .handle(with_body(request("register.json"), &body.to_string()))
            .await;
        assert_eq!(response.status(), 422, "{email:?}");
        assert!(
            json_body(&response)["detail"]
                .as_str()
                .unwrap()
                .starts_with("email:")
        );
    }
    let idn = serde_json::json!({"email": "bob@Bücher.de", "password": "another long password"});
    let created = register
        .handle(with_body(request("register.json"), &idn.to_string()))
        .await;
    assert_eq!(json_body(&created)["email"], "bob@xn--bcher-kva.de");
    let punycode =
        serde_json::json!({"email": "bob@xn--bcher-kva.de", "password": "another long password"});
    let again = register
        .handle(with_body(request("register.json"), &punycode.to_string()))
        .await;
    assert_eq!(again.status(), 409, "the same domain in its ASCII form");
    assert_eq!(store.page(10, None).await.unwrap().users.len(), 2);
}

#[tokio::test]
async fn bad_bodies_get_precise_client_errors_and_store_nothing() {
    let (register, store) = handler().await;
    let cases = [
        ("register-malformed-json.json", 400, "not valid JSON"),
        (
            "register-unknown-field.json",
            422,
            "unknown field `is_superuser`",
        ),
        ("register-invalid-email.json", 422, "email"),
        ("register-short-password.json", 422, "at least 8 characters"),
    ];
    for (fixture, status, needle) in cases {
        let response = register.handle(request(fixture)).await;
        assert_eq!(response.status(), status, "{fixture}");
        let detail = json_body(&response)["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(needle), "{fixture}: {detail}");
    }
    for (body, status) in [
        (r#"{"email": "a@example.com"}"#, 422),
        (r#"{"email": 5, "password": "long enough"}"#, 422),
        (r#"["a@example.com", "long enough"]"#, 422),
        ("", 400),
    ] {
        let response = register
            .handle(with_body(request("register.json"), body))
            .await;
        assert_eq!(response.status(), status, "{body}");
        assert!(json_body(&response)["detail"].is_string());
    }
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn oversize_body_is_413_and_too_long_password_is_422() {
    let (register, _) = handler().await;
    let huge = format!(
        r#"{{"email": "a@example.com", "password": "{}"}}"#,
        "x".repeat(17 * 1024)
    );
    assert_eq!(
        register
            .handle(with_body(request("register.json"), &huge))
            .await
            .status(),
        413
    );
    let long = format!(
        r#"{{"email": "a@example.com", "password": "{}"}}"#,
        "x".repeat(257)
    );
    let response = register
        .handle(with_body(request("register.json"), &long))
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        json_body(&response)["detail"]
            .as_str()
            .unwrap()
            .contains("at most 256")
    );
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let (register, _) = handler().await;
    let mut req = request("register.json");
    req.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(register.handle(req).await.status(), 415);
}

#[tokio::test]
async fn one_address_registering_past_its_cap_gets_429_until_the_window_ends() {
    let store = Arc::new(InMemoryUserStore::new());
    let register = register::build(
        &Env::default().with("REGISTER_ADDRESS_LIMIT", "2"),
        &on(store.clone()),
    )
    .await
    .unwrap();
    for i in 0..2 {
        let body = serde_json::json!({"email": format!("person{i}@example.com"), "password": "another long password"});
        let response = register
            .handle(with_body(request("register.json"), &body.to_string()))
            .await;
        assert_eq!(response.status(), 201);
    }
    let third = register.handle(request("register.json")).await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(
        json_body(&third)["detail"],
        "Too many registrations from this address; try again later"
    );
    assert_eq!(store.page(10, None).await.unwrap().users.len(), 2);
}

#[tokio::test]
async fn with_the_breach_check_on_a_breached_password_is_422_and_a_silent_api_fails_open() {
    let breached = "a perfectly long breached passphrase";
    let api = authgate_testkit::start_range_api(&[breached], std::time::Duration::ZERO).await;
    let store = Arc::new(InMemoryUserStore::new());
    let env = Env::default()
        .with("PASSWORD_BREACH_CHECK", "true")
        .with("PASSWORD_BREACH_API_URL", &api);
    let register = register::build(&env, &on(store.clone())).await.unwrap();
    let body = serde_json::json!({"email": "alice@example.com", "password": breached});
    let response = register
        .handle(with_body(request("register.json"), &body.to_string()))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        json_body(&response)["detail"],
        "password: password appears in a known data breach; choose another"
    );
    assert_eq!(
        register.handle(request("register.json")).await.status(),
        201,
        "not listed"
    );

    let hanging =
        authgate_testkit::start_range_api(&[breached], std::time::Duration::from_secs(30)).await;
    let env = Env::default()
        .with("PASSWORD_BREACH_CHECK", "true")
        .with("PASSWORD_BREACH_API_URL", &hanging);
    let register = register::build(&env, &on(Arc::new(InMemoryUserStore::new())))
        .await
        .unwrap();
    let body = serde_json::json!({"email": "bob@example.com", "password": breached});
    let response = register
        .handle(with_body(request("register.json"), &body.to_string()))
        .await;
    assert_eq!(
        response.status(),
        201,
        "the check fails open when the API does not answer"
    );
}
