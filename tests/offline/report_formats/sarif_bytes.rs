//! The SARIF writer's exact bytes, on a report that sets every optional field a result can have:
//! a golden file pins them, so that a faster writer cannot change a key's order, drop an absent
//! option's omission or escape a character differently without the diff showing it. After a
//! deliberate change, regenerate with
//! `EGRESS_AUDIT_BLESS=1 cargo test --all-features --test offline sarif_bytes` and review the diff.

use super::{catalog, finding, sarif_validator, schema_errors};
use egress_audit::model::{Evidence, Report, RuleText, Severity};
use egress_audit::report::{render_with, write_report, Context, Format};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn evidence(
    rule: &str,
    what: (&str, &str),
    priority: Option<i64>,
    decides: Option<&str>,
) -> Evidence {
    Evidence::new(
        Arc::new(RuleText {
            name: rule.into(),
            action: "allow".into(),
            priority,
            protocol: what.0.into(),
            ports: what.1.into(),
            destination: "0.0.0.0/0".into(),
        }),
        decides.map(str::to_string),
    )
}

/// Every optional field of a result set on one finding and unset on another, evidence with and
/// without `decides` and `priority`, text that needs JSON escaping, a resource id that needs
/// percent-encoding, and a check the catalog does not have (no `ruleIndex`).
fn every_field() -> Report {
    let mut full = finding("EG002", "smb-egress", Severity::Medium, "aws", "sg-0aaa");
    full.rule = Some("sg-0aaa egress #2".into());
    full.original_severity = Some(Severity::High);
    full.suppressed = Some("partner link, \"ticket\" SEC-12".into());
    full.notes = vec![
        "no internet path: route table rtb-1 has no default route".into(),
        "egress passes an appliance: 10.0.0.4".into(),
    ];
    full.cause = Some("aws:111122223333:security-group:sg-0aaa egress #2".into());
    full.observed = true;
    full.evidence = vec![
        evidence(
            "sg-0aaa egress #2",
            ("tcp", "445"),
            Some(100),
            Some("tcp/445 to 0.0.0.0/0"),
        ),
        evidence("sg-0aaa egress #3", ("-1", "0-65535"), None, None),
        evidence("sg-0aaa egress #4", ("udp", "*"), Some(-5), None),
        evidence(
            "sg-0aaa egress #5",
            ("tcp", "1-1000"),
            None,
            Some("tcp/445 to 10.0.0.0/8"),
        ),
    ];

    let mut bare = finding("EG999", "not-in-catalog", Severity::Critical, "gcp", "x");
    bare.account = None;
    bare.region = None;
    bare.resource_name = None;
    bare.resource_id = "/projects/p 1/firewalls/fw#1?é%".into();
    bare.resource_kind = "firewall".into();
    bare.message = "quote \" backslash \\ tab\t newline\n control \u{1} non-ASCII é→".into();
    bare.evidence = vec![];

    let (warnings, not_scanned) = super::warning_and_unread_region();
    let mut report = Report::new(vec![full, bare], warnings, not_scanned, 2);
    // The golden must not change with each release.
    report.tool.version = "0.0.0-golden".into();
    report
}

#[test]
fn sarif_bytes_match_the_golden_file_streamed_and_whole() {
    let mut catalog = catalog();
    // Two checks keep the golden short; EG002 second gives a `ruleIndex` other than 0.
    catalog
        .checks
        .retain(|c| c.id == "EG001" || c.id == "EG002");
    assert_eq!(catalog.checks.len(), 2);
    let report = every_field();
    let ctx = Context::new(&report, &catalog, &[]);

    let mut streamed = Vec::new();
    write_report(&report, Format::Sarif, &ctx, &mut streamed).unwrap();
    let streamed = String::from_utf8(streamed).unwrap();
    let whole = render_with(&report, Format::Sarif, &ctx).unwrap();

    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-every-field.golden.sarif");
    if std::env::var_os("EGRESS_AUDIT_BLESS").is_some() {
        std::fs::write(&golden, &streamed).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    let as_value = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    assert_eq!(
        as_value(&streamed),
        as_value(&want),
        "streamed SARIF's content"
    );
    assert!(
        streamed == want,
        "streamed SARIF differs from {golden:?}: {}",
        first_difference(&streamed, &want)
    );
    assert!(
        whole == want,
        "sarif() rendered differs from {golden:?}: {}",
        first_difference(&whole, &want)
    );
    let errors = schema_errors(&sarif_validator(), &as_value(&want));
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");
}

/// Where two documents part, for a failure message shorter than both documents.
fn first_difference(got: &str, want: &str) -> String {
    let mut lines = got.lines().zip(want.lines()).enumerate();
    match lines.find(|(_, (g, w))| g != w) {
        Some((i, (g, w))) => format!("line {}: got {g:?}, want {w:?}", i + 1),
        None => format!(
            "{} lines, want {}",
            got.lines().count(),
            want.lines().count()
        ),
    }
}
