//! `serve` under abuse (issue 12 §4), in the lab's namespaces: spoofed UDP datagrams that would
//! start an echo loop, one source holding many trickling connections, and a request head split
//! across reads.

use super::{enter, unavailable, Lab, OUTSIDE_ADDR};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddrV4, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `serve` process in a namespace whose whole stderr (its final counters) is kept.
pub struct ServeProcess {
    child: Child,
    text: mpsc::Receiver<String>,
}

impl ServeProcess {
    pub fn start(ns: &str, args: &[&str]) -> ServeProcess {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                env!("CARGO_BIN_EXE_egress-audit"),
                "serve",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        let (text_tx, text) = mpsc::channel();
        std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("egress-audit serve: ready") {
                    let _ = ready_tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            let _ = text_tx.send(all);
        });
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("serve ready within 20 s");
        ServeProcess { child, text }
    }

    /// Ctrl-C; returns everything serve printed.
    pub fn stop(mut self) -> String {
        // SAFETY: a signal to our own child (`ip netns exec` execs serve, so the pid is its).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        self.text
            .recv_timeout(Duration::from_secs(10))
            .expect("serve's output")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number before `words` in serve's final counters line ("... 3 udp echoes ...").
pub fn counter(printed: &str, words: &str) -> u64 {
    let line = printed
        .lines()
        .find(|l| l.contains("stopped after"))
        .unwrap_or_else(|| panic!("no counters: {printed}"));
    let at = line
        .find(words)
        .unwrap_or_else(|| panic!("no {words:?}: {line}"));
    line[..at]
        .split(|c: char| !c.is_ascii_digit())
        .rfind(|w| !w.is_empty())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {words:?}: {line}"))
}

/// Sends one UDP datagram with a forged source (a raw socket writes the IP header itself).
pub fn send_spoofed(from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) {
    let udp_len = 8 + payload.len();
    let mut pkt = Vec::with_capacity(20 + udp_len);
    // IPv4 header; the kernel fills in the checksum, the total length and the id (IP_HDRINCL).
    pkt.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, libc::IPPROTO_UDP as u8, 0, 0]);
    pkt.extend_from_slice(&from.ip().octets());
    pkt.extend_from_slice(&to.ip().octets());
    // UDP header, checksum 0 (none, which IPv4 allows).
    pkt.extend_from_slice(&from.port().to_be_bytes());
    pkt.extend_from_slice(&to.port().to_be_bytes());
    pkt.extend_from_slice(&(udp_len as u16).to_be_bytes());
    pkt.extend_from_slice(&[0, 0]);
    pkt.extend_from_slice(payload);
    // SAFETY: a new raw socket (checked), a packet buffer and a sockaddr_in of the sizes given.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from(*to.ip()).to_be();
        let rc = libc::sendto(
            fd,
            pkt.as_ptr().cast(),
            pkt.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(rc, pkt.len() as isize, "spoofed send: {err}");
    }
}

/// Runs `f` on a thread inside namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns);
        f()
    })
    .join()
    .expect("namespace thread")
}

/// The case: one datagram "from" 127.0.0.1:18001 to :18002, both serve's ports, made
/// 4,000 echoes (2,000 from :18002 to itself). Now none of those is echoed, nor one from a
/// service port (53), while an ordinary client still is. Two separate serves (the loop between
/// two echo servers) stop after one echo each.
#[test]
fn spoofed_udp_does_not_start_an_echo_loop() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    let ns = lab.outside.clone();
    let lo = |p: u16| SocketAddrV4::new([127, 0, 0, 1].into(), p);
    let serve = ServeProcess::start(
        &ns,
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            "18001",
            "--ports",
            "18002",
            "--quiet",
        ],
    );
    let echoed = in_ns(&ns, move || {
        send_spoofed(lo(18001), lo(18002), b"spoofed, two ports");
        send_spoofed(lo(18002), lo(18002), b"spoofed, one port");
        send_spoofed(lo(53), lo(18002), b"spoofed, from dns");
        std::thread::sleep(Duration::from_millis(1000));
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        client.send_to(b"an ordinary client", lo(18002)).unwrap();
        let mut buf = [0u8; 64];
        client.recv(&mut buf).map(|n| buf[..n].to_vec())
    });
    assert_eq!(echoed.expect("the client's echo"), b"an ordinary client");
    let printed = serve.stop();
    assert_eq!(counter(&printed, "udp echoes"), 1, "{printed}");
    assert_eq!(
        counter(&printed, "refused by the echo guard"),
        3,
        "{printed}"
    );

    // Two echo servers, each on one port: the forged datagram bounces once, then the guard
    // sees its own echo come back and stops it.
    let a = ServeProcess::start(&ns, &["--bind", "127.0.0.1", "--port", "18003", "--quiet"]);
    let b = ServeProcess::start(&ns, &["--bind", "127.0.0.1", "--port", "18004", "--quiet"]);
    in_ns(&ns, move || {
        send_spoofed(lo(18003), lo(18004), b"spoofed, two servers");
        std::thread::sleep(Duration::from_millis(1500));
    });
    let (a, b) = (a.stop(), b.stop());
    let echoes = counter(&a, "udp echoes") + counter(&b, "udp echoes");
    assert!(echoes <= 2, "{echoes} echoes:\n{a}\n{b}");
    assert_eq!(
        counter(&a, "refused by the echo guard") + counter(&b, "refused by the echo guard"),
        1,
        "{a}\n{b}"
    );
}

