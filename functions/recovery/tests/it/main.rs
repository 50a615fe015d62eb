//! The recovery routes, driven by `events/{forgot-password,reset-password,request-verify-token,
//! verify}.json`, on the in-memory store, with the mail read from a recording mailer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_accounts::change_user;
use authgate_http::HttpHandler;
use authgate_keys::KeyRing;
use authgate_runtime::{Env, RecordingMailer, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::KeySet;
use authgate_users::contract::user_with_password;
use authgate_users::{
    InMemoryUserStore, Password, PasswordHasher, RefreshToken, Session, SessionStore, User,
    UserChanges, UserStore, now_ms,
};
use serde_json::{Value, json};

struct Fixture {
    recovery: recovery::Recovery,
    store: Arc<InMemoryUserStore>,
    mailer: RecordingMailer,
    alice: User,
}

async fn fixture_with(settings: &[(&str, &str)]) -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let alice = user_with_password(
        store.as_ref(),
        "alice@example.com",
        "correct horse battery staple",
    )
    .await;
    let mailer = RecordingMailer::new();
    let env = Env::from_pairs(
        [(
            "RESET_PASSWORD_URL",
            "https://app.example.com/reset?token={token}",
        )]
        .into_iter()
        .chain(settings.iter().copied()),
    );
    let resources = Resources::new(store.clone(), Arc::new(KeyRing::fixed(KeySet::default())))
        .with_mailer(Arc::new(mailer.clone()));
    Fixture {
        recovery: recovery::build(&env, &resources).await.unwrap(),
        store,
        mailer,
        alice,
    }
}

async fn fixture() -> Fixture {
    fixture_with(&[]).await
}

fn call(event: &str, body: Value) -> lambda_http::Request {
    with_body(request(event), &body.to_string())
}

/// The token in the link of the last mail sent.
fn mailed_token(mailer: &RecordingMailer) -> String {
    let mail = mailer.sent().pop().expect("a mail was sent");
    let start = mail.text.find("token=").expect("a link with a token") + "token=".len();
    mail.text[start..start + 43].to_owned()
}

#[tokio::test]
async fn forgot_password_answers_202_for_every_address_and_mails_only_an_account() {
    let f = fixture().await;
    let known = f.recovery.handle(request("forgot-password.json")).await;
    let unknown = f
        .recovery
        .handle(call(
            "forgot-password.json",
            json!({"email": "nobody@example.com"}),
        ))
        .await;
    let invalid = f
        .recovery
        .handle(call(
            "forgot-password.json",
            json!({"email": "not an address"}),
        ))
        .await;
    for response in [&known, &unknown, &invalid] {
        assert_eq!(response.status(), 202);
        assert_eq!(json_body(response), Value::Null);
    }
    let sent = f.mailer.sent();
    assert_eq!(sent.len(), 1, "only the account gets a mail");
    assert_eq!(sent[0].to, "alice@example.com");
    assert_eq!(sent[0].subject, "Reset your password");
    assert!(
        sent[0]
            .text
            .contains("https://app.example.com/reset?token=")
    );
    assert!(
        sent[0]
            .html
            .contains("https://app.example.com/reset?token=")
    );
}

#[tokio::test]
async fn a_reset_sets_the_new_password_ends_every_session_and_works_once() {
    let f = fixture().await;
    let now = now_ms();
    let session = Session {
        id: uuid::Uuid::new_v4(),
        user_id: f.alice.id,
        created_at_ms: now - 1000,
        expires_at_ms: now + 3_600_000,
        revoked: false,
    };
    f.store
        .start(
            &session,
            &RefreshToken::generate().hash(),
            now + 600_000,
            &f.alice,
        )
        .await
        .unwrap();
    f.recovery.handle(request("forgot-password.json")).await;
    let token = mailed_token(&f.mailer);
    let reset = json!({"token": token, "password": "a brand new passphrase"});

    let response = f
        .recovery
        .handle(call("reset-password.json", reset.clone()))
        .await;
    assert_eq!(response.status(), 200, "{:?}", json_body(&response));
    let user = f.store.get_by_id(f.alice.id).await.unwrap().unwrap();
    let hasher = PasswordHasher::new();
    assert!(
        hasher
            .verify(
                Password::for_verification("a brand new passphrase"),
                Some(user.password_hash.clone())
            )
            .await
            .unwrap()
    );
    assert!(
        f.store
            .state(session.id, f.alice.id)
            .await
            .unwrap()
            .may_act(now_ms())
            .is_err(),
        "the reset ended the session"
    );
    let again = f.recovery.handle(call("reset-password.json", reset)).await;
    assert_eq!(again.status(), 400);
    assert_eq!(json_body(&again)["detail"], recovery::BAD_TOKEN);
}

