//! Every output format, on reports built from the model types: SARIF against the official
//! schema, JUnit and HTML well-formed and escaped, CSV quoting read back by a CSV parser, the
//! table within 100 columns and grouped by resource.

use egress_audit::checks::Catalog;
use egress_audit::model::RuleText;
use egress_audit::model::{Evidence, Finding, Fingerprint, Report, Severity, Warning, WarningKind};
use egress_audit::report::{render, render_table, write_atomic, Format};
use egress_audit_snapshot::{NotScanned, Provider};
use serde_json::Value;
use std::sync::Arc;

const AZURE_NSG: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-production-network/providers/Microsoft.Network/networkSecurityGroups/nsg-web-tier-frontend";

fn finding(check: &str, slug: &str, sev: Severity, provider: &str, resource: &str) -> Finding {
    Finding {
        check_id: check.into(),
        slug: slug.into(),
        severity: sev,
        title: format!("{slug} title").into(),
        provider: provider.into(),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        resource_id: resource.into(),
        resource_kind: "security-group".into(),
        resource_name: Some("web".into()),
        rule: None,
        message: format!("{slug}: tcp/445 is allowed to 100% of public IPv4"),
        evidence: vec![Evidence::new(
            crate::report_formats::allow_all_tcp(resource),
            Some("tcp/445 to 0.0.0.0/0".into()),
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

/// Two AWS groups, one Azure NSG with a long id and many rules, a suppressed finding, a
/// rule-level finding, a warning and an unread region.
/// `RESOURCE egress #1`: all tcp to 0.0.0.0/0, as a security group writes it.
pub(crate) fn allow_all_tcp(resource: &str) -> Arc<RuleText> {
    RuleText::new(
        format!("{resource} egress #1").into(),
        egress_audit::model::Action::Allow,
        None,
        "tcp".into(),
        "0-65535".into(),
        "0.0.0.0/0".into(),
    )
}

fn sample() -> Report {
    let mut findings = vec![
        finding(
            "EG001",
            "unrestricted-egress",
            Severity::High,
            "aws",
            "sg-0aaa",
        ),
        finding("EG002", "smb-egress", Severity::High, "aws", "sg-0aaa"),
        finding("EG007", "icmp-egress", Severity::Low, "aws", "sg-0bbb"),
        finding("EG004", "ftp-egress", Severity::Medium, "aws", "sg-0bbb"),
    ];
    let mut az = finding(
        "EG013",
        "risky-port-egress",
        Severity::Medium,
        "azure",
        AZURE_NSG,
    );
    az.account = Some("00000000-0000-0000-0000-000000000000".into());
    az.region = Some("westeurope".into());
    az.resource_kind = "nsg".into();
    az.evidence = (0..9)
        .map(|i| {
            Evidence::new(
                Arc::new(RuleText {
                    name: format!(
                        "{AZURE_NSG}/securityRules/allow-outbound-application-traffic-{i}"
                    )
                    .into(),
                    action: "allow".into(),
                    priority: Some(100 + i),
                    protocol: "Tcp".into(),
                    ports: "1-65535".into(),
                    destination: "Internet".into(),
                }),
                None,
            )
        })
        .collect();
    az.notes
        .push("egress passes an appliance: 10.0.0.4 (azure firewall)".into());
    findings.push(az);
    let mut shadowed = finding("EG011", "shadowed-deny", Severity::High, "aws", "acl-0ccc");
    shadowed.rule = Some("acl-0ccc rule 200".into());
    shadowed.resource_kind = "network-acl".into();
    shadowed.resource_name = None;
    findings.push(shadowed);
    let mut sup = finding("EG004", "ftp-egress", Severity::Medium, "aws", "sg-0ddd");
    sup.suppressed = Some("legacy FTP partner, ticket SEC-12".into());
    findings.push(sup);
    let (warnings, not_scanned) = warning_and_unread_region();
    Report::new(findings, warnings, not_scanned, 5)
}

/// The sample reports' one warning and one region that was not read.
pub(crate) fn warning_and_unread_region() -> (Vec<Warning>, Vec<NotScanned>) {
    (
        vec![Warning {
            kind: WarningKind::UnresolvedDestination,
            source: "nsg.json".into(),
            message: "service tag Storage.WestEurope is not resolved".into(),
        }],
        vec![NotScanned {
            provider: Provider::Aws,
            account: Some("111122223333".into()),
            region: Some("me-south-1".into()),
            scope: "region".into(),
            reason: "OptInRequired: the region is not enabled".into(),
        }],
    )
}

fn catalog() -> Catalog {
    Catalog::load(&[]).expect("built-in catalog")
}

fn sarif_validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sarif-2.1.0-schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles offline")
}

fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn sarif_is_valid_and_maps_levels_and_suppressions() {
    let report = sample();
    let text = render(&report, Format::Sarif, &catalog()).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let validator = sarif_validator();
    let errors = schema_errors(&validator, &doc);
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");

    // The validator is not vacuous: a wrong level is rejected.
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["level"] = "critical".into();
    assert!(!schema_errors(&validator, &bad).is_empty());

    let run = &doc["runs"][0];
    assert_eq!(doc["version"], "2.1.0");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), catalog().checks.len());
    let eg002 = rules.iter().find(|r| r["id"] == "EG002").unwrap();
    assert_eq!(eg002["name"], "smb-egress");
    assert_eq!(eg002["properties"]["security-severity"], "8.0");
    let tags: Vec<&str> = eg002["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"nist-800-53/AC-4"), "{tags:?}");

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), report.findings.len());
    let level_of = |check: &str| -> Vec<&str> {
        results
            .iter()
            .filter(|r| r["ruleId"] == check)
            .map(|r| r["level"].as_str().unwrap())
            .collect()
    };
    assert_eq!(level_of("EG002"), ["error"]);
    assert_eq!(level_of("EG004"), ["warning", "warning"]);
    assert_eq!(level_of("EG007"), ["note"]);

    let smb = results.iter().find(|r| r["ruleId"] == "EG002").unwrap();
    assert_eq!(
        smb["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "aws/111122223333/us-east-1/sg-0aaa"
    );
    assert_eq!(
        smb["locations"][0]["logicalLocations"][0]["kind"],
        "resource"
    );
    // GitHub code scanning needs a physical location; the resource stands in for a file.
    assert_eq!(
        smb["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "cloud/aws/111122223333/us-east-1/sg-0aaa"
    );
    let az = results.iter().find(|r| r["ruleId"] == "EG013").unwrap();
    let uri = az["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        uri.starts_with(
            "cloud/azure/00000000-0000-0000-0000-000000000000/westeurope/subscriptions/"
        ),
        "{uri}"
    );
    // A URI reference: unreserved characters, `/` and percent-escapes only (the schema's
    // uri-reference format is not checked by a draft-04 validator).
    for r in results {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            uri.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)),
            "{uri}"
        );
    }
    assert_eq!(
        smb["partialFingerprints"]["egressAudit/v1"],
        report.findings[1].fingerprint().as_ref()
    );
    let msg = smb["message"]["text"].as_str().unwrap();
    assert!(msg.contains("sg-0aaa egress #1"), "{msg}");
    // ruleIndex points at the rule it names.
    let idx = smb["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[idx]["id"], "EG002");

    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "external");
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "legacy FTP partner, ticket SEC-12"
    );

    let inv = &run["invocations"][0];
    assert_eq!(
        inv["executionSuccessful"], false,
        "a partial scan is not a successful run"
    );
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().any(|n| n["descriptor"]["id"] == "not-scanned"
        && n["message"]["text"]
            .as_str()
            .unwrap()
            .contains("me-south-1")));
}

