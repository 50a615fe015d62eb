//! The user administration function, driven by `events/users-*.json`, on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authgate_http::{HttpHandler, RequestClaimsExt, with_claims};
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::KeySet;
use authgate_users::{
    ADMIN_ROLE, Email, InMemoryUserStore, NewUser, PasswordHash, SessionStore, User, UserStore,
    now_ms, parse_roles,
};
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

struct Fixture {
    users: users::Users,
    mailer: authgate_runtime::RecordingMailer,
    store: Arc<InMemoryUserStore>,
    admin: User,
    alice: User,
}

async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let create = |email: &str, admin: bool| {
        let store = Arc::clone(&store);
        let email = Email::parse(email).unwrap();
        async move {
            store
                .create(NewUser {
                    email,
                    password_hash: PasswordHash::from_phc(PHC).unwrap(),
                    roles: if admin {
                        parse_roles([ADMIN_ROLE]).unwrap()
                    } else {
                        Default::default()
                    },
                })
                .await
                .unwrap()
        }
    };
    let admin = create("root@example.com", true).await;
    let alice = create("alice@example.com", false).await;
    let env = Env::default().with(
        "ROLES",
        r#"{"editor": ["items:write"], "support": ["users:read", "users:write"]}"#,
    );
    let mailer = authgate_runtime::RecordingMailer::new();
    let resources = Resources::new(store.clone(), Arc::new(KeyRing::fixed(KeySet::default())))
        .with_mailer(Arc::new(mailer.clone()));
    Fixture {
        users: users::build(&env, &resources).await.unwrap(),
        mailer,
        store,
        admin,
        alice,
    }
}

/// `events/<name>` re-pointed at `target`, as the administrator `caller` calls it.
fn call(name: &str, caller: &User, target: Option<&User>) -> Request {
    let mut request = request(name);
    if let Some(target) = target {
        let params = std::collections::HashMap::from([("id".to_owned(), target.id.to_string())]);
        request = request.with_path_parameters(params);
    }
    let mut claims = request.verified_claims().unwrap();
    claims.sub = caller.id.to_string();
    with_claims(request, &claims)
}

fn patch(caller: &User, target: &User, body: Value) -> Request {
    with_body(
        call("users-patch.json", caller, Some(target)),
        &body.to_string(),
    )
}

