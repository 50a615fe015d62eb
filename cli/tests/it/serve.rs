//! `authgate serve` as a user runs it: a separate process on a free port with a fresh data
//! directory, driven over real HTTP with the README's requests, stopped with Ctrl-C, restarted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::Server;

use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn read(response: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.into_body().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn post_json(base: &str, path: &str, body: Value) -> (u16, Value) {
    read(
        agent()
            .post(format!("{base}{path}"))
            .send_json(body)
            .unwrap(),
    )
}

fn login_form(base: &str, email: &str, password: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "password"),
        ("username", email),
        ("password", password),
    ];
    read(
        agent()
            .post(format!("{base}/auth/login"))
            .send_form(form)
            .unwrap(),
    )
}

/// The claims of a JWT, read without verifying it.
fn payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn me(base: &str, authorization: Option<&str>) -> (u16, Value) {
    let mut request = agent().get(format!("{base}/users/me"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    read(request.call().unwrap())
}

fn authgate(args: &[&str], data_dir: &Path, stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("USERS_TABLE")
        .env_remove("SIGNING_KEY_SECRET_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn quick_start_requests_work_over_http_and_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let base = server.base.clone();
    let alice = json!({"email": "alice@example.com", "password": PASSWORD});

    let (status, user) = post_json(&base, "/auth/register", alice.clone());
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "alice@example.com");
    let (status, body) = post_json(
        &base,
        "/auth/register",
        json!({"email": "ALICE@example.com", "password": PASSWORD}),
    );
    assert_eq!(
        (status, body),
        (
            409,
            json!({"detail": "A user with this email already exists"})
        )
    );
    let (status, body) = post_json(&base, "/auth/register", json!({"email": "bob@example.com"}));
    assert_eq!(status, 422, "{body}");

    let (status, token) = post_json(&base, "/auth/login", alice.clone());
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "bearer");
    let access = token["access_token"].as_str().unwrap().to_owned();
    let (status, form_token) = login_form(&base, "alice@example.com", PASSWORD);
    assert_eq!(status, 200, "{form_token}");
    let (status, body) = login_form(&base, "alice@example.com", "wrong password!");
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Incorrect email or password"}))
    );

    let (status, body) = me(&base, Some(&format!("Bearer {access}")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], user["id"]);
    assert_eq!(body["claims"]["email"], "alice@example.com");
    for bad in [
        None,
        Some("Bearer nonsense"),
        Some(&format!("Bearer {access}x")[..]),
        Some(&format!("Basic {access}")[..]),
    ] {
        let (status, body) = me(&base, bad);
        assert_eq!(
            (status, body),
            (401, json!({"detail": "Not authenticated"})),
            "{bad:?}"
        );
    }

    let (status, stdout, stderr) = server.interrupt();
    assert!(
        status.success(),
        "Ctrl-C stops cleanly: {status:?}\n{stderr}"
    );
    assert!(
        stdout.contains(&base) && stdout.contains("/users/me") && stdout.contains("users.redb"),
        "{stdout}"
    );
    assert!(
        stderr.contains("POST /auth/login 200") && stderr.contains("GET /users/me 401"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&access) && !stderr.contains(PASSWORD),
        "logs never hold tokens or passwords"
    );

    let server = Server::start(data.path(), &[]);
    let (status, _) = post_json(&server.base, "/auth/login", alice);
    assert_eq!(status, 200, "the user survived the restart");
    let (status, _) = me(&server.base, Some(&format!("Bearer {access}")));
    assert_eq!(status, 200, "the signing key survived the restart");
}