#[test]
fn sarif_of_an_empty_clean_report_is_valid() {
    let report = Report::new(vec![], vec![], vec![], 0);
    let doc: Value =
        serde_json::from_str(&render(&report, Format::Sarif, &catalog()).unwrap()).unwrap();
    let errors = schema_errors(&sarif_validator(), &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        doc["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
}

/// An element's name, attributes and text.
type Element = (String, Vec<(String, String)>, String);

/// Elements with their attributes and text, read with a real XML parser (fails on malformed XML).
fn parse_junit(xml: &str) -> Vec<Element> {
    use quick_xml::events::{BytesStart, Event};
    fn element(e: &BytesStart) -> Element {
        let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        let attrs = e
            .attributes()
            .map(|a| {
                let a = a.expect("valid attribute");
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().expect("valid escapes").into_owned(),
                )
            })
            .collect();
        (name, attrs, String::new())
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                out.push(element(&e));
                stack.push(out.len() - 1);
            }
            Event::Empty(e) => out.push(element(&e)),
            Event::End(_) => {
                stack.pop().expect("balanced tags");
            }
            Event::Text(t) => {
                if let Some(&i) = stack.last() {
                    out[i].2.push_str(&t.decode().unwrap());
                }
            }
            Event::GeneralRef(r) => {
                let Some(&i) = stack.last() else { continue };
                let c = match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => c,
                    None => match r.decode().unwrap().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    },
                };
                out[i].2.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    out
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no attribute {key}"))
}

