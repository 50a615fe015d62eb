//! The token endpoint, driven by `events/oauth-token-client-credentials.json`, on the in-memory
//! store: the client-credentials grant and its errors, and the password and refresh-token grants.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_http::HttpHandler;
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::{Algorithm, Holder, Key, KeySet, TokenVerifier, Validation};
use authgate_users::{Client, ClientSecret, ClientStore, InMemoryUserStore, now_ms};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::Request;
use lambda_http::http::HeaderValue;
use oauth::OAuth;
use serde_json::Value;

fn keys() -> KeySet {
    KeySet::signing(
        "v1",
        [Key::hmac("v1", b"oauth-test-secret-of-32-bytes!!!!", Algorithm::HS256).unwrap()],
    )
    .unwrap()
}

struct Fixture {
    oauth: OAuth,
    store: Arc<InMemoryUserStore>,
    client: Client,
    secret: ClientSecret,
}

async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let scopes = BTreeSet::from(["items:read".to_owned(), "items:write".to_owned()]);
    let (client, secret) = Client::register("partner", scopes, now_ms());
    store.create_client(&client).await.unwrap();
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", "urn:t".to_owned()),
        ("TOKEN_AUDIENCE", "aud".to_owned()),
    ]);
    let ring = Arc::new(KeyRing::fixed(keys()));
    Fixture {
        oauth: oauth::build(&env, &Resources::new(store.clone(), ring))
            .await
            .unwrap(),
        store,
        client,
        secret,
    }
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The fixture's request with `authorization` (none when `None`) and `body`.
fn token_request(authorization: Option<&str>, body: &str) -> Request {
    let mut request = with_body(request("oauth-token-client-credentials.json"), body);
    let headers = request.headers_mut();
    headers.remove("authorization");
    if let Some(value) = authorization {
        headers.insert("authorization", HeaderValue::from_str(value).unwrap());
    }
    request
}

fn verify(token: &str) -> authgate_token::AccessClaims {
    TokenVerifier::new(Arc::new(keys()), Validation::own("urn:t", "aud", 30))
        .verify(token)
        .unwrap()
}