#[test]
fn users_are_administered_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = authgate(
        &[
            "user",
            "create",
            "--email",
            "root@example.com",
            "--superuser",
        ],
        data.path(),
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}");
    assert!(out.contains("created superuser"), "{out}");
    let (ok, out) = authgate(
        &[
            "user",
            "update",
            "root@example.com",
            "--add-role",
            "editor",
            "--roles",
            r#"{"editor": ["items:write"]}"#,
            "--claims",
            r#"{"foo": ["fiz", "baz"]}"#,
        ],
        data.path(),
        "",
    );
    assert!(ok && out.contains("roles [admin, editor]"), "{out}");
    let (ok, out) = authgate(
        &["user", "update", "root@example.com", "--add-role", "ghost"],
        data.path(),
        "",
    );
    assert!(
        !ok && out.contains("role \"ghost\" is not defined"),
        "{out}"
    );
    let (ok, out) = authgate(
        &[
            "user",
            "update",
            "root@example.com",
            "--claims",
            r#"{"sub": "someone-else"}"#,
        ],
        data.path(),
        "",
    );
    assert!(!ok && out.contains("reserved claim"), "{out}");
    let (ok, out) = authgate(
        &["user", "create", "--email", "short@example.com"],
        data.path(),
        "short\n",
    );
    assert!(!ok && out.contains("at least 8 characters"), "{out}");

    let server = Server::start(data.path(), &[]);
    let (status, body) = login_form(&server.base, "root@example.com", PASSWORD);
    assert_eq!(
        status, 200,
        "the superuser made from the command line can log in"
    );
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["roles"],
        json!(["admin"]),
        "serve has no editor role defined: it is neither named nor grants anything"
    );
    assert_eq!(
        claims["scope"],
        "clients:read clients:write users:read users:roles users:write"
    );
    assert_eq!(
        claims["foo"],
        json!(["fiz", "baz"]),
        "custom claims at top level"
    );
    let (ok, out) = authgate(&["user", "list"], data.path(), "");
    assert!(
        !ok && out.contains("stop it first"),
        "the store is busy while serve runs: {out}"
    );
    drop(server);

    let (ok, out) = authgate(&["user", "list"], data.path(), "");
    assert!(
        ok && out.contains("root@example.com")
            && out.contains("admin,editor")
            && out.contains("1 user(s)"),
        "{out}"
    );
    let (ok, out) = authgate(&["user", "disable", "root@example.com"], data.path(), "");
    assert!(ok, "{out}");
    let server = Server::start(data.path(), &[]);
    let (status, _) = login_form(&server.base, "root@example.com", PASSWORD);
    assert_eq!(status, 401, "a disabled user cannot log in");
    drop(server);

    let (ok, out) = authgate(&["user", "enable", "root@example.com"], data.path(), "");
    assert!(ok, "{out}");
    let server = Server::start(data.path(), &[]);
    let (status, _) = post_json(
        &server.base,
        "/auth/refresh",
        json!({"refresh_token": body["refresh_token"]}),
    );
    assert_eq!(
        status, 401,
        "enabling again does not revive the sessions disabling ended"
    );
    let (status, _) = login_form(&server.base, "root@example.com", PASSWORD);
    assert_eq!(status, 200, "a new login works");
}

#[test]
fn token_decode_shows_claims_and_checks_the_signature_with_the_local_key() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    post_json(
        &server.base,
        "/auth/register",
        json!({"email": "dec@example.com", "password": PASSWORD}),
    );
    let (_, token) = login_form(&server.base, "dec@example.com", PASSWORD);
    drop(server);
    let token = token["access_token"].as_str().unwrap();
    let (ok, out) = authgate(&["token", "decode", token], data.path(), "");
    assert!(ok, "{out}");
    assert!(
        out.contains("\"typ\": \"at+jwt\"")
            && out.contains("dec@example.com")
            && out.contains("signature: valid"),
        "{out}"
    );
    let other = tempfile::tempdir().unwrap();
    let (ok, out) = authgate(&["token", "decode", token], other.path(), "");
    assert!(ok && out.contains("signature: not checked"), "{out}");
    for args in [&["token", "decode"][..], &["token", "decode", "-"][..]] {
        let (ok, out) = authgate(args, data.path(), &format!("Bearer {token}\n"));
        assert!(
            ok && out.contains("dec@example.com") && out.contains("signature: valid"),
            "{args:?} reads the token from stdin: {out}"
        );
    }
}

