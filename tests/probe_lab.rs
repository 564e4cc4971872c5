//! `probe` and `serve` in a real network-namespace lab (needs root; skips with a message if not
//! root or without `ip`). The probe runs inside, behind an nftables egress firewall that drops,
//! rejects, drops a big range and redirects to an interceptor; `serve` answers outside.

mod lab;

#[path = "lab/declared_observed.rs"]
mod declared_observed;

use lab::{Lab, INSIDE_ADDR, INSIDE_ADDR6, OUTSIDE_ADDR, OUTSIDE_ADDR6};
use serde_json::Value;
use std::time::Duration;

macro_rules! require_lab {
    () => {
        if let Some(why) = lab::unavailable() {
            eprintln!("SKIPPED: the probe lab cannot run here: {why}");
            return;
        }
    };
}

/// `[[lo, hi], ...]` from the probe JSON as a flat, sorted port list.
fn ports(v: &Value) -> Vec<u16> {
    let mut out = Vec::new();
    for r in v
        .as_array()
        .unwrap_or_else(|| panic!("not a range list: {v}"))
    {
        let lo = r[0].as_u64().unwrap() as u16;
        let hi = r[1].as_u64().unwrap() as u16;
        out.extend(lo..=hi);
    }
    out
}

fn probe_json(lab: &Lab, args: &[&str]) -> Value {
    probe_json_to(lab, OUTSIDE_ADDR, args)
}

/// `scan --format json` of a probe result, as a user feeds it back: (exit status, report).
fn scan_probe(probe: &Value) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.json");
    std::fs::write(&file, probe.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(["scan", "--format", "json", "--input"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

/// The report's finding of check `id` (there must be one).
fn finding<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == id)
        .unwrap_or_else(|| panic!("no {id}: {report}"))
}

fn probe_json_to(lab: &Lab, target: &str, args: &[&str]) -> Value {
    let mut all = vec!["probe", "--target", target, "-f", "json", "-q"];
    all.extend_from_slice(args);
    let (code, out, err) = lab.run_inside(&all);
    assert_eq!(code, 0, "probe failed: {err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("probe JSON: {e}\n{out}"))
}

const INSIDE_FIREWALL: &str = r#"
table inet lab_filter {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    tcp dport { 23, 3389 } drop
    tcp dport { 21, 8080 } reject with tcp reset
    tcp dport 3390 reject with icmpx type admin-prohibited
    tcp dport 20000-40000 drop
    udp dport 9000 drop
    icmp type echo-request drop
  }
}
table ip lab_nat {
  chain out {
    type nat hook output priority -100; policy accept;
    tcp dport 8443 redirect to :9999
    tcp dport 8081 dnat to 10.213.0.2:80
  }
}
"#;

/// Every TCP verdict in one sweep: serve behind an all-ports redirect outside, a firewall that
/// drops, rejects, drops a range, redirects to a local interceptor and rewrites a port inside.
#[test]
fn sweep_sorts_every_port_exactly() {
    require_lab!();
    let mut lab = Lab::new();
    lab.nft(&lab.inside, INSIDE_FIREWALL);
    // Outside: every tcp port but 7777 goes to serve by TPROXY, udp by a redirect; 7777 is
    // closed at the target itself.
    lab.nft(
        &lab.outside,
        r#"
table ip lab_tproxy {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    tcp dport != 7777 tproxy to :8421
  }
}
table ip lab_nat {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    udp dport != 7777 redirect to :8421
  }
}
"#,
    );
    lab.serve(&["--port", "8421", "--quiet"]);
    lab.interceptor(9999);

    let started = std::time::Instant::now();
    let v = probe_json(
        &lab,
        &[
            "--ports",
            "21,22,23,80,443,445,3389,3390,7777,8080,8081,8443,19998-20002,39999-40001",
            "--timeout",
            "300ms",
            "--udp-ports",
            "53,5000,7777,9000",
            "--no-dns",
            "--no-doh",
            "--ping-extra",
            "none",
        ],
    );
    let took = started.elapsed();
    let tcp = &v["tcp"];
    assert_eq!(v["format"], "egress-audit-probe/1");
    assert_eq!(v["partial"], false);
    assert_eq!(
        ports(&tcp["open"]),
        vec![22, 80, 443, 445, 19998, 19999, 40001],
        "{tcp}"
    );
    assert_eq!(ports(&tcp["intercepted"]), vec![8081, 8443], "{tcp}");
    assert_eq!(ports(&tcp["closed"]), vec![21, 7777, 8080], "{tcp}");
    assert_eq!(
        ports(&tcp["filtered"]),
        vec![23, 3389, 3390, 20000, 20001, 20002, 39999, 40000],
        "{tcp}"
    );
    assert_eq!(tcp["ports_tested"], 20);
    // The ICMP admin-prohibited is told apart from the timeouts, with the error the OS gave.
    let at_once = tcp["filtered_detail"].as_array().expect("filtered_detail");
    assert_eq!(at_once.len(), 1, "{tcp}");
    assert_eq!(at_once[0]["ports"], 1, "{tcp}");
    assert!(
        at_once[0]["reason"]
            .as_str()
            .unwrap()
            .contains("No route to host"),
        "{tcp}"
    );
    let why: Vec<String> = tcp["intercepted_detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}: {}", d["port"], d["reason"]))
        .collect();
    assert!(
        why.iter()
            .any(|w| w.starts_with("8081") && w.contains("saw port 80")),
        "{why:?}"
    );
    assert!(
        why.iter()
            .any(|w| w.starts_with("8443") && w.contains("403 proxy")),
        "{why:?}"
    );
    // Filtered ports cost one 300 ms timeout and one 600 ms re-test, in parallel.
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // The local firewall drops echo requests: the send itself is refused.
    let icmp = &v["icmp"];
    assert_eq!(icmp["results"][0]["address"], OUTSIDE_ADDR);
    assert_eq!(icmp["results"][0]["verdict"], "blocked", "{icmp}");
    assert!(
        icmp["method"] == "raw" || icmp["method"] == "datagram",
        "{icmp}"
    );

    let udp = &v["udp"];
    assert_eq!(ports(&udp["echoed"]), vec![53, 5000], "{udp}");
    assert_eq!(ports(&udp["rejected"]), vec![7777], "{udp}");
    assert_eq!(ports(&udp["blocked"]), vec![9000], "{udp}");
}