#[tokio::test]
async fn an_outside_token_with_admin_scopes_and_an_admins_id_manages_no_one() {
    let f = fixture().await;
    let outside =
        authgate_testkit::outside_claims(&f.admin.id.to_string(), &["users:read", "users:write"]);
    for (name, target) in [
        ("users-list.json", None),
        ("users-get.json", Some(&f.alice)),
        ("users-delete.json", Some(&f.alice)),
    ] {
        let own = call(name, &f.admin, target);
        let request = authgate_http::with_outside_claims(own, &outside);
        let response = f.users.handle(request).await;
        assert_eq!(response.status(), 403, "{name}");
    }
    assert!(f.store.get_by_id(f.alice.id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_user_is_shown_without_a_password_hash_and_an_unknown_id_is_404() {
    let f = fixture().await;
    let response = f
        .users
        .handle(call("users-get.json", &f.admin, Some(&f.alice)))
        .await;
    assert_eq!(response.status(), 200);
    let body = json_body(&response);
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["roles"], json!([]));
    assert!(body.get("password_hash").is_none(), "{body}");
    let ghost = User {
        id: uuid_like(),
        ..f.alice.clone()
    };
    let response = f
        .users
        .handle(call("users-get.json", &f.admin, Some(&ghost)))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(json_body(&response), json!({"detail": "User not found"}));
}

fn uuid_like() -> authgate_users::UserId {
    "7d3f6e2a-1b4c-4d5e-8f90-a1b2c3d4e5f6".parse().unwrap()
}

#[tokio::test]
async fn the_list_is_paged_with_an_opaque_cursor() {
    let f = fixture().await;
    f.store
        .create(NewUser {
            email: Email::parse("bob@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: Default::default(),
        })
        .await
        .unwrap();
    let query = |pairs: &[(&str, &str)]| {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        call("users-list.json", &f.admin, None).with_query_string_parameters(map)
    };
    let first = json_body(&f.users.handle(query(&[("limit", "2")])).await);
    assert_eq!(first["users"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a third user follows");
    let second = json_body(
        &f.users
            .handle(query(&[("limit", "2"), ("cursor", cursor)]))
            .await,
    );
    assert_eq!(second["users"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let mut emails: Vec<&str> = first["users"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["users"].as_array().unwrap())
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    emails.sort_unstable();
    assert_eq!(
        emails,
        ["alice@example.com", "bob@example.com", "root@example.com"]
    );
    for bad in [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "x"),
        ("cursor", "%%%"),
    ] {
        let response = f.users.handle(query(&[bad])).await;
        assert_eq!(response.status(), 422, "{bad:?}");
    }
}

#[tokio::test]
async fn an_administrator_sets_roles_and_claims_and_bad_values_are_422() {
    let f = fixture().await;
    let response = f
        .users
        .handle(patch(
            &f.admin,
            &f.alice,
            json!({"roles": ["editor"], "claims": {"foo": ["fiz", "baz"]}}),
        ))
        .await;
    assert_eq!(response.status(), 200);
    let body = json_body(&response);
    assert_eq!(
        (body["roles"].clone(), body["claims"].clone()),
        (json!(["editor"]), json!({"foo": ["fiz", "baz"]}))
    );
    for bad in [
        json!({"claims": {"sub": "someone-else"}}),
        json!({"claims": {"blob": "a".repeat(3000)}}),
        json!({"claims": ["not", "an", "object"]}),
        json!({"roles": ["ghost"]}),
        json!({"roles": ["has space"]}),
        json!({"email": "not-an-email"}),
        json!({"password": "short"}),
        json!({"is_superuser": true}),
    ] {
        let response = f.users.handle(patch(&f.admin, &f.alice, bad.clone())).await;
        assert_eq!(response.status(), 422, "{bad}");
        assert!(json_body(&response)["detail"].is_string());
    }
    let taken = f
        .users
        .handle(patch(
            &f.admin,
            &f.alice,
            json!({"email": "ROOT@example.com"}),
        ))
        .await;
    assert_eq!(taken.status(), 409);
    let unchanged = f.store.get_by_id(f.alice.id).await.unwrap().unwrap();
    assert_eq!(
        unchanged.claims.as_map()["foo"],
        json!(["fiz", "baz"]),
        "refused patches change nothing"
    );
}

#[tokio::test]
async fn an_administrator_cannot_lock_themselves_out() {
    let f = fixture().await;
    for body in [
        json!({"roles": ["editor"]}),
        json!({"roles": []}),
        json!({"disabled": true}),
    ] {
        let response = f
            .users
            .handle(patch(&f.admin, &f.admin, body.clone()))
            .await;
        assert_eq!(response.status(), 409, "{body}");
    }
    let response = f
        .users
        .handle(call("users-delete.json", &f.admin, Some(&f.admin)))
        .await;
    assert_eq!(response.status(), 409);
    let still = f.store.get_by_id(f.admin.id).await.unwrap().unwrap();
    assert!(still.roles.contains(ADMIN_ROLE) && !still.disabled);
    let promotes = f
        .users
        .handle(patch(
            &f.admin,
            &f.admin,
            json!({"roles": ["admin", "editor"]}),
        ))
        .await;
    assert_eq!(
        promotes.status(),
        409,
        "no one changes their own roles, not even to add one"
    );
    let keeps = f
        .users
        .handle(patch(&f.admin, &f.admin, json!({"roles": ["admin"]})))
        .await;
    assert_eq!(keeps.status(), 200, "naming one's roles unchanged is fine");
}

#[tokio::test]
async fn disabling_or_a_new_password_ends_the_users_sessions() {
    for body in [
        json!({"disabled": true}),
        json!({"password": "a brand new passphrase"}),
    ] {
        let f = fixture().await;
        let now = now_ms();
        let session = authgate_users::Session {
            id: uuid::Uuid::new_v4(),
            user_id: f.alice.id,
            created_at_ms: now - 10,
            expires_at_ms: now + 3_600_000,
            revoked: false,
        };
        f.store
            .start(
                &session,
                &authgate_users::RefreshToken::generate().hash(),
                now + 600_000,
                &f.alice,
            )
            .await
            .unwrap();
        let response = f
            .users
            .handle(patch(&f.admin, &f.alice, body.clone()))
            .await;
        assert_eq!(response.status(), 200, "{body}");
        let state = f.store.state(session.id, f.alice.id).await.unwrap();
        assert!(
            state.may_act(now_ms()).is_err(),
            "{body}: the session ended"
        );
    }
}

#[tokio::test]
async fn a_deleted_user_is_gone_and_their_email_can_register_again() {
    let f = fixture().await;
    let response = f
        .users
        .handle(call("users-delete.json", &f.admin, Some(&f.alice)))
        .await;
    assert_eq!(response.status(), 204);
    assert!(f.store.get_by_id(f.alice.id).await.unwrap().is_none());
    let again = f
        .users
        .handle(call("users-delete.json", &f.admin, Some(&f.alice)))
        .await;
    assert_eq!(again.status(), 404);
    assert!(
        f.store
            .get_by_email(&f.alice.email)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_administrator_changing_an_email_leaves_it_unverified_and_mails_the_new_address() {
    let f = fixture().await;
    let response = f
        .users
        .handle(patch(
            &f.admin,
            &f.alice,
            json!({"email": "alice@moved.example"}),
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_body(&response)["email_verified"], false);
    let sent = f.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "alice@moved.example");
    let unchanged = f
        .users
        .handle(patch(
            &f.admin,
            &f.alice,
            json!({"email": "alice@moved.example"}),
        ))
        .await;
    assert_eq!(unchanged.status(), 200);
    assert_eq!(
        f.mailer.sent().len(),
        1,
        "the same address again sends nothing"
    );
}

/// A user with `roles`, stored in `f`'s store.
async fn member(f: &Fixture, email: &str, roles: &[&str]) -> User {
    f.store
        .create(NewUser {
            email: Email::parse(email).unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: parse_roles(roles.iter().copied()).unwrap(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn users_write_alone_neither_grants_roles_nor_manages_an_administrator() {
    let f = fixture().await;
    let support = member(&f, "support@example.com", &["support"]).await;
    for (target, body) in [
        (&f.alice, json!({"roles": ["admin"]})),
        (&f.alice, json!({"claims": {"tenant": "acme"}})),
        (&support, json!({"roles": ["support", "admin"]})),
        (&f.admin, json!({"password": "a takeover passphrase"})),
        (&f.admin, json!({"email": "mine@example.com"})),
        (&f.admin, json!({"disabled": true})),
    ] {
        let response = f.users.handle(patch(&support, target, body.clone())).await;
        assert_eq!(response.status(), 403, "{body}");
        assert_eq!(
            json_body(&response)["detail"],
            authgate_http::NOT_ENOUGH_PERMISSIONS
        );
    }
    let response = f
        .users
        .handle(call("users-delete.json", &support, Some(&f.admin)))
        .await;
    assert_eq!(response.status(), 403);
    let admin = f.store.get_by_id(f.admin.id).await.unwrap().unwrap();
    assert_eq!(admin, f.admin, "the administrator is untouched");
    let alice = f.store.get_by_id(f.alice.id).await.unwrap().unwrap();
    assert!(alice.roles.is_empty() && alice.claims.is_empty());

    let response = f
        .users
        .handle(patch(&support, &f.alice, json!({"disabled": true})))
        .await;
    assert_eq!(response.status(), 200, "support manages a plain user");
}

#[tokio::test]
async fn the_callers_current_roles_decide_not_its_token() {
    let f = fixture().await;
    let former = member(&f, "former@example.com", &["admin"]).await;
    f.store
        .update(
            former.id,
            authgate_users::UserChanges {
                roles: Some(Default::default()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The request's claims still say `admin` and `users:write`, as a token issued before the
    // demotion would.
    for request in [
        patch(&former, &f.alice, json!({"disabled": true})),
        patch(&former, &former, json!({"roles": ["admin"]})),
        call("users-get.json", &former, Some(&f.alice)),
        call("users-list.json", &former, None),
        call("users-delete.json", &former, Some(&f.alice)),
    ] {
        let response = f.users.handle(request).await;
        assert_eq!(response.status(), 403, "{:?}", json_body(&response));
    }
    assert!(
        !f.store
            .get_by_id(f.alice.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    f.store.delete(former.id).await.unwrap();
    let response = f.users.handle(call("users-list.json", &former, None)).await;
    assert_eq!(response.status(), 401, "a deleted caller");
}

#[tokio::test]
async fn taking_a_role_or_claim_away_ends_the_users_sessions_and_adding_one_does_not() {
    let f = fixture().await;
    let start = |user: User| {
        let store = Arc::clone(&f.store);
        async move {
            let now = now_ms();
            let session = authgate_users::Session {
                id: uuid::Uuid::new_v4(),
                user_id: user.id,
                created_at_ms: now.max(user.sessions_valid_after_ms + 1),
                expires_at_ms: now + 3_600_000,
                revoked: false,
            };
            store
                .start(
                    &session,
                    &authgate_users::RefreshToken::generate().hash(),
                    now + 600_000,
                    &user,
                )
                .await
                .unwrap();
            session
        }
    };
    let alive = |session: authgate_users::Session| {
        let store = Arc::clone(&f.store);
        async move {
            store
                .state(session.id, session.user_id)
                .await
                .unwrap()
                .may_act(now_ms())
                .is_ok()
        }
    };
    let session = start(f.alice.clone()).await;
    let granted = f
        .users
        .handle(patch(
            &f.admin,
            &f.alice,
            json!({"roles": ["editor"], "claims": {"tenant": "acme", "tier": 1}}),
        ))
        .await;
    assert_eq!(granted.status(), 200);
    assert!(alive(session.clone()).await, "adding ends nothing");
    for body in [json!({"roles": []}), json!({"claims": {"tenant": "acme"}})] {
        let alice = f.store.get_by_id(f.alice.id).await.unwrap().unwrap();
        let session = start(alice).await;
        let response = f
            .users
            .handle(patch(&f.admin, &f.alice, body.clone()))
            .await;
        assert_eq!(response.status(), 200, "{body}");
        assert!(!alive(session).await, "{body}: the session ended");
    }
}

#[tokio::test]
async fn a_client_administers_users_with_its_current_scopes_while_enabled() {
    use authgate_users::{Client, ClientStore};
    let f = fixture().await;
    let scopes = ["users:read".to_owned(), "users:write".to_owned()];
    let (client, _) = Client::register("backoffice", scopes.into_iter().collect(), now_ms());
    f.store.create_client(&client).await.unwrap();
    let as_client = |name: &str, target: Option<&User>| {
        let mut request = request(name);
        if let Some(target) = target {
            let params =
                std::collections::HashMap::from([("id".to_owned(), target.id.to_string())]);
            request = request.with_path_parameters(params);
        }
        let user = request.verified_claims().unwrap();
        let claims = authgate_token::AccessClaims {
            sub: client.id.to_string(),
            client_id: Some(client.id.to_string()),
            sid: None,
            email: None,
            roles: Vec::new(),
            scope: "users:read users:write users:roles".into(),
            ..user
        };
        with_claims(request, &claims)
    };
    let listed = f.users.handle(as_client("users-list.json", None)).await;
    assert_eq!(listed.status(), 200, "{:?}", listed.body());
    let disabled = f
        .users
        .handle(with_body(
            as_client("users-patch.json", Some(&f.alice)),
            r#"{"disabled": true}"#,
        ))
        .await;
    assert_eq!(disabled.status(), 200, "{:?}", disabled.body());
    let promoted = f
        .users
        .handle(with_body(
            as_client("users-patch.json", Some(&f.alice)),
            r#"{"roles": ["admin"]}"#,
        ))
        .await;
    assert_eq!(
        promoted.status(),
        403,
        "its token says users:roles, its stored scopes do not"
    );
    let admin = f
        .users
        .handle(as_client("users-delete.json", Some(&f.admin)))
        .await;
    assert_eq!(admin.status(), 403, "it manages no administrator");
    let stored = f.store.client(client.id).await.unwrap().unwrap();
    f.store
        .update_client(&Client {
            disabled: true,
            ..stored
        })
        .await
        .unwrap();
    let refused = f.users.handle(as_client("users-list.json", None)).await;
    assert_eq!(refused.status(), 401, "a disabled client");
}

#[tokio::test]
async fn an_administrator_lists_and_revokes_a_users_api_keys() {
    use authgate_users::{ApiKeyRecord, ApiKeyStore};
    let f = fixture().await;
    let (key, _) = ApiKeyRecord::issue(f.alice.id, "script", Default::default(), None, now_ms());
    f.store.create_api_key(&key).await.unwrap();
    let on = |name: &str, caller: &User, key_id: Option<String>| {
        let mut request = call(name, caller, Some(&f.alice));
        let mut params =
            std::collections::HashMap::from([("id".to_owned(), f.alice.id.to_string())]);
        if let Some(key_id) = key_id {
            params.insert("key_id".to_owned(), key_id);
        }
        request = request.with_path_parameters(params);
        request
    };
    let listed = f
        .users
        .handle(on("users-api-keys-list.json", &f.admin, None))
        .await;
    assert_eq!(listed.status(), 200, "{:?}", listed.body());
    assert_eq!(json_body(&listed)[0]["name"], "script");
    let plain = f
        .users
        .handle(on("users-api-keys-list.json", &f.alice, None))
        .await;
    assert_eq!(plain.status(), 403, "a plain user lists no one's keys here");
    let revoked = f
        .users
        .handle(on(
            "users-api-keys-delete.json",
            &f.admin,
            Some(key.id.to_string()),
        ))
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(f.store.api_key(&key.hash).await.unwrap(), None);
    let again = f
        .users
        .handle(on(
            "users-api-keys-delete.json",
            &f.admin,
            Some(key.id.to_string()),
        ))
        .await;
    assert_eq!(again.status(), 404);
}
