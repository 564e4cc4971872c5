//! The terminal report: the summary first (targets, findings by severity, top causes, partial or
//! not), then one entry per root cause (or target, or check) with a coloured severity; evidence and
//! each finding with `-v`; then warnings and, again, the scopes that were not read. Lines are
//! wrapped at spaces only, so an id is never broken; text from inputs is shown with its control
//! characters escaped.

use super::cause::Cause;
use super::text::escape_controls;
use super::{
    by_resource, evidence_line, not_scanned_line, plural, qualified_name, remedy, summary_line,
    Context, GroupBy, ResourceKey, Style,
};
use egress_audit_engine::checks::Catalog;
use egress_audit_engine::model::{Finding, Report, Severity};
use std::collections::BTreeMap;
use std::fmt;

/// Width of the severity column (`CRITICAL` and a space).
const SEV_COL: usize = 9;
/// Causes shown with their remediation in the summary.
const TOP_CAUSES: usize = 3;
/// Targets named per entry before `and N more` (all of them with `-v`).
const MAX_NAMES: usize = 4;

/// The table of `report` at `width` columns, without colour, grouped by cause (causes read from
/// the evidence alone).
pub fn render_table(report: &Report, width: u16) -> String {
    let catalog = Catalog::default();
    let mut ctx = Context::new(report, &catalog, &[]);
    ctx.style.width = width;
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = render(report, &ctx, &mut text);
    text
}

/// Written entry by entry; only one entry's lines are held.
pub(crate) fn render(report: &Report, ctx: &Context, text: &mut dyn fmt::Write) -> fmt::Result {
    let st = ctx.style;
    let w = usize::from(st.width.max(40));
    let mut out = Out {
        text,
        w,
        color: st.color,
    };
    if report.summary.partial {
        partial_banner(report, &mut out, "below")?;
    }
    summary(report, ctx, &mut out)?;
    let active: Vec<(usize, &Finding)> = report
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.suppressed.is_none())
        .collect();
    if active.is_empty() {
        out.line("No findings.")?;
    } else {
        match st.group_by {
            GroupBy::Cause => by_cause(report, ctx, &mut out)?,
            GroupBy::Target => by_target(report, ctx, &mut out)?,
            GroupBy::Check => by_check(&active, &st, &mut out)?,
        }
    }
    tail(report, &st, &mut out)
}

struct Out<'a> {
    text: &'a mut dyn fmt::Write,
    w: usize,
    color: bool,
}

impl Out<'_> {
    fn line(&mut self, s: &str) -> fmt::Result {
        for l in wrap(&escape_controls(s, false), self.w, "  ") {
            self.text.write_str(&l)?;
            self.text.write_char('\n')?;
        }
        Ok(())
    }

    /// `HIGH     head`, then `lines` under it, indented past the severity column.
    fn entry(&mut self, sev: Option<Severity>, head: &str, lines: &[String]) -> fmt::Result {
        let label = sev
            .map(|s| s.as_str().to_ascii_uppercase())
            .unwrap_or_default();
        let room = self.w.saturating_sub(SEV_COL);
        let pad = " ".repeat(SEV_COL);
        for (i, l) in wrap(&escape_controls(head, false), room, "  ")
            .into_iter()
            .enumerate()
        {
            if i == 0 {
                let cell = format!("{label:<SEV_COL$}");
                self.text.write_str(&paint(&cell, sev, self.color))?;
            } else {
                self.text.write_str(&pad)?;
            }
            self.text.write_str(&l)?;
            self.text.write_char('\n')?;
        }
        for line in lines {
            for l in wrap(&escape_controls(line, false), room, "  ") {
                self.text.write_str(&pad)?;
                self.text.write_str(&l)?;
                self.text.write_char('\n')?;
            }
        }
        Ok(())
    }
}

/// ANSI colour for a severity label (the text itself is plain).
fn paint(text: &str, sev: Option<Severity>, color: bool) -> String {
    let code = match sev {
        _ if !color => return text.to_string(),
        Some(Severity::Critical) => "1;35",
        Some(Severity::High) => "1;31",
        Some(Severity::Medium) => "33",
        Some(Severity::Low) => "36",
        Some(Severity::Info) | None => "2",
    };
    let trimmed = text.trim_end();
    let pad = &text[trimmed.len()..];
    format!("\u{1b}[{code}m{trimmed}\u{1b}[0m{pad}")
}

