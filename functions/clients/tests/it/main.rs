//! The client administration function, driven by `events/clients-*.json`, on the in-memory
//! store: register, list, read, change, rotate and delete, and who may.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_http::{HttpHandler, RequestClaimsExt, with_claims};
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::KeySet;
use authgate_users::{
    ADMIN_ROLE, Client, ClientSecret, ClientStore, Email, InMemoryUserStore, NewUser, PasswordHash,
    User, UserStore, now_ms, parse_roles,
};
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

struct Fixture {
    clients: clients::Clients,
    store: Arc<InMemoryUserStore>,
    admin: User,
    reader: User,
}

async fn user(store: &InMemoryUserStore, email: &str, roles: &[&str]) -> User {
    store
        .create(NewUser {
            email: Email::parse(email).unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: parse_roles(roles.iter().copied()).unwrap(),
        })
        .await
        .unwrap()
}

async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let admin = user(&store, "root@example.com", &[ADMIN_ROLE]).await;
    let reader = user(&store, "auditor@example.com", &["auditor"]).await;
    let env = Env::from_pairs([
        (
            "ROLES",
            r#"{"auditor": ["clients:read"], "integrations": ["clients:read", "clients:write"]}"#,
        ),
        ("CLIENT_SECRET_OVERLAP_SECONDS", "600"),
    ]);
    let resources = Resources::new(store.clone(), Arc::new(KeyRing::fixed(KeySet::default())));
    Fixture {
        clients: clients::build(&env, &resources).await.unwrap(),
        store,
        admin,
        reader,
    }
}

/// `events/<name>`, as `caller` calls it, about `target` when it names one, with `body`.
fn call(name: &str, caller: &User, target: Option<&str>, body: Option<Value>) -> Request {
    let mut request = request(name);
    if let Some(target) = target {
        let params = std::collections::HashMap::from([("id".to_owned(), target.to_owned())]);
        request = request.with_path_parameters(params);
    }
    if let Some(body) = body {
        request = with_body(request, &body.to_string());
    }
    let mut claims = request.verified_claims().unwrap();
    claims.sub = caller.id.to_string();
    with_claims(request, &claims)
}

#[tokio::test]
async fn an_administrator_registers_reads_changes_rotates_and_deletes_a_client() {
    let f = fixture().await;
    let created = f
        .clients
        .handle(call("clients-create.json", &f.admin, None, None))
        .await;
    assert_eq!(created.status(), 201, "{:?}", created.body());
    let body = json_body(&created);
    let id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(body["scopes"], json!(["items:read", "items:write"]));
    let stored = f.store.client(id.parse().unwrap()).await.unwrap().unwrap();
    assert!(stored.accepts(&ClientSecret::parse(&secret).unwrap(), now_ms()));

    let listed = json_body(
        &f.clients
            .handle(call("clients-list.json", &f.reader, None, None))
            .await,
    );
    assert_eq!(listed["clients"][0]["client_id"], id.as_str());
    let text = listed.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("secret_hash"),
        "{text}"
    );

    let read = f
        .clients
        .handle(call("clients-get.json", &f.reader, Some(&id), None))
        .await;
    assert_eq!(json_body(&read)["name"], "partner");

    let patched = f
        .clients
        .handle(call(
            "clients-patch.json",
            &f.admin,
            Some(&id),
            Some(json!({"disabled": true, "scopes": ["items:read"], "audience": "https://api.example.com", "access_token_ttl_secs": 300})),
        ))
        .await;
    assert_eq!(patched.status(), 200, "{:?}", patched.body());
    let body = json_body(&patched);
    assert_eq!(
        (
            &body["disabled"],
            &body["scopes"],
            &body["audience"],
            &body["access_token_ttl_secs"]
        ),
        (
            &json!(true),
            &json!(["items:read"]),
            &json!("https://api.example.com"),
            &json!(300)
        )
    );
    let cleared = f
        .clients
        .handle(call(
            "clients-patch.json",
            &f.admin,
            Some(&id),
            Some(json!({"audience": null})),
        ))
        .await;
    assert_eq!(json_body(&cleared)["audience"], Value::Null, "null clears");

    let rotated = f
        .clients
        .handle(call(
            "clients-rotate-secret.json",
            &f.admin,
            Some(&id),
            None,
        ))
        .await;
    assert_eq!(rotated.status(), 200, "{:?}", rotated.body());
    let next = json_body(&rotated)["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = f.store.client(id.parse().unwrap()).await.unwrap().unwrap();
    let (old, new) = (
        ClientSecret::parse(&secret).unwrap(),
        ClientSecret::parse(&next).unwrap(),
    );
    let now = now_ms();
    assert!(stored.accepts(&new, now) && stored.accepts(&old, now));
    assert!(
        !stored.accepts(&old, now + 3_601_000),
        "the request's overlap (3600 s) applies"
    );

    let deleted = f
        .clients
        .handle(call("clients-delete.json", &f.admin, Some(&id), None))
        .await;
    assert_eq!(deleted.status(), 204);
    let gone = f
        .clients
        .handle(call("clients-get.json", &f.admin, Some(&id), None))
        .await;
    assert_eq!(gone.status(), 404);
    assert_eq!(json_body(&gone)["detail"], "Client not found");
}