/// A connection that sends one byte of a request every 150 ms, from the inside namespace.
fn trickler(to: &str) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&to.parse().unwrap(), Duration::from_secs(2)).ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}

/// One source (the inside namespace) holding as many trickling connections as serve takes in
/// all: other sources are still answered at once, and the trickling connections are answered
/// within the head deadline (1 s), not held for the whole connection timeout (10 s).
#[test]
fn one_trickling_source_does_not_keep_others_out() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    let serve = ServeProcess::start(
        &lab.outside,
        &[
            "--port",
            "18010",
            "--max-conns",
            "64",
            "--no-udp",
            "--quiet",
        ],
    );
    let to = format!("{OUTSIDE_ADDR}:18010");
    let (tx, rx) = mpsc::channel();
    let inside = lab.inside.clone();
    let hog = std::thread::spawn(move || {
        enter(&inside);
        let started = Instant::now();
        let mut conns: Vec<(TcpStream, Option<Duration>, Vec<u8>)> = (0..64)
            .filter_map(|_| trickler(&to))
            .map(|s| (s, None, Vec::new()))
            .collect();
        tx.send(conns.len()).unwrap();
        let request = b"GET / HTTP/1.0\r\nHost: lab\r\nX-Slow: ";
        for i in 0..40 {
            for (s, answered, got) in conns.iter_mut() {
                let _ = s.write(&request[i % request.len()..][..1]);
                let mut buf = [0u8; 512];
                if let Ok(n) = s.read(&mut buf) {
                    got.extend_from_slice(&buf[..n]);
                    if answered.is_none() && n > 0 {
                        *answered = Some(started.elapsed());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        conns
            .into_iter()
            .map(|(_, t, got)| (t, String::from_utf8_lossy(&got).into_owned()))
            .collect::<Vec<_>>()
    });
    assert_eq!(rx.recv().unwrap(), 64, "the hog connected");
    std::thread::sleep(Duration::from_millis(300));
    // Another source (serve's own namespace, over loopback), while the hog trickles.
    let others = in_ns(&lab.outside, || {
        (0..16)
            .map(|_| {
                let t0 = Instant::now();
                let mut s = TcpStream::connect("127.0.0.1:18010").expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                s.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n").unwrap();
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                (t0.elapsed(), answer)
            })
            .collect::<Vec<_>>()
    });
    for (took, answer) in &others {
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "refused: {answer:?}");
        assert!(*took < Duration::from_millis(500), "took {took:?}");
    }
    let hog = hog.join().unwrap();
    let answered: Vec<Duration> = hog
        .iter()
        .filter(|(_, got)| got.starts_with("HTTP/1.1 200 OK"))
        .map(|(t, _)| t.unwrap())
        .collect();
    // Half the slots are the hog's share; its other connections are closed at once.
    assert_eq!(answered.len(), 32, "{hog:?}");
    for t in &answered {
        assert!(*t < Duration::from_millis(2500), "held for {t:?}");
    }
    let printed = serve.stop();
    assert_eq!(
        counter(&printed, "over their source's share"),
        32,
        "{printed}"
    );
}

/// A request whose blank line arrives split across two reads is answered as soon as it is
/// complete (it waited 2 s for a read that never came).
#[test]
fn split_request_is_answered_promptly() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    let _serve = ServeProcess::start(
        &lab.outside,
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            "18020",
            "--no-udp",
            "--quiet",
        ],
    );
    let waits = in_ns(&lab.outside, || {
        (1..=4)
            .map(|k| {
                // The last k bytes of the blank line arrive in a read of their own.
                let request = "GET / HTTP/1.0\r\nHost: lab\r\n\r\n";
                let (first, held_back) = request.split_at(request.len() - k);
                let mut s = TcpStream::connect("127.0.0.1:18020").expect("connect");
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.write_all(first.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(150));
                s.write_all(held_back.as_bytes()).unwrap();
                let t0 = Instant::now();
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                assert!(answer.ends_with("w00tw00t"), "{answer:?}");
                t0.elapsed()
            })
            .collect::<Vec<_>>()
    });
    for w in waits {
        assert!(
            w < Duration::from_millis(300),
            "answered {w:?} after the head was complete"
        );
    }
}