#[test]
fn serve_uses_dynamodb_and_secrets_manager_when_given_endpoints() {
    let dynamodb = &authgate_testkit::dynamodb_local().endpoint;
    let moto = &authgate_testkit::moto().endpoint;
    let table = authgate_testkit::unique_name("serve-users");
    let secret = authgate_testkit::unique_name("serve-key");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &[
            "--dynamodb-endpoint",
            dynamodb,
            "--users-table",
            &table,
            "--secrets-endpoint",
            moto,
            "--signing-secret",
            &secret,
        ],
    );
    let (status, _) = post_json(
        &server.base,
        "/auth/register",
        json!({"email": "dyn@example.com", "password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let (status, token) = login_form(&server.base, "dyn@example.com", PASSWORD);
    assert_eq!(status, 200);
    let (status, body) = me(
        &server.base,
        Some(&format!(
            "Bearer {}",
            token["access_token"].as_str().unwrap()
        )),
    );
    assert_eq!(status, 200, "{body}");
    let (_, stdout, _) = server.interrupt();
    assert!(
        stdout.contains(&format!("DynamoDB table {table} at {dynamodb}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("secret {secret} at {moto}")),
        "{stdout}"
    );
    assert!(
        !data.path().join("users.redb").exists(),
        "the embedded store was not used"
    );
}

fn post_bearer(base: &str, path: &str, access: &str) -> u16 {
    let response = agent()
        .post(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {access}"))
        .send_empty()
        .unwrap();
    response.status().as_u16()
}

#[test]
fn refresh_and_logout_over_http_with_the_authorizer_cache_off() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--authorizer-cache-ttl", "0"]);
    let base = server.base.clone();
    let creds = json!({"email": "sess@example.com", "password": PASSWORD});
    assert_eq!(post_json(&base, "/auth/register", creds.clone()).0, 201);
    let (_, pair) = post_json(&base, "/auth/login", creds.clone());
    let refresh = pair["refresh_token"].as_str().unwrap();

    let (status, rotated) = post_json(&base, "/auth/refresh", json!({"refresh_token": refresh}));
    assert_eq!(status, 200, "{rotated}");
    let access = rotated["access_token"].as_str().unwrap();
    assert_eq!(me(&base, Some(&format!("Bearer {access}"))).0, 200);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rotated["refresh_token"].as_str().unwrap()),
    ];
    let (status, rotated) = read(
        agent()
            .post(format!("{base}/auth/refresh"))
            .send_form(form)
            .unwrap(),
    );
    assert_eq!(status, 200, "{rotated}");
    let access = rotated["access_token"].as_str().unwrap();

    assert_eq!(post_bearer(&base, "/auth/logout", access), 204);
    assert_eq!(
        me(&base, Some(&format!("Bearer {access}"))).0,
        401,
        "logged out at once: no cache"
    );
    let (status, body) = post_json(
        &base,
        "/auth/refresh",
        json!({"refresh_token": rotated["refresh_token"]}),
    );
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Invalid or expired refresh token"}))
    );

    // Two sessions, then logout-all from one of them ends both.
    let (_, one) = post_json(&base, "/auth/login", creds.clone());
    let (_, two) = post_json(&base, "/auth/login", creds);
    let (one, two) = (
        one["access_token"].as_str().unwrap(),
        two["access_token"].as_str().unwrap(),
    );
    assert_eq!(post_bearer(&base, "/auth/logout-all", one), 204);
    assert_eq!(me(&base, Some(&format!("Bearer {one}"))).0, 401);
    assert_eq!(me(&base, Some(&format!("Bearer {two}"))).0, 401);
}

#[test]
fn a_cached_authorizer_decision_outlives_logout_until_its_ttl() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--authorizer-cache-ttl", "300"]);
    let base = server.base.clone();
    let creds = json!({"email": "cache@example.com", "password": PASSWORD});
    post_json(&base, "/auth/register", creds.clone());
    let (_, pair) = post_json(&base, "/auth/login", creds);
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(
        me(&base, Some(&format!("Bearer {access}"))).0,
        200,
        "this caches the Allow policy"
    );
    assert_eq!(post_bearer(&base, "/auth/logout", access), 204);
    // What API Gateway does too: the cached policy is reused, so the access token passes until the
    // TTL ends; `/users/me` itself then checks nothing further. The refresh token is dead at once.
    assert_eq!(me(&base, Some(&format!("Bearer {access}"))).0, 200);
    let (status, _) = post_json(
        &base,
        "/auth/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    );
    assert_eq!(status, 401);
}

#[tokio::test]
async fn token_decode_never_creates_a_secret() {
    let moto = authgate_testkit::moto().endpoint.clone();
    let secret = authgate_testkit::unique_name("never-created");
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_owned();
    let args = [
        "token",
        "decode",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
        "--secrets-endpoint",
        moto.as_str(),
        "--signing-secret",
        secret.as_str(),
    ]
    .map(str::to_owned);
    let (ok, out) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        authgate(&args, &path, "")
    })
    .await
    .unwrap();
    assert!(ok && out.contains("signature: not checked"), "{out}");
    let client = authgate_testkit::secrets_client().await;
    let described = client.describe_secret().secret_id(&secret).send().await;
    assert!(described.is_err(), "token decode created secret {secret}");
}