/// The inside firewall of the IPv6 test: one `inet` table for tcp and udp, and the ICMPv6 echo
/// drop in a table of its own so the test can lift it. Neighbour discovery passes.
const INSIDE_FIREWALL6: &str = r#"
table inet lab_filter {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    tcp dport { 23, 3389 } drop
    tcp dport { 21, 8443 } reject with tcp reset
    tcp dport 20000-40000 drop
    udp dport 9000 drop
  }
}
table ip6 lab_icmp6 {
  chain out {
    type filter hook output priority 0; policy accept;
    icmpv6 type echo-request drop
  }
}
"#;

/// The answer's header `name`, if there is one.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The IPv6 sweep: serve bound to `::` outside, an `ip6` TPROXY table sending every tcp port
/// to it (but 7777, closed at the target, and 8080, which an `ip6` NAT redirect sends instead,
/// read back with SO_ORIGINAL_DST; the same in `ip` tables for IPv4); inside, an `inet`
/// firewall that drops, rejects and drops a range, and drops ICMPv6 echo requests. Every
/// verdict is exact; then, with the echo drop lifted, the echo is answered (raw socket, then
/// ping socket); a wrong `--expect` turns open ports intercepted (open means the token was
/// seen); and serve names the port and the source, IPv6 or IPv4, on its dual-stack socket.
#[test]
fn ipv6_sweep_sorts_every_port_exactly() {
    require_lab!();
    let mut lab = Lab::new();
    lab.nft(&lab.inside, INSIDE_FIREWALL6);
    lab.nft(
        &lab.outside,
        r#"
table ip6 lab_tproxy6 {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    tcp dport != { 7777, 8080, 8421 } tproxy ip6 to :8421
  }
}
table ip6 lab_nat6 {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 redirect to :8421
    udp dport != 7777 redirect to :8421
  }
}
table ip lab_tproxy4 {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    tcp dport != { 7777, 8080, 8421 } tproxy ip to :8421
  }
}
table ip lab_nat4 {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 redirect to :8421
  }
}
"#,
    );
    lab.serve(&["--bind", "::", "--port", "8421", "--quiet"]);

    let started = std::time::Instant::now();
    let v = probe_json_to(
        &lab,
        OUTSIDE_ADDR6,
        &[
            "--ports",
            "21,22,23,80,443,3389,7777,8080,8443,19998-20002,39999-40001",
            "--timeout",
            "300ms",
            "--udp-ports",
            "53,5000,7777,9000",
            "--no-dns",
            "--no-doh",
            "--ping-extra",
            "none",
        ],
    );
    let took = started.elapsed();
    assert_eq!(v["address"], OUTSIDE_ADDR6);
    assert_eq!(v["target"], OUTSIDE_ADDR6);
    assert_eq!(v["partial"], false);
    let tcp = &v["tcp"];
    assert_eq!(
        ports(&tcp["open"]),
        vec![22, 80, 443, 8080, 19998, 19999, 40001],
        "{tcp}"
    );
    assert_eq!(ports(&tcp["intercepted"]), Vec::<u16>::new(), "{tcp}");
    assert_eq!(ports(&tcp["closed"]), vec![21, 7777, 8443], "{tcp}");
    assert_eq!(
        ports(&tcp["filtered"]),
        vec![23, 3389, 20000, 20001, 20002, 39999, 40000],
        "{tcp}"
    );
    assert_eq!(tcp["ports_tested"], 17);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // The local firewall drops ICMPv6 echo requests: the send itself is refused.
    let icmp = &v["icmp"];
    assert_eq!(icmp["results"][0]["address"], OUTSIDE_ADDR6, "{icmp}");
    assert_eq!(icmp["results"][0]["verdict"], "blocked", "{icmp}");
    assert!(
        icmp["method"] == "raw" || icmp["method"] == "datagram",
        "{icmp}"
    );

    let udp = &v["udp"];
    assert_eq!(ports(&udp["echoed"]), vec![53, 5000], "{udp}");
    assert_eq!(ports(&udp["rejected"]), vec![7777], "{udp}");
    assert_eq!(ports(&udp["blocked"]), vec![9000], "{udp}");

    // Without the drop, the echo request (type 128) is answered (129).
    lab.nft(&lab.inside, "delete table ip6 lab_icmp6\n");
    // A token serve does not send: the same open ports are now intercepted, for want of it.
    let v = probe_json_to(
        &lab,
        OUTSIDE_ADDR6,
        &[
            "--ports",
            "22,80,8080",
            "--timeout",
            "300ms",
            "--expect",
            "not-the-token",
            "--no-dns",
            "--no-doh",
            "--ping-extra",
            "none",
        ],
    );
    let tcp = &v["tcp"];
    assert_eq!(ports(&tcp["open"]), Vec::<u16>::new(), "{tcp}");
    assert_eq!(ports(&tcp["intercepted"]), vec![22, 80, 8080], "{tcp}");
    for d in tcp["intercepted_detail"].as_array().unwrap() {
        assert!(
            d["reason"]
                .as_str()
                .unwrap()
                .contains("answered without the token"),
            "{tcp}"
        );
    }
    let icmp = &v["icmp"];
    assert_eq!(icmp["results"][0]["address"], OUTSIDE_ADDR6, "{icmp}");
    // A new namespace lets no group into ping sockets: root pings with a raw ICMPv6 socket.
    assert_eq!(icmp["method"], "raw", "{icmp}");
    assert_eq!(icmp["results"][0]["verdict"], "reply", "{icmp}");
    assert!(icmp["results"][0]["rtt_ms"].as_f64().is_some(), "{icmp}");
    // Root's group let into unprivileged ping sockets (a per-namespace setting): the ICMPv6
    // ping socket, not the raw one, gets the reply.
    lab::sh(
        &[
            "ip",
            "netns",
            "exec",
            &lab.inside,
            "sh",
            "-c",
            "echo 0 0 > /proc/sys/net/ipv4/ping_group_range",
        ],
        None,
    );
    let v = probe_json_to(
        &lab,
        OUTSIDE_ADDR6,
        &["--no-tcp", "--no-dns", "--no-doh", "--ping-extra", "none"],
    );
    let icmp = &v["icmp"];
    assert_eq!(icmp["method"], "datagram", "{icmp}");
    assert_eq!(icmp["results"][0]["verdict"], "reply", "{icmp}");

    // serve's headers over IPv6 and over IPv4 on the same dual-stack socket, by TPROXY, by a
    // redirect (SO_ORIGINAL_DST) and straight: the dialled port, and the source as the client
    // knows it (10.213.0.1, not ::ffff:10.213.0.1).
    let cases: [(&str, u16, &str); 6] = [
        (OUTSIDE_ADDR6, 443, INSIDE_ADDR6),
        (OUTSIDE_ADDR6, 8080, INSIDE_ADDR6),
        (OUTSIDE_ADDR, 443, INSIDE_ADDR),
        (OUTSIDE_ADDR, 8080, INSIDE_ADDR),
        (OUTSIDE_ADDR, 8421, INSIDE_ADDR),
        (OUTSIDE_ADDR6, 8421, INSIDE_ADDR6),
    ];
    for (to, port, from) in cases {
        let addr = std::net::SocketAddr::new(to.parse().unwrap(), port);
        let answer = lab.http_get_inside(addr);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{addr}: {answer}");
        assert!(answer.ends_with("w00tw00t"), "{addr}: {answer}");
        let want = port.to_string();
        assert_eq!(
            header(&answer, "X-Egress-Port"),
            Some(want.as_str()),
            "{addr}: {answer}"
        );
        assert_eq!(
            header(&answer, "X-Egress-Source"),
            Some(from),
            "{addr}: {answer}"
        );
    }
}

