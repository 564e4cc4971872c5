//! Declared vs observed with the real kernel: an nftables egress firewall in the lab's inside
//! namespace, exported with `nft -j list ruleset`, scanned together with a probe run from the same
//! namespace against `serve` outside. First the two agree exactly; then agreement is broken on
//! purpose — a rule added after the export (the export cannot show it) and a block on the far
//! side of the path — and scan reports the EG016 contradiction and the blocked-elsewhere port.

use super::lab::{sh, Lab, OUTSIDE_ADDR};
use serde_json::Value;
use std::path::Path;

/// The host's own egress: default deny, an explicit SMB drop, a few ports and echo allowed.
pub const HOST_FIREWALL: &str = r#"
table inet host_egress {
  set web { type inet_service; flags interval; elements = { 80, 443, 8000-8010 } }
  chain out {
    type filter hook output priority 0; policy drop;
    ct state established,related accept
    oifname "lo" accept
    tcp dport 445 drop
    tcp dport 21 reject with tcp reset
    tcp dport @web accept
    meta l4proto icmp icmp type echo-request accept
  }
}
"#;

/// Something on the far side of the path (a perimeter firewall) that drops tcp/8005.
const PERIMETER: &str = "
table inet perimeter {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 8005 drop
  }
}
";

/// The ports probed: the allowed ones, the dropped and rejected ones, and some the policy drops.
pub const PORTS: &str = "21-23,80,443,445,8000-8010";

