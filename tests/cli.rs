//! The command line as a user runs it: exit statuses, messages that name the file, the main job.

use std::process::{Command, Output};

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_main_job_scans_every_example_and_gates_on_medium() {
    let demo = run(
        &[
            "scan",
            "--input",
            "examples/",
            "--fail-on",
            "critical",
            "--format",
            "json",
        ],
        root(),
    );
    assert_eq!(
        demo.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&demo.stdout).unwrap();
    let providers: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["provider"].as_str().unwrap())
        .collect();
    // `probe`: the probe result bundled with examples/aws/default-open.
    assert_eq!(
        providers,
        ["aws", "azure", "gcp", "probe"].into_iter().collect()
    );
    // The permission files beside the exports are named as skipped, not read and not an error.
    let skipped: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "skipped-file")
        .map(|w| w["source"].as_str().unwrap())
        .collect();
    assert!(
        skipped.contains(&"examples/aws-iam-policy.json"),
        "{skipped:?}"
    );
    let gated = run(
        &["scan", "--input", "examples/", "--format", "json"],
        root(),
    );
    assert_eq!(gated.status.code(), Some(1));
}

#[test]
fn bad_inputs_exit_2_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.json"), r#"{"hello": "world"}"#).unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"SecurityGroups\": [").unwrap();
    std::fs::write(
        dir.path().join("sg.json"),
        r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/33"}]}]}]}"#,
    )
    .unwrap();
    for (file, says) in [
        ("notes.json", "not a recognised export"),
        ("broken.json", "not valid JSON"),
        ("sg.json", "sg-1"),
    ] {
        let out = run(&["scan", "--input", file], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
    }
    let none = run(&["scan"], dir.path());
    assert_eq!(none.status.code(), Some(2));
    let missing = run(&["scan", "--input", "nope.json"], dir.path());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.json"));
}

#[test]
fn rules_prints_the_catalog() {
    let out = run(&["rules", "--format", "json"], root());
    assert_eq!(out.status.code(), Some(0));
    let catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = catalog.to_string();
    for id in [
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG011",
        "EG012", "EG013",
    ] {
        assert!(text.contains(id), "{id} missing from the catalog");
    }
    assert!(text.contains("AC-4") && text.contains("1.3.2"));
}

#[test]
fn partial_snapshots_exit_3_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let snap = serde_json::json!({
        "format": "egress-audit-snapshot/1", "tool_version": "0", "collected_at": "2026-11-25T00:00:00Z",
        "documents": [{"provider": "aws", "account": "111122223333", "region": "us-east-1",
            "kind": "describe-security-groups",
            "data": {"SecurityGroups": [{"GroupId": "sg-1", "OwnerId": "111122223333", "VpcId": "vpc-1",
                "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}]}}],
        "not_scanned": [{"provider": "aws", "account": "111122223333", "region": "eu-west-1",
            "scope": "region", "reason": "UnauthorizedOperation: denied"}]
    });
    std::fs::write(dir.path().join("snap.json"), snap.to_string()).unwrap();
    let partial = run(
        &["scan", "--input", "snap.json", "--format", "json"],
        dir.path(),
    );
    assert_eq!(partial.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&partial.stdout).unwrap();
    assert_eq!(report["summary"]["partial"], true);
    assert_eq!(report["not_scanned"][0]["region"], "eu-west-1");
    let allowed = run(
        &[
            "scan",
            "--input",
            "snap.json",
            "--format",
            "json",
            "--allow-partial",
        ],
        dir.path(),
    );
    assert_eq!(allowed.status.code(), Some(0));
}

/// A `--tls-ca` file that is missing or holds no certificate stops the probe before it sends
/// anything, naming the file (exit 2, not a probe that quietly trusts less than asked).
#[test]
fn probe_tls_ca_must_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.pem"), "just text\n").unwrap();
    std::fs::write(
        dir.path().join("junk.pem"),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (file, says) in [
        ("missing.pem", "No such file"),
        ("empty.pem", "no CERTIFICATE block"),
        ("junk.pem", "certificate 1"),
    ] {
        let out = run(
            &["probe", "--tls-ca", file, "--no-tcp", "--no-icmp"],
            dir.path(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
    }
}
