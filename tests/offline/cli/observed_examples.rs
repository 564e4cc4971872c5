//! The declared-vs-observed examples through the binary, as the README runs them: the lists of
//! each reconciliation exactly, the EG016 finding and its evidence, the consistency lines.

use serde_json::Value;
use std::process::Command;

fn scan(inputs: &[&str]) -> (Option<i32>, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egress-audit"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["scan", "--format", "json"]);
    for i in inputs {
        cmd.args(["--input", i]);
    }
    let out = cmd.output().unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

/// `class protocol/ports to destination (observed)` of one list.
fn list(rec: &Value, name: &str) -> Vec<String> {
    rec[name]
        .as_array()
        .unwrap_or_else(|| panic!("no {name}: {rec}"))
        .iter()
        .map(|e| {
            format!(
                "{} {}/{} to {} ({})",
                e["class"].as_str().unwrap(),
                e["protocol"].as_str().unwrap(),
                e["ports"].as_str().unwrap(),
                e["destination"].as_str().unwrap(),
                e["observed"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn aws_probe_reconciles_with_its_instance() {
    let (code, report) = scan(&[
        "examples/aws/split-halves-and-smb",
        "examples/observed/aws-app-1.probe.json",
    ]);
    assert_eq!(code, Some(1));
    let recs = report["reconciliation"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{report}");
    let rec = &recs[0];
    assert_eq!(rec["targets"][0]["resource_id"], "eni-0c2c4e6a8c0e2a106");
    assert_eq!(
        rec["probe"]["matched_by"],
        "interface eni-0c2c4e6a8c0e2a106"
    );
    assert_eq!(
        list(rec, "confirmed"),
        vec![
            "dns tcp/53 to 8.8.8.8 (answered)",
            "tcp tcp/80 to 198.51.100.20 (open)",
            "tcp tcp/443 to 198.51.100.20 (open)",
            "dot-doh tcp/443 to 8.8.8.8 (answered)",
            "tcp/445 tcp/445 to 198.51.100.20 (open)",
        ]
    );
    assert_eq!(
        list(rec, "blocked_elsewhere"),
        vec![
            "tcp/23 tcp/23 to 198.51.100.20 (closed)",
            "tcp tcp/8000-8119 to 198.51.100.20 (filtered)",
        ]
    );
    assert_eq!(
        list(rec, "contradictions"),
        vec![
            "icmp-echo icmp/type 8 to 1.1.1.1 (reply)",
            "dns udp/53 to 8.8.8.8 (answered)",
        ]
    );
    let findings = report["findings"].as_array().unwrap();
    let eg016: Vec<&Value> = findings
        .iter()
        .filter(|f| f["check_id"] == "EG016")
        .collect();
    assert_eq!(eg016.len(), 1, "{report}");
    let f = eg016[0];
    assert_eq!(f["resource_id"], "eni-0c2c4e6a8c0e2a106");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["source"], "probe");
    let evidence: Vec<String> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["rule"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        evidence,
        vec![
            "observed reply probe ip-10-40-2-15 → letmeoutofyour.net (icmp echo, examples/observed/aws-app-1.probe.json)",
            "observed answered probe ip-10-40-2-15 → letmeoutofyour.net (dns udp, examples/observed/aws-app-1.probe.json)",
            "deny sg-0c7d9f1b3d5f7ca01 (no rule allows it)",
        ]
    );
    // The probe's own findings moved onto the interface; none is left on a lone probe target.
    assert!(
        findings.iter().all(|f| f["provider"] != "probe"),
        "{report}"
    );
    let smb: Vec<&Value> = findings
        .iter()
        .filter(|f| f["check_id"] == "EG002" && f["resource_id"] == "eni-0c2c4e6a8c0e2a106")
        .collect();
    assert_eq!(smb.len(), 2, "declared and observed: {smb:?}");
    assert_ne!(smb[0]["fingerprint"], smb[1]["fingerprint"]);
}

#[test]
fn consistency_lines_group_by_scope() {
    let (_, report) = scan(&[
        "examples/aws/split-halves-and-smb",
        "examples/observed/aws-app-1.probe.json",
    ]);
    let rows = report["consistency"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["class"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![
            "tcp/445",
            "tcp/23",
            "tcp/20-21",
            "dns",
            "dot-doh",
            "icmp-echo",
            "all-tcp",
            "default-deny"
        ]
    );
    let smb = &rows[0];
    let open: Vec<(String, String, bool, u64)> = smb["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["provider"].as_str().unwrap().to_string(),
                g["kind"].as_str().unwrap().to_string(),
                g["observed"].as_bool().unwrap(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    // Both interfaces and the lone default ACL allow 445 as declared; the probe saw it leave.
    assert!(
        open.contains(&("aws".into(), "network-interface".into(), false, 2)),
        "{open:?}"
    );
    assert!(
        open.contains(&("aws".into(), "network-interface".into(), true, 1)),
        "{open:?}"
    );
    let table = Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "scan",
            "--format",
            "table",
            "--input",
            "examples/aws/split-halves-and-smb",
            "--input",
            "examples/observed/aws-app-1.probe.json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("Declared vs observed ("), "{text}");
    assert!(
        text.contains(
            "contradiction: icmp type 8 to 1.1.1.1 (reply); udp 53 to 8.8.8.8 (answered)"
        ),
        "{text}"
    );
    assert!(text.contains("tcp/445 (SMB): open from "), "{text}");
}

/// examples/host/: web-1's nftables export and a probe run on it in the lab while a perimeter
/// firewall dropped tcp/8005 (tests/lab/declared_observed.rs regenerates them).
#[test]
fn host_export_reconciles_with_its_probe() {
    let (code, report) = scan(&["examples/host"]);
    assert_eq!(code, Some(1), "EG008 is medium");
    let recs = report["reconciliation"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{report}");
    let rec = &recs[0];
    assert_eq!(rec["targets"][0]["resource_id"], "web-1:output");
    assert_eq!(rec["targets"][0]["resource_kind"], "host-firewall");
    assert_eq!(rec["probe"]["matched_by"], "host web-1");
    assert_eq!(
        list(rec, "confirmed"),
        vec![
            "icmp-echo icmp/type 8 to 10.213.0.2 (reply)",
            "tcp tcp/80 to 10.213.0.2 (open)",
            "tcp tcp/443 to 10.213.0.2 (open)",
            "tcp tcp/8000-8004 to 10.213.0.2 (open)",
            "tcp tcp/8006-8010 to 10.213.0.2 (open)",
        ]
    );
    assert_eq!(
        list(rec, "blocked_elsewhere"),
        vec!["tcp tcp/8005 to 10.213.0.2 (filtered)"]
    );
    assert_eq!(list(rec, "contradictions"), Vec::<String>::new());
    // 21 (rejected), 22 and 23 (policy), 445 (dropped).
    assert_eq!(rec["agreed_denied"], 4);
    assert_eq!(report["summary"]["targets"], 1);
    let smb = &report["consistency"][0];
    assert_eq!(smb["class"], "tcp/445");
    assert!(smb["open"].as_array().unwrap().is_empty(), "{smb}");
    let blocked: Vec<(&str, &str, bool)> = smb["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["scope"].as_str().unwrap(),
                g["kind"].as_str().unwrap(),
                g["observed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        blocked,
        vec![
            ("on-prem", "host-firewall", false),
            ("on-prem", "host-firewall", true)
        ]
    );
}
