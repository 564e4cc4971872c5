//! A moto server (the AWS emulator) on a free 127.0.0.1 port, killed on drop, and SDK clients
//! pointed at it.

use egress_audit_aws::sdk::ec2;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
    log: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn python_has_moto_server() -> bool {
    Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `moto_server` from PATH, else `python3 -m moto.server`; installs `moto[server]` with pip when
/// neither is there (CI installs it first; this keeps a fresh checkout's `cargo test` working).
fn moto_command() -> Command {
    if let Some(bin) = on_path("moto_server") {
        return Command::new(bin);
    }
    if !python_has_moto_server() {
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "moto[server]"])
            .status();
    }
    assert!(
        python_has_moto_server(),
        "moto is needed for these tests: `python3 -m pip install 'moto[server]'`"
    );
    let mut c = Command::new("python3");
    c.args(["-m", "moto.server"]);
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Whether moto answers an HTTP request on `port`.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("moto-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("moto log file");
        let child = moto_command()
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("starting moto_server");
        let mut moto = Moto {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers(port) {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited ({status}): {}", moto.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 60 s: {}",
                moto.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An EC2 client of the real SDK, pointed at this server.
    pub fn ec2(&self, region: &str) -> ec2::Client {
        ec2_client(&self.endpoint, region)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

pub fn ec2_client(endpoint: &str, region: &str) -> ec2::Client {
    let conf = ec2::Config::builder()
        .behavior_version(ec2::config::BehaviorVersion::latest())
        .region(ec2::config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(ec2::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .http_client(egress_audit_aws::sdk::http_client())
        .build();
    ec2::Client::from_conf(conf)
}

/// Environment for the egress-audit binary: the SDK's default chain finds test keys and the
/// endpoint, and nothing from the developer's own AWS setup leaks in.
pub fn aws_env(cmd: &mut Command, endpoint: &str, region: &str) {
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_DEFAULT_REGION",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", region)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/egress-audit-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/egress-audit-test/credentials",
        );
}
