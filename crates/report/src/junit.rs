//! JUnit XML for CI dashboards: a testsuite per check, a failing testcase per finding at or above
//! the `--fail-on` gate (below it the testcase passes and says what was found, so the CI status
//! and the exit code agree), a skipped one per suppressed finding, a passing one for a check
//! without findings, and an erroring suite for scopes that were not read (a partial scan must not
//! look green).

use super::stream::write_text;
use super::{evidence_line, not_scanned_line, qualified_name};
use egress_audit_engine::checks::Catalog;
use egress_audit_engine::model::{Finding, Report, Severity};
use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// Written as it goes: the totals on `<testsuites>` are counted first, then each suite and
/// testcase is written; only the findings grouped by check (references) are held. A suite's
/// testcases (a large estate has hundreds of thousands per check) are made on every core.
pub fn write(
    report: &Report,
    catalog: &Catalog,
    gate: Option<Severity>,
    w: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let mut by_check: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for c in &catalog.checks {
        by_check.entry(c.id.as_str()).or_default();
    }
    for f in &report.findings {
        by_check.entry(f.check_id.as_str()).or_default().push(f);
    }

    // A check without findings is one passing testcase; each unread scope an erroring one.
    let errors = report.not_scanned.len();
    let tests = by_check.values().map(|fs| fs.len().max(1)).sum::<usize>() + errors;
    let failures = report.findings.iter().filter(|f| fails(f, gate)).count();
    let skipped = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .count();
    write_text(w, |out| {
        out.write_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        writeln!(
            out,
            "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
            esc(&format!("{} {}", report.tool.name, report.tool.version))
        )
    })?;

    for (id, findings) in &by_check {
        let slug = catalog
            .get(id)
            .map(|c| c.slug.as_str())
            .or_else(|| findings.first().map(|f| f.slug.as_str()))
            .unwrap_or("");
        let suite_name = format!("{id} {slug}");
        let classname = format!("egress-audit.{id}");
        let fail = findings.iter().filter(|f| fails(f, gate)).count();
        let skip = findings.iter().filter(|f| f.suppressed.is_some()).count();
        let n = findings.len().max(1);
        write_text(w, |out| {
            writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{fail}\" errors=\"0\" skipped=\"{skip}\">",
                esc(&suite_name)
            )?;
            if findings.is_empty() {
                writeln!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\"/>",
                    esc(&classname),
                    esc(&format!("{slug}: no findings"))
                )?;
            }
            Ok(())
        })?;
        super::spliced::in_order(w, findings, &|part: &[&Finding], _| {
            let mut out = String::with_capacity(part.len() * 512);
            for f in part {
                let _ = testcase(&mut out, &classname, f, fails(f, gate));
            }
            Ok(out.into_bytes())
        })?;
        w.write_all(b"  </testsuite>\n")?;
    }

    write_text(w, |out| coverage_and_end(report, errors, out))
}

/// The suite of scopes that were not read, and the end of the document.
fn coverage_and_end(report: &Report, errors: usize, out: &mut dyn Write) -> fmt::Result {
    if errors > 0 {
        writeln!(
            out,
            "  <testsuite name=\"coverage\" tests=\"{errors}\" failures=\"0\" errors=\"{errors}\" skipped=\"0\">"
        )?;
        for ns in &report.not_scanned {
            let line = not_scanned_line(ns);
            writeln!(
                out,
                "    <testcase classname=\"egress-audit.coverage\" name=\"{}\">\n      <error message=\"{}\" type=\"not-scanned\"/>\n    </testcase>",
                esc(&line),
                esc(&format!("not scanned: {line}"))
            )?;
        }
        out.write_str("  </testsuite>\n")?;
    }
    out.write_str("</testsuites>\n")
}

/// A finding fails its testcase when it is not suppressed and at or above the gate.
fn fails(f: &Finding, gate: Option<Severity>) -> bool {
    f.suppressed.is_none() && gate.is_some_and(|g| f.severity >= g)
}

fn testcase(out: &mut dyn Write, classname: &str, f: &Finding, failing: bool) -> fmt::Result {
    let mut name = qualified_name(f);
    if let Some(r) = &f.rule {
        name.push_str(&format!(" [{r}]"));
    }
    writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\">",
        esc(classname),
        esc(&name)
    )?;
    match &f.suppressed {
        Some(reason) => {
            writeln!(
                out,
                "      <skipped message=\"{}\"/>",
                esc(&format!("suppressed: {reason}"))
            )?;
        }
        None => {
            let mut body = format!("{} ({})\n", f.message, f.resource_kind);
            if !failing {
                writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    esc(&format!("{} below the --fail-on gate: {body}", f.severity))
                        .replace("&#10;", "\n")
                )?;
                return out.write_str("    </testcase>\n");
            }
            for e in &f.evidence {
                body.push_str(&evidence_line(e));
                body.push('\n');
            }
            for n in &f.notes {
                body.push_str(&format!("note: {n}\n"));
            }
            writeln!(
                out,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                esc(&f.message),
                f.severity,
                esc(&body).replace("&#10;", "\n")
            )?;
        }
    }
    out.write_str("    </testcase>\n")
}

/// Escapes text for XML attributes and content, dropping characters XML 1.0 cannot carry.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}
