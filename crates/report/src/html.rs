//! One self-contained HTML page: inline style, no scripts, no external assets; every value is
//! escaped. Findings are grouped by resource and coloured by severity.

use super::{by_resource, evidence_line, not_scanned_line, qualified_name, summary_line};
use egress_audit_engine::model::{Report, Severity};
use std::fmt::Write;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d1d1f}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}\
h3{font-size:1em;margin:1.6em 0 .4em;font-family:ui-monospace,monospace;word-break:break-all}\
table{border-collapse:collapse;width:100%;margin:.4em 0}\
th,td{border:1px solid #d0d0d5;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f2f2f5}td.ev{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\
.sev{font-weight:600;text-transform:uppercase;white-space:nowrap}\
.critical{background:#7a0019;color:#fff}.high{background:#d1242f;color:#fff}\
.medium{background:#f0a020}.low{background:#fff3b0}.info{background:#e8eef8}\
.partial{border:3px solid #d1242f;background:#fff0f0;padding:.6em 1em;font-weight:600}\
.note{color:#555;font-style:italic}.kind{color:#555;font-weight:normal}";

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>egress-audit report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>egress-audit report</h1>\n<p>{} {}</p>\n",
        esc(&report.tool.name),
        esc(&report.tool.version)
    );
    if !report.not_scanned.is_empty() {
        let _ = write!(
            out,
            "<div class=\"partial\">PARTIAL SCAN: {} scope(s) not read; the results are incomplete.<ul>",
            report.not_scanned.len()
        );
        for ns in &report.not_scanned {
            let _ = write!(out, "<li>{}</li>", esc(&not_scanned_line(ns)));
        }
        out.push_str("</ul></div>\n");
    }
    let _ = writeln!(
        out,
        "<p><strong>{}</strong></p>",
        esc(&summary_line(report))
    );
    out.push_str("<table style=\"width:auto\"><tr><th>Severity</th><th>Findings</th></tr>");
    for sev in Severity::ALL {
        let n = report
            .summary
            .by_severity
            .get(sev.as_str())
            .copied()
            .unwrap_or(0);
        let _ = write!(
            out,
            "<tr><td class=\"sev {sev}\">{sev}</td><td>{n}</td></tr>"
        );
    }
    out.push_str("</table>\n");

    let groups = by_resource(report, false);
    out.push_str("<h2>Findings</h2>\n");
    if groups.is_empty() {
        out.push_str("<p>No findings.</p>\n");
    }
    for (key, findings) in &groups {
        let _ = writeln!(
            out,
            "<h3>{} <span class=\"kind\">{}{}</span></h3>",
            esc(&qualified_name(findings[0])),
            esc(&key.resource_kind),
            key.resource_name
                .as_deref()
                .map(|n| format!(" “{}”", esc(n)))
                .unwrap_or_default()
        );
        out.push_str("<table><tr><th>Severity</th><th>Check</th><th>Finding</th><th>Deciding rules</th></tr>\n");
        for f in findings {
            let mut msg = esc(&f.message);
            if let Some(r) = &f.rule {
                let _ = write!(msg, "<br>rule: <code>{}</code>", esc(r));
            }
            if let Some(o) = f.original_severity.filter(|o| *o != f.severity) {
                let _ = write!(msg, "<br><span class=\"note\">severity was {o}</span>");
            }
            for n in &f.notes {
                let _ = write!(msg, "<br><span class=\"note\">{}</span>", esc(n));
            }
            let ev: Vec<String> = f.evidence.iter().map(|e| esc(&evidence_line(e))).collect();
            let _ = writeln!(
                out,
                "<tr><td class=\"sev {sev}\">{sev}</td><td>{}<br><code>{}</code></td><td>{msg}</td><td class=\"ev\">{}</td></tr>",
                esc(&f.check_id),
                esc(&f.slug),
                ev.join("<br>"),
                sev = f.severity
            );
        }
        out.push_str("</table>\n");
    }

    let suppressed = by_resource(report, true);
    if !suppressed.is_empty() {
        out.push_str(
            "<h2>Suppressed</h2>\n<table><tr><th>Check</th><th>Resource</th><th>Reason</th></tr>\n",
        );
        for f in suppressed.iter().flat_map(|(_, fs)| fs) {
            let _ = writeln!(
                out,
                "<tr><td>{} <code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&f.check_id),
                esc(&f.slug),
                esc(&qualified_name(f)),
                esc(f.suppressed.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>\n");
    }
    if !report.warnings.is_empty() {
        out.push_str(
            "<h2>Warnings</h2>\n<table><tr><th>Kind</th><th>Source</th><th>Message</th></tr>\n",
        );
        for w in &report.warnings {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(w.kind.as_str()),
                esc(&w.source),
                esc(&w.message)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