#[tokio::test]
async fn serve_creates_a_secret_with_the_signing_algorithm_it_is_given() {
    let moto = authgate_testkit::moto().endpoint.clone();
    let secret = authgate_testkit::unique_name("eddsa-key");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &[
            "--secrets-endpoint",
            &moto,
            "--signing-secret",
            &secret,
            "--signing-algorithm",
            "EdDSA",
        ],
    );
    let jwks: Value = tokio::task::spawn_blocking({
        let base = server.base.clone();
        move || {
            read(
                agent()
                    .get(format!("{base}/.well-known/jwks.json"))
                    .call()
                    .unwrap(),
            )
            .1
        }
    })
    .await
    .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA", "{jwks}");
    let value = authgate_testkit::secrets_client()
        .await
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .unwrap();
    let stored: Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    assert_eq!(stored["alg"], "EdDSA");
}

/// `method path` with a bearer token and an optional JSON body.
fn bearer(method: &str, base: &str, path: &str, access: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{base}{path}");
    let auth = format!("Bearer {access}");
    let response = match (method, body) {
        ("GET", _) => agent().get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent().delete(&url).header("Authorization", &auth).call(),
        ("PATCH", Some(body)) => agent()
            .patch(&url)
            .header("Authorization", &auth)
            .send_json(body),
        other => panic!("unsupported {other:?}"),
    };
    read(response.unwrap())
}

