//! CSV (RFC 4180: CRLF line ends; fields with a comma, quote or line break are quoted, quotes
//! doubled), one row per finding, suppressed ones included with their reason. A cell that a
//! spreadsheet would run as a formula is neutralised ([`super::text::csv_safe`]).

use super::evidence_line;
use super::text::csv_safe;
use egress_audit_engine::checks::Catalog;
use egress_audit_engine::model::{Finding, Report};

/// The first 13 columns are the original ones, in their order; new columns are appended.
const HEADER: [&str; 20] = [
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
    "cause",
];

/// Written a chunk of rows at a time, the rows made on every core (a large estate has millions).
pub fn write(
    report: &Report,
    catalog: &Catalog,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    w.write_all(header().as_bytes())?;
    super::spliced::in_order(w, &report.findings, &|part: &[Finding], _| {
        let mut out = String::with_capacity(part.len() * 512);
        for f in part {
            out.push_str(&row(fields(f, catalog)));
        }
        Ok(out.into_bytes())
    })
}

fn header() -> String {
    row(HEADER.iter().map(|s| s.to_string()))
}

/// One finding's cells, in [`HEADER`] order.
pub fn fields(f: &Finding, catalog: &Catalog) -> [String; 20] {
    let check = catalog.get(&f.check_id);
    let evidence: Vec<String> = f.evidence.iter().map(evidence_line).collect();
    let compliance = check
        .map(|c| {
            c.compliance
                .iter()
                .map(|(framework, controls)| format!("{framework}: {}", controls.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    [
        f.severity.to_string(),
        f.check_id.to_string(),
        f.slug.to_string(),
        f.provider.to_string(),
        f.account.clone().unwrap_or_default().to_string(),
        f.region.clone().unwrap_or_default().to_string(),
        f.resource_id.to_string(),
        f.resource_kind.to_string(),
        f.rule.as_deref().unwrap_or_default().to_string(),
        f.message.clone(),
        evidence.join("; "),
        f.notes.join("; "),
        f.suppressed.clone().unwrap_or_default(),
        f.resource_name.clone().unwrap_or_default().to_string(),
        f.title.to_string(),
        check
            .map(|c| c.remediation.trim().to_string())
            .unwrap_or_default(),
        compliance,
        f.fingerprint().into_owned(),
        f.original_severity
            .map(|s| s.to_string())
            .unwrap_or_default(),
        f.cause
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    ]
}

fn row(fields: impl IntoIterator<Item = String>) -> String {
    let mut line = fields
        .into_iter()
        .map(|f| quote(&csv_safe(&f)))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