/// The redirect rules serve prints, loaded as printed, send every tcp port but ssh to it by
/// TPROXY and udp by a redirect: IPv4 rules for `0.0.0.0`, IPv6 ones for an IPv6 address, both
/// for `::`. Ssh (22) is left alone, so it is closed.
#[test]
fn printed_redirect_rules_work_as_printed() {
    require_lab!();
    for (bind, targets, rules) in [
        ("0.0.0.0", &[OUTSIDE_ADDR][..], 4),
        (OUTSIDE_ADDR6, &[OUTSIDE_ADDR6][..], 4),
        ("::", &[OUTSIDE_ADDR, OUTSIDE_ADDR6][..], 6),
    ] {
        let mut lab = Lab::new();
        if bind == "::" {
            // serve on `::` must take IPv4 too, even where sockets default to IPv6 only.
            lab::sh(
                &[
                    "ip",
                    "netns",
                    "exec",
                    &lab.outside,
                    "sysctl",
                    "-qw",
                    "net.ipv6.bindv6only=1",
                ],
                None,
            );
        }
        let printed = lab.serve(&["--bind", bind, "--port", "8421", "--quiet"]);
        let commands: Vec<&str> = printed
            .lines()
            .filter(|l| l.starts_with("nft add "))
            .collect();
        assert_eq!(commands.len(), rules, "{bind}: {printed}");
        for command in commands {
            lab::sh(
                &["ip", "netns", "exec", &lab.outside, "sh", "-c", command],
                None,
            );
        }
        for &target in targets {
            let v = probe_json_to(
                &lab,
                target,
                &[
                    "--ports",
                    "22,80,443,8421,50000",
                    "--udp-ports",
                    "22,53,5000",
                    "--timeout",
                    "300ms",
                    "--no-icmp",
                    "--no-dns",
                    "--no-doh",
                ],
            );
            let (tcp, udp) = (&v["tcp"], &v["udp"]);
            let at = format!("serve on {bind}, probe of {target}");
            assert_eq!(v["address"], target, "{at}");
            assert_eq!(
                ports(&tcp["open"]),
                vec![80, 443, 8421, 50000],
                "{at}: {tcp}"
            );
            assert_eq!(ports(&tcp["closed"]), vec![22], "{at}: {tcp}");
            assert_eq!(ports(&udp["echoed"]), vec![53, 5000], "{at}: {udp}");
            assert_eq!(ports(&udp["rejected"]), vec![22], "{at}: {udp}");
        }
    }
}

