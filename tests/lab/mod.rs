//! A two-namespace network lab for probe tests: `inside` (where the probe runs, behind an
//! nftables egress firewall) and `outside` (where `egress-audit serve` answers), joined by a veth
//! pair. Everything is torn down when the [`Lab`] is dropped, even when a test fails.

#![allow(dead_code)]

pub mod abuse;
pub mod metadata;
pub mod resolvers;
pub mod slow;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const INSIDE_ADDR: &str = "10.213.0.1";
pub const OUTSIDE_ADDR: &str = "10.213.0.2";
pub const INSIDE_ADDR6: &str = "fd00:213::1";
pub const OUTSIDE_ADDR6: &str = "fd00:213::2";

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Why the lab cannot be built here, if it cannot (not root, no `ip`).
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: network namespaces need root".into());
    }
    let ip = Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !ip.map(|s| s.success()).unwrap_or(false) {
        return Some("no `ip` command (apt-get install iproute2)".into());
    }
    None
}

pub struct Lab {
    pub inside: String,
    pub outside: String,
    children: Vec<Child>,
}

/// Runs a command, panicking with its stderr when it fails.
pub fn sh(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stdin.unwrap_or("")
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Lab {
    /// Two namespaces joined by a veth pair, with unique names (pid + sequence) so that tests
    /// running in parallel do not clash.
    pub fn new() -> Lab {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let lab = Lab {
            inside: format!("ea-in-{pid}-{n}"),
            outside: format!("ea-out-{pid}-{n}"),
            children: Vec::new(),
        };
        // Interface names are at most 15 characters.
        let tag = format!("{}{n}", pid % 1_000_000);
        let (vi, vo) = (format!("eai{tag}"), format!("eao{tag}"));
        sh(&["ip", "netns", "add", &lab.inside], None);
        sh(&["ip", "netns", "add", &lab.outside], None);
        sh(
            &[
                "ip",
                "link",
                "add",
                &vi,
                "netns",
                &lab.inside,
                "type",
                "veth",
                "peer",
                "name",
                &vo,
                "netns",
                &lab.outside,
            ],
            None,
        );
        for (ns, dev, addr, addr6) in [
            (&lab.inside, &vi, INSIDE_ADDR, INSIDE_ADDR6),
            (&lab.outside, &vo, OUTSIDE_ADDR, OUTSIDE_ADDR6),
        ] {
            sh(
                &[
                    "ip",
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{addr}/24"),
                    "dev",
                    dev,
                ],
                None,
            );
            // `nodad`: usable at once, without waiting out duplicate address detection.
            sh(
                &[
                    "ip",
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{addr6}/64"),
                    "dev",
                    dev,
                    "nodad",
                ],
                None,
            );
            sh(&["ip", "-n", ns, "link", "set", dev, "up"], None);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"], None);
        }
        // Wait for the carrier on both ends: a neighbour solicitation sent before it is lost,
        // and IPv6 then waits a whole second (the retransmit timer) before it asks again.
        for (ns, dev) in [(&lab.inside, &vi), (&lab.outside, &vo)] {
            let up = (0..500).any(|_| {
                let up = sh(&["ip", "-n", ns, "-o", "link", "show", "dev", dev], None)
                    .contains("state UP");
                if !up {
                    std::thread::sleep(Duration::from_millis(10));
                }
                up
            });
            assert!(up, "{dev} in {ns} has no carrier after 5 s");
        }
        lab
    }

    /// Loads an nftables ruleset into a namespace.
    pub fn nft(&self, ns: &str, ruleset: &str) {
        sh(
            &["ip", "netns", "exec", ns, "nft", "-f", "-"],
            Some(ruleset),
        );
    }

    /// Starts `egress-audit serve ARGS` in the outside namespace and waits until it is ready;
    /// returns what it printed until then.
    pub fn serve(&mut self, args: &[&str]) -> String {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.outside,
            env!("CARGO_BIN_EXE_egress-audit"),
        ])
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn serve");
        let stderr = child.stderr.take().expect("piped stderr");
        self.children.push(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let mut seen = String::new();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("egress-audit serve: ready") {
                    let _ = tx.send(Ok(seen));
                    // Keep draining so the server never blocks on a full pipe.
                    for _ in lines.by_ref() {}
                    return;
                }
            }
            let _ = tx.send(Err(seen));
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(printed)) => printed,
            Ok(Err(out)) => panic!("serve exited before it was ready:\n{out}"),
            Err(_) => panic!("serve was not ready within 20 s"),
        }
    }

    /// Runs `egress-audit ARGS` in the inside namespace; returns (exit code, stdout, stderr).
    pub fn run_inside(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.inside,
                env!("CARGO_BIN_EXE_egress-audit"),
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run egress-audit");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A transparent interceptor in the inside namespace: a listener on `port` that answers
    /// `HTTP/1.1 403 proxy` to everything. The thread enters the namespace itself (setns is per
    /// thread), so the listener lives there; it ends with the test process.
    pub fn interceptor(&self, port: u16) {
        let ns = self.inside.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let listener = std::net::TcpListener::bind(("0.0.0.0", port)).expect("bind");
            tx.send(()).expect("ready");
            for mut s in listener.incoming().flatten() {
                let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 403 proxy\r\nContent-Length: 0\r\n\r\n");
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("interceptor ready");
    }
}

impl Lab {
    /// One HTTP request from the inside namespace to `to`; returns the whole answer as text.
    pub fn http_get_inside(&self, to: std::net::SocketAddr) -> String {
        let ns = self.inside.clone();
        std::thread::spawn(move || {
            enter(&ns);
            let mut s = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(3))
                .unwrap_or_else(|e| panic!("connect {to}: {e}"));
            s.set_read_timeout(Some(Duration::from_secs(3)))
                .expect("read timeout");
            s.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
                .expect("send request");
            let mut answer = String::new();
            s.read_to_string(&mut answer)
                .unwrap_or_else(|e| panic!("read from {to}: {e}"));
            answer
        })
        .join()
        .expect("the request thread")
    }
}

