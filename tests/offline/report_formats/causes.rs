//! Root causes on the bundled examples, through the binary: each finding is grouped under the
//! change that closes it, in the provider's terms.

use serde_json::Value;
use std::collections::BTreeSet;

fn scan_examples() -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args([
            "scan",
            "-q",
            "-i",
            "examples/",
            "--fail-on",
            "none",
            "-f",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The causes of `resource`'s findings (of `check`, or all).
fn causes(report: &Value, resource: &str, check: Option<&str>) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource_id"].as_str().unwrap().ends_with(resource))
        .filter(|f| check.is_none_or(|c| f["check_id"] == c))
        // Declared findings: what a probe saw leave has its own cause (`observed`).
        .filter(|f| f["observed"] != true)
        .map(|f| f["cause"].as_str().unwrap().to_string())
        .collect()
}

fn one(set: BTreeSet<String>) -> String {
    assert_eq!(set.len(), 1, "{set:#?}");
    set.into_iter().next().unwrap()
}

#[test]
fn findings_are_grouped_by_the_rules_whose_change_closes_them() {
    let r = scan_examples();
    // AWS: the security groups, not the subnet-wide NACL, and both allow-all groups (a union:
    // narrowing one alone closes nothing).
    assert_eq!(
        one(causes(&r, "eni-0a9c1e3f5b7d9a601", None)),
        "aws:111122223333:security-group:sg-0a7b9c1d3e5f7a901 egress #1 + sg-0c2e4a6b8d0f2c403 egress #1"
    );
    // A narrow rule beside a broad one is not blamed: tcp/8443 to a prefix list next to
    // tcp 400-500 to 0.0.0.0/0 (EG009), tcp/443 to a /24 next to allow-all (GCP EG001).
    assert_eq!(
        one(causes(&r, "eni-0c3d5f7b9d1f3b207", Some("EG009"))),
        "aws:111122223333:security-group:sg-0c8e0a2c4e6a8db02 egress #1 (legacy partner ports)"
    );
    assert_eq!(
        one(causes(&r, "us-central1-a/web-1", Some("EG001"))),
        "gcp:my-proj-123:vpc-firewall:prod-allow-web-egress"
    );
    // Provider defaults: the missing default deny of the NSG both NICs share, one cause.
    let web1 = one(causes(&r, "vm-web-01-nic", None));
    assert_eq!(web1, one(causes(&r, "vm-web-02-nic", None)));
    assert!(
        web1.contains(":no-default-deny:") && web1.ends_with("/nsg-web-prod-weu"),
        "{web1}"
    );
    // A user rule on the NIC's NSG is blamed before the subnet NSG's default.
    assert_eq!(
        one(causes(&r, "vm-app-01-nic", None)),
        "azure:00000000-0000-0000-0000-000000000001:nsg:nsg-app-nic/Allow-Internet-Out"
    );
    // GCP's implied allow is a missing default deny; a shadowed deny is its own cause.
    assert!(one(causes(&r, "app-net", None)).contains(":no-default-deny:app-net"));
    assert_eq!(
        one(causes(&r, "acl-0c9d1f3b5d7f9b80d", Some("EG011"))),
        "aws:111122223333:rule:acl-0c9d1f3b5d7f9b80d rule 200"
    );
}

/// The checks [`the_table_gives_each_cause_its_fix_in_the_providers_terms`] runs.
const CHECKS: &[&str] = &[
    "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG011",
    "EG012", "EG013", "EG014", "EG015", "EG016",
];

#[test]
fn the_table_gives_each_cause_its_fix_in_the_providers_terms() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args([
            "scan",
            "-q",
            "-i",
            "examples/",
            "--fail-on",
            "none",
            "-f",
            "table",
            "-v",
        ])
        // The checks whose counts it states: a new check must not change them.
        .args(CHECKS.iter().flat_map(|c| ["--check", *c]))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap().replace("\n ", " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("no default deny in nsg-web-prod-weu 18 findings on 2 targets"),
        "{text}"
    );
    assert!(text.contains("Security groups cannot deny: in sg-0b8c0d2e4f6a8b902, replace"));
    assert!(text.contains("add an outbound rule `Deny-Internet-Out` (priority 4096"));
    assert!(text.contains("add an EGRESS deny rule for 0.0.0.0/0 (and ::/0) at priority 65534"));
    assert!(text.contains("move it before them"));
}