fn summary(report: &Report, ctx: &Context, out: &mut Out) -> fmt::Result {
    let state = if report.summary.partial {
        "PARTIAL"
    } else {
        "complete"
    };
    out.line(&format!("egress-audit: {} · {state}", summary_line(report)))?;
    let top: Vec<&Cause> = ctx.causes.active().take(TOP_CAUSES).collect();
    if !top.is_empty() {
        let n = ctx.causes.active().count();
        out.line(&format!(
            "{} close these findings; the top {}:",
            plural(n, "change"),
            top.len()
        ))?;
        for (i, c) in top.iter().enumerate() {
            out.entry(
                c.worst,
                &format!("{}. {}", i + 1, c.title()),
                &[format!("fix: {}", c.remediation())],
            )?;
        }
    }
    out.text.write_char('\n')?;
    Ok(())
}

fn by_cause(report: &Report, ctx: &Context, out: &mut Out) -> fmt::Result {
    let n = ctx.causes.active().count();
    out.line(&format!("Root causes ({n}), worst first:"))?;
    for c in ctx.causes.active() {
        let active: Vec<&Finding> = c.active(report).collect();
        let targets = c.targets(report);
        let checks: Vec<&str> = c
            .checks
            .iter()
            .map(egress_audit_engine::model::Text::as_str)
            .collect();
        let mut lines = vec![format!(
            "{} on {}: {} · fix: {}",
            plural(active.len(), "finding"),
            plural(targets.len(), "target"),
            checks.join(" "),
            remedy::short(c)
        )];
        let names: Vec<String> = targets.iter().map(short_name).collect();
        // A lone group that is its own cause needs no "targets:" line.
        if names.len() != 1 || targets[0].resource_id != c.holder {
            lines.push(format!(
                "targets: {}",
                list(&names, ctx.style.verbose, MAX_NAMES)
            ));
        }
        if ctx.style.verbose {
            lines.push(format!("fix: {}", c.remediation()));
            for f in &active {
                lines.extend(finding_lines(f));
            }
        }
        out.entry(c.worst, &c.title(), &lines)?;
    }
    Ok(())
}

fn by_target(report: &Report, ctx: &Context, out: &mut Out) -> fmt::Result {
    let groups = by_resource(report, false);
    out.line(&format!(
        "Targets with findings ({}), worst first:",
        groups.len()
    ))?;
    let cause_of: BTreeMap<*const Finding, &Cause> = report
        .findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((f as *const Finding, ctx.causes.of(i)?)))
        .collect();
    for (key, findings) in &groups {
        let checks: Vec<&str> = findings.iter().map(|f| f.check_id.as_str()).collect();
        let mut causes: Vec<String> = findings
            .iter()
            .filter_map(|f| cause_of.get(&(*f as *const Finding)).map(|c| c.title()))
            .collect();
        causes.sort();
        causes.dedup();
        let mut lines = vec![
            format!(
                "{}: {}",
                plural(findings.len(), "finding"),
                checks.join(" ")
            ),
            format!("caused by: {}", list(&causes, ctx.style.verbose, 2)),
        ];
        if ctx.style.verbose {
            for f in findings {
                lines.extend(finding_lines(f));
            }
        }
        let scope: Vec<&str> = [
            Some(key.provider.as_str()),
            key.account.as_deref(),
            key.region.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let head = format!(
            "{} [{}] {}",
            short_name(key),
            key.resource_kind,
            scope.join(" ")
        );
        let worst = findings.iter().map(|f| f.severity).max();
        out.entry(worst, &head, &lines)?;
    }
    Ok(())
}

fn by_check(active: &[(usize, &Finding)], st: &Style, out: &mut Out) -> fmt::Result {
    let mut checks: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for (_, f) in active {
        checks.entry(f.check_id.as_str()).or_default().push(f);
    }
    let mut checks: Vec<(&str, Vec<&Finding>)> = checks.into_iter().collect();
    let worst = |fs: &Vec<&Finding>| fs.iter().map(|f| f.severity).max();
    checks.sort_by(|a, b| worst(&b.1).cmp(&worst(&a.1)).then(a.0.cmp(b.0)));
    out.line(&format!("Checks with findings ({}):", checks.len()))?;
    for (id, findings) in &checks {
        let names: Vec<String> = findings
            .iter()
            .map(|f| short_name(&ResourceKey::of(f)))
            .collect();
        let mut lines = vec![list(&names, st.verbose, MAX_NAMES)];
        if st.verbose {
            for f in findings {
                lines.extend(finding_lines(f));
            }
        }
        let head = format!(
            "{id} {}: {}",
            findings[0].slug,
            plural(findings.len(), "finding")
        );
        out.entry(worst(findings), &head, &lines)?;
    }
    Ok(())
}

