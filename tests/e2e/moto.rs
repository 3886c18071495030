//! A moto server on a free loopback port, started for the tests that need real AWS APIs.
//!
//! The server is `moto_server` from the project's virtualenv (`.venv`, made by `tests/run.sh`),
//! or the one `TRAILRELAY_MOTO_SERVER` names.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

/// A running moto server; stopped when dropped.
pub(crate) struct Moto {
    child: Child,
    pub(crate) endpoint: String,
}

impl Moto {
    pub(crate) fn start() -> Self {
        let program = std::env::var_os("TRAILRELAY_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::support::workspace().join(".venv/bin/moto_server"));
        assert!(
            program.exists(),
            "{} is missing: run tests/run.sh, which installs moto[server] into .venv",
            program.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while !moto.ready(port) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn ready(&self, port: u16) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        let mut reply = Vec::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_end(&mut reply).is_ok()
            && reply.starts_with(b"HTTP/1.")
    }
}

/// SDK configuration for an endpoint on loopback: static test credentials, us-east-1.
pub(crate) async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(trailrelay::aws::http_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(trailrelay::aws::SDK_MAX_ATTEMPTS),
        )
        .load()
        .await
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