/// `serve --ports` binds a list directly; a NAT redirect of 8080 to 80 outside is read back with
/// SO_ORIGINAL_DST (so 8080 is open, not rewritten); ICMP passes; the result, fed to `scan`,
/// gives observed findings: EG002 for the open tcp/445, EG007 for the echo reply.
#[test]
fn bound_ports_and_scan_findings() {
    require_lab!();
    let mut lab = Lab::new();
    lab.nft(
        &lab.outside,
        r#"
table ip lab_nat {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 redirect to :80
  }
}
"#,
    );
    lab.serve(&["--port", "8421", "--ports", "80,445", "--quiet"]);
    let v = probe_json(
        &lab,
        &[
            "--ports",
            "79-81,444-446,8080",
            "--timeout",
            "300ms",
            "--no-dns",
            "--no-doh",
            "--ping-extra",
            "none",
        ],
    );
    assert_eq!(
        ports(&v["tcp"]["open"]),
        vec![80, 445, 8080],
        "{}",
        v["tcp"]
    );
    assert_eq!(ports(&v["tcp"]["closed"]), vec![79, 81, 444, 446]);
    assert_eq!(ports(&v["tcp"]["filtered"]), Vec::<u16>::new());
    assert_eq!(v["icmp"]["results"][0]["verdict"], "reply", "{}", v["icmp"]);

    let (code, report) = scan_probe(&v);
    assert_eq!(code, Some(1), "findings expected: {report}");
    let findings = report["findings"].as_array().unwrap();
    let by_id = |id: &str| findings.iter().find(|f| f["check_id"] == id);
    let smb = finding(&report, "EG002");
    assert_eq!(smb["observed"], true);
    assert_eq!(smb["provider"], "probe");
    assert_eq!(smb["resource_kind"], "host");
    assert!(
        smb["evidence"]
            .to_string()
            .contains("probe tcp open 445 (w00tw00t)"),
        "{smb}"
    );
    assert!(by_id("EG007").is_some(), "icmp echo was observed: {report}");
    assert!(
        by_id("EG001").is_none(),
        "two open ports are not half the plane"
    );
}

