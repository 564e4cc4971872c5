//! The JSON Schemas in schemas/ hold for real output: every golden report, a scan of examples/,
//! and probe results (the committed fixture, and one made live on loopback in `inputs`).

use super::{root, run};
use serde_json::{json, Value};

pub fn validator(name: &str) -> jsonschema::Validator {
    let path = root().join("schemas").join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

pub fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn every_golden_report_matches_the_report_schema() {
    let v = validator("report.schema.json");
    let dir = root().join("tests/golden");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
        // Goldens hold a placeholder for the scan time (tests/offline/golden.rs); the format is
        // checked on live output below.
        assert_eq!(doc["scanned_at"], "SCANNED_AT", "{}", e.path().display());
        doc["scanned_at"] = json!("2026-12-04T20:40:00Z");
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{}: {errs:#?}", e.path().display());
        n += 1;
    }
    assert!(n >= 9, "{n} goldens");
}

#[test]
fn a_scan_of_the_examples_matches_the_report_schema_and_says_when_and_what() {
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let out = run(
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
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errs = errors(&validator("report.schema.json"), &report);
    assert!(errs.is_empty(), "{errs:#?}");
    let at = chrono::DateTime::parse_from_rfc3339(report["scanned_at"].as_str().unwrap()).unwrap();
    assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    assert!(report["scanned_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(report["scope"]["inputs"], json!(["examples/"]));
    let json_files = walk_json(&root().join("examples"));
    assert_eq!(report["scope"]["files"], json!(json_files));
    assert!(
        report["scope"].get("live").is_none(),
        "an offline scan read nothing live"
    );
}

fn walk_json(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            // Flow logs sit in `flows/` folders beside the exports; `--flows` reads them, the
            // export walk does not.
            if p.is_dir() && p.file_name().is_some_and(|n| n == "flows") {
                0
            } else if p.is_dir() {
                walk_json(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "json"))
            }
        })
        .sum()
}

#[test]
fn the_schemas_reject_what_they_should() {
    let v = validator("report.schema.json");
    let good = json!({
        "tool": {"name": "egress-audit", "version": "0.1.0"},
        "scanned_at": "2026-12-04T20:40:00Z",
        "scope": {"inputs": ["a.json"], "files": 1},
        "findings": [{"check_id": "EG002", "slug": "smb-egress", "severity": "high",
            "title": "t", "provider": "aws", "resource_id": "sg-1",
            "resource_kind": "security-group", "message": "m", "fingerprint": "f",
            "evidence": [{"rule": "r", "action": "allow", "protocol": "tcp", "ports": "445",
                          "destination": "0.0.0.0/0"}],
            "cause": "a field a newer version adds"}],
        "warnings": [], "not_scanned": [],
        "summary": {"targets": 1, "findings": 1, "by_severity": {"high": 1},
                    "suppressed": 0, "partial": false},
        "groups": ["newer versions may add top-level fields"]
    });
    assert_eq!(errors(&v, &good), Vec::<String>::new());
    for (path, bad) in [
        ("/scanned_at", json!("yesterday")),
        ("/findings/0/severity", json!("severe")),
        ("/findings/0/evidence/0/action", json!("maybe")),
        ("/summary/partial", json!("no")),
        ("/scope/files", json!(-1)),
    ] {
        let mut doc = good.clone();
        *doc.pointer_mut(path).unwrap() = bad;
        assert!(!errors(&v, &doc).is_empty(), "{path} should be refused");
    }
    let mut doc = good.clone();
    doc.as_object_mut().unwrap().remove("scope");
    assert!(!errors(&v, &doc).is_empty(), "scope is required");

    let p = validator("probe-result.schema.json");
    let fixture = probe_fixture();
    assert_eq!(errors(&p, &fixture), Vec::<String>::new());
    for (path, bad) in [
        ("/format", json!("egress-audit-probe/2")),
        ("/address", json!("letmeoutofyour.net")),
        ("/tcp/open/0", json!([445])),
        ("/tcp/open/0/1", json!(70000)),
        ("/dns/results/0/transport", json!("carrier-pigeon")),
    ] {
        let mut doc = fixture.clone();
        *doc.pointer_mut(path).unwrap() = bad;
        assert!(!errors(&p, &doc).is_empty(), "{path} should be refused");
    }
}

fn probe_fixture() -> Value {
    let path = root().join("tests/fixtures/probe/probe-result.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The committed probe result (every section filled) is valid, and `scan` reads it.
#[test]
fn the_probe_fixture_matches_its_schema_and_scans() {
    let errs = errors(&validator("probe-result.schema.json"), &probe_fixture());
    assert!(errs.is_empty(), "{errs:#?}");
    let out = run(
        &[
            "scan",
            "--input",
            "tests/fixtures/probe/probe-result.json",
            "--format",
            "json",
        ],
        root(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(errors(&validator("report.schema.json"), &report).is_empty());
}