/// A finding and its evidence, for `-v`.
fn finding_lines(f: &Finding) -> Vec<String> {
    let mut sev = f.severity.to_string();
    if let Some(o) = f.original_severity.filter(|o| *o != f.severity) {
        sev.push_str(&format!(" (was {o})"));
    }
    let mut lines = vec![format!(
        "- {sev} {} {}: {}",
        f.check_id,
        qualified_name(f),
        f.message
    )];
    if let Some(r) = &f.rule {
        lines.push(format!("    rule: {r}"));
    }
    if f.observed {
        lines.push("    observed leaving the network".into());
    }
    for n in &f.notes {
        lines.push(format!("    note: {n}"));
    }
    for e in &f.evidence {
        lines.push(format!("    • {}", evidence_line(e)));
    }
    lines
}

/// `a, b, c and 5 more` (everything when `all`).
fn list(items: &[String], all: bool, max: usize) -> String {
    if all || items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}

/// A target as people call it: the last segment of an Azure id, with the name if it differs.
fn short_name(k: &ResourceKey) -> String {
    let id = k.resource_id.as_str();
    let short = if id.starts_with("/subscriptions/") {
        id.rsplit('/').next().unwrap_or(id)
    } else {
        id
    };
    match k.resource_name.as_deref() {
        Some(n) if n != short && n != id => format!("{short} \"{n}\""),
        _ => short.to_string(),
    }
}

fn tail(report: &Report, st: &Style, out: &mut Out) -> fmt::Result {
    let suppressed = by_resource(report, true);
    if !suppressed.is_empty() {
        out.text.write_char('\n')?;
        out.line(&format!("Suppressed ({}):", report.summary.suppressed))?;
        for f in suppressed.iter().flat_map(|(_, fs)| fs) {
            out.line(&format!(
                "- {} {} {}: {}",
                f.severity,
                f.check_id,
                qualified_name(f),
                f.suppressed.as_deref().unwrap_or("")
            ))?;
        }
    }
    if !report.warnings.is_empty() {
        out.text.write_char('\n')?;
        out.line(&format!("Warnings ({}):", report.warnings.len()))?;
        for wn in &report.warnings {
            out.line(&format!("- [{}] {}: {}", wn.kind, wn.source, wn.message))?;
        }
    }
    if !st.verbose && report.summary.findings > 0 {
        out.text.write_char('\n')?;
        out.line("Every finding with its deciding rules: -v; as data: --format json.")?;
    }
    if report.summary.partial {
        out.text.write_char('\n')?;
        partial_banner(report, out, "above")?;
    }
    Ok(())
}

/// Printed first and last so that nobody reads a partial scan as clean.
fn partial_banner(report: &Report, out: &mut Out, where_: &str) -> fmt::Result {
    let n = report.not_scanned.len();
    let title = format!(
        "PARTIAL SCAN: {} not read - the results {where_} are incomplete",
        plural(n, "scope")
    );
    let bar = "!".repeat(out.w.min(title.chars().count() + 4));
    let red = |s: &str| paint(s, Some(Severity::High), out.color);
    let mut text = red(&bar);
    text.push('\n');
    for l in wrap(&format!("! {title}"), out.w, "    ") {
        text.push_str(&red(&l));
        text.push('\n');
    }
    for ns in &report.not_scanned {
        let line = escape_controls(&format!("!  - {}", not_scanned_line(ns)), false);
        for l in wrap(&line, out.w, "    ") {
            text.push_str(&l);
            text.push('\n');
        }
    }
    text.push_str(&red(&bar));
    text.push_str("\n\n");
    out.text.write_str(&text)?;
    Ok(())
}

/// Word-wraps `text` to `width` characters at spaces; continuation lines start with `indent`. A
/// word longer than a line (an Azure resource id) gets a line of its own and is never split, so
/// it can still be searched for and copied.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let indent_len = indent.chars().count();
    let width = width.max(indent_len + 10);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0usize;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let wl = word.chars().count();
        let fresh = line.is_empty() || (!lines.is_empty() && len == indent_len);
        if !fresh && len + 1 + wl > width {
            lines.push(std::mem::take(&mut line));
            line.push_str(indent);
            len = indent_len;
        }
        let fresh = line.is_empty() || (!lines.is_empty() && len == indent_len);
        if !fresh {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += wl;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_never_splits_an_id() {
        let lines = wrap("aaa bbb ccc ddd", 12, "  ");
        assert_eq!(lines, vec!["aaa bbb ccc", "  ddd"]);
        let long = "x".repeat(30);
        let lines = wrap(&format!("id {long} end"), 12, "  ");
        assert_eq!(
            lines,
            vec!["id".to_string(), format!("  {long}"), "  end".into()]
        );
    }
}
