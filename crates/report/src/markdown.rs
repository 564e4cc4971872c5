//! Markdown for pull-request comments and job summaries: the summary, the root causes with their
//! fix, then the findings grouped by cause, target or check. It stays under GitHub's 1 MiB
//! job-summary limit: past [`LIMIT`] the remaining findings are left out with a note and a count.
//! Text from inputs cannot inject links, images, mentions or HTML ([`cell`]).

use super::{
    by_resource, evidence_line, not_scanned_line, plural, qualified_name, remedy, summary_line,
    Context, GroupBy,
};
use egress_audit_engine::model::{Finding, Report, Severity};
use std::fmt::Write;

/// GitHub refuses job summaries over 1 MiB; keep a margin for the closing note.
pub const LIMIT: usize = 1024 * 1024 - 16 * 1024;

pub fn render(report: &Report, ctx: &Context) -> String {
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

    let mut budget = Budget { out, omitted: 0 };
    if report.summary.findings == 0 {
        budget.out.push_str("No findings.\n");
    } else {
        causes_table(report, ctx, &mut budget);
        resources_table(report, &mut budget);
        match ctx.style.group_by {
            GroupBy::Cause => findings_by_cause(report, ctx, &mut budget),
            GroupBy::Target | GroupBy::Check => {
                findings_by(report, ctx.style.group_by, &mut budget)
            }
        }
    }
    suppressed_and_warnings(report, &mut budget);
    let Budget { mut out, omitted } = budget;
    if omitted > 0 {
        let _ = writeln!(
            out,
            "\n> **Truncated:** {} left out to stay under the 1 MiB limit of a job summary; the JSON or SARIF report has them all.",
            plural(omitted, "row")
        );
    }
    out
}

/// Appends rows while the text stays under [`LIMIT`]; counts the rest.
struct Budget {
    out: String,
    omitted: usize,
}

impl Budget {
    /// Past the limit: each further row is only counted, so callers skip building it (a million
    /// rows formatted to be dropped took seconds).
    fn full(&self) -> bool {
        self.omitted > 0
    }

    fn push(&mut self, text: &str) {
        if self.omitted > 0 || self.out.len() + text.len() > LIMIT {
            self.omitted += 1;
        } else {
            self.out.push_str(text);
        }
    }
}

fn causes_table(report: &Report, ctx: &Context, b: &mut Budget) {
    let n = ctx.causes.active().count();
    b.push(&format!(
        "## Root causes\n\n{} close these findings, worst first.\n\n| Severity | Change | Findings | Targets | Checks | Fix |\n|---|---|---:|---:|---|---|\n",
        plural(n, "change")
    ));
    for c in ctx.causes.active() {
        if b.full() {
            b.omitted += 1;
            continue;
        }
        b.push(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.worst.map(|s| s.as_str()).unwrap_or(""),
            cell(&c.title()),
            c.active(report).count(),
            c.target_count,
            c.checks
                .iter()
                .map(egress_audit_engine::model::Text::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            cell(&c.remediation())
        ));
    }
}

/// Counts per resource, worst first.
fn resources_table(report: &Report, b: &mut Budget) {
    b.push("\n## Resources\n\n| Resource | Kind | Critical | High | Medium | Low | Info |\n|---|---|---:|---:|---:|---:|---:|\n");
    for (key, findings) in by_resource(report, false) {
        if b.full() {
            b.omitted += 1;
            continue;
        }
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        b.push(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            code(&qualified_name(findings[0])),
            cell(&key.resource_kind),
            count(Severity::Critical),
            count(Severity::High),
            count(Severity::Medium),
            count(Severity::Low),
            count(Severity::Info)
        ));
    }
}

fn findings_by_cause(report: &Report, ctx: &Context, b: &mut Budget) {
    b.push("\n## Findings by root cause\n");
    for c in ctx.causes.active() {
        if b.full() {
            // The heading, the table's header and its rows.
            b.omitted += 2 + c.active(report).count();
            continue;
        }
        b.push(&format!(
            "\n### {}\n\n**Fix:** {}\n\n",
            cell(&c.title()),
            cell(remedy::short(c))
        ));
        findings_table(c.active(report), b);
    }
}

