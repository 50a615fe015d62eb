//! Starting and stopping `authgate serve` as a separate process, for the CLI's tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running `authgate serve` on a free port, killed if the test ends without stopping it. Its
/// stdout and stderr are read as it writes them, so a chatty server never blocks on a full pipe.
pub struct Server {
    child: Option<Child>,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The port it listens on.
    pub port: u16,
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Server {
    /// Starts `authgate serve --port P --data-dir DIR ARGS...` and waits until it listens.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        let port = authgate_testkit::free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_authgate"))
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_remove("USERS_TABLE")
            .env_remove("SIGNING_KEY_SECRET_ID")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let mut server = Self {
            child: Some(child),
            stdout: Some(stdout),
            stderr: Some(stderr),
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            if server.child.as_mut().unwrap().try_wait().unwrap().is_some() {
                let (status, out, err) = server.wait();
                panic!("authgate serve exited with {status}:\n{out}\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "authgate serve did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Waits for the exit; the status, and everything written to stdout and stderr.
    fn wait(&mut self) -> (ExitStatus, String, String) {
        let status = self.child.take().unwrap().wait().unwrap();
        let out = self.stdout.take().unwrap().join().unwrap();
        let err = self.stderr.take().unwrap().join().unwrap();
        (status, out, err)
    }

    /// Ctrl-C, then the exit status, stdout and stderr.
    pub fn interrupt(mut self) -> (ExitStatus, String, String) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
