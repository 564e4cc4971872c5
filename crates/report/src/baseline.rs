//! `--baseline previous.json`: keep only findings whose fingerprint the previous JSON report does
//! not have; the summary records how many were known (`baseline_matched`).

use egress_audit_engine::model::{Finding, Report};
use std::collections::HashSet;
use std::path::Path;

pub fn apply(path: &Path, report: &mut Report) -> anyhow::Result<()> {
    let known = fingerprints(path)?;
    let before = report.findings.len();
    report
        .findings
        .retain(|f| !known.contains(f.fingerprint().as_ref()));
    report.summary.baseline_matched = Some(before - report.findings.len());
    report.recount();
    Ok(())
}

/// The fingerprints of a previous `--format json` report.
pub fn fingerprints(path: &Path) -> anyhow::Result<HashSet<String>> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{name}: cannot read baseline: {e}"))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{name}: the baseline is not JSON ({e}); give a report written by `scan --format json`"
        )
    })?;
    let tool = value
        .pointer("/tool/name")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let findings = value.get("findings").and_then(|v| v.as_array());
    let (true, Some(findings)) = (tool == "egress-audit", findings) else {
        anyhow::bail!(
            "{name}: the baseline is not an egress-audit JSON report (no tool.name \"egress-audit\" and findings list); give a report written by `scan --format json`"
        );
    };
    let mut out = HashSet::new();
    for (i, f) in findings.iter().enumerate() {
        let finding: Finding = serde_json::from_value(f.clone())
            .map_err(|e| anyhow::anyhow!("{name}: baseline findings[{i}]: {e}"))?;
        out.insert(finding.fingerprint().into_owned());
    }
    Ok(out)
}
