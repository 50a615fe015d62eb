//! The whole flow, register → login → authorizer → me, through the real handlers, with users in
//! DynamoDB Local and the signing secret in moto's Secrets Manager, each function built by the
//! constructor its Lambda's `main.rs` calls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_dynamo::{DynamoUserStore, create_table};
use authgate_http::HttpHandler;
use authgate_runtime::{AwsBackend, Env, EventHandler};
use authgate_testkit::{event, json_body, request};
use authgate_users::{CustomClaims, UserChanges, UserStore, parse_roles};
use authorizer::Authorizer;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use login::Login;
use logout::Logout;
use me::Me;
use refresh::Refresh;
use register::Register;
use serde_json::Value;

const ISS: &str = "urn:authgate:flow";
const AUD: &str = "authgate-api";

struct Deployment {
    register: Arc<Register>,
    login: Login,
    refresh: Refresh,
    logout: Logout,
    authorizer: Authorizer,
    me: Me,
    users: users::Users,
    recovery: recovery::Recovery,
    /// The table, as an operator (or the admin API) reaches it.
    store: DynamoUserStore,
}

/// What `sam deploy` creates: a table, a generated secret, and the functions, each built by its
/// crate's constructor on the AWS backend from the variables the template gives it, exactly as
/// its `main.rs` builds it.
async fn deploy() -> Deployment {
    deploy_with(&[]).await
}

/// [`deploy`] with these template parameters' variables set too.
async fn deploy_with(settings: &[(&str, &str)]) -> Deployment {
    let dynamodb = authgate_testkit::dynamodb_client().await;
    let table = authgate_testkit::unique_name("users");
    create_table(&dynamodb, &table).await.unwrap();
    let secrets = authgate_testkit::secrets_client().await;
    let secret = authgate_testkit::unique_name("signing-key");
    let random = secrets
        .get_random_password()
        .password_length(64)
        .exclude_punctuation(true)
        .send()
        .await
        .unwrap();
    let value = serde_json::json!({"alg": "HS256", "k": random.random_password().unwrap()});
    secrets
        .create_secret()
        .name(&secret)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();

    let sender = format!("no-reply-{}@example.com", uuid::Uuid::new_v4().simple());
    authgate_testkit::moto_sender_identity(&sender).await;
    let mut env = Env::from_pairs([
        ("MAIL_FROM", sender.as_str()),
        (
            "RESET_PASSWORD_URL",
            "https://app.example.com/reset?token={token}",
        ),
        (
            "VERIFY_EMAIL_URL",
            "https://app.example.com/verify?token={token}",
        ),
        ("USERS_TABLE", table.as_str()),
        ("SIGNING_KEY_SECRET_ID", secret.as_str()),
        ("TOKEN_ISSUER", ISS),
        ("TOKEN_AUDIENCE", AUD),
    ]);
    for (name, value) in settings {
        env = env.with(name, *value);
    }
    let aws = AwsBackend::per_service(
        authgate_testkit::sdk_config(&authgate_testkit::dynamodb_local().endpoint).await,
        authgate_testkit::sdk_config(&authgate_testkit::moto().endpoint).await,
    );
    Deployment {
        register: Arc::new(register::build(&env, &aws).await.unwrap()),
        login: login::build(&env, &aws).await.unwrap(),
        refresh: refresh::build(&env, &aws).await.unwrap(),
        logout: logout::build(&env, &aws).await.unwrap(),
        authorizer: authorizer::build(&env, &aws).await.unwrap(),
        me: me::build(&env, &aws).await.unwrap(),
        users: users::build(&env, &aws).await.unwrap(),
        recovery: recovery::build(&env, &aws).await.unwrap(),
        store: DynamoUserStore::new(dynamodb, table),
    }
}