/// Serve's UDP echo is never larger than the request, whatever its size. Runs on loopback.
#[test]
fn udp_echo_never_amplifies() {
    use std::net::UdpSocket;
    // Below the ephemeral range, so no outgoing connection of another test takes it meanwhile.
    let port = (0..2000u16)
        .map(|i| 20_000 + (std::process::id() as u16 % 8000) + i)
        .find(|&p| {
            std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
                && UdpSocket::bind(("127.0.0.1", p)).is_ok()
        })
        .expect("a free port");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--quiet",
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    // Wait until serve is up.
    let mut up = false;
    let mut buf = vec![0u8; 70_000];
    for _ in 0..100 {
        // Before serve binds, the send or the receive fails with "connection refused".
        if sock.send(b"ping").is_ok() && sock.recv(&mut buf).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "serve did not echo on udp {port}");
    for size in [1usize, 64, 512, 1400, 2048, 4000, 60_000] {
        let req: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        sock.send(&req).unwrap();
        let n = sock.recv(&mut buf).expect("an echo");
        assert!(n <= size, "a {size}-byte request got a {n}-byte reply");
        assert_eq!(&buf[..n], &req[..n], "the echo is the request's own bytes");
        if size <= 2048 {
            assert_eq!(n, size);
        }
    }
}