/// Two sources (127.0.0.2 and .3) that keep every slot of a full serve taken (40 in all, 20 each:
/// as many as the per-source cap allows), with connections that send nothing and come back as
/// soon as they are answered: a third source (127.0.0.4) is still answered at once, because a
/// newcomer lighter than the heaviest source takes the slot of that source's oldest connection.
/// Without the eviction every one of its connections was refused (closed unanswered) while full.
#[test]
fn two_hogging_sources_do_not_keep_a_third_out() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    let serve = ServeProcess::start(
        &lab.outside,
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            "18030",
            "--max-conns",
            "40",
            "--max-conns-per-source",
            "20",
            "--conn-timeout",
            "10s",
            "--no-udp",
            "--quiet",
        ],
    );
    let ns = lab.outside.clone();
    let attempts = std::thread::spawn(move || {
        enter(&ns);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let connect = |from: [u8; 4]| async move {
                let s = tokio::net::TcpSocket::new_v4()?;
                s.bind((std::net::Ipv4Addr::from(from), 0).into())?;
                s.connect("127.0.0.1:18030".parse().unwrap()).await
            };
            let stop = Arc::new(AtomicBool::new(false));
            let connected = Arc::new(AtomicUsize::new(0));
            let mut hogs = Vec::new();
            for from in [[127, 0, 0, 2], [127, 0, 0, 3]] {
                for _ in 0..20 {
                    let (stop, connected) = (stop.clone(), connected.clone());
                    hogs.push(tokio::spawn(async move {
                        let mut first = true;
                        while !stop.load(Ordering::Relaxed) {
                            // Silent; read until serve answers or closes, then come back.
                            if let Ok(mut s) = connect(from).await {
                                if std::mem::take(&mut first) {
                                    connected.fetch_add(1, Ordering::Relaxed);
                                }
                                let mut sink = Vec::new();
                                let _ = s.read_to_end(&mut sink).await;
                            }
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }));
                }
            }
            while connected.load(Ordering::Relaxed) < 40 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut out = Vec::new();
            for _ in 0..10 {
                let t0 = Instant::now();
                let answer = async {
                    let mut s = connect([127, 0, 0, 4]).await?;
                    s.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n").await?;
                    let mut answer = Vec::new();
                    s.read_to_end(&mut answer).await?;
                    std::io::Result::Ok(String::from_utf8_lossy(&answer).into_owned())
                };
                let answer = tokio::time::timeout(Duration::from_secs(5), answer).await;
                out.push((t0.elapsed(), format!("{answer:?}")));
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            stop.store(true, Ordering::Relaxed);
            for h in hogs {
                h.abort();
            }
            out
        })
    })
    .join()
    .expect("the client thread");
    let printed = serve.stop();
    let refused = attempts
        .iter()
        .filter(|(_, answer)| !answer.contains("w00tw00t"))
        .count();
    assert_eq!(
        refused, 0,
        "refused while two sources hog: {attempts:?}\n{printed}"
    );
    // At once: not only when a victim ends on its own (a silent one is answered after 0.5 s).
    for (took, _) in &attempts {
        assert!(
            *took < Duration::from_millis(250),
            "took {took:?}: {attempts:?}"
        );
    }
    assert!(
        counter(&printed, "evicted for a lighter source") > 0,
        "{printed}"
    );
}