#[test]
fn the_admin_api_over_http_admin_and_plain_users_and_a_deleted_user() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = authgate(
        &[
            "user",
            "create",
            "--email",
            "root@example.com",
            "--superuser",
        ],
        data.path(),
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}");
    let server = Server::start(data.path(), &["--authorizer-cache-ttl", "0"]);
    let base = server.base.clone();
    let alice = json!({"email": "alice@example.com", "password": PASSWORD});
    let (status, registered) = post_json(&base, "/auth/register", alice.clone());
    assert_eq!(status, 201);
    let alice_id = registered["id"].as_str().unwrap().to_owned();
    let (_, root) = login_form(&base, "root@example.com", PASSWORD);
    let root = root["access_token"].as_str().unwrap().to_owned();
    let (_, pair) = post_json(&base, "/auth/login", alice.clone());
    let plain = pair["access_token"].as_str().unwrap().to_owned();

    // A plain user: 403 with a JSON detail on every admin route, from the gateway.
    for (method, path) in [
        ("GET", "/users".to_owned()),
        ("GET", format!("/users/{alice_id}")),
        ("DELETE", format!("/users/{alice_id}")),
    ] {
        let (status, body) = bearer(method, &base, &path, &plain, None);
        assert_eq!(
            (status, body),
            (403, json!({"detail": "Not enough permissions"})),
            "{method} {path}"
        );
    }
    let (status, _) = bearer("GET", &base, "/users/me", &plain, None);
    assert_eq!(status, 200, "/users/me stays open to any valid token");

    // The administrator: lists, reads, sets a claim; the next refresh of alice carries it.
    let (status, page) = bearer("GET", &base, "/users?limit=10", &root, None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    let (status, patched) = bearer(
        "PATCH",
        &base,
        &format!("/users/{alice_id}"),
        &root,
        Some(json!({"claims": {"foo": ["fiz", "baz"]}})),
    );
    assert_eq!(status, 200, "{patched}");
    let (status, refreshed) = post_json(
        &base,
        "/auth/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    );
    assert_eq!(status, 200, "{refreshed}");
    let claims = payload(refreshed["access_token"].as_str().unwrap());
    assert_eq!(claims["foo"], json!(["fiz", "baz"]));

    // Deleted: alice can no longer log in, and her email is free again.
    let (status, _) = bearer("DELETE", &base, &format!("/users/{alice_id}"), &root, None);
    assert_eq!(status, 204);
    let (status, _) = post_json(&base, "/auth/login", alice.clone());
    assert_eq!(status, 401, "a deleted user cannot log in");
    let (status, _) = bearer(
        "GET",
        &base,
        "/users/me",
        refreshed["access_token"].as_str().unwrap(),
        None,
    );
    assert_eq!(status, 401, "nor use a token issued before");
    let (status, _) = post_json(&base, "/auth/register", alice);
    assert_eq!(status, 201, "the email registers again");
}

/// The token in the newest message under `<data>/mail` whose subject is `subject`.
fn mailed_token(data: &Path, subject: &str) -> String {
    let mut messages: Vec<_> = std::fs::read_dir(data.join("mail"))
        .expect("serve writes mail under <data dir>/mail")
        .map(|entry| entry.unwrap().path())
        .collect();
    messages.sort();
    let text = messages
        .iter()
        .rev()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .find(|text| text.contains(&format!("\r\nSubject: {subject}\r\n")))
        .unwrap_or_else(|| panic!("no message {subject:?} in {messages:?}"));
    let start = text.find("token=").expect("a link") + "token=".len();
    text[start..start + 43].to_owned()
}

#[test]
fn forgot_reset_and_verify_over_http_with_the_mail_read_from_the_mail_folder() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let base = server.base.clone();
    let alice = json!({"email": "alice@example.com", "password": PASSWORD});
    assert_eq!(post_json(&base, "/auth/register", alice.clone()).0, 201);
    let (_, first) = post_json(&base, "/auth/login", alice.clone());

    for path in ["/auth/forgot-password", "/auth/request-verify-token"] {
        for email in ["alice@example.com", "nobody@example.com"] {
            let (status, body) = post_json(&base, path, json!({"email": email}));
            assert_eq!((status, body), (202, Value::Null), "{path} {email}");
        }
    }
    let files = std::fs::read_dir(data.path().join("mail")).unwrap().count();
    assert_eq!(
        files, 2,
        "one reset and one verification mail, both to alice"
    );

    let verify = mailed_token(data.path(), "Verify your email address");
    let (status, user) = post_json(&base, "/auth/verify", json!({"token": verify}));
    assert_eq!((status, user["email_verified"].clone()), (200, json!(true)));
    let (status, again) = post_json(&base, "/auth/verify", json!({"token": verify}));
    assert_eq!(
        (status, again),
        (400, json!({"detail": "Invalid, used or expired token"}))
    );

    let reset = mailed_token(data.path(), "Reset your password");
    let (status, _) = post_json(
        &base,
        "/auth/reset-password",
        json!({"token": reset, "password": "a brand new passphrase"}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        post_json(&base, "/auth/login", alice).0,
        401,
        "the old password"
    );
    let (status, tokens) = post_json(
        &base,
        "/auth/login",
        json!({"email": "alice@example.com", "password": "a brand new passphrase"}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["email_verified"],
        true
    );
    let (status, _) = post_json(
        &base,
        "/auth/refresh",
        json!({"refresh_token": first["refresh_token"]}),
    );
    assert_eq!(status, 401, "the reset ended the session from before it");
    drop(server);
}

#[test]
fn guessing_is_throttled_and_common_passwords_refused_over_http() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--login-failures-before-delay", "2"]);
    let base = server.base.clone();
    let (status, body) = post_json(
        &base,
        "/auth/register",
        json!({"email": "alice@example.com", "password": "password123"}),
    );
    assert_eq!(status, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("too common"),
        "{body}"
    );
    let alice = json!({"email": "alice@example.com", "password": PASSWORD});
    assert_eq!(post_json(&base, "/auth/register", alice.clone()).0, 201);
    for _ in 0..2 {
        let wrong = json!({"email": "alice@example.com", "password": "not the password"});
        assert_eq!(post_json(&base, "/auth/login", wrong).0, 401);
    }
    let response = agent()
        .post(format!("{base}/auth/login"))
        .send_json(alice.clone())
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        429,
        "even the right password waits"
    );
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1);
    let (_, body) = read(response);
    assert_eq!(
        body["detail"],
        "Too many failed login attempts; try again later"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let (status, tokens) = post_json(&base, "/auth/login", alice);
    assert_eq!(status, 200);
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["email_verified"],
        false
    );
    drop(server);
}

