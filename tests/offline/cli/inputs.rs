//! Inputs in real folders: other JSON beside the exports does not stop a scan, but is still an
//! error when given explicitly; a probe that reached only a non-public address says so.

use super::{root, run};
use serde_json::{json, Value};
use std::path::Path;

const SG: &str = r#"{"SecurityGroups": [{"GroupId": "sg-1", "OwnerId": "111122223333", "VpcId": "vpc-1",
  "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 445, "ToPort": 445,
  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}"#;

/// The other JSON a real repository folder holds, by file name, with what the warning must say.
fn foreign_files() -> Vec<(&'static str, String, &'static str)> {
    let report = run(
        &[
            "scan",
            "--input",
            "examples/aws/default-open",
            "--format",
            "json",
        ],
        root(),
    );
    let sarif = run(
        &[
            "scan",
            "--input",
            "examples/aws/default-open",
            "--format",
            "sarif",
        ],
        root(),
    );
    vec![
        (
            "package.json",
            json!({"name": "infra", "version": "1.0.0", "private": true,
                   "scripts": {"audit": "egress-audit scan --input exports/"},
                   "devDependencies": {"typescript": "^5"}})
            .to_string(),
            "npm package manifest",
        ),
        (
            "tsconfig.json",
            json!({"compilerOptions": {"strict": true, "target": "es2022"}}).to_string(),
            "compiler config",
        ),
        (
            "last-report.json",
            String::from_utf8(report.stdout).unwrap(),
            "did you mean --baseline?",
        ),
        (
            "last-report.sarif.json",
            String::from_utf8(sarif.stdout).unwrap(),
            "did you mean --baseline?",
        ),
        (
            "main.tf.json",
            json!({"resource": {"aws_security_group": {"web": {"name": "web",
                   "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1",
                               "cidr_blocks": ["0.0.0.0/0"]}]}}}})
            .to_string(),
            "Terraform is not read yet",
        ),
        (
            "terraform.tfstate.json",
            json!({"version": 4, "terraform_version": "1.9.5", "serial": 7,
                   "lineage": "3f0c", "outputs": {}, "resources": []})
            .to_string(),
            "Terraform is not read yet",
        ),
        (
            "plan.json",
            json!({"format_version": "1.2", "terraform_version": "1.9.5",
                   "planned_values": {"root_module": {}}, "resource_changes": []})
            .to_string(),
            "Terraform is not read yet",
        ),
    ]
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_folder_with_other_json_is_scanned_and_each_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "security-groups.json", SG);
    let files = foreign_files();
    for (name, text, _) in &files {
        write(dir.path(), name, text);
    }
    let out = run(&["scan", "--input", ".", "--format", "json"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the EG002 finding gates: {err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["check_id"] == "EG002" && f["resource_id"] == "sg-1"));
    let skipped: Vec<(&str, &str)> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "skipped-file")
        .map(|w| {
            (
                w["source"].as_str().unwrap(),
                w["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), files.len(), "{skipped:#?}");
    for (name, _, says) in &files {
        let (_, message) = skipped
            .iter()
            .find(|(source, _)| source.ends_with(name))
            .unwrap_or_else(|| panic!("{name} is not named: {skipped:#?}"));
        assert!(message.contains(says), "{name}: {message}");
    }
    assert_eq!(report["scope"]["files"], json!(files.len() + 1));
}

#[test]
fn other_json_given_explicitly_is_an_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, says) in foreign_files() {
        write(dir.path(), name, &text);
        let out = run(&["scan", "--input", name], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
    }
    let report = dir.path().join("last-report.json");
    let with_baseline = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args([
            "scan",
            "--input",
            "examples/aws/default-open",
            "--format",
            "json",
            "--baseline",
        ])
        .arg(&report)
        .current_dir(root())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&with_baseline.stdout).unwrap();
    assert_eq!(
        v["summary"]["findings"], 0,
        "the hint's advice works: all known"
    );
}

/// JSON that is neither an input nor recognisably foreign still stops a folder scan: a mangled
/// export must not pass for "nothing to read".
#[test]
fn unknown_json_in_a_folder_is_still_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "security-groups.json", SG);
    write(
        dir.path(),
        "sgs-typo.json",
        r#"{"SecurityGroup": [{"GroupId": "sg-2"}]}"#,
    );
    let out = run(&["scan", "--input", "."], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("sgs-typo.json") && err.contains("not a recognised export"),
        "{err}"
    );
    assert!(
        err.contains("neither"),
        "says why it was not skipped: {err}"
    );
}

/// A free TCP port on `addr`.
fn free_port(addr: &str) -> u16 {
    std::net::TcpListener::bind((addr, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `serve` and `probe` on a loopback address of their own: the probe's result is valid against
/// its schema, and `scan` does not pass what reached loopback off as the public internet.
#[test]
fn a_probe_of_a_loopback_target_says_what_it_reached() {
    const ADDR: &str = "127.0.0.93";
    let listener = free_port(ADDR).to_string();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args([
            "serve", "--bind", ADDR, "--port", &listener, "--ports", "445,3389",
        ])
        .args(["--no-udp", "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect((ADDR, 3389)).is_ok()
    });
    let probe = run(
        &[
            "probe",
            "--target",
            ADDR,
            "--ports",
            "444-446,3389",
            "--tcp-only",
            "--timeout",
            "300ms",
            "-f",
            "json",
            "-q",
        ],
        root(),
    );
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(up, "serve did not come up on {ADDR}");
    assert_eq!(
        probe.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let result: Value = serde_json::from_slice(&probe.stdout).unwrap();
    let errs = super::schemas::errors(
        &super::schemas::validator("probe-result.schema.json"),
        &result,
    );
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(result["tcp"]["open"], json!([[445, 445], [3389, 3389]]));

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "probe.json", &result.to_string());
    let out = run(
        &["scan", "--input", "probe.json", "--format", "json"],
        dir.path(),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warning = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "probe-non-public-target")
        .unwrap_or_else(|| panic!("no warning: {report}"));
    assert!(
        warning["message"].as_str().unwrap().contains("127.0.0.93"),
        "{warning}"
    );
    let smb = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == "EG002")
        .unwrap_or_else(|| panic!("kept, not hidden: {report}"));
    assert_eq!(
        smb["message"], "tcp/445 was observed open to 127.0.0.93 (loopback) only",
        "{smb}"
    );
    assert_eq!(
        smb["evidence"][0]["destination"],
        "127.0.0.93 only (loopback address; not the public internet)"
    );
    assert!(smb["notes"][0]
        .as_str()
        .unwrap()
        .contains("not what reaches the internet"));
    assert!(!report.to_string().contains("public IPv4"), "{report}");
}