/// Ctrl-C (SIGINT) during a sweep prints what is known so far: valid JSON, `partial: true`,
/// exit status 3, and the ports not reached listed as untested.
#[test]
fn interrupt_prints_partial_result() {
    require_lab!();
    let mut lab = Lab::new();
    lab.nft(
        &lab.inside,
        r#"
table inet lab_filter {
  chain out {
    type filter hook output priority 0; policy accept;
    tcp dport 1000-65535 drop
  }
}
"#,
    );
    lab.serve(&["--port", "80", "--quiet"]);
    let child = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.inside,
            env!("CARGO_BIN_EXE_egress-audit"),
        ])
        .args([
            "probe",
            "--target",
            OUTSIDE_ADDR,
            "-f",
            "json",
            "-q",
            "--tcp-only",
        ])
        .args([
            "--ports",
            "80,1000-65535",
            "--timeout",
            "500ms",
            "--concurrency",
            "100",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // `ip netns exec` execs the program, so this pid is the probe's.
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["partial"], true);
    let tcp = &v["tcp"];
    // Ports go out in random order, so port 80 may not have been reached; if it was, it is open.
    let open = ports(&tcp["open"]);
    assert!(open.is_empty() || open == vec![80], "{tcp}");
    let untested = ports(&tcp["untested"]).len();
    let filtered = ports(&tcp["filtered"]);
    assert!(untested > 60_000, "{untested} untested");
    assert!(
        !filtered.is_empty(),
        "some ports timed out before the interrupt: {tcp}"
    );
    assert!(filtered.iter().all(|&p| p >= 1000), "{tcp}");
    assert_eq!(
        tcp["ports_tested"].as_u64().unwrap() as usize,
        open.len() + filtered.len(),
        "{tcp}"
    );
    assert_eq!(open.len() + filtered.len() + untested, 64_537);
}