/// Runs the probe inside (TCP sweep and echo only) and scans its result with the exports already
/// in `dir`: (exit status, report, probe result).
pub fn probe_export_scan(lab: &Lab, dir: &Path) -> (Option<i32>, Value, Value) {
    let (code, out, err) = lab.run_inside(&[
        "probe",
        "--target",
        OUTSIDE_ADDR,
        "-f",
        "json",
        "-q",
        "--ports",
        PORTS,
        "--timeout",
        "300ms",
        "--no-dns",
        "--no-doh",
        "--ping-extra",
        "none",
    ]);
    assert_eq!(code, 0, "probe failed: {err}\n{out}");
    let probe: Value = serde_json::from_str(&out).unwrap();
    std::fs::write(dir.join("probe.json"), &out).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(["scan", "--format", "json", "--input"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report, probe)
}

/// `nft -j list ruleset` of the inside namespace, saved as the probing host's export.
pub fn export(lab: &Lab, dir: &Path, host: &str) -> String {
    let json = sh(
        &[
            "ip",
            "netns",
            "exec",
            &lab.inside,
            "nft",
            "-j",
            "list",
            "ruleset",
        ],
        None,
    );
    std::fs::write(dir.join(format!("{host}.nft.json")), &json).unwrap();
    json
}

/// `(protocol, ports, observed)` of one reconciliation list.
pub fn list(rec: &Value, name: &str) -> Vec<(String, String, String)> {
    rec[name]
        .as_array()
        .unwrap_or_else(|| panic!("no {name}: {rec}"))
        .iter()
        .map(|e| {
            (
                e["protocol"].as_str().unwrap().to_string(),
                e["ports"].as_str().unwrap().to_string(),
                e["observed"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn triples(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// What the probe confirms when declared and observed agree.
fn agreed_confirmed() -> Vec<(String, String, String)> {
    triples(&[
        ("icmp", "type 8", "reply"),
        ("tcp", "80", "open"),
        ("tcp", "443", "open"),
        ("tcp", "8000-8010", "open"),
    ])
}

fn hostname() -> String {
    // The probe names its host as the kernel does (the UTS namespace is shared with the lab).
    sh(&["hostname"], None).trim().to_string()
}

fn serve_all(lab: &mut Lab) {
    lab.serve(&["--port", "8421", "--ports", PORTS, "--quiet"]);
}

#[test]
fn nft_export_and_probe_agree_exactly() {
    if let Some(why) = super::lab::unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let mut lab = Lab::new();
    lab.nft(&lab.inside, HOST_FIREWALL);
    serve_all(&mut lab);
    let dir = tempfile::tempdir().unwrap();
    export(&lab, dir.path(), &hostname());
    let (_, report, probe) = probe_export_scan(&lab, dir.path());
    assert_eq!(probe["host"].as_str().unwrap(), hostname());

    let recs = report["reconciliation"]
        .as_array()
        .expect("a reconciliation");
    assert_eq!(recs.len(), 1, "{report}");
    let rec = &recs[0];
    assert_eq!(
        rec["targets"][0]["resource_id"],
        format!("{}:output", hostname())
    );
    assert_eq!(rec["targets"][0]["resource_kind"], "host-firewall");
    assert_eq!(rec["probe"]["matched_by"], format!("host {}", hostname()));
    assert_eq!(list(rec, "confirmed"), agreed_confirmed());
    assert_eq!(list(rec, "blocked_elsewhere"), triples(&[]));
    assert_eq!(list(rec, "contradictions"), triples(&[]));
    // 21 (rejected), 22, 23 (policy), 445 (dropped): denied and not leaving.
    assert_eq!(rec["agreed_denied"], 4);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["check_id"] == "EG016"),
        "{report}"
    );
    // The probe's own findings now sit on the host's target.
    let echo = findings
        .iter()
        .find(|f| f["check_id"] == "EG007" && f["observed"] == true)
        .unwrap_or_else(|| panic!("observed echo: {report}"));
    assert_eq!(echo["resource_id"], format!("{}:output", hostname()));
    assert_eq!(echo["source"], "probe");
    assert_eq!(
        report["summary"]["targets"], 1,
        "the probe is part of its host"
    );
}

#[test]
fn stale_export_and_far_block_disagree() {
    if let Some(why) = super::lab::unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let mut lab = Lab::new();
    lab.nft(&lab.inside, HOST_FIREWALL);
    serve_all(&mut lab);
    let dir = tempfile::tempdir().unwrap();
    // The export is taken first; then a rule it cannot show lets SMB out, and something on the
    // far side of the path (the outside namespace) drops tcp/8005.
    export(&lab, dir.path(), &hostname());
    lab.nft(
        &lab.inside,
        "insert rule inet host_egress out tcp dport 445 accept\n",
    );
    lab.nft(&lab.outside, PERIMETER);
    let (code, report, _) = probe_export_scan(&lab, dir.path());
    assert_eq!(code, Some(1), "EG016 is high: {report}");
    let rec = &report["reconciliation"][0];
    assert_eq!(
        list(rec, "contradictions"),
        triples(&[("tcp", "445", "open")])
    );
    assert_eq!(
        list(rec, "blocked_elsewhere"),
        triples(&[("tcp", "8005", "filtered")])
    );
    assert_eq!(
        list(rec, "confirmed"),
        triples(&[
            ("icmp", "type 8", "reply"),
            ("tcp", "80", "open"),
            ("tcp", "443", "open"),
            ("tcp", "8000-8004", "open"),
            ("tcp", "8006-8010", "open"),
        ])
    );
    let eg016 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == "EG016")
        .unwrap_or_else(|| panic!("no EG016: {report}"));
    assert_eq!(eg016["severity"], "high");
    assert_eq!(eg016["resource_id"], format!("{}:output", hostname()));
    let evidence: Vec<(String, String)> = eg016["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(evidence.len(), 2, "{evidence:?}");
    assert_eq!(evidence[0].0, "observed open");
    assert!(evidence[0]
        .1
        .starts_with(&format!("probe {} → {OUTSIDE_ADDR}", hostname())));
    // The export's own drop rule, by its place and handle.
    assert_eq!(evidence[1].0, "deny");
    assert!(
        evidence[1]
            .1
            .starts_with("inet host_egress out #3 (handle "),
        "{evidence:?}"
    );
}

/// Regenerates `examples/host/` (run with `--ignored`): web-1's nftables export, and a probe run
/// on it (in its own UTS namespace, so that its host name is `web-1`) while a perimeter firewall
/// on the far side drops tcp/8005.
#[test]
#[ignore = "writes examples/host/; run by hand with --ignored to regenerate them"]
fn regenerate_host_example() {
    if let Some(why) = super::lab::unavailable() {
        panic!("the probe lab cannot run here: {why}");
    }
    let mut lab = Lab::new();
    lab.nft(&lab.inside, HOST_FIREWALL);
    lab.nft(&lab.outside, PERIMETER);
    serve_all(&mut lab);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/host");
    std::fs::create_dir_all(&dir).unwrap();
    export(&lab, &dir, "web-1");
    let bin = env!("CARGO_BIN_EXE_egress-audit");
    let script = format!(
        "hostname web-1 && exec ip netns exec {} {bin} probe --target {OUTSIDE_ADDR} -f json -q \
         --ports {PORTS} --timeout 300ms --no-dns --no-doh --ping-extra none",
        lab.inside
    );
    let probe = sh(&["unshare", "--uts", "sh", "-c", &script], None);
    let v: Value = serde_json::from_str(&probe).unwrap();
    assert_eq!(v["host"], "web-1");
    std::fs::write(
        dir.join("web-1.probe.json"),
        serde_json::to_string_pretty(&v).unwrap() + "\n",
    )
    .unwrap();
    // Pretty-print the export too, so that a reader can follow it.
    let export: Value =
        serde_json::from_slice(&std::fs::read(dir.join("web-1.nft.json")).unwrap()).unwrap();
    std::fs::write(
        dir.join("web-1.nft.json"),
        serde_json::to_string_pretty(&export).unwrap() + "\n",
    )
    .unwrap();
}

/// The same policy as [`HOST_FIREWALL`], in iptables.
const IPTABLES_RULES: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
:WEB - [0:0]
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -p tcp -m tcp --dport 445 -j DROP
-A OUTPUT -p tcp -m tcp --dport 21 -j REJECT --reject-with tcp-reset
-A OUTPUT -p tcp -j WEB
-A OUTPUT -p icmp -m icmp --icmp-type echo-request -j ACCEPT
-A WEB -p tcp -m multiport --dports 80,443,8000:8010 -j ACCEPT
COMMIT
";

#[test]
fn iptables_save_export_and_probe_agree_exactly() {
    if let Some(why) = super::lab::unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let has_iptables = std::process::Command::new("iptables-save")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_iptables {
        eprintln!("SKIPPED: no iptables-save (apt-get install iptables)");
        return;
    }
    let mut lab = Lab::new();
    sh(
        &["ip", "netns", "exec", &lab.inside, "iptables-restore"],
        Some(IPTABLES_RULES),
    );
    serve_all(&mut lab);
    let dir = tempfile::tempdir().unwrap();
    let saved = sh(&["ip", "netns", "exec", &lab.inside, "iptables-save"], None);
    // Saved as the probing host's export; the extension does not matter, the content does.
    std::fs::write(dir.path().join(format!("{}.rules", hostname())), &saved).unwrap();
    let (_, report, _) = probe_export_scan(&lab, dir.path());
    let recs = report["reconciliation"]
        .as_array()
        .expect("a reconciliation");
    assert_eq!(recs.len(), 1, "{report}");
    let rec = &recs[0];
    assert_eq!(
        rec["targets"][0]["resource_id"],
        format!("{}:output", hostname())
    );
    assert_eq!(list(rec, "confirmed"), agreed_confirmed());
    assert_eq!(list(rec, "blocked_elsewhere"), triples(&[]));
    assert_eq!(list(rec, "contradictions"), triples(&[]));
    assert_eq!(rec["agreed_denied"], 4);
}