fn findings_by(report: &Report, group: GroupBy, b: &mut Budget) {
    let groups: Vec<(String, Vec<&Finding>)> = if group == GroupBy::Target {
        by_resource(report, false)
            .into_iter()
            .map(|(k, fs)| (k.heading(), fs))
            .collect()
    } else {
        let mut m: std::collections::BTreeMap<String, Vec<&Finding>> = Default::default();
        for f in report.findings.iter().filter(|f| f.suppressed.is_none()) {
            m.entry(format!("{} {}", f.check_id, f.slug))
                .or_default()
                .push(f);
        }
        m.into_iter().collect()
    };
    b.push("\n## Findings\n");
    for (heading, findings) in groups {
        b.push(&format!("\n### {}\n\n", cell(&heading)));
        findings_table(findings.into_iter(), b);
    }
}

fn findings_table<'r>(findings: impl Iterator<Item = &'r Finding>, b: &mut Budget) {
    b.push("| Severity | Check | Resource | Finding | Deciding rules |\n|---|---|---|---|---|\n");
    for f in findings {
        if b.full() {
            b.omitted += 1;
            continue;
        }
        let mut msg = cell(&f.message);
        if let Some(r) = &f.rule {
            let _ = write!(msg, "<br>rule: `{}`", code(r));
        }
        for n in &f.notes {
            let _ = write!(msg, "<br>_note: {}_", cell(n));
        }
        let ev: Vec<String> = f.evidence.iter().map(|e| cell(&evidence_line(e))).collect();
        b.push(&format!(
            "| {} | {} `{}` | `{}` | {} | {} |\n",
            f.severity,
            f.check_id,
            code(&f.slug),
            code(&qualified_name(f)),
            msg,
            ev.join("<br>")
        ));
    }
}

fn suppressed_and_warnings(report: &Report, b: &mut Budget) {
    let suppressed = by_resource(report, true);
    if !suppressed.is_empty() {
        b.push("\n## Suppressed\n\n| Check | Resource | Reason |\n|---|---|---|\n");
        for f in suppressed.iter().flat_map(|(_, fs)| fs) {
            b.push(&format!(
                "| {} `{}` | `{}` | {} |\n",
                f.check_id,
                code(&f.slug),
                code(&qualified_name(f)),
                cell(f.suppressed.as_deref().unwrap_or(""))
            ));
        }
    }
    if !report.warnings.is_empty() {
        b.push("\n## Warnings\n\n| Kind | Source | Message |\n|---|---|---|\n");
        for w in &report.warnings {
            b.push(&format!(
                "| {} | {} | {} |\n",
                cell(w.kind.as_str()),
                cell(&w.source),
                cell(&w.message)
            ));
        }
    }
}

/// Text for a table cell, from inputs: no pipes, no line breaks (CR, LF and CRLF alike), no HTML,
/// and nothing GitHub would turn into a link, an image or a mention: `[`, `]`, `!`, `(`, `)`,
/// `@`, `:` of `://` and `www.` are written as character references, which display the same.
pub(crate) fn cell(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '\n' => out.push_str("<br>"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '!' => out.push_str("&#33;"),
            '(' => out.push_str("&#40;"),
            ')' => out.push_str("&#41;"),
            '@' => out.push_str("&#64;"),
            '`' => out.push_str("&#96;"),
            '*' | '_' | '~' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("&#{};", u32::from(c))),
            c => out.push(c),
        }
    }
    // Autolinks (a scheme followed by `://`, or `www.`) need the literal text.
    out.replace("://", "&#58;//").replace("www.", "www&#46;")
}

/// Text inside backticks in a table cell: a code span shows links and HTML as text.
fn code(s: &str) -> String {
    s.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
