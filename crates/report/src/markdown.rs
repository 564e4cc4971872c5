//! Markdown for pull-request comments and job summaries: counts per severity and per resource,
//! then the findings of each resource.

use super::{by_resource, evidence_line, not_scanned_line, qualified_name, summary_line};
use egress_audit_engine::model::{Report, Severity};
use std::fmt::Write;

pub fn render(report: &Report) -> String {
    let mut out = String::from("# egress-audit report\n\n");
    if !report.not_scanned.is_empty() {
        let _ = writeln!(
            out,
            "> **PARTIAL SCAN: {} scope(s) not read; the results are incomplete.**\n>",
            report.not_scanned.len()
        );
        for ns in &report.not_scanned {
            let _ = writeln!(out, "> - {}", cell(&not_scanned_line(ns)));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}\n", cell(&summary_line(report)));

    out.push_str("| Severity | Findings |\n|---|---:|\n");
    for sev in Severity::ALL {
        let n = report
            .summary
            .by_severity
            .get(sev.as_str())
            .copied()
            .unwrap_or(0);
        let _ = writeln!(out, "| {sev} | {n} |");
    }
    out.push('\n');

    let groups = by_resource(report, false);
    if groups.is_empty() {
        out.push_str("No findings.\n");
    } else {
        out.push_str("| Resource | Kind | Critical | High | Medium | Low | Info |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
        for (key, findings) in &groups {
            let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                code(&qualified_name(findings[0])),
                cell(&key.resource_kind),
                count(Severity::Critical),
                count(Severity::High),
                count(Severity::Medium),
                count(Severity::Low),
                count(Severity::Info)
            );
        }
        out.push_str("\n## Findings\n");
        for (key, findings) in &groups {
            let _ = writeln!(out, "\n### {}\n", cell(&key.heading()));
            out.push_str("| Severity | Check | Finding | Deciding rules |\n|---|---|---|---|\n");
            for f in findings {
                let mut msg = cell(&f.message);
                if let Some(r) = &f.rule {
                    let _ = write!(msg, "<br>rule: `{}`", code(r));
                }
                for n in &f.notes {
                    let _ = write!(msg, "<br>_note: {}_", cell(n));
                }
                let ev: Vec<String> = f.evidence.iter().map(|e| cell(&evidence_line(e))).collect();
                let _ = writeln!(
                    out,
                    "| {} | {} `{}` | {} | {} |",
                    f.severity,
                    f.check_id,
                    code(&f.slug),
                    msg,
                    ev.join("<br>")
                );
            }
        }
    }

    let suppressed = by_resource(report, true);
    if !suppressed.is_empty() {
        out.push_str("\n## Suppressed\n\n| Check | Resource | Reason |\n|---|---|---|\n");
        for (_, findings) in &suppressed {
            for f in findings {
                let _ = writeln!(
                    out,
                    "| {} `{}` | `{}` | {} |",
                    f.check_id,
                    code(&f.slug),
                    code(&qualified_name(f)),
                    cell(f.suppressed.as_deref().unwrap_or(""))
                );
            }
        }
    }
    if !report.warnings.is_empty() {
        out.push_str("\n## Warnings\n\n| Kind | Source | Message |\n|---|---|---|\n");
        for w in &report.warnings {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(w.kind.as_str()),
                cell(&w.source),
                cell(&w.message)
            );
        }
    }
    out
}

/// Text for a table cell: no pipes, no line breaks, no HTML.
fn cell(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// Text inside backticks in a table cell.
fn code(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|").replace('\n', " ")
}
