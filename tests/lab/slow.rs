//! `probe` against responders that are slow or silent (issue 12 §4): one that delays its answer
//! while it has many connections open (a loaded server, or a sweep on a busy machine), and a
//! tarpit that accepts and never answers. Both sit outside behind TPROXY.

use super::{enter, unavailable, Lab, OUTSIDE_ADDR};
use serde_json::Value;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A transparent listener on 0.0.0.0:`port` (IP_TRANSPARENT before the bind, for TPROXY).
fn transparent_listener(port: u16) -> std::net::TcpListener {
    // SAFETY: a new socket (checked) owned at once by the listener; int options and a
    // sockaddr_in of the sizes given.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let l = std::net::TcpListener::from_raw_fd(fd);
        let one: libc::c_int = 1;
        for (level, opt) in [
            (libc::SOL_IP, libc::IP_TRANSPARENT),
            (libc::SOL_SOCKET, libc::SO_REUSEADDR),
        ] {
            let rc = libc::setsockopt(
                fd,
                level,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
        }
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = port.to_be();
        let rc = libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        assert_eq!(libc::listen(fd, 4096), 0);
        l
    }
}

/// How the responder behaves.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers the token at once while at most `calm` connections are open, else after `delay`;
    /// also after `delay` the first time a port is dialled in the first [`FIRST_CONTACT`] after
    /// the first connection: on a machine so busy that the sweep never has `calm` connections
    /// open at once, the sweep still meets a slow responder (and the re-test, a second contact,
    /// a prompt one).
    SlowUnderLoad { calm: usize, delay: Duration },
    /// Accepts, reads, and never answers.
    Tarpit,
}

/// How long after its first connection a responder answers each port's first contact late.
const FIRST_CONTACT: Duration = Duration::from_secs(2);

/// What a responder's connections share.
#[derive(Default)]
struct Seen {
    open: AtomicUsize,
    first: std::sync::OnceLock<std::time::Instant>,
    ports: std::sync::Mutex<std::collections::HashSet<u16>>,
}

impl Seen {
    /// Whether this is the first contact with `port` early in the run.
    fn early_first_contact(&self, port: u16) -> bool {
        let first = *self.first.get_or_init(std::time::Instant::now);
        let new = self.ports.lock().unwrap().insert(port);
        new && first.elapsed() < FIRST_CONTACT
    }
}

impl Lab {
    /// A responder on `port` in the outside namespace, every tcp port in `ports` (an nft range
    /// such as `20001-21500`) sent to it by TPROXY.
    pub fn slow_responder(&self, table: &str, ports: &str, port: u16, how: Behaviour) {
        self.nft(
            &self.outside,
            &format!(
                "table ip {table} {{\n chain pre {{\n type filter hook prerouting priority mangle; \
                 policy accept;\n tcp dport {ports} tproxy to :{port}\n }}\n}}\n"
            ),
        );
        let ns = self.outside.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let std_listener = transparent_listener(port);
            std_listener.set_nonblocking(true).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(std_listener).unwrap();
                tx.send(()).unwrap();
                let seen = Arc::new(Seen::default());
                while let Ok((s, _)) = l.accept().await {
                    tokio::spawn(respond(s, seen.clone(), how));
                }
            });
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("responder ready");
    }
}

async fn respond(mut s: tokio::net::TcpStream, seen: Arc<Seen>, how: Behaviour) {
    let open = &seen.open;
    let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
    // Behind TPROXY the local port is the one dialled.
    let dialled = s.local_addr().map_or(0, |a| a.port());
    let early = seen.early_first_contact(dialled);
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    let complete = tokio::time::timeout(Duration::from_secs(3), read_head)
        .await
        .unwrap_or(false);
    let wait = match how {
        Behaviour::SlowUnderLoad { calm, delay } if now_open > calm || early => Some(delay),
        Behaviour::SlowUnderLoad { .. } => None,
        Behaviour::Tarpit => Some(Duration::from_secs(30)),
    };
    if complete {
        let answer = match wait {
            // Held until the delay is over or the client gives up, whichever comes first.
            Some(d) => tokio::select! {
                _ = tokio::time::sleep(d) => true,
                _ = s.read(&mut buf) => false,
            },
            None => true,
        };
        if answer {
            let _ = s
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nw00tw00t",
                )
                .await;
        }
    }
    open.fetch_sub(1, Ordering::SeqCst);
}

fn sweep(lab: &Lab, ports: &str) -> (Value, Duration) {
    let t0 = Instant::now();
    let (code, out, err) = lab.run_inside(&[
        "probe",
        "--target",
        OUTSIDE_ADDR,
        "-f",
        "json",
        "-q",
        "--tcp-only",
        "--no-metadata",
        "--ports",
        ports,
        "--timeout",
        "300ms",
        "--concurrency",
        "500",
    ]);
    assert_eq!(code, 0, "probe failed: {err}\n{out}");
    (serde_json::from_str(&out).unwrap(), t0.elapsed())
}

/// A responder that answers after 1.5 s while more than 100 connections are open: under the
/// sweep's 500 in flight most ports are silent past the 1 s answer timeout; the re-test (62 in
/// flight) finds every one of them open, and the result says so.
#[test]
fn slow_responder_under_load_is_not_called_intercepted() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    let how = Behaviour::SlowUnderLoad {
        calm: 100,
        delay: Duration::from_millis(1500),
    };
    lab.slow_responder("slow", "20001-21500", 8500, how);
    let (v, took) = sweep(&lab, "20001-21500");
    let tcp = &v["tcp"];
    let s = &tcp["silent_retest"];
    assert!(
        s["ports"].as_u64().unwrap() > 0,
        "the load made ports silent: {s}"
    );
    assert_eq!(s["open"], s["ports"], "{s}");
    assert_eq!(s["skipped"], 0, "{s}");
    assert_eq!(s["concurrency"], 62, "{s}");
    assert_eq!(tcp["open"], serde_json::json!([[20001, 21500]]), "{tcp}");
    assert_eq!(tcp["intercepted"], serde_json::json!([]), "{tcp}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// A tarpit: the first round of the re-test stays silent, so the rest is not re-tested; all
/// ports are intercepted, and the whole probe stays short.
#[test]
fn tarpit_retest_stops_after_one_round() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    lab.slow_responder("tarpit", "22001-22200", 8501, Behaviour::Tarpit);
    let (v, took) = sweep(&lab, "22001-22200");
    let tcp = &v["tcp"];
    assert_eq!(
        tcp["intercepted"],
        serde_json::json!([[22001, 22200]]),
        "{tcp}"
    );
    let s = &tcp["silent_retest"];
    assert_eq!(
        (s["ports"].as_u64(), s["open"].as_u64()),
        (Some(62), Some(0)),
        "{s}"
    );
    assert_eq!(s["skipped"], 138, "{s}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
