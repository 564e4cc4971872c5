//! Config application (severity overrides, suppressions with wildcards and expiry), config
//! validation errors, and baselines.

use chrono::NaiveDate;
use egress_audit::checks::Catalog;
use egress_audit::config::Config;
use egress_audit::model::{Evidence, Finding, Fingerprint, Report, Severity};
use std::path::Path;

fn finding(check: &str, slug: &str, sev: Severity, resource: &str) -> Finding {
    Finding {
        check_id: check.into(),
        slug: slug.into(),
        severity: sev,
        title: String::new().into(),
        provider: "aws".into(),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        resource_id: resource.into(),
        resource_kind: "security-group".into(),
        resource_name: None,
        rule: None,
        message: format!("{slug} on {resource}"),
        evidence: vec![Evidence::new(
            crate::report_formats::allow_all_tcp(resource),
            None,
        )],
        observed: false,
        source: None,
        notes: vec![],
        original_severity: None,
        suppressed: None,
        fingerprint: Fingerprint::of_fields(),
        cause: None,
        no_internet_path: false,
    }
}

fn report() -> Report {
    let mut az = finding("EG002", "smb-egress", Severity::High, "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-legacy");
    az.provider = "azure".into();
    az.account = Some("s1".into());
    az.region = Some("westeurope".into());
    Report::new(
        vec![
            finding("EG001", "unrestricted-egress", Severity::High, "sg-0abc1"),
            finding("EG004", "ftp-egress", Severity::Medium, "sg-0abc1"),
            finding("EG004", "ftp-egress", Severity::Medium, "sg-0def2"),
            finding("EG007", "icmp-egress", Severity::Low, "sg-0def2"),
            az,
        ],
        vec![],
        vec![],
        3,
    )
}

fn config(text: &str) -> Config {
    Config::parse(text, Path::new("egress-audit.toml")).expect("valid config")
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn by<'a>(r: &'a Report, check: &str, resource: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.check_id == check && f.resource_id.ends_with(resource))
        .unwrap()
}

#[test]
fn severity_override_by_id_and_slug_keeps_the_original() {
    let cfg = config("[severity]\nicmp-egress = \"high\"\nEG004 = \"low\"\n");
    let mut r = report();
    cfg.apply(&mut r, day("2026-01-01"));
    let icmp = by(&r, "EG007", "sg-0def2");
    assert_eq!(icmp.severity, Severity::High);
    assert_eq!(icmp.original_severity, Some(Severity::Low));
    assert!(r
        .findings
        .iter()
        .filter(|f| f.check_id == "EG004")
        .all(|f| f.severity == Severity::Low && f.original_severity == Some(Severity::Medium)));
    assert_eq!(by(&r, "EG001", "sg-0abc1").original_severity, None);
    assert_eq!(r.summary.by_severity.get("high"), Some(&3));
    assert_eq!(r.summary.by_severity.get("low"), Some(&2));
}

#[test]
fn override_of_a_finding_without_internet_path_stays_info() {
    let cfg = config("lower_unreachable = true\n[severity]\nEG004 = \"critical\"\n");
    let mut r = report();
    r.findings[1]
        .notes
        .push("no internet path: no route to an internet gateway".into());
    r.findings[1].no_internet_path = true;
    cfg.apply(&mut r, day("2026-01-01"));
    let f = &r.findings[1];
    assert_eq!(f.check_id, "EG004");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.original_severity, Some(Severity::Critical));
}

/// By default a finding without an internet path keeps its severity (the note says why);
/// `lower_unreachable` lowers it to info and keeps what it was. Observed findings never are.
#[test]
fn lower_unreachable_is_opt_in() {
    let mut r = report();
    r.findings[1]
        .notes
        .push("no internet path: no route to an internet gateway".into());
    r.findings[1].no_internet_path = true;
    let before = r.findings[1].severity;
    assert!(before > Severity::Info);
    config("").apply(&mut r, day("2026-01-01"));
    assert_eq!(r.findings[1].severity, before);
    assert_eq!(r.findings[1].original_severity, None);
    config("lower_unreachable = true\n").apply(&mut r, day("2026-01-01"));
    assert_eq!(r.findings[1].severity, Severity::Info);
    assert_eq!(r.findings[1].original_severity, Some(before));
    assert!(
        r.findings[0].severity > Severity::Info,
        "no note, not lowered"
    );
}