/// Enters the network namespace `ns` on the current thread.
pub fn enter(ns: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("open netns");
    // SAFETY: setns on this thread only, with a valid namespace fd.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns failed");
}

/// A DNS answer to `q`: the query with the response bit set and no records.
pub fn dns_reply(q: &[u8]) -> Vec<u8> {
    let mut r = q.to_vec();
    if r.len() >= 4 {
        r[2] |= 0x80;
        r[3] &= 0xf0;
    }
    r
}

impl Lab {
    /// A minimal DNS responder on udp/53 and tcp/53 in the outside namespace.
    pub fn dns_responder(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        let ns = self.outside.clone();
        let tx2 = tx.clone();
        let ns2 = ns.clone();
        std::thread::spawn(move || {
            enter(&ns);
            let sock = std::net::UdpSocket::bind("0.0.0.0:53").expect("bind udp/53");
            tx.send(()).expect("ready");
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(&dns_reply(&buf[..n]), from);
            }
        });
        std::thread::spawn(move || {
            enter(&ns2);
            let l = std::net::TcpListener::bind("0.0.0.0:53").expect("bind tcp/53");
            tx2.send(()).expect("ready");
            for mut s in l.incoming().flatten() {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut q).is_err() {
                    continue;
                }
                let r = dns_reply(&q);
                let mut msg = (r.len() as u16).to_be_bytes().to_vec();
                msg.extend_from_slice(&r);
                let _ = s.write_all(&msg);
            }
        });
        for _ in 0..2 {
            rx.recv_timeout(Duration::from_secs(5))
                .expect("dns responder ready");
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting a namespace removes its veth end and, with it, the peer.
        for ns in [&self.inside, &self.outside] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
