//! The README's quick start, tour and machine-to-machine example, run verbatim: its serve command
//! must be the one this test runs, and every curl and HTTPie command after it must work against
//! that server. Only the port changes, from 3000 to a free one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::Server;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The ```sh blocks between the README's `<!-- {name}:begin -->` and `<!-- {name}:end -->`.
fn sh_blocks(name: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme
        .find(&format!("<!-- {name}:begin -->"))
        .unwrap_or_else(|| panic!("README has the {name} begin marker"));
    let end = readme
        .find(&format!("<!-- {name}:end -->"))
        .unwrap_or_else(|| panic!("README has the {name} end marker"));
    readme[start..end]
        .split("```sh\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_owned())
        .collect()
}

#[test]
fn readme_quick_start_works_verbatim() {
    let blocks = sh_blocks("quickstart");
    assert_eq!(
        blocks[0].trim(),
        "cargo run -p authgate -- serve",
        "the README's serve command"
    );
    assert!(blocks.len() >= 3, "curl and HTTPie blocks follow");

    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let port = server.port;

    let script =
        format!("set -euo pipefail\n{}", blocks[1..].join("\n")).replace("3000", &port.to_string());
    let venv = workspace().join(".tools/venv/bin");
    let script_file = data.path().join("quick-start.sh");
    std::fs::write(&script_file, &script).unwrap();
    // Under a pseudo-terminal, as a user types them: HTTPie reads a request body from any stdin
    // that is not a terminal.
    let output = Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(format!("bash {}", script_file.display()))
        .arg("/dev/null")
        .env(
            "PATH",
            format!(
                "{}:{}",
                venv.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HTTPIE_CONFIG_DIR", data.path().join("httpie"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "quick start failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Register and /users/me each show alice (curl) and bob (HTTPie), /users/me with the claims.
    assert!(stdout.matches("alice@example.com").count() >= 3, "{stdout}");
    assert!(stdout.matches("bob@example.com").count() >= 3, "{stdout}");
    assert_eq!(stdout.matches("\"claims\"").count(), 2, "{stdout}");
    assert!(!stdout.contains("detail"), "no request failed: {stdout}");
}

#[test]
fn readme_tour_works_verbatim_against_serve() {
    let blocks = sh_blocks("tour");
    assert_eq!(blocks.len(), 1, "one block of requests");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let script = format!(
        "set -euo pipefail\nAPI=http://127.0.0.1:{}\n{}",
        server.port, blocks[0]
    );
    let output = Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tour failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Register shows alice once and /users/me twice (the user and its claims), refresh answers a
    // new pair, the JWKS has a key.
    assert_eq!(stdout.matches("alice@example.com").count(), 3, "{stdout}");
    assert_eq!(stdout.matches("\"refresh_token\"").count(), 1, "{stdout}");
    assert!(stdout.contains("\"keys\":[{"), "{stdout}");
    assert!(!stdout.contains("detail"), "no request failed: {stdout}");
}

#[test]
fn readme_machine_to_machine_example_works_verbatim() {
    let blocks = sh_blocks("m2m");
    assert_eq!(blocks.len(), 3, "create, serve, token");
    assert_eq!(blocks[1].trim(), "cargo run -p authgate -- serve");
    let cli = "cargo run -q -p authgate --";
    assert!(blocks[0].contains(cli), "{}", blocks[0]);
    let data = tempfile::tempdir().unwrap();
    let created = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -euo pipefail\n{}\necho \"$CLIENT\"",
                blocks[0].replace(cli, env!("CARGO_BIN_EXE_authgate"))
            ),
        ])
        .env("AUTHGATE_DATA_DIR", data.path())
        .env_remove("USERS_TABLE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let client = String::from_utf8_lossy(&created.stdout).into_owned();

    let server = Server::start(data.path(), &[]);
    let script = format!(
        "set -euo pipefail\nCLIENT={}\n{}",
        shell_quote(&client),
        blocks[2].replace("3000", &server.port.to_string())
    );
    let output = Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let token: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(token["scope"], "items:read", "{stdout}");
    assert!(
        token["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
}

/// `text` as one single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
