//! CSV (RFC 4180: CRLF line ends; fields with a comma, quote or line break are quoted, quotes
//! doubled), one row per finding, suppressed ones included with their reason.

use super::evidence_line;
use egress_audit_engine::model::Report;

const HEADER: [&str; 13] = [
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
];

pub fn render(report: &Report) -> String {
    let mut out = row(HEADER.iter().map(|s| s.to_string()));
    for f in &report.findings {
        let evidence: Vec<String> = f.evidence.iter().map(evidence_line).collect();
        out.push_str(&row([
            f.severity.to_string(),
            f.check_id.clone(),
            f.slug.clone(),
            f.provider.clone(),
            f.account.clone().unwrap_or_default(),
            f.region.clone().unwrap_or_default(),
            f.resource_id.clone(),
            f.resource_kind.clone(),
            f.rule.clone().unwrap_or_default(),
            f.message.clone(),
            evidence.join("; "),
            f.notes.join("; "),
            f.suppressed.clone().unwrap_or_default(),
        ]));
    }
    out
}

fn row(fields: impl IntoIterator<Item = String>) -> String {
    let mut line = fields
        .into_iter()
        .map(|f| quote(&f))
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