#[test]
fn junit_is_well_formed_with_one_failure_per_active_finding() {
    let mut report = sample();
    report.findings[0].message = "a <b> & \"c\" 'd' \u{1}".into();
    let xml = render(&report, Format::Junit, &catalog()).unwrap();
    let elements = parse_junit(&xml);
    let count = |n: &str| elements.iter().filter(|e| e.0 == n).count();
    let active = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .count();
    assert_eq!(active, 6);
    assert_eq!(count("failure"), active);
    assert_eq!(count("skipped"), 1);
    assert_eq!(count("error"), 1, "one error per scope not read");
    let root = elements.iter().find(|e| e.0 == "testsuites").unwrap();
    assert_eq!(attr(&root.1, "failures"), "6");
    assert_eq!(attr(&root.1, "skipped"), "1");
    let tests: usize = attr(&root.1, "tests").parse().unwrap();
    assert_eq!(tests, count("testcase"));
    // Checks without findings pass visibly.
    let eg003 = elements
        .iter()
        .find(|e| e.0 == "testsuite" && attr(&e.1, "name").starts_with("EG003"))
        .unwrap();
    assert_eq!(attr(&eg003.1, "failures"), "0");
    // Escaped text reads back as written (minus the control character XML cannot carry).
    let failure = elements
        .iter()
        .find(|e| e.0 == "failure" && attr(&e.1, "message").starts_with("a <b>"))
        .unwrap();
    assert_eq!(attr(&failure.1, "message"), "a <b> & \"c\" 'd' ");
    assert!(failure.2.contains("sg-0aaa egress #1"), "{}", failure.2);
}

#[test]
fn csv_quotes_commas_quotes_and_newlines() {
    let mut report = sample();
    report.findings[0].message = "tcp/445, udp/137 to \"public\"\nsecond line".into();
    let text = render(&report, Format::Csv, &catalog()).unwrap();
    assert!(text.contains("\r\n"), "RFC 4180 line ends");
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "severity",
            "check_id",
            "slug",
            "provider",
            "account",
            "region",
            "resource_id",
            "resource_kind",
            "rule",
            "message",
            "evidence",
            "notes",
            "suppressed",
            "resource_name",
            "title",
            "remediation",
            "compliance",
            "fingerprint",
            "original_severity",
            "cause"
        ]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), report.findings.len());
    assert!(rows.iter().all(|r| r.len() == 20));
    let first = &rows[0];
    assert_eq!(&first[13], "web");
    assert_eq!(&first[14], "unrestricted-egress title");
    assert!(
        first[15].contains("0.0.0.0/0"),
        "remediation from the catalog"
    );
    assert!(first[16].contains("nist-800-53"), "{}", &first[16]);
    assert_eq!(&first[17], report.findings[0].fingerprint().as_ref());
    assert!(
        first[19].contains("sg-0aaa egress #1"),
        "cause: {}",
        &first[19]
    );
    let first = &rows[0];
    assert_eq!(&first[9], "tcp/445, udp/137 to \"public\"\nsecond line");
    assert_eq!(&first[0], report.findings[0].severity.as_str());
    assert!(first[10].contains("sg-0aaa egress #1"));
    let az = rows.iter().find(|r| &r[3] == "azure").unwrap();
    assert_eq!(
        az[10].matches("; ").count(),
        8,
        "nine evidence entries joined"
    );
    let sup = rows.iter().find(|r| &r[6] == "sg-0ddd").unwrap();
    assert_eq!(&sup[12], "legacy FTP partner, ticket SEC-12");
}

