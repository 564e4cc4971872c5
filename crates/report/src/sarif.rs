//! SARIF 2.1.0: one run; rules from the catalog; one result per finding, located logically at
//! `provider/account/region/resource_id` and, for GitHub code scanning, at a pseudo-path
//! `cloud/provider/account/region/resource_id` (cloud resources have no file and line).

mod result;

use super::not_scanned_line;
use egress_audit_engine::checks::{Catalog, CheckDef};
use egress_audit_engine::model::{Report, Severity};
use result::SarifResult;
use serde_json::{json, Value};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The document [`write`] writes, as a `Value` (one source for both).
pub fn sarif(report: &Report, catalog: &Catalog) -> Value {
    let doc = shell(report, catalog);
    serde_json::to_value(Streamed {
        doc: &doc,
        report,
        catalog,
    })
    .expect("a SARIF document has only string keys")
}

/// Writes [`sarif`]'s document to `w` with its results written straight from the findings, on
/// every core, so memory does not grow with the number of findings (a large estate's SARIF held
/// as one `Value` took 24 GB).
pub fn write(
    report: &Report,
    catalog: &Catalog,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    // `runs[0].results`: a member of an object in an array in the top-level object.
    super::spliced::write(
        w,
        super::spliced::Layout::Compact,
        &shell(report, catalog),
        ("results", 3),
        &report.findings,
        |f, buf| serde_json::to_writer(buf, &SarifResult::new(f, catalog)),
    )
}

/// The document, whose `runs[0].results` is written from the findings as it goes.
struct Streamed<'a> {
    doc: &'a Value,
    report: &'a Report,
    catalog: &'a Catalog,
}

impl serde::Serialize for Streamed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let results = Results(self.report, self.catalog);
        let fill = |v: &Value| -> Option<Vec<(String, Value)>> {
            v.as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        };
        let mut top = s.serialize_map(None)?;
        for (k, v) in self.doc.as_object().into_iter().flatten() {
            if k != "runs" {
                top.serialize_entry(k, v)?;
                continue;
            }
            let run = v.get(0).and_then(fill).unwrap_or_default();
            top.serialize_entry(k, &[Run(&run, &results)])?;
        }
        top.end()
    }
}

struct Run<'a>(&'a [(String, Value)], &'a Results<'a>);

impl serde::Serialize for Run<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut run = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            if k == "results" {
                run.serialize_entry(k, self.1)?;
            } else {
                run.serialize_entry(k, v)?;
            }
        }
        run.end()
    }
}

struct Results<'a>(&'a Report, &'a Catalog);

impl serde::Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.findings.iter().map(|f| SarifResult::new(f, self.1)))
    }
}

/// The document without its results (`"results": []`).
fn shell(report: &Report, catalog: &Catalog) -> Value {
    let rules: Vec<Value> = catalog
        .checks
        .iter()
        .map(|c| {
            let mut tags = vec![json!("security"), json!("network"), json!("egress")];
            for (framework, controls) in &c.compliance {
                for control in controls {
                    tags.push(json!(format!("{framework}/{control}")));
                }
            }
            let mut rule = json!({
                "id": c.id,
                "name": c.slug,
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": c.rationale.trim()},
                "help": help(c),
                "defaultConfiguration": {"level": level(c.severity)},
                "properties": {
                    "tags": tags,
                    "security-severity": security_severity(c.severity),
                    "severity": c.severity,
                    "compliance": c.compliance,
                },
            });
            if let Some(path) = help_path(c) {
                rule["properties"]["helpPath"] = json!(path);
            }
            rule
        })
        .collect();

    let mut notifications: Vec<Value> = report
        .warnings
        .iter()
        .map(|w| {
            json!({
                "level": "warning",
                "descriptor": {"id": w.kind},
                "message": {"text": format!("{}: {}", w.source, w.message)},
            })
        })
        .collect();
    notifications.extend(report.not_scanned.iter().map(|n| {
        json!({
            "level": "error",
            "descriptor": {"id": "not-scanned"},
            "message": {"text": format!("not scanned: {}", not_scanned_line(n))},
        })
    }));

    let mut invocation = json!({ "executionSuccessful": report.not_scanned.is_empty() });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "semanticVersion": report.tool.version,
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules,
            }},
            "invocations": [invocation],
            "results": [],
            "properties": {"summary": report.summary},
        }],
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's 0–10 score (a string, as GitHub documents it): ≥9 critical, ≥7 high,
/// ≥4 medium, >0 low.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// Rationale, remediation and compliance, as text and Markdown.
fn help(c: &CheckDef) -> Value {
    let doc = help_path(c)
        .map(|p| format!("\n\nDocumentation: {p} in the egress-audit repository."))
        .unwrap_or_default();
    let compliance = c
        .compliance
        .iter()
        .map(|(framework, controls)| format!("{framework}: {}", controls.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    let mut text = format!(
        "{}\n\nRemediation: {}",
        c.rationale.trim(),
        c.remediation.trim()
    );
    let mut markdown = format!(
        "{}\n\n**Remediation.** {}",
        c.rationale.trim(),
        c.remediation.trim()
    );
    if !compliance.is_empty() {
        text.push_str(&format!("\n\nCompliance: {compliance}"));
        markdown.push_str(&format!("\n\n**Compliance.** {compliance}"));
    }
    text.push_str(&doc);
    markdown.push_str(&doc);
    json!({"text": text, "markdown": markdown})
}

/// The rule file in the repository (`rules/EG001-unrestricted-egress.toml`), which holds the
/// check's rationale, remediation and compliance. SARIF's `helpUri` must be an absolute URI
/// (§3.49.12, and the schema's `format: uri`), and nothing we write may point outside the
/// repository, so the repository-relative path goes in `properties.helpPath` and the help text
/// instead. User rule files have none.
fn help_path(c: &CheckDef) -> Option<String> {
    c.origin
        .strip_prefix("builtin:")
        .map(|path| path.to_string())
}