fn error_of(response: &lambda_http::Response<lambda_http::Body>) -> (u16, String) {
    let body = json_body(response);
    assert!(body["error_description"].is_string(), "{body}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    (
        response.status().as_u16(),
        body["error"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_client_gets_a_token_for_the_scopes_it_asks_with_basic_or_post_authentication() {
    let f = fixture().await;
    let id = f.client.id.to_string();
    let by_basic = f
        .oauth
        .handle(token_request(
            Some(&basic(&id, f.secret.as_str())),
            "grant_type=client_credentials&scope=items%3Aread",
        ))
        .await;
    assert_eq!(by_basic.status(), 200, "{:?}", by_basic.body());
    assert_eq!(by_basic.headers()["cache-control"], "no-store");
    let body = json_body(&by_basic);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "items:read");
    assert!(body.get("refresh_token").is_none(), "RFC 6749 §4.4.3");
    let claims = verify(body["access_token"].as_str().unwrap());
    assert_eq!(claims.holder(), Holder::Client { client_id: &id });
    assert_eq!(
        (claims.sub.as_str(), claims.scope.as_str()),
        (id.as_str(), "items:read")
    );
    assert_eq!(body["expires_in"], 900);

    let posted = format!(
        "grant_type=client_credentials&client_id={id}&client_secret={}",
        f.secret.as_str()
    );
    let by_post = f.oauth.handle(token_request(None, &posted)).await;
    assert_eq!(by_post.status(), 200, "{:?}", by_post.body());
    let body = json_body(&by_post);
    assert_eq!(
        body["scope"], "items:read items:write",
        "no scope: all of the client's"
    );
}

#[tokio::test]
async fn a_scope_the_client_lacks_is_invalid_scope() {
    let f = fixture().await;
    let auth = basic(&f.client.id.to_string(), f.secret.as_str());
    for scope in ["users%3Aread", "items%3Aread+users%3Awrite", "bad%22name"] {
        let response = f
            .oauth
            .handle(token_request(
                Some(&auth),
                &format!("grant_type=client_credentials&scope={scope}"),
            ))
            .await;
        assert_eq!(
            error_of(&response),
            (400, "invalid_scope".into()),
            "{scope}"
        );
    }
}

#[tokio::test]
async fn a_wrong_unknown_or_disabled_client_is_invalid_client_with_www_authenticate() {
    let f = fixture().await;
    let id = f.client.id.to_string();
    let other = ClientSecret::generate();
    let disabled = Client {
        disabled: true,
        ..f.client.clone()
    };
    let cases = [
        ("wrong secret", basic(&id, other.as_str())),
        (
            "unknown id",
            basic(&uuid::Uuid::new_v4().to_string(), f.secret.as_str()),
        ),
        ("not a secret", basic(&id, "hunter2")),
    ];
    for (why, auth) in cases {
        let response = f
            .oauth
            .handle(token_request(Some(&auth), "grant_type=client_credentials"))
            .await;
        assert_eq!(error_of(&response), (401, "invalid_client".into()), "{why}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"),
            "{why}"
        );
    }
    let response = f
        .oauth
        .handle(token_request(None, "grant_type=client_credentials"))
        .await;
    assert_eq!(
        error_of(&response),
        (401, "invalid_client".into()),
        "no credentials"
    );
    f.store.update_client(&disabled).await.unwrap();
    let response = f
        .oauth
        .handle(token_request(
            Some(&basic(&id, f.secret.as_str())),
            "grant_type=client_credentials",
        ))
        .await;
    assert_eq!(
        error_of(&response),
        (401, "invalid_client".into()),
        "disabled"
    );
}

#[tokio::test]
async fn failed_client_authentications_are_throttled_per_client_even_for_the_right_secret() {
    let f = fixture().await;
    let id = f.client.id.to_string();
    let wrong = basic(&id, ClientSecret::generate().as_str());
    for _ in 0..5 {
        let response = f
            .oauth
            .handle(token_request(Some(&wrong), "grant_type=client_credentials"))
            .await;
        assert_eq!(response.status(), 401);
    }
    let right = basic(&id, f.secret.as_str());
    let response = f
        .oauth
        .handle(token_request(Some(&right), "grant_type=client_credentials"))
        .await;
    assert_eq!(response.status(), 429, "{:?}", response.body());
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(json_body(&response)["error"], "invalid_request");
    let (other, other_secret) =
        Client::register("other", BTreeSet::from(["items:read".to_owned()]), now_ms());
    f.store.create_client(&other).await.unwrap();
    let response = f
        .oauth
        .handle(token_request(
            Some(&basic(&other.id.to_string(), other_secret.as_str())),
            "grant_type=client_credentials",
        ))
        .await;
    assert_eq!(response.status(), 200, "another client is not affected");
}

#[tokio::test]
async fn malformed_requests_get_rfc_6749_errors() {
    let f = fixture().await;
    let auth = basic(&f.client.id.to_string(), f.secret.as_str());
    let cases: [(&str, (u16, &str)); 4] = [
        ("scope=items%3Aread", (400, "invalid_request")),
        (
            "grant_type=authorization_code&code=x",
            (400, "unsupported_grant_type"),
        ),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            (400, "invalid_request"),
        ),
        (
            "grant_type=password&username=a%40example.com",
            (400, "invalid_request"),
        ),
    ];
    for (body, (status, code)) in cases {
        let response = f.oauth.handle(token_request(Some(&auth), body)).await;
        assert_eq!(error_of(&response), (status, code.to_owned()), "{body}");
    }
    let mut json = token_request(Some(&auth), r#"{"grant_type": "client_credentials"}"#);
    json.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    let response = f.oauth.handle(json).await;
    assert_eq!(
        error_of(&response),
        (400, "invalid_request".into()),
        "JSON body"
    );
}

#[tokio::test]
async fn the_password_and_refresh_token_grants_sign_in_and_continue_a_session() {
    let f = fixture().await;
    let email = format!("oauth.{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery staple";
    authgate_users::contract::user_with_password(f.store.as_ref(), &email, password).await;
    let signed_in = f
        .oauth
        .handle(token_request(
            None,
            &format!(
                "grant_type=password&username={}&password={}",
                email.replace('@', "%40"),
                password.replace(' ', "+")
            ),
        ))
        .await;
    assert_eq!(signed_in.status(), 200, "{:?}", signed_in.body());
    let body: Value = json_body(&signed_in);
    let claims = verify(body["access_token"].as_str().unwrap());
    assert!(matches!(claims.holder(), Holder::User { .. }));
    let refresh = body["refresh_token"].as_str().unwrap();
    let refreshed = f
        .oauth
        .handle(token_request(
            None,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        ))
        .await;
    assert_eq!(refreshed.status(), 200, "{:?}", refreshed.body());
    let again = f
        .oauth
        .handle(token_request(
            None,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        ))
        .await;
    assert_eq!(error_of(&again), (400, "invalid_grant".into()), "spent");
    let wrong = f
        .oauth
        .handle(token_request(
            None,
            &format!(
                "grant_type=password&username={}&password=wrong",
                email.replace('@', "%40")
            ),
        ))
        .await;
    assert_eq!(error_of(&wrong), (400, "invalid_grant".into()));
    let with_bad_client = f
        .oauth
        .handle(token_request(
            Some(&basic(&f.client.id.to_string(), "hunter2")),
            &format!(
                "grant_type=password&username={}&password={}",
                email.replace('@', "%40"),
                password.replace(' ', "+")
            ),
        ))
        .await;
    assert_eq!(
        error_of(&with_bad_client),
        (401, "invalid_client".into()),
        "presented credentials must be right"
    );
}

/// A client token for `client`, through the token endpoint.
async fn client_token(f: &Fixture, client: &Client, secret: &ClientSecret) -> String {
    let response = f
        .oauth
        .handle(token_request(
            Some(&basic(&client.id.to_string(), secret.as_str())),
            "grant_type=client_credentials",
        ))
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    json_body(&response)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `POST /oauth2/<endpoint>` with the fixture's headers, `authorization` and `body`.
fn endpoint_request(endpoint: &str, authorization: &str, body: &str) -> Request {
    let text = authgate_testkit::event("oauth-token-client-credentials.json")
        .replace("/oauth2/token", &format!("/oauth2/{endpoint}"));
    let mut request = with_body(lambda_http::request::from_str(&text).unwrap(), body);
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(authorization).unwrap(),
    );
    request
}

async fn introspect(f: &Fixture, authorization: &str, token: &str) -> Value {
    let response = f
        .oauth
        .handle(endpoint_request(
            "introspect",
            authorization,
            &format!("token={token}"),
        ))
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(response.headers()["cache-control"], "no-store");
    json_body(&response)
}

#[tokio::test]
async fn a_client_introspects_and_revokes_its_own_tokens_and_not_another_clients() {
    let f = fixture().await;
    let me = basic(&f.client.id.to_string(), f.secret.as_str());
    let token = client_token(&f, &f.client, &f.secret).await;
    let active = introspect(&f, &me, &token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], f.client.id.to_string());
    assert_eq!(active["sub"], f.client.id.to_string());
    assert_eq!(active["scope"], "items:read items:write");
    assert_eq!(active["token_type"], "Bearer");
    for member in ["exp", "iat", "iss", "aud"] {
        assert!(!active[member].is_null(), "{member}");
    }

    let (other, other_secret) =
        Client::register("other", BTreeSet::from(["items:read".to_owned()]), now_ms());
    f.store.create_client(&other).await.unwrap();
    let someone = basic(&other.id.to_string(), other_secret.as_str());
    assert_eq!(
        introspect(&f, &someone, &token).await,
        serde_json::json!({"active": false}),
        "another client's token looks unknown"
    );
    let revoked_by_other = f
        .oauth
        .handle(endpoint_request(
            "revoke",
            &someone,
            &format!("token={token}"),
        ))
        .await;
    assert_eq!(revoked_by_other.status(), 200, "RFC 7009 §2.2");
    assert_eq!(
        introspect(&f, &me, &token).await["active"],
        true,
        "untouched"
    );

    let revoked = f
        .oauth
        .handle(endpoint_request("revoke", &me, &format!("token={token}")))
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        introspect(&f, &me, &token).await,
        serde_json::json!({"active": false})
    );
    let unknown = f
        .oauth
        .handle(endpoint_request("revoke", &me, "token=not-a-token"))
        .await;
    assert_eq!(unknown.status(), 200, "an unknown token is answered 200");
    let anonymous = f
        .oauth
        .handle(token_request(None, &format!("token={token}")))
        .await;
    assert_eq!(anonymous.status(), 400, "the token endpoint wants a grant");
    let mut unauthenticated = endpoint_request("introspect", &me, &format!("token={token}"));
    unauthenticated.headers_mut().remove("authorization");
    let response = f.oauth.handle(unauthenticated).await;
    assert_eq!(error_of(&response), (401, "invalid_client".into()));
}

