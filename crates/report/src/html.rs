//! One self-contained HTML page: inline style, no script, no external asset (a Content Security
//! Policy forbids both), every value escaped. It shows the scan's date and scope (partial scopes
//! in red), the severity counts, a matrix of targets × egress classes ([`super::matrix`]), the
//! root causes with their fix and compliance references, each linking to its targets' rows, and
//! the findings under their cause, collapsed.

use super::cause::Cause;
use super::matrix::{self, Cell, CLASSES};
use super::stream::write_text;
use super::{
    by_resource, not_scanned_line, plural, remedy, summary_line, Context, QualifiedName,
    ResourceKey, RuleLine,
};
use egress_audit_engine::model::recent::Recent;
use egress_audit_engine::model::{Finding, Report, RuleText, Severity};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write};
use std::rc::Rc;
use std::sync::Arc;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em 2em;color:#1d1d1f}\
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em}\
nav a{margin-right:1em}.meta{color:#555}\
table{border-collapse:collapse;margin:.4em 0}\
th,td{border:1px solid #d0d0d5;padding:3px 7px;text-align:left;vertical-align:top}\
th{background:#f2f2f5}td.ev{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\
code,.id{font-family:ui-monospace,monospace;font-size:12px}\
.sev{font-weight:600;text-transform:uppercase;white-space:nowrap}\
.critical{background:#7a0019;color:#fff}.high{background:#d1242f;color:#fff}\
.medium{background:#f0a020}.low{background:#fff3b0}.info{background:#e8eef8}\
.counts td{min-width:4em;text-align:center;font-size:1.1em}\
.partial{border:3px solid #d1242f;background:#fff0f0;color:#a00;padding:.6em 1em;font-weight:600}\
table.matrix th.c{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:500;font-size:12px}\
table.matrix td.m{text-align:center;font-size:12px;min-width:2.2em}\
td.open{background:#f4b6b0}td.observed{background:#a4161a;color:#fff;font-weight:600}\
td.closed{background:#d8f0d8;color:#2a6a2a}td.suppressed{background:#e6e6e6}td.na{background:#fff;color:#aaa}\
tr:target td{outline:2px solid #1f6feb}\
.cause{border-left:4px solid #d0d0d5;padding:.2em .8em;margin:.8em 0}\
.cause.w-critical,.cause.w-high{border-color:#d1242f}.cause.w-medium{border-color:#f0a020}\
.note{color:#555;font-style:italic}.kind{color:#555;font-weight:normal}\
details{margin:.3em 0}summary{cursor:pointer}\
table.flows tr.unauthorized td:first-child{background:#f4b6b0;font-weight:600}\
table.flows tr.ambiguous td:first-child{background:#fff3b0}";

/// Root causes shown in full; the rest are listed in a collapsed block.
const TOP_CAUSES: usize = 10;

/// Written section by section; only the matrix rows and a few causes' pieces are held. The
/// causes (a large estate has hundreds of thousands) are rendered on every core, in order.
pub fn write(report: &Report, ctx: &Context, w: &mut dyn std::io::Write) -> anyhow::Result<()> {
    write_text(w, |out| {
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>egress-audit report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <h1>egress-audit report</h1>\n"
        )?;
        header(report, ctx, out)
    })?;
    let rows = matrix::rows(report, &ctx.targets, &ctx.checked);
    let anchors: BTreeMap<&ResourceKey, usize> =
        rows.iter().enumerate().map(|(i, r)| (&r.key, i)).collect();
    let all: Vec<&Cause> = ctx.causes.active().collect();
    write_text(w, |out| {
        severity_counts(report, out)?;
        matrix_table(&rows, out)?;
        writeln!(
            out,
            "<h2 id=\"causes\">Root causes</h2>\n<p>{} close the {}, worst first.</p>",
            plural(all.len(), "change"),
            plural(report.summary.findings, "finding")
        )
    })?;
    super::spliced::in_order(w, &all, &|part: &[&Cause], first: usize| {
        // About what an estate's causes take (2 KB each): grown by doubling, the copies were a
        // tenth of the rendering.
        let mut out = String::with_capacity(part.len() * 2048);
        let mut paragraphs = Paragraphs::default();
        for (k, c) in part.iter().enumerate() {
            if first + k == TOP_CAUSES {
                let _ = writeln!(
                    out,
                    "<details><summary>{} more</summary>",
                    plural(all.len() - TOP_CAUSES, "cause")
                );
            }
            let _ = cause(report, ctx, c, &anchors, &mut paragraphs, &mut out);
        }
        Ok(out.into_bytes())
    })?;
    write_text(w, |out| {
        if all.len() > TOP_CAUSES {
            out.write_str("</details>\n")?;
        }
        super::flow_profile::html_section(report, esc, out)?;
        rest(report, out)?;
        out.write_str("</body>\n</html>\n")
    })
}

fn header(report: &Report, ctx: &Context, out: &mut dyn Write) -> fmt::Result {
    let mut scope: BTreeSet<String> = BTreeSet::new();
    for k in &ctx.targets {
        let mut s = k.provider.to_string();
        for part in [&k.account, &k.region].into_iter().flatten() {
            s.push(' ');
            s.push_str(part);
        }
        scope.insert(s);
    }
    writeln!(
        out,
        "<p class=\"meta\">{} {} · generated {} · scope: {}</p>",
        esc(&report.tool.name),
        esc(&report.tool.version),
        esc(ctx.generated.as_deref().unwrap_or("(date not recorded)")),
        if scope.is_empty() {
            "the findings below".to_string()
        } else {
            esc(&scope.into_iter().collect::<Vec<_>>().join(", "))
        }
    )?;
    out.write_str(
        "<nav id=\"toc\"><a href=\"#summary\">Summary</a><a href=\"#matrix\">Egress matrix</a>\
         <a href=\"#causes\">Root causes</a><a href=\"#warnings\">Warnings</a></nav>\n",
    )?;
    if !report.not_scanned.is_empty() {
        write!(
            out,
            "<div class=\"partial\" id=\"partial\">PARTIAL SCAN: {} not read; the results are incomplete.<ul>",
            plural(report.not_scanned.len(), "scope")
        )?;
        for ns in &report.not_scanned {
            write!(out, "<li>{}</li>", esc(&not_scanned_line(ns)))?;
        }
        out.write_str("</ul></div>\n")?;
    }
    Ok(())
}

fn severity_counts(report: &Report, out: &mut dyn Write) -> fmt::Result {
    write!(
        out,
        "<h2 id=\"summary\">Summary</h2>\n<p><strong>{}</strong></p>\n<table class=\"counts\"><tr>",
        esc(&summary_line(report))
    )?;
    for sev in Severity::ALL {
        write!(out, "<th class=\"sev {sev}\">{sev}</th>")?;
    }
    out.write_str("</tr><tr>")?;
    for sev in Severity::ALL {
        let n = report.summary.by_severity.get(sev.as_str()).unwrap_or(&0);
        write!(out, "<td>{n}</td>")?;
    }
    out.write_str("</tr></table>\n")?;
    Ok(())
}

fn matrix_table(rows: &[matrix::Row], out: &mut dyn Write) -> fmt::Result {
    out.write_str(
        "<h2 id=\"matrix\">Egress matrix</h2>\n<p class=\"meta\">What each target may send to \
         public addresses, per class. <b>open</b>: its declared rules allow it (a finding); \
         <b>seen</b>: a probe or flow log saw it leave; <b>closed</b>: the check ran and did not \
         fire; <b>supp.</b>: suppressed by the config; <b>–</b>: not checked. Default deny: \
         <b>open</b> means the target has none.</p>\n<table class=\"matrix\"><thead><tr><th>Target</th>",
    )?;
    for c in &CLASSES {
        write!(
            out,
            "<th class=\"c\" title=\"{}\">{}</th>",
            c.check,
            esc(c.label)
        )?;
    }
    out.write_str("<th>Findings</th></tr></thead>\n<tbody>\n")?;
    for (i, row) in rows.iter().enumerate() {
        write!(
            out,
            "<tr id=\"t{i}\" class=\"target\"><td><span class=\"id\">{}</span> <span class=\"kind\">{}</span></td>",
            esc(&target_label(&row.key)),
            esc(&row.key.resource_kind)
        )?;
        for (c, cell) in CLASSES.iter().zip(&row.cells) {
            let (class, text) = match cell {
                Cell::Open => ("open", "open"),
                Cell::Observed => ("observed", "seen"),
                Cell::Suppressed => ("suppressed", "supp."),
                Cell::Closed => ("closed", "closed"),
                Cell::NotChecked => ("na", "–"),
            };
            write!(
                out,
                "<td class=\"m {class}\" title=\"{}: {text}\">{text}</td>",
                esc(c.label)
            )?;
        }
        writeln!(out, "<td>{}</td></tr>", row.findings)?;
    }
    out.write_str("</tbody></table>\n")?;
    Ok(())
}

/// `sg-0abc "web" (aws 111122223333 us-east-1)`; Azure ids by their last segment.
fn target_label(k: &ResourceKey) -> String {
    let id = k.resource_id.as_str();
    let short = if id.starts_with("/subscriptions/") {
        id.rsplit('/').next().unwrap_or(id)
    } else {
        id
    };
    let mut s = short.to_string();
    if let Some(n) = k
        .resource_name
        .as_deref()
        .filter(|n| *n != short && *n != id)
    {
        s.push_str(&format!(" “{n}”"));
    }
    let scope: Vec<&str> = [
        Some(k.provider.as_str()),
        k.account.as_deref(),
        k.region.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!("{s} ({})", scope.join(" "))
}

fn cause(
    report: &Report,
    ctx: &Context,
    c: &Cause,
    anchors: &BTreeMap<&ResourceKey, usize>,
    paragraphs: &mut Paragraphs,
    out: &mut String,
) -> fmt::Result {
    let sev = c.worst.unwrap_or(Severity::Info);
    write!(
        out,
        "<div class=\"cause w-{sev}\"><p><span class=\"sev {sev}\">{sev}</span> <b class=\"id\">{}</b></p>\
         <p><b>Fix:</b> {}</p>",
        esc(&c.title()),
        esc(&c.remediation())
    )?;
    let checks = c
        .checks
        .iter()
        .map(egress_audit_engine::model::Text::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    out.push_str(&compliance_of(ctx, c, &checks, paragraphs));
    write!(out, "<p>Checks: {} · targets: ", Esc(&checks))?;
    // One link per target, written as it comes: a wide cause names thousands of targets.
    for (i, k) in c.targets(report).iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        match anchors.get(k) {
            Some(i) => write!(
                out,
                "<a class=\"target-link\" href=\"#t{i}\">{}</a>",
                esc(&target_label(k))
            )?,
            None => write!(out, "<span class=\"id\">{}</span>", esc(&target_label(k)))?,
        }
    }
    out.write_str("</p>")?;
    let active: Vec<_> = c.active(report).collect();
    write!(
        out,
        "<details><summary>{} ({})</summary><table><tr><th>Severity</th><th>Check</th><th>Resource</th><th>Finding</th><th>Deciding rules</th></tr>",
        plural(active.len(), "finding"),
        esc(remedy::short(c))
    )?;
    for f in active {
        row(out, f);
    }
    out.write_str("</table></details></div>\n")?;
    Ok(())
}

/// The compliance paragraphs of sets of checks (their ids joined): an estate's hundreds of
/// thousands of causes have a few dozen sets of checks.
type Paragraphs = rustc_hash::FxHashMap<String, Rc<str>>;

/// The compliance paragraph of a cause's checks (named by `checks`), from `known` if it is there.
fn compliance_of(ctx: &Context, c: &Cause, checks: &str, known: &mut Paragraphs) -> Rc<str> {
    if let Some(p) = known.get(checks) {
        return p.clone();
    }
    let compliance: BTreeSet<String> = c
        .checks
        .iter()
        .filter_map(|id| ctx.catalog.get(id))
        .flat_map(|d| {
            d.compliance
                .iter()
                .flat_map(|(fw, ids)| ids.iter().map(move |id| format!("{fw} {id}")))
        })
        .collect();
    let paragraph: Rc<str> = if compliance.is_empty() {
        "".into()
    } else {
        let list: Vec<String> = compliance.iter().map(|s| esc(s)).collect();
        format!("<p class=\"meta\">Compliance: {}</p>", list.join(", ")).into()
    };
    known.insert(checks.to_string(), paragraph.clone());
    paragraph
}

/// A finding's row under its cause, pushed piece by piece: an estate's page has millions.
fn row(out: &mut String, f: &Finding) {
    let sev = f.severity.as_str();
    for piece in ["<tr><td class=\"sev ", sev, "\">", sev, "</td><td>"] {
        out.push_str(piece);
    }
    esc_into(out, &f.check_id);
    out.push_str(" <code>");
    esc_into(out, &f.slug);
    out.push_str("</code></td><td class=\"id\">");
    esc_into(out, &f.provider);
    for part in [f.account.as_deref(), f.region.as_deref()] {
        out.push('/');
        esc_into(out, part.unwrap_or("-"));
    }
    out.push('/');
    esc_into(out, &f.resource_id);
    out.push_str("</td><td>");
    esc_into(out, &f.message);
    if let Some(r) = &f.rule {
        out.push_str("<br>rule: <code>");
        esc_into(out, r);
        out.push_str("</code>");
    }
    for n in &f.notes {
        out.push_str("<br><span class=\"note\">");
        esc_into(out, n);
        out.push_str("</span>");
    }
    out.push_str("</td><td class=\"ev\">");
    for (i, e) in f.evidence.iter().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        out.push_str(&escaped_rule_line(&e.written));
        if let Some(d) = &e.decides {
            out.push_str(" [decides ");
            esc_into(out, &d.text());
            out.push(']');
        }
    }
    out.push_str("</td></tr>");
}

fn rest(report: &Report, out: &mut dyn Write) -> fmt::Result {
    let suppressed = by_resource(report, true);
    if !suppressed.is_empty() {
        out.write_str(
            "<h2 id=\"suppressed\">Suppressed</h2>\n<table><tr><th>Check</th><th>Resource</th><th>Reason</th></tr>\n",
        )?;
        for f in suppressed.iter().flat_map(|(_, fs)| fs) {
            writeln!(
                out,
                "<tr><td>{} <code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&f.check_id),
                esc(&f.slug),
                Esc(QualifiedName(f)),
                esc(f.suppressed.as_deref().unwrap_or(""))
            )?;
        }
        out.write_str("</table>\n")?;
    }
    writeln!(
        out,
        "<h2 id=\"warnings\">Warnings ({})</h2>",
        report.warnings.len()
    )?;
    if report.warnings.is_empty() {
        return out.write_str("<p>None.</p>\n");
    }
    out.write_str("<table><tr><th>Kind</th><th>Source</th><th>Message</th></tr>\n")?;
    for w in &report.warnings {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(w.kind.as_str()),
            esc(&w.source),
            esc(&w.message)
        )?;
    }
    out.write_str("</table>\n")?;
    Ok(())
}

/// Slots of the per-thread table of escaped rule lines (a power of two).
const RULE_LINES: usize = 1024;

thread_local! {
    /// The last rule lines escaped, with their rules. The findings of a cause cite the same few
    /// rules over and over.
    static RULE_LINE: RefCell<Recent<RuleText, Rc<str>>> = RefCell::new(Recent::new(RULE_LINES));
}

/// `Esc(RuleLine(rule))`, remembered per thread.
fn escaped_rule_line(rule: &Arc<RuleText>) -> Rc<str> {
    RULE_LINE.with(|table| {
        table
            .borrow_mut()
            .get_or_make(rule, |r| Esc(RuleLine(r)).to_string().into())
    })
}

fn esc(s: &str) -> String {
    Esc(s).to_string()
}

/// `T` as text, HTML-escaped as it is written: no string is made of it first (a large estate's
/// page has millions of cells).
struct Esc<T>(T);

impl<T: fmt::Display> fmt::Display for Esc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaping(f), "{}", self.0)
    }
}

/// Escapes what is written through it: `& < > " '` and control characters but newline.
struct Escaping<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_runs(s, |piece| self.0.write_str(piece))
    }
}

/// `s` HTML-escaped onto `out`.
fn esc_into(out: &mut String, s: &str) {
    let _ = escape_runs(s, |piece| {
        out.push_str(piece);
        Ok(())
    });
}

/// Hands `emit` the escaped text of `s` in pieces: runs of plain text as they are, and the
/// entities of `& < > " '` and of control characters but newline.
fn escape_runs(s: &str, mut emit: impl FnMut(&str) -> fmt::Result) -> fmt::Result {
    // Every character to escape starts with an ASCII byte or 0xC2 (the C1 controls,
    // U+0080–U+009F), never inside another character.
    let bytes = s.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (entity, len) = match bytes[i] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&#39;", 1),
            b'\n' => ("", 0),
            0..=0x1f | 0x7f => ("", 1),
            0xc2 if (0x80..=0x9f).contains(&bytes.get(i + 1).copied().unwrap_or(0)) => ("", 2),
            _ => ("", 0),
        };
        if len == 0 {
            i += 1;
            continue;
        }
        emit(&s[plain..i])?;
        if entity.is_empty() {
            let c = s[i..].chars().next().expect("a character starts here");
            emit(&format!("&#{};", u32::from(c)))?;
        } else {
            emit(entity)?;
        }
        i += len;
        plain = i;
    }
    emit(&s[plain..])
}

#[cfg(test)]
mod tests {
    use super::esc;

    /// The character-by-character definition that `Escaping` writes in runs.
    fn by_char(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c if c.is_control() && c != '\n' => out.push_str(&format!("&#{};", u32::from(c))),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn escapes_as_the_definition_does() {
        let mut every = String::new();
        // Every ASCII and Latin-1 character (C0, DEL, C1, NBSP), then wider ones.
        for c in (0u32..0x300).filter_map(char::from_u32) {
            every.push(c);
            every.push('x');
        }
        every.push_str("é→🙂\u{2028}\u{feff}<a href='x'>&amp;</a>\"\r\n\u{1b}]0;t\u{7}");
        for s in [
            every.as_str(),
            "",
            "plain",
            "&",
            "\u{85}",
            "a\u{9f}",
            "\u{a0}b",
        ] {
            assert_eq!(esc(s), by_char(s), "{s:?}");
        }
    }
}