/// What API Gateway does between the authorizer and the protected function: the authorizer's
/// context and principal become `requestContext.authorizer`.
fn forward(request: Request, principal: &str, context: &Value) -> Request {
    let Some(RequestContext::ApiGatewayV1(mut rc)) = request.request_context_ref().cloned() else {
        panic!("fixture is a REST API event");
    };
    rc.authorizer.fields.clear();
    rc.authorizer
        .fields
        .insert("principalId".into(), principal.into());
    for (key, value) in context.as_object().unwrap() {
        rc.authorizer.fields.insert(key.clone(), value.clone());
    }
    request.with_request_context(RequestContext::ApiGatewayV1(rc))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_authorize_and_call_me_on_dynamodb_and_secrets_manager() {
    let app = deploy().await;

    let registered = app.register.handle(request("register.json")).await;
    assert_eq!(registered.status(), 201);
    let user = json_body(&registered);

    let logged_in = app.login.handle(request("login.json")).await;
    assert_eq!(logged_in.status(), 200);
    let token = json_body(&logged_in)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let auth_event: authorizer::Event = serde_json::from_str(
        &event("authorizer.json").replace("REPLACE_WITH_AN_ACCESS_TOKEN", &token),
    )
    .unwrap();
    let policy = serde_json::to_value(
        app.authorizer
            .handle(auth_event.clone())
            .await
            .expect("allowed"),
    )
    .unwrap();
    assert_eq!(policy["principalId"], user["id"]);
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");

    let me_request = forward(
        request("me.json"),
        policy["principalId"].as_str().unwrap(),
        &policy["context"],
    );
    let me = app.me.handle(me_request).await;
    assert_eq!(me.status(), 200);
    let body = json_body(&me);
    assert_eq!(body["id"], user["id"]);
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["claims"]["iss"], ISS);

    let form_login = app.login.handle(request("login-form.json")).await;
    assert_eq!(form_login.status(), 200);
    assert_eq!(
        app.login
            .handle(request("login-wrong-password.json"))
            .await
            .status(),
        401
    );

    let tampered = authorizer_event(&format!("{token}x"));
    assert!(app.authorizer.handle(tampered).await.is_err());
}

fn authorizer_event(token: &str) -> authorizer::Event {
    serde_json::from_str(&event("authorizer.json").replace("REPLACE_WITH_AN_ACCESS_TOKEN", token))
        .unwrap()
}