#[tokio::test]
async fn tokens_introspect_sees_users_tokens_which_end_with_their_session_or_user() {
    let f = fixture().await;
    let (auditor, auditor_secret) = Client::register(
        "auditor",
        BTreeSet::from(["tokens:introspect".to_owned()]),
        now_ms(),
    );
    f.store.create_client(&auditor).await.unwrap();
    let auditor = basic(&auditor.id.to_string(), auditor_secret.as_str());
    let email = format!("introspected.{}@example.com", uuid::Uuid::new_v4().simple());
    let user =
        authgate_users::contract::user_with_password(f.store.as_ref(), &email, "a long password")
            .await;
    let signed_in = f
        .oauth
        .handle(token_request(
            None,
            &format!(
                "grant_type=password&username={}&password=a+long+password",
                email.replace('@', "%40")
            ),
        ))
        .await;
    let body = json_body(&signed_in);
    let (access, refresh) = (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    );
    let partner = basic(&f.client.id.to_string(), f.secret.as_str());
    assert_eq!(
        introspect(&f, &partner, &access).await["active"],
        false,
        "without tokens:introspect, a user's token looks unknown"
    );
    let seen = introspect(&f, &auditor, &access).await;
    assert_eq!(
        (&seen["active"], &seen["sub"], &seen["username"]),
        (
            &Value::Bool(true),
            &Value::from(user.id.to_string()),
            &Value::from(email.as_str())
        )
    );
    assert!(seen.get("client_id").is_none());
    let refresh_seen = introspect(&f, &auditor, &refresh).await;
    assert_eq!(
        (&refresh_seen["active"], &refresh_seen["token_type"]),
        (&Value::Bool(true), &Value::from("refresh_token"))
    );

    let revoked = f
        .oauth
        .handle(endpoint_request(
            "revoke",
            &partner,
            &format!("token={refresh}"),
        ))
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        introspect(&f, &auditor, &access).await["active"],
        false,
        "session ended"
    );
    assert_eq!(introspect(&f, &auditor, &refresh).await["active"], false);
    let refreshed = f
        .oauth
        .handle(token_request(
            None,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        ))
        .await;
    assert_eq!(error_of(&refreshed), (400, "invalid_grant".into()));

    let again = f
        .oauth
        .handle(token_request(
            None,
            &format!(
                "grant_type=password&username={}&password=a+long+password",
                email.replace('@', "%40")
            ),
        ))
        .await;
    let body = json_body(&again);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&f, &auditor, &access).await["active"], true);
    let revoked = f
        .oauth
        .handle(endpoint_request(
            "revoke",
            &partner,
            &format!("token={access}"),
        ))
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        introspect(&f, &auditor, &access).await["active"],
        false,
        "a revoked access token"
    );
    assert_eq!(
        introspect(&f, &auditor, &refresh).await["active"],
        true,
        "its session goes on"
    );
    let refreshed = f
        .oauth
        .handle(token_request(
            None,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        ))
        .await;
    let access = json_body(&refreshed)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(introspect(&f, &auditor, &access).await["active"], true);
    authgate_users::UserStore::set_disabled(f.store.as_ref(), user.id, true)
        .await
        .unwrap();
    assert_eq!(
        introspect(&f, &auditor, &access).await["active"],
        false,
        "a disabled user's token"
    );
    assert_eq!(introspect(&f, &auditor, "garbage").await["active"], false);
}
