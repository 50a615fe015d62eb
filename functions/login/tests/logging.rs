//! What a refused login logs, captured by a subscriber of the test's own. In a test binary of
//! its own, so no other test thread registers tracing callsites while this one rebuilds their
//! interest (a race that once left the capture empty in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate_http::HttpHandler;
use authgate_testkit::{request, with_body};

mod common;
use common::fixture;

/// Everything logged while `f` runs, as text.
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refused_login_is_logged_with_its_reason_user_and_address_but_never_the_password() {
    let f = fixture().await;
    let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = {
        let buffer = std::sync::Arc::clone(&buffer);
        move || Captured(std::sync::Arc::clone(&buffer))
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Another test's thread may have cached "no subscriber is interested" for these callsites.
    tracing::callsite::rebuild_interest_cache();

    let wrong = f.login.handle(request("login-wrong-password.json")).await;
    assert_eq!(wrong.status(), 401);
    let unknown = with_body(
        request("login.json"),
        r#"{"email": "nobody@example.com", "password": "a guessed password"}"#,
    );
    assert_eq!(f.login.handle(unknown).await.status(), 401);

    let logged = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    let alice = f.alice().await;
    let lines: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("login refused"))
        .collect();
    assert_eq!(lines.len(), 2, "{logged}");
    assert!(lines[0].contains("wrong_password") && lines[0].contains(&alice.id.to_string()));
    assert!(lines[1].contains("unknown_email") && lines[1].contains("None"));
    assert!(lines.iter().all(|l| l.contains("203.0.113.10")), "{logged}");
    let sent = serde_json::from_str::<serde_json::Value>(&authgate_testkit::event(
        "login-wrong-password.json",
    ))
    .unwrap();
    let body: serde_json::Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    let password = body["password"].as_str().unwrap();
    assert!(
        !logged.contains(password),
        "a password was logged: {logged}"
    );
    assert!(
        !logged.contains("a guessed password"),
        "a password was logged: {logged}"
    );
}