/// DoT and DoH against stand-ins for the well-known resolvers (their IPv4 and IPv6 addresses
/// routed to the outside namespace): answered over GET and POST when the certificate chains to a trusted CA
/// (`--tls-ca`, as for a TLS-inspecting proxy), `connected` when the certificate is nobody's
/// (an interceptor), no answer when the firewall drops, refused when it resets. Without the CA,
/// the same answers are only `connected`. `scan` turns the answered DoH into an observed EG008.
#[test]
fn dot_and_doh_in_lab() {
    require_lab!();
    let lab = Lab::new();
    lab.nft(
        &lab.inside,
        r#"
table inet lab_filter {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr 8.8.8.8 tcp dport { 443, 853 } drop
    ip daddr 94.140.14.14 tcp dport { 443, 853 } reject with tcp reset
  }
}
"#,
    );
    lab.tls_resolvers();
    let ca = lab::resolvers::fixture("ca.pem");
    let base = [
        "--no-tcp",
        "--no-icmp",
        "--dns-servers",
        "none",
        "--dns-name",
        "localhost",
    ];
    let mut with_ca = base.to_vec();
    with_ca.extend(["--tls-ca", ca.to_str().unwrap()]);
    let (trusted, untrusted) = std::thread::scope(|s| {
        let a = s.spawn(|| probe_json(&lab, &with_ca));
        let b = s.spawn(|| probe_json(&lab, &base));
        (a.join().unwrap(), b.join().unwrap())
    });

    let doh = |v: &Value, resolver: &str| -> (String, String) {
        let r = v["doh"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resolver"] == resolver)
            .unwrap_or_else(|| panic!("no {resolver}: {}", v["doh"]))
            .clone();
        (
            r["verdict"].as_str().unwrap().into(),
            r["detail"].to_string(),
        )
    };
    let dot = |v: &Value, server: &str| -> (String, String) {
        let r = v["dns"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["transport"] == "tls" && r["server"] == server)
            .unwrap_or_else(|| panic!("no DoT {server}: {}", v["dns"]))
            .clone();
        (
            r["verdict"].as_str().unwrap().into(),
            r["detail"].to_string(),
        )
    };

    assert_eq!(
        doh(&trusted, "cloudflare-dns.com").0,
        "answered",
        "GET: {}",
        trusted["doh"]
    );
    assert_eq!(
        doh(&trusted, "doh.opendns.com").0,
        "answered",
        "POST: {}",
        trusted["doh"]
    );
    assert_eq!(
        doh(&trusted, "dns.google").0,
        "no-answer",
        "{}",
        trusted["doh"]
    );
    assert_eq!(
        doh(&trusted, "dns.adguard-dns.com").0,
        "refused",
        "{}",
        trusted["doh"]
    );
    // Over IPv6 too: the firewall drops 8.8.8.8 only, so dns.google answers on its IPv6 address.
    let by_address = |v: &Value, address: &str| -> String {
        v["doh"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == address)
            .unwrap_or_else(|| panic!("no {address}: {}", v["doh"]))["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(by_address(&trusted, "2606:4700:4700::1111"), "answered");
    assert_eq!(by_address(&trusted, "2001:4860:4860::8888"), "answered");
    let (verdict, detail) = doh(&trusted, "dns.quad9.net");
    assert_eq!(verdict, "connected", "{detail}");
    assert!(detail.contains("certificate"), "{detail}");

    assert_eq!(dot(&trusted, "1.1.1.1").0, "answered", "{}", trusted["dns"]);
    assert_eq!(
        dot(&trusted, "8.8.8.8").0,
        "no-answer",
        "{}",
        trusted["dns"]
    );
    assert_eq!(
        dot(&trusted, "94.140.14.14").0,
        "refused",
        "{}",
        trusted["dns"]
    );
    let (verdict, detail) = dot(&trusted, "9.9.9.9");
    assert_eq!(verdict, "connected", "{detail}");
    assert!(detail.contains("certificate"), "{detail}");

    // The same lab without the CA: what answered is now only a connection to an unknown issuer.
    let (verdict, detail) = doh(&untrusted, "cloudflare-dns.com");
    assert_eq!(verdict, "connected", "{detail}");
    assert!(detail.contains("UnknownIssuer"), "{detail}");
    assert_eq!(
        dot(&untrusted, "1.1.1.1").0,
        "connected",
        "{}",
        untrusted["dns"]
    );

    let (_, report) = scan_probe(&trusted);
    let eg008 = finding(&report, "EG008");
    assert_eq!(eg008["observed"], true);
    let evidence = eg008["evidence"].to_string();
    assert!(
        evidence.contains("probe doh answered by cloudflare-dns.com (1.1.1.1)"),
        "{evidence}"
    );
    assert!(
        evidence.contains("probe doh answered by dns.google (2001:4860:4860::8888)"),
        "{evidence}"
    );
    assert!(!evidence.contains("(8.8.8.8)"), "dropped: {evidence}");
}

/// DNS straight to a resolver: udp/53 answered, tcp/53 reset by the local firewall, the system
/// resolver answering from /etc/hosts; `scan` then reports EG006 (dns-egress) as observed.
#[test]
fn dns_checks_in_lab() {
    require_lab!();
    let lab = Lab::new();
    lab.nft(
        &lab.inside,
        r#"
table inet lab_filter {
  chain out {
    type filter hook output priority 0; policy accept;
    tcp dport 53 reject with tcp reset
  }
}
"#,
    );
    lab.dns_responder();
    let v = probe_json(
        &lab,
        &[
            "--no-tcp",
            "--no-icmp",
            "--no-doh",
            "--no-dot",
            "--dns-servers",
            OUTSIDE_ADDR,
            "--dns-name",
            "localhost",
        ],
    );
    let dns = &v["dns"];
    let results = dns["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{dns}");
    let verdict = |t: &str| {
        results
            .iter()
            .find(|r| r["transport"] == t)
            .map(|r| r["verdict"].as_str().unwrap().to_string())
    };
    assert_eq!(verdict("udp").as_deref(), Some("answered"), "{dns}");
    assert_eq!(verdict("tcp").as_deref(), Some("refused"), "{dns}");
    assert_eq!(dns["system_resolver"]["verdict"], "answered", "{dns}");
    assert!(v["tcp"].is_null());

    let (_, report) = scan_probe(&v);
    let eg006 = finding(&report, "EG006");
    assert_eq!(eg006["observed"], true);
    assert!(
        eg006["evidence"]
            .to_string()
            .contains("probe dns udp/53 answered by 10.213.0.2"),
        "{eg006}"
    );
}