#[tokio::test]
async fn reading_needs_clients_read_and_changing_clients_write_as_stored_now() {
    let f = fixture().await;
    let (client, _) = Client::register("partner", BTreeSet::new(), now_ms());
    f.store.create_client(&client).await.unwrap();
    let id = client.id.to_string();
    let plain = user(&f.store, "plain@example.com", &[]).await;
    for (name, caller, status) in [
        ("clients-list.json", &plain, 403),
        ("clients-get.json", &plain, 403),
        ("clients-create.json", &f.reader, 403),
        ("clients-patch.json", &f.reader, 403),
        ("clients-delete.json", &f.reader, 403),
        ("clients-rotate-secret.json", &f.reader, 403),
    ] {
        let response = f.clients.handle(call(name, caller, Some(&id), None)).await;
        assert_eq!(response.status(), status, "{name}");
        assert_eq!(json_body(&response)["detail"], "Not enough permissions");
    }
    assert!(f.store.client(client.id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_caller_grants_only_the_administration_scopes_it_holds() {
    let f = fixture().await;
    let integrator = user(&f.store, "integrations@example.com", &["integrations"]).await;
    let ask = |scopes: Value| {
        call(
            "clients-create.json",
            &integrator,
            None,
            Some(json!({"name": "bot", "scopes": scopes})),
        )
    };
    let refused = f.clients.handle(ask(json!(["users:roles"]))).await;
    assert_eq!(refused.status(), 403, "{:?}", refused.body());
    let allowed = f
        .clients
        .handle(ask(json!(["clients:read", "items:write"])))
        .await;
    assert_eq!(allowed.status(), 201, "{:?}", allowed.body());
    let by_admin = f
        .clients
        .handle(call(
            "clients-create.json",
            &f.admin,
            None,
            Some(json!({"name": "provisioner", "scopes": ["users:read", "users:write"]})),
        ))
        .await;
    assert_eq!(by_admin.status(), 201, "the admin role holds them");
}

#[tokio::test]
async fn bad_fields_are_422_and_unknown_ids_404() {
    let f = fixture().await;
    for body in [
        json!({"scopes": ["items:read"]}),
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "bot", "scopes": ["not a scope"]}),
        json!({"name": "bot", "access_token_ttl_secs": 30}),
        json!({"name": "bot", "audience": ""}),
        json!({"name": "bot", "disabled": true}),
        json!({"name": "bot", "secret": "mine"}),
    ] {
        let response = f
            .clients
            .handle(call(
                "clients-create.json",
                &f.admin,
                None,
                Some(body.clone()),
            ))
            .await;
        assert_eq!(response.status(), 422, "{body}: {:?}", response.body());
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    for name in [
        "clients-get.json",
        "clients-patch.json",
        "clients-delete.json",
        "clients-rotate-secret.json",
    ] {
        let response = f
            .clients
            .handle(call(name, &f.admin, Some(&unknown), None))
            .await;
        assert_eq!(response.status(), 404, "{name}");
    }
    let overlap = f
        .clients
        .handle(call(
            "clients-rotate-secret.json",
            &f.admin,
            Some(&unknown),
            Some(json!({"overlap_seconds": 99_999_999})),
        ))
        .await;
    assert_eq!(
        overlap.status(),
        422,
        "an overlap beyond the setting's bounds"
    );
}