#[test]
fn suppression_without_expiry_suppresses() {
    let cfg = config(
        "[[suppress]]\ncheck = \"ftp-egress\"\nresource = \"sg-0abc1\"\nreason = \"partner upload\"\n",
    );
    let mut r = report();
    cfg.apply(&mut r, day("2030-01-01"));
    assert_eq!(
        by(&r, "EG004", "sg-0abc1").suppressed.as_deref(),
        Some("partner upload")
    );
    assert_eq!(by(&r, "EG004", "sg-0def2").suppressed, None);
    assert_eq!(r.summary.suppressed, 1);
    assert_eq!(r.summary.findings, 4);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn expired_suppression_stops_suppressing_and_says_so() {
    let text = "[[suppress]]\ncheck = \"EG004\"\nresource = \"sg-0abc1\"\nreason = \"until migration\"\nexpires = \"2026-06-30\"\n";
    let cfg = config(text);

    let mut before = report();
    cfg.apply(&mut before, day("2026-06-29"));
    assert!(by(&before, "EG004", "sg-0abc1").suppressed.is_some());
    assert!(before.warnings.is_empty());

    for today in ["2026-06-30", "2027-01-01"] {
        let mut r = report();
        cfg.apply(&mut r, day(today));
        let f = by(&r, "EG004", "sg-0abc1");
        assert_eq!(f.suppressed, None, "expired on {today}");
        assert!(
            f.notes
                .contains(&"suppression expired on 2026-06-30: until migration".to_string()),
            "{:?}",
            f.notes
        );
        assert_eq!(r.summary.suppressed, 0);
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].kind, "suppression-expired");
        assert_eq!(r.warnings[0].source, "egress-audit.toml");
        assert!(r.warnings[0].message.contains("2026-06-30"));
    }
}

