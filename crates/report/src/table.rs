//! The terminal table: a heading per resource, one row per finding, then the summary, suppressed
//! findings, warnings and (loudly) the scopes that were not read. Every line fits in `width`.

use super::{by_resource, evidence_line, not_scanned_line, plural, qualified_name, summary_line};
use comfy_table::{presets, Cell, ColumnConstraint, ContentArrangement, Table, Width};
use egress_audit_engine::model::{Finding, Report};

/// More deciding rules than this are summarised as `… and N more` (JSON has them all).
const MAX_EVIDENCE_LINES: usize = 6;

pub fn render_table(report: &Report, width: u16) -> String {
    let width = width.max(40);
    let w = usize::from(width);
    let mut out = String::new();

    if !report.not_scanned.is_empty() {
        partial_banner(report, w, "below", &mut out);
    }

    let groups = by_resource(report, false);
    // The same column widths for every resource's table.
    let check_width = groups
        .iter()
        .flat_map(|(_, fs)| fs.iter())
        .map(|f| f.slug.chars().count().max(f.check_id.chars().count()))
        .max()
        .unwrap_or(5)
        .clamp(5, 24) as u16
        + 2;
    if groups.is_empty() {
        out.push_str("No findings.\n\n");
    }
    for (key, findings) in &groups {
        for line in wrap(&key.heading(), w, "  ") {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&findings_table(findings, width, check_width));
        out.push_str("\n\n");
    }

    for line in wrap(&summary_line(report), w, "  ") {
        out.push_str(&line);
        out.push('\n');
    }

    let suppressed = by_resource(report, true);
    if !suppressed.is_empty() {
        out.push_str(&format!("\nSuppressed ({}):\n", report.summary.suppressed));
        for (_, findings) in &suppressed {
            for f in findings {
                let text = format!(
                    "- {} {} {} ({}): {}",
                    f.severity,
                    f.check_id,
                    qualified_name(f),
                    f.slug,
                    f.suppressed.as_deref().unwrap_or("")
                );
                push_wrapped(&mut out, &text, w);
            }
        }
    }

    if !report.warnings.is_empty() {
        out.push_str(&format!("\nWarnings ({}):\n", report.warnings.len()));
        for wn in &report.warnings {
            let text = format!("- [{}] {}: {}", wn.kind, wn.source, wn.message);
            push_wrapped(&mut out, &text, w);
        }
    }

    if !report.not_scanned.is_empty() {
        out.push('\n');
        partial_banner(report, w, "above", &mut out);
    }
    out
}

/// Printed first and last so that nobody reads a partial scan as clean.
fn partial_banner(report: &Report, w: usize, where_: &str, out: &mut String) {
    let n = report.not_scanned.len();
    let title = format!(
        "PARTIAL SCAN: {} not read - the results {where_} are incomplete",
        plural(n, "scope")
    );
    let bar = "!".repeat(w.min(title.chars().count() + 4));
    out.push_str(&bar);
    out.push('\n');
    push_wrapped(out, &format!("! {title}"), w);
    for ns in &report.not_scanned {
        push_wrapped(out, &format!("!  - {}", not_scanned_line(ns)), w);
    }
    out.push_str(&bar);
    out.push_str("\n\n");
}

fn push_wrapped(out: &mut String, text: &str, w: usize) {
    for line in wrap(text, w, "    ") {
        out.push_str(&line);
        out.push('\n');
    }
}

fn findings_table(findings: &[&Finding], width: u16, check_width: u16) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(vec!["Severity", "Check", "Finding", "Deciding rules"]);
    for f in findings {
        t.add_row(vec![
            Cell::new(severity_cell(f)),
            Cell::new(format!("{}\n{}", f.check_id, f.slug)),
            Cell::new(message_cell(f)),
            Cell::new(evidence_cell(f)),
        ]);
    }
    // Severity and check keep their width; message and evidence share the rest.
    let fixed = [
        ColumnConstraint::Absolute(Width::Fixed(10)),
        ColumnConstraint::Absolute(Width::Fixed(check_width)),
    ];
    for (col, c) in t.column_iter_mut().zip(fixed) {
        col.set_constraint(c);
    }
    t.to_string()
}

fn severity_cell(f: &Finding) -> String {
    match f.original_severity {
        Some(o) if o != f.severity => format!("{}\n(was {o})", f.severity),
        _ => f.severity.to_string(),
    }
}

fn message_cell(f: &Finding) -> String {
    let mut s = f.message.clone();
    if let Some(r) = &f.rule {
        s.push_str(&format!("\nrule: {r}"));
    }
    if f.observed {
        s.push_str("\nobserved by a live probe");
    }
    for n in &f.notes {
        s.push_str(&format!("\nnote: {n}"));
    }
    s
}

fn evidence_cell(f: &Finding) -> String {
    if f.evidence.is_empty() {
        return "-".into();
    }
    let mut lines: Vec<String> = f
        .evidence
        .iter()
        .take(MAX_EVIDENCE_LINES)
        .map(|e| format!("• {}", short_rule_names(f, evidence_line(e))))
        .collect();
    if f.evidence.len() > MAX_EVIDENCE_LINES {
        lines.push(format!(
            "… and {} more (see --format json)",
            f.evidence.len() - MAX_EVIDENCE_LINES
        ));
    }
    lines.join("\n")
}

/// Azure rules named by full resource id repeat the heading's long NSG id on every line: keep
/// the NSG's own name and what follows it.
fn short_rule_names(f: &Finding, line: String) -> String {
    let id = f.resource_id.as_str();
    match id.rsplit_once('/') {
        Some((prefix, _)) if id.len() > 40 && line.contains(id) => {
            line.replace(&format!("{prefix}/"), "…/")
        }
        _ => line,
    }
}

/// Word-wraps `text` to `width` characters; continuation lines start with `indent`; words longer
/// than a line (Azure resource ids) are split.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let indent_len = indent.chars().count();
    let width = width.max(indent_len + 10);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0usize;
    // True while the line holds nothing but its indent.
    let mut at_start = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut chars: Vec<char> = word.chars().collect();
        while !chars.is_empty() {
            let sep = usize::from(!at_start);
            if len + sep + chars.len() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(chars.drain(..));
                len = line.chars().count();
                at_start = false;
            } else if at_start {
                let room = width - len;
                line.extend(chars.drain(..room));
                len = width;
                at_start = false;
            } else {
                lines.push(std::mem::take(&mut line));
                line.push_str(indent);
                len = indent_len;
                at_start = true;
            }
        }
    }
    if !at_start || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_and_splits_long_ones() {
        let lines = wrap("aaa bbb ccc ddd", 12, "  ");
        assert_eq!(lines, vec!["aaa bbb ccc", "  ddd"]);
        let long = "x".repeat(30);
        let lines = wrap(&format!("id {long}"), 12, "  ");
        assert!(lines.iter().all(|l| l.chars().count() <= 12), "{lines:?}");
        assert_eq!(lines.concat().matches('x').count(), 30);
    }
}