/// A store that stops answering: each request is answered within the SDK's time limits (never
/// held for as long as the store stalls), login with an opaque 503 that says when to retry, a
/// protected route refused by the authorizer (failing closed), and both logged as errors; when
/// the store answers again, so does everything.
#[test]
fn a_stalled_dynamodb_is_a_503_with_retry_after_and_the_authorizer_fails_closed() {
    let dynamodb = authgate_testkit::own_dynamodb_local();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &[
            "--dynamodb-endpoint",
            &dynamodb.endpoint,
            "--authorizer-cache-ttl",
            "0",
        ],
    );
    let email = "stall@example.com";
    let (status, _) = post_json(
        &server.base,
        "/auth/register",
        json!({"email": email, "password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let (status, body) = login_form(&server.base, email, PASSWORD);
    assert_eq!(status, 200);
    let bearer = format!("Bearer {}", body["access_token"].as_str().unwrap());

    dynamodb.freeze();
    let started = std::time::Instant::now();
    let response = agent()
        .post(format!("{}/auth/login", server.base))
        .send_form([
            ("grant_type", "password"),
            ("username", email),
            ("password", PASSWORD),
        ])
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = read(response);
    let (me_status, _) = me(&server.base, Some(&bearer));
    let waited = started.elapsed();
    dynamodb.thaw();

    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("5"));
    assert_eq!(body["detail"], authgate_http::SERVICE_UNAVAILABLE);
    assert_eq!(me_status, 401, "the authorizer fails closed");
    // Answered, not held: within the two requests' operation time limits, far below the
    // functions' 10-second timeout each.
    assert!(
        waited < 2 * authgate_runtime::AWS_OPERATION_TIMEOUT + Duration::from_secs(2),
        "{waited:?}"
    );
    let (status, _) = login_form(&server.base, email, PASSWORD);
    assert_eq!(status, 200, "answers again once the store does");
    let (_, _, log) = server.interrupt();
    assert!(
        log.contains("ERROR") && log.contains("did not answer in time"),
        "{log}"
    );
}

#[test]
fn an_api_key_made_over_http_lists_users_until_revoked_and_never_makes_keys() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = authgate(
        &[
            "user",
            "create",
            "--email",
            "root@example.com",
            "--superuser",
        ],
        data.path(),
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}");
    let server = Server::start(data.path(), &["--authorizer-cache-ttl", "0"]);
    let base = server.base.clone();
    let (status, pair) = login_form(&base, "root@example.com", PASSWORD);
    assert_eq!(status, 200, "{pair}");
    let bearer = format!("Bearer {}", pair["access_token"].as_str().unwrap());
    let (status, made) = read(
        agent()
            .post(format!("{base}/users/me/api-keys"))
            .header("Authorization", &bearer)
            .send_json(json!({"name": "nightly", "scopes": ["users:read"], "expires_in_days": 7}))
            .unwrap(),
    );
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    let with_key = format!("Bearer {key}");
    let get = |path: &str, authorization: &str| {
        read(
            agent()
                .get(format!("{base}{path}"))
                .header("Authorization", authorization)
                .call()
                .unwrap(),
        )
    };
    let (status, users) = get("/users", &with_key);
    assert_eq!(status, 200, "the key's users:read: {users}");
    let root = users["users"][0]["id"].as_str().unwrap().to_owned();
    let (status, keys) = get(&format!("/users/{root}/api-keys"), &bearer);
    assert_eq!((status, keys[0]["name"].clone()), (200, json!("nightly")));
    let (status, _) = get(&format!("/users/{root}/api-keys"), &with_key);
    assert_eq!(
        status, 403,
        "users:read alone manages no administrator, not even the key's own user"
    );
    let (status, _) = read(
        agent()
            .delete(format!("{base}/users/{root}"))
            .header("Authorization", &with_key)
            .call()
            .unwrap(),
    );
    assert_eq!(status, 403, "users:write is not among the key's scopes");
    let (status, body) = read(
        agent()
            .post(format!("{base}/users/me/api-keys"))
            .header("Authorization", &with_key)
            .send_json(json!({"name": "child"}))
            .unwrap(),
    );
    assert_eq!(status, 403, "a key makes no keys: {body}");
    let (status, _) = me(&base, Some(&format!("Bearer agk_{}", "0".repeat(104))));
    assert_eq!(status, 401, "a made-up key");

    let id = made["id"].as_str().unwrap();
    let (status, _) = read(
        agent()
            .delete(format!("{base}/users/me/api-keys/{id}"))
            .header("Authorization", &bearer)
            .call()
            .unwrap(),
    );
    assert_eq!(status, 204);
    let (status, _) = get("/users", &with_key);
    assert_eq!(status, 401, "a revoked key");
    let (_, out, err) = server.interrupt();
    assert!(
        !out.contains(&key) && !err.contains(&key),
        "the key is never logged"
    );
}