#[test]
fn wildcard_patterns_match_ids_and_qualified_names() {
    let cfg = config(
        r#"
[[suppress]]
check = "*"
resource = "sg-0abc*"
reason = "a"

[[suppress]]
check = "icmp-egress"
resource = "aws/111122223333/*"
reason = "b"

[[suppress]]
check = "EG002"
resource = "*/NSG-LEGACY"
reason = "c"

[[suppress]]
check = "EG004"
resource = "aws/999999999999/*"
reason = "other account"
"#,
    );
    let mut r = report();
    cfg.apply(&mut r, day("2026-01-01"));
    assert_eq!(by(&r, "EG001", "sg-0abc1").suppressed.as_deref(), Some("a"));
    assert_eq!(by(&r, "EG004", "sg-0abc1").suppressed.as_deref(), Some("a"));
    assert_eq!(by(&r, "EG007", "sg-0def2").suppressed.as_deref(), Some("b"));
    assert_eq!(
        by(&r, "EG002", "nsg-legacy").suppressed.as_deref(),
        Some("c")
    );
    assert_eq!(by(&r, "EG004", "sg-0def2").suppressed, None);
    assert_eq!(r.summary.findings, 1);
    let unused: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.kind == "unused-suppression")
        .collect();
    assert_eq!(unused.len(), 1);
    assert!(
        unused[0].message.contains("entry 4"),
        "{}",
        unused[0].message
    );
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let err = Config::parse("sevrity = {}\n", Path::new("conf/egress-audit.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("conf/egress-audit.toml:1:1: "), "{err}");
    assert!(err.contains("sevrity"), "{err}");
    let err = Config::parse(
        "[[suppress]]\ncheck = \"EG004\"\nresource = \"x\"\nreason = \"r\"\nexpiry = \"2026-01-01\"\n",
        Path::new("c.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("c.toml:5:1: "), "{err}");
    assert!(err.contains("expiry"), "{err}");
}

#[test]
fn invalid_expiry_date_names_file_and_entry() {
    let text = "[[suppress]]\ncheck = \"EG004\"\nresource = \"a\"\nreason = \"r\"\n\n[[suppress]]\ncheck = \"EG007\"\nresource = \"b\"\nreason = \"r\"\nexpires = \"2026-13-01\"\n";
    let err = Config::parse(text, Path::new("ci/egress-audit.toml"))
        .unwrap_err()
        .to_string();
    // Line 10, column 11: the value of the second entry's `expires`.
    assert!(err.starts_with("ci/egress-audit.toml:10:11: "), "{err}");
    assert!(err.contains("entry 2"), "{err}");
    assert!(err.contains("2026-13-01"), "{err}");
}

#[test]
fn unknown_check_ids_are_an_error_naming_them() {
    let catalog = Catalog::load(&[]).unwrap();
    let cfg = config(
        "disabled = [\"EG012\", \"EG099\"]\n[severity]\nsmb-egres = \"low\"\nEG002 = \"low\"\n[[suppress]]\ncheck = \"EG0O4\"\nresource = \"*\"\nreason = \"r\"\n",
    );
    let err = cfg.validate(&catalog).unwrap_err();
    // One error per unknown name, each at the exact value: the list element, the `[severity]`
    // key (not its value), the suppression's `check`.
    let at: Vec<(usize, usize)> = err.0.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(at, [(1, 22), (3, 1), (6, 9)], "{err}");
    let lines: Vec<String> = err.0.iter().map(|d| d.to_string()).collect();
    assert!(lines[0].starts_with("egress-audit.toml:1:22: disabled \"EG099\": no such check"));
    assert!(lines[1].starts_with("egress-audit.toml:3:1: [severity] \"smb-egres\""));
    assert!(lines[2].starts_with("egress-audit.toml:6:9: [[suppress]] entry 1 check \"EG0O4\""));
    assert!(lines[2].contains("known: EG001…EG016"), "{}", lines[2]);
    let err = err.to_string();
    assert!(!err.contains("\"EG012\""), "{err}");
    assert!(!err.contains("\"EG002\""), "{err}");
    config("[[suppress]]\ncheck = \"*\"\nresource = \"*\"\nreason = \"r\"\n")
        .validate(&catalog)
        .expect("* is every check");
}

/// Every bad value of a config comes in one pass, each at its own line and column, in file order.
#[test]
fn every_bad_value_of_a_config_is_reported_at_its_position() {
    let text = "window_days = 0\n\
risky_ports = [\"tcp/22\", \"tcp/99999\"]\n\
dns_resolvers = [\"8.8.8.8\", \"not-an-address\"]\n\
[[suppress]]\ncheck = \"EG004\"\nresource = \"a\"\nreason = \"r\"\nexpires = \"soon\"\n\
[[suppress]]\ncheck = \"EG007\"\nresource = \"b\"\nreason = \"r\"\nexpires = \"2026-02-30\"\n\
[[authorized]]\ntraffic = \"tcpp/443\"\n";
    let err = Config::parse(text, Path::new("egress-audit.toml")).unwrap_err();
    let got: Vec<String> = err.0.iter().map(|d| d.to_string()).collect();
    let expect_prefix = [
        "egress-audit.toml:1:15: window_days must be at least 1",
        "egress-audit.toml:2:26: risky_ports: traffic \"tcp/99999\"",
        "egress-audit.toml:3:29: dns_resolvers \"not-an-address\"",
        "egress-audit.toml:8:11: [[suppress]] entry 1 (check \"EG004\", resource \"a\"): expires \"soon\"",
        "egress-audit.toml:13:11: [[suppress]] entry 2 (check \"EG007\", resource \"b\"): expires \"2026-02-30\"",
        "egress-audit.toml:15:11: [[authorized]] entry 1: traffic \"tcpp/443\"",
    ];
    assert_eq!(got.len(), expect_prefix.len(), "{err}");
    for (g, e) in got.iter().zip(expect_prefix) {
        assert!(g.starts_with(e), "{g:?} should start with {e:?}");
    }
    // The cargo-deny style snippet underlines the value.
    assert_eq!(
        err.0[3].snippet().unwrap(),
        "  |\n8 | expires = \"soon\"\n  |           ^^^^^^"
    );
}

/// A TOML syntax error and a value of the wrong type are placed by the toml crate's own span.
#[test]
fn syntax_and_type_errors_carry_the_position() {
    let err = Config::parse(
        "fail_on = \"high\"\ndisabled = [\"EG001\"\n",
        Path::new("a.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("a.toml:2:"), "{err}");
    assert!(err.contains("invalid config"), "{err}");
    let err = Config::parse("\n\nfail_on = \"hgh\"\n", Path::new("b.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("b.toml:3:11: invalid config"), "{err}");
    assert!(err.contains("hgh"), "{err}");
}

#[test]
fn sample_config_in_examples_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/egress-audit.toml");
    let cfg = Config::load(Some(&path)).expect("examples/egress-audit.toml loads");
    cfg.validate(&Catalog::load(&[]).unwrap())
        .expect("examples/egress-audit.toml names only known checks");
    assert!(!cfg.suppressions.is_empty());
}

fn write_report(dir: &Path, report: &Report) -> std::path::PathBuf {
    let path = dir.join("previous.json");
    std::fs::write(&path, serde_json::to_string_pretty(report).unwrap()).unwrap();
    path
}

#[test]
fn baseline_drops_known_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let mut previous = report();
    previous.findings.truncate(2); // EG001 and EG004 on sg-0abc1
    let path = write_report(dir.path(), &previous);

    let mut r = report();
    egress_audit::report::baseline::apply(&path, &mut r).unwrap();
    assert_eq!(r.findings.len(), 3);
    assert!(r.findings.iter().all(|f| f.resource_id != "sg-0abc1"));
    assert_eq!(r.summary.baseline_matched, Some(2));
    assert_eq!(r.summary.findings, 3);

    // A finding whose message changed is still the same finding.
    let mut r = report();
    r.findings[0].message = "reworded".into();
    egress_audit::report::baseline::apply(&path, &mut r).unwrap();
    assert_eq!(r.summary.baseline_matched, Some(2));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["summary"]["baseline_matched"], 2);
}

#[test]
fn baseline_that_is_not_a_report_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "snapshot.json",
            r#"{"format": "egress-audit-snapshot/1", "documents": []}"#,
        ),
        ("notjson.json", "SecurityGroups: []"),
        ("sgs.json", r#"{"SecurityGroups": []}"#),
        (
            "broken.json",
            r#"{"tool": {"name": "egress-audit", "version": "0"}, "findings": [{"check_id": 1}]}"#,
        ),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut r = report();
        let err = egress_audit::report::baseline::apply(&path, &mut r)
            .unwrap_err()
            .to_string();
        assert!(err.contains(name), "{name}: {err}");
        assert_eq!(r.findings.len(), 5, "nothing dropped on error");
    }
    let missing = dir.path().join("missing.json");
    let err = egress_audit::report::baseline::apply(&missing, &mut report())
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.json"), "{err}");
}

/// Through the binary: a config naming an unknown check stops the scan with exit 2 and a
/// message naming the file and the id.
#[test]
fn cli_rejects_a_config_with_an_unknown_check() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snapshot.json");
    std::fs::write(
        &snap,
        r#"{"format": "egress-audit-snapshot/1", "tool_version": "0.1.0",
            "collected_at": "2026-01-01T00:00:00Z", "documents": []}"#,
    )
    .unwrap();
    let cfg = dir.path().join("audit.toml");
    std::fs::write(&cfg, "disabled = [\"EG404\"]\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(["scan", "--format", "json", "--input"])
        .arg(&snap)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit.toml") && err.contains("EG404"), "{err}");
    assert!(out.stdout.is_empty());
}

/// Issue 13: one lower-case pattern selects Azure targets in a rule and suppresses their findings,
/// although the ids are spelled `/subscriptions/…/resourceGroups/rg-prod-weu/…` (ARM ids ignore
/// case). Real inputs through the loader, a rule file through the catalog.
#[test]
fn one_pattern_selects_and_suppresses_azure_ids_in_any_case() {
    use egress_audit::normalize::{Loader, Options};
    let mut loader = Loader::default();
    loader
        .add_path(Path::new("tests/fixtures/azure/real-cli"))
        .unwrap_or_else(|e| panic!("{e}"));
    let inv = loader.build(&Options::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rg.toml"),
        r#"
id = "ORG013"
slug = "rg-any-egress"
severity = "high"
title = "Anything may leave rg-prod-weu"
rationale = "Issue 13."
remediation = "None."
[query]
kind = "reachable"
traffic = ["all"]
targets = { resource_ids = ["*/resourcegroups/rg-prod-weu/*"] }
"#,
    )
    .unwrap();
    let catalog = Catalog::load(&[dir.path().to_path_buf()]).unwrap();
    let findings: Vec<Finding> = egress_audit::checks::run(&inv, &catalog, &Config::default())
        .unwrap()
        .into_iter()
        .filter(|f| f.check_id == "ORG013")
        .collect();
    assert!(!findings.is_empty(), "the selector selected no target");
    for f in &findings {
        assert!(
            f.resource_id.contains("/resourceGroups/rg-prod-weu/"),
            "{}",
            f.resource_id
        );
    }
    // Another group's pattern selects none of them.
    let other = egress_audit::model::Pattern::new("*/resourcegroups/rg-dev/*");
    assert!(inv.targets.iter().all(|t| !other.matches(&t.resource_id)));

    let n = findings.len();
    let mut r = Report::new(findings, vec![], vec![], inv.targets.len());
    config(
        "[[suppress]]\ncheck = \"ORG013\"\nresource = \"*/resourcegroups/rg-prod-weu/*\"\nreason = \"rg\"\n",
    )
    .apply(&mut r, day("2026-01-01"));
    assert_eq!(r.summary.suppressed, n);
    assert!(r
        .findings
        .iter()
        .all(|f| f.suppressed.as_deref() == Some("rg")));
}