fn refresh_event(token: &str) -> Request {
    let body = serde_json::json!({"refresh_token": token}).to_string();
    authgate_testkit::with_body(request("refresh.json"), &body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_logout_ends_the_session_on_dynamodb() {
    let app = deploy().await;
    assert_eq!(
        app.register.handle(request("register.json")).await.status(),
        201
    );
    let pair = json_body(&app.login.handle(request("login.json")).await);
    let first_refresh = pair["refresh_token"].as_str().unwrap().to_owned();

    let rotated = app.refresh.handle(refresh_event(&first_refresh)).await;
    assert_eq!(rotated.status(), 200);
    let rotated = json_body(&rotated);
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    let policy = serde_json::to_value(
        app.authorizer
            .handle(authorizer_event(&access))
            .await
            .expect("allowed"),
    )
    .unwrap();

    // Logout through the protected route, with the context API Gateway forwards.
    let logout = forward(
        request("logout.json"),
        policy["principalId"].as_str().unwrap(),
        &policy["context"],
    );
    assert_eq!(app.logout.handle(logout).await.status(), 204);
    assert!(
        app.authorizer
            .handle(authorizer_event(&access))
            .await
            .is_err(),
        "the access token dies with its session"
    );
    assert!(
        app.authorizer
            .handle(authorizer_event(pair["access_token"].as_str().unwrap()))
            .await
            .is_err()
    );
    let next_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.refresh
            .handle(refresh_event(next_refresh))
            .await
            .status(),
        401,
        "so do its refresh tokens"
    );

    // A new login is a new session; reusing its spent refresh token ends it.
    let pair = json_body(&app.login.handle(request("login.json")).await);
    let spent = pair["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh.handle(refresh_event(spent)).await.status(), 200);
    assert_eq!(app.refresh.handle(refresh_event(spent)).await.status(), 401);
    assert!(
        app.authorizer
            .handle(authorizer_event(pair["access_token"].as_str().unwrap()))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_refreshes_with_one_token_have_one_winner_on_dynamodb() {
    let app = Arc::new(deploy().await);
    assert_eq!(
        app.register.handle(request("register.json")).await.status(),
        201
    );
    let pair = json_body(&app.login.handle(request("login.json")).await);
    let token = pair["refresh_token"].as_str().unwrap().to_owned();
    let race = (0..2).map(|_| {
        let app = Arc::clone(&app);
        let token = token.clone();
        tokio::spawn(async move {
            app.refresh
                .handle(refresh_event(&token))
                .await
                .status()
                .as_u16()
        })
    });
    let mut statuses: Vec<u16> = futures::future::join_all(race)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 401]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_registrations_of_one_email_yield_one_201_and_409s() {
    // All fifty come from the fixture's one address: lift its registration cap for this test.
    let app = deploy_with(&[("REGISTER_ADDRESS_LIMIT", "100")]).await;
    let attempts = (0..50).map(|_| {
        let register = Arc::clone(&app.register);
        tokio::spawn(async move {
            register
                .handle(request("register.json"))
                .await
                .status()
                .as_u16()
        })
    });
    let mut statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    statuses.sort_unstable();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, conflicts), (1, 49), "statuses: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_custom_claims_reach_the_next_refreshed_token_on_dynamodb() {
    let app = deploy_with(&[
        ("ROLES", r#"{"editor": ["items:read", "items:write"]}"#),
        ("DEFAULT_ROLES", "editor"),
    ])
    .await;
    let registered = json_body(&app.register.handle(request("register.json")).await);
    let id = registered["id"].as_str().unwrap().parse().unwrap();
    let pair = json_body(&app.login.handle(request("login.json")).await);
    let context = |token: &str| {
        let event = authorizer_event(token);
        let authorizer = &app.authorizer;
        async move {
            serde_json::to_value(authorizer.handle(event).await.expect("allowed")).unwrap()
                ["context"]
                .clone()
        }
    };
    let payload = pair["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["email_verified"], Value::Bool(false), "{payload}");
    let first = context(pair["access_token"].as_str().unwrap()).await;
    assert_eq!(first["roles"], "editor", "the default role of a new user");
    assert_eq!(first["scope"], "items:read items:write");

    // An operator makes alice an admin and gives her a custom claim; the next refresh reads her
    // afresh, so the new access token says so.
    app.store
        .update(
            id,
            UserChanges {
                roles: Some(parse_roles(["admin", "editor"]).unwrap()),
                claims: Some(
                    CustomClaims::parse(serde_json::json!({"foo": ["fiz", "baz"]})).unwrap(),
                ),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    let refreshed = json_body(
        &app.refresh
            .handle(refresh_event(pair["refresh_token"].as_str().unwrap()))
            .await,
    );
    let second = context(refreshed["access_token"].as_str().unwrap()).await;
    assert_eq!(second["roles"], "admin editor");
    assert_eq!(
        second["scope"],
        "clients:read clients:write items:read items:write users:read users:roles users:write"
    );

    // A protected function reads the custom claim from the verified claims.
    let me_request = forward(request("me.json"), &id.to_string(), &second);
    let me = json_body(&app.me.handle(me_request).await);
    assert_eq!(me["claims"]["foo"], serde_json::json!(["fiz", "baz"]));
    assert_eq!(
        me["claims"]["roles"],
        serde_json::json!(["admin", "editor"])
    );
    assert_eq!(
        me["claims"]["email_verified"],
        serde_json::json!(false),
        "no token claims an email nobody verified"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_pages_patches_and_deletes_users_on_dynamodb() {
    let app = deploy().await;
    let mut ids = Vec::new();
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        let body = serde_json::json!({"email": email, "password": "correct horse battery staple"});
        let registered = app
            .register
            .handle(authgate_testkit::with_body(
                request("register.json"),
                &body.to_string(),
            ))
            .await;
        ids.push(json_body(&registered)["id"].as_str().unwrap().to_owned());
    }
    // The third is the administrator: the users function reads the caller's roles as stored.
    let administrator: uuid::Uuid = ids[2].parse().unwrap();
    app.store
        .update(
            administrator,
            UserChanges {
                roles: Some(parse_roles(["admin"]).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The administrator's request, with the context the authorizer would have forwarded.
    let admin = |name: &str, id: Option<&str>, body: Option<Value>| {
        let mut request = request(name);
        let mut claims = authgate_http::RequestClaimsExt::verified_claims(&request).unwrap();
        claims.sub = administrator.to_string();
        request = authgate_http::with_claims(request, &claims);
        if let Some(id) = id {
            request = request.with_path_parameters(std::collections::HashMap::from([(
                "id".to_owned(),
                id.to_owned(),
            )]));
        }
        if let Some(body) = body {
            request = authgate_testkit::with_body(request, &body.to_string());
        }
        request
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut request = admin("users-list.json", None, None);
        if let Some(cursor) = &cursor {
            request = request.with_query_string_parameters(std::collections::HashMap::from([
                ("limit".to_owned(), "2".to_owned()),
                ("cursor".to_owned(), cursor.clone()),
            ]));
        }
        let page = json_body(&app.users.handle(request).await);
        for user in page["users"].as_array().unwrap() {
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "every user once, in bounded pages");

    let patched = app
        .users
        .handle(admin(
            "users-patch.json",
            Some(&ids[0]),
            Some(serde_json::json!({"email": "a2@example.com", "roles": ["admin"]})),
        ))
        .await;
    assert_eq!(patched.status(), 200, "{:?}", patched.body());
    let taken = app
        .users
        .handle(admin(
            "users-patch.json",
            Some(&ids[1]),
            Some(serde_json::json!({"email": "A2@example.com"})),
        ))
        .await;
    assert_eq!(taken.status(), 409);

    let deleted = app
        .users
        .handle(admin("users-delete.json", Some(&ids[1]), None))
        .await;
    assert_eq!(deleted.status(), 204);
    let login =
        serde_json::json!({"email": "b@example.com", "password": "correct horse battery staple"});
    let refused = app
        .login
        .handle(authgate_testkit::with_body(
            request("login.json"),
            &login.to_string(),
        ))
        .await;
    assert_eq!(refused.status(), 401, "a deleted user cannot log in");
    let gone = app
        .users
        .handle(admin("users-get.json", Some(&ids[1]), None))
        .await;
    assert_eq!(gone.status(), 404);
}

/// The token in the last mail moto's SES accepted for `to`.
fn token_mailed_to(to: &str) -> String {
    let mail = authgate_testkit::moto_sent_mail()
        .into_iter()
        .rfind(|m| m["destinations"]["ToAddresses"][0] == to)
        .unwrap_or_else(|| panic!("no mail to {to}"));
    let body = mail["body"].as_str().unwrap();
    let start = body.find("token=").expect("a link") + "token=".len();
    body[start..start + 43].to_owned()
}

fn post(event: &str, body: Value) -> Request {
    authgate_testkit::with_body(request(event), &body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_reset_through_ses_on_dynamodb_end_the_old_sessions_and_show_in_tokens() {
    let app = deploy().await;
    let email = format!("flow-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = app
        .register
        .handle(post(
            "register.json",
            serde_json::json!({"email": email, "password": "correct horse battery staple"}),
        ))
        .await;
    assert_eq!(registered.status(), 201);
    let login = |password: &'static str| {
        let (login, email) = (&app.login, email.clone());
        async move {
            login
                .handle(post(
                    "login.json",
                    serde_json::json!({"email": email, "password": password}),
                ))
                .await
        }
    };
    let first = json_body(&login("correct horse battery staple").await);

    let asked = app
        .recovery
        .handle(post(
            "request-verify-token.json",
            serde_json::json!({"email": email}),
        ))
        .await;
    assert_eq!(asked.status(), 202);
    let verified = app
        .recovery
        .handle(post(
            "verify.json",
            serde_json::json!({"token": token_mailed_to(&email)}),
        ))
        .await;
    assert_eq!(verified.status(), 200);
    assert_eq!(json_body(&verified)["email_verified"], true);
    let second = json_body(&login("correct horse battery staple").await);
    let context = serde_json::to_value(
        app.authorizer
            .handle(authorizer_event(second["access_token"].as_str().unwrap()))
            .await
            .expect("allowed"),
    )
    .unwrap()["context"]
        .clone();
    let claims: Value = serde_json::from_str(context["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims["email_verified"], true, "the next token says so");

    let forgot = app
        .recovery
        .handle(post(
            "forgot-password.json",
            serde_json::json!({"email": email}),
        ))
        .await;
    assert_eq!(forgot.status(), 202);
    let reset = app
        .recovery
        .handle(post(
            "reset-password.json",
            serde_json::json!({"token": token_mailed_to(&email), "password": "a brand new passphrase"}),
        ))
        .await;
    assert_eq!(reset.status(), 200);
    assert_eq!(login("correct horse battery staple").await.status(), 401);
    assert_eq!(login("a brand new passphrase").await.status(), 200);
    for old in [&first, &second] {
        let refreshed = app
            .refresh
            .handle(refresh_event(old["refresh_token"].as_str().unwrap()))
            .await;
        assert_eq!(
            refreshed.status(),
            401,
            "the reset ended every older session"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_dynamodb_make_even_the_right_password_wait() {
    let app = deploy_with(&[("LOGIN_FREE_FAILURES", "2")]).await;
    let email = format!("guess-{}@example.com", uuid::Uuid::new_v4().simple());
    let account = serde_json::json!({"email": email, "password": "correct horse battery staple"});
    assert_eq!(
        app.register
            .handle(post("register.json", account.clone()))
            .await
            .status(),
        201
    );
    for _ in 0..2 {
        let wrong = serde_json::json!({"email": email, "password": "not the password"});
        assert_eq!(
            app.login.handle(post("login.json", wrong)).await.status(),
            401
        );
    }
    let waiting = app.login.handle(post("login.json", account.clone())).await;
    assert_eq!(waiting.status(), 429);
    assert_eq!(waiting.headers()["retry-after"], "1");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.login.handle(post("login.json", account)).await.status(),
        200
    );
}