#[tokio::test]
async fn unknown_malformed_expired_and_outdated_tokens_get_the_same_400() {
    let f = fixture_with(&[("RESET_TOKEN_TTL_SECONDS", "1")]).await;
    let refused = |token: String| {
        let recovery = &f.recovery;
        async move {
            let body = json!({"token": token, "password": "a brand new passphrase"});
            let response = recovery.handle(call("reset-password.json", body)).await;
            (
                response.status().as_u16(),
                json_body(&response)["detail"].clone(),
            )
        }
    };
    let expected = (400, json!(recovery::BAD_TOKEN));
    assert_eq!(
        refused(authgate_users::ActionToken::generate().as_str().to_owned()).await,
        expected
    );
    assert_eq!(refused("not-a-token".into()).await, expected);

    f.recovery.handle(request("forgot-password.json")).await;
    let outdated = mailed_token(&f.mailer);
    change_user(
        f.store.as_ref(),
        f.alice.id,
        UserChanges {
            password_hash: Some(
                PasswordHasher::new()
                    .hash(Password::for_verification("changed another way"))
                    .await
                    .unwrap(),
            ),
            ..UserChanges::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        refused(outdated).await,
        expected,
        "the password changed since"
    );

    f.recovery.handle(request("forgot-password.json")).await;
    let expiring = mailed_token(&f.mailer);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(refused(expiring).await, expected, "expired");
}

#[tokio::test]
async fn a_new_password_that_fails_the_policy_is_422_and_the_link_still_works() {
    let f = fixture().await;
    f.recovery.handle(request("forgot-password.json")).await;
    let token = mailed_token(&f.mailer);
    let weak = f
        .recovery
        .handle(call(
            "reset-password.json",
            json!({"token": token, "password": "password123"}),
        ))
        .await;
    assert_eq!(weak.status(), 422);
    assert!(
        json_body(&weak)["detail"]
            .as_str()
            .unwrap()
            .contains("too common")
    );
    let strong = f
        .recovery
        .handle(call(
            "reset-password.json",
            json!({"token": token, "password": "a brand new passphrase"}),
        ))
        .await;
    assert_eq!(strong.status(), 200);
}

#[tokio::test]
async fn verifying_the_mailed_token_marks_the_address_verified_once() {
    let f = fixture().await;
    let response = f
        .recovery
        .handle(request("request-verify-token.json"))
        .await;
    assert_eq!(response.status(), 202);
    let mail = f.mailer.sent().pop().unwrap();
    assert_eq!(mail.subject, "Verify your email address");
    let token = mailed_token(&f.mailer);
    let verified = f
        .recovery
        .handle(call("verify.json", json!({"token": token})))
        .await;
    assert_eq!(verified.status(), 200);
    let body = json_body(&verified);
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["email_verified"], true);
    assert!(
        f.store
            .get_by_id(f.alice.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    let again = f
        .recovery
        .handle(call("verify.json", json!({"token": token})))
        .await;
    assert_eq!(again.status(), 400);
    f.recovery
        .handle(request("request-verify-token.json"))
        .await;
    assert_eq!(
        f.mailer.sent().len(),
        1,
        "a verified address gets no further verification mail"
    );
}

#[tokio::test]
async fn one_address_gets_a_bounded_number_of_mails_and_a_failed_mail_changes_nothing() {
    let f = fixture_with(&[("MAILS_PER_ADDRESS", "2")]).await;
    for _ in 0..4 {
        let response = f.recovery.handle(request("forgot-password.json")).await;
        assert_eq!(response.status(), 202);
    }
    assert_eq!(f.mailer.sent().len(), 2);
    let g = fixture().await;
    g.mailer.fail(true);
    let response = g.recovery.handle(request("forgot-password.json")).await;
    assert_eq!(response.status(), 202);
    assert_eq!(json_body(&response), Value::Null);
}

#[tokio::test]
async fn a_malformed_body_is_a_client_error_with_a_detail() {
    let f = fixture().await;
    let response = f
        .recovery
        .handle(call(
            "forgot-password.json",
            json!({"email": "a@b.co", "extra": 1}),
        ))
        .await;
    assert_eq!(response.status(), 422);
    assert!(json_body(&response)["detail"].is_string());
}

/// The recovery function on `store`, mail recorded by `mailer`.
async fn recovery_on(
    store: Arc<dyn authgate_runtime::AccountStore>,
    mailer: &RecordingMailer,
) -> recovery::Recovery {
    let resources = Resources::new(store, Arc::new(KeyRing::fixed(KeySet::default())))
        .with_mailer(Arc::new(mailer.clone()));
    recovery::build(
        &Env::from_pairs(std::iter::empty::<(&str, &str)>()),
        &resources,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_verification_is_refused_when_the_address_changes_between_its_check_and_its_write() {
    let f = fixture().await;
    f.recovery
        .handle(request("request-verify-token.json"))
        .await;
    let token = mailed_token(&f.mailer);
    let victim = authgate_users::Email::parse("victim@example.com").unwrap();
    let racing = Arc::new(authgate_users::contract::Interleaved::new(
        f.store.clone(),
        f.alice.id,
        UserChanges {
            email: Some(victim.clone()),
            ..UserChanges::default()
        },
    ));
    let recovery = recovery_on(racing, &f.mailer).await;
    let response = recovery
        .handle(call("verify.json", json!({"token": token})))
        .await;
    assert_eq!(response.status(), 400, "{:?}", json_body(&response));
    assert_eq!(json_body(&response)["detail"], recovery::BAD_TOKEN);
    let user = f.store.get_by_id(f.alice.id).await.unwrap().unwrap();
    assert_eq!(user.email, victim);
    assert!(
        !user.email_verified,
        "the address the token was not sent to stays unverified"
    );
}

#[tokio::test]
async fn a_reset_is_refused_when_the_account_changes_between_its_check_and_its_write() {
    let f = fixture().await;
    for (tag, changes) in [
        (
            "password",
            UserChanges {
                password_hash: Some(
                    PasswordHasher::new()
                        .hash(Password::for_verification("someone else's new pass"))
                        .await
                        .unwrap(),
                ),
                ..UserChanges::default()
            },
        ),
        (
            "email",
            UserChanges {
                email: Some(authgate_users::Email::parse("moved@example.com").unwrap()),
                ..UserChanges::default()
            },
        ),
    ] {
        f.recovery.handle(request("forgot-password.json")).await;
        let token = mailed_token(&f.mailer);
        let racing = Arc::new(authgate_users::contract::Interleaved::new(
            f.store.clone(),
            f.alice.id,
            changes,
        ));
        let recovery = recovery_on(racing, &f.mailer).await;
        let response = recovery
            .handle(call(
                "reset-password.json",
                json!({"token": token, "password": "a brand new passphrase"}),
            ))
            .await;
        assert_eq!(response.status(), 400, "{tag}: {:?}", json_body(&response));
        let after = f.store.get_by_id(f.alice.id).await.unwrap().unwrap();
        assert!(
            !PasswordHasher::new()
                .verify(
                    Password::for_verification("a brand new passphrase"),
                    Some(after.password_hash.clone())
                )
                .await
                .unwrap(),
            "{tag}: the reset did not overwrite it"
        );
        // Put alice back for the next round.
        f.store
            .update(
                f.alice.id,
                UserChanges {
                    email: Some(f.alice.email.clone()),
                    ..UserChanges::default()
                },
            )
            .await
            .unwrap();
    }
}

/// A mailer as slow as a call to SES, recording what it sends.
struct SlowMailer(RecordingMailer);

#[async_trait::async_trait]
impl authgate_runtime::Mailer for SlowMailer {
    async fn send(&self, mail: &authgate_runtime::Mail) -> Result<(), authgate_runtime::MailError> {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        authgate_runtime::Mailer::send(&self.0, mail).await
    }
}

#[tokio::test]
async fn a_mail_request_takes_as_long_for_an_unknown_address_as_for_an_account() {
    let f = fixture().await;
    let recorded = RecordingMailer::new();
    let resources = Resources::new(f.store.clone(), Arc::new(KeyRing::fixed(KeySet::default())))
        .with_mailer(Arc::new(SlowMailer(recorded.clone())));
    let recovery = recovery::build(&Env::from_pairs([("MAILS_PER_ADDRESS", "10")]), &resources)
        .await
        .unwrap();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..3 {
        for (email, times) in [
            ("alice@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ] {
            let started = std::time::Instant::now();
            let response = recovery
                .handle(call("forgot-password.json", json!({"email": email})))
                .await;
            times.push(started.elapsed().as_secs_f64());
            assert_eq!(response.status(), 202);
        }
    }
    assert_eq!(recorded.sent().len(), 3, "only the account got mail");
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let ratio = median(&mut known) / median(&mut unknown);
    assert!(
        (0.8..=1.25).contains(&ratio),
        "known {known:?} s, unknown {unknown:?} s"
    );
}