#[test]
fn table_puts_the_summary_and_causes_first_and_fits_80_columns() {
    let report = sample();
    let text = render_table(&report, 80);
    for line in text.lines() {
        // Only a single unbreakable id may be longer than the line.
        if line.chars().count() > 80 {
            assert!(
                !line.trim().contains(' ') || line.trim_start().starts_with("/subscriptions/"),
                "line of {} chars: {line}",
                line.chars().count()
            );
        }
    }
    // The summary comes first, before any cause; the partial banner before everything.
    let summary = text
        .find("5 targets · 6 findings (3 high, 2 medium, 1 low) · 1 suppressed")
        .unwrap();
    assert!(text.find("PARTIAL SCAN: 1 scope not read").unwrap() < summary);
    let causes = text.find("Root causes (").unwrap();
    assert!(summary < causes);
    // One entry per cause: sg-0aaa's allow-all closes its two findings, named once.
    let entries: Vec<&str> = text[causes..]
        .lines()
        .filter(|l| l.starts_with("HIGH") || l.starts_with("MEDIUM") || l.starts_with("LOW"))
        .collect();
    assert_eq!(entries.len(), 4, "{text}");
    assert_eq!(
        entries
            .iter()
            .filter(|l| l.contains("sg-0aaa egress #1"))
            .count(),
        1
    );
    assert!(
        text.contains("2 findings on 1 target: EG001 EG002"),
        "{text}"
    );
    assert!(text.contains("replace with an allow-list"), "{text}");
    // Ids are never broken: the Azure rule names appear whole.
    assert!(text.contains("allow-outbound-application-traffic-0"));
    assert!(text.contains("Suppressed (1):"));
    assert!(text.contains("legacy FTP partner"));
    assert!(text.contains("Warnings (1):"));
    assert!(text.contains("OptInRequired"));
    // The worst cause comes first, and there is no colour unless asked for.
    assert!(text.find("sg-0aaa").unwrap() < text.find("sg-0bbb").unwrap());
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn table_of_a_clean_report_says_so() {
    let report = Report::new(vec![], vec![], vec![], 3);
    let text = render_table(&report, 100);
    assert!(text.contains("No findings."));
    assert!(text.contains("3 targets · 0 findings"));
    assert!(!text.contains("PARTIAL"));
}

#[test]
fn html_escapes_and_is_self_contained() {
    let mut report = sample();
    report.findings[0].message = "<script>alert(1)</script>".into();
    report.findings[1].resource_name = Some("\"><img src=x onerror=alert(2)>".into());
    let html = render(&report, Format::Html, &catalog()).unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(html.contains("class=\"sev high\""));
    assert!(html.contains("PARTIAL SCAN"));
    // One matrix row per target, the suppressed one too (the rule-level finding is about a rule,
    // not a target); one cause block per root cause that is not only suppressed.
    assert_eq!(
        html.matches("<tr id=\"t").count(),
        5,
        "one matrix row per target"
    );
    assert_eq!(html.matches("<div class=\"cause ").count(), 4);
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn markdown_escapes_cells_and_summarises() {
    let mut report = sample();
    report.findings[0].message = "a | b\nc".into();
    let md = render(&report, Format::Markdown, &catalog()).unwrap();
    assert!(md.contains("a \\| b<br>c"));
    assert!(md.contains("| high | 3 |"));
    assert!(md
        .contains("| `aws/111122223333/us-east-1/sg-0aaa` | security-group | 0 | 2 | 0 | 0 | 0 |"));
    assert!(md.contains("PARTIAL SCAN"));
    assert!(md.contains("## Suppressed"));
}

#[test]
fn json_round_trips() {
    let report = sample();
    let text = render(&report, Format::Json, &catalog()).unwrap();
    let mut back: Report = serde_json::from_str(&text).unwrap();
    // Each finding carries its root cause.
    assert_eq!(
        back.findings[0]
            .cause
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("aws:111122223333:security-group:sg-0aaa egress #1")
    );
    assert_eq!(back.findings[0].cause, back.findings[1].cause);
    for f in &mut back.findings {
        assert!(f.cause.take().is_some());
    }
    assert_eq!(back.findings, report.findings);
    assert_eq!(back.summary.findings, 6);
    assert_eq!(back.summary.suppressed, 1);
    assert!(back.summary.partial);
}

#[test]
fn rules_catalog_formats() {
    use egress_audit::report::catalog::render_catalog;
    let cat = catalog();
    let json: Value = serde_json::from_str(&render_catalog(&cat, "json").unwrap()).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), cat.checks.len());
    let eg001 = &arr[0];
    assert_eq!(eg001["id"], "EG001");
    assert_eq!(eg001["query_kind"], "coverage");
    assert_eq!(eg001["origin"], "builtin");
    assert!(eg001["compliance"]["nist-800-53"].is_array());
    let table = render_catalog(&cat, "table").unwrap();
    assert!(table.contains("smb-egress") && table.contains("reachable"));
    let md = render_catalog(&cat, "markdown").unwrap();
    assert!(md.contains("## EG013") && md.contains("**Remediation.**"));
    assert!(render_catalog(&cat, "yaml")
        .unwrap_err()
        .to_string()
        .contains("yaml"));
}

#[test]
fn write_atomic_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.sarif");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.sarif"]);
    // A failed rename (the target is a folder) cleans up too.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("x"), "x").unwrap();
    assert!(write_atomic(&sub, b"x").is_err());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// Through the binary: an empty snapshot with an unread region gives a valid SARIF file, written
/// atomically, and exit 3 (partial).
#[test]
fn cli_writes_sarif_of_a_partial_scan() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snapshot.json");
    std::fs::write(
        &snap,
        r#"{"format": "egress-audit-snapshot/1", "tool_version": "0.1.0",
            "collected_at": "2026-01-01T00:00:00Z", "documents": [],
            "not_scanned": [{"provider": "aws", "account": "111122223333",
                             "region": "me-south-1", "scope": "region", "reason": "OptInRequired"}]}"#,
    )
    .unwrap();
    let out = dir.path().join("out.sarif");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(["scan", "--quiet", "--format", "sarif", "--input"])
        .arg(&snap)
        .arg("--output")
        .arg(&out)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let errors = schema_errors(&sarif_validator(), &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes[0]["message"]["text"]
        .as_str()
        .unwrap()
        .contains("me-south-1"));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["out.sarif", "snapshot.json"]);
}

mod safety;

mod browser;

mod causes;

mod streaming;

mod sarif_bytes;
