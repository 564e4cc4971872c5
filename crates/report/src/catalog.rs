//! `egress-audit rules`: the check catalog as a table, JSON or Markdown.

use comfy_table::{presets, ContentArrangement, Table};
use egress_audit_engine::checks::{Catalog, CheckDef};
use serde_json::{json, Value};
use std::fmt::Write;

pub fn render_catalog(catalog: &Catalog, format: &str) -> anyhow::Result<String> {
    Ok(match format.to_ascii_lowercase().as_str() {
        "table" => table(catalog),
        "json" => {
            serde_json::to_string_pretty(&Value::Array(catalog.checks.iter().map(entry).collect()))?
                + "\n"
        }
        "markdown" | "md" => markdown(catalog),
        other => anyhow::bail!("unknown rules format {other:?}: use table, json or markdown"),
    })
}

fn entry(c: &CheckDef) -> Value {
    json!({
        "id": c.id,
        "slug": c.slug,
        "severity": c.severity,
        "title": c.title,
        "rationale": c.rationale.trim(),
        "remediation": c.remediation.trim(),
        "compliance": c.compliance,
        "query_kind": query_kind(c),
        "origin": origin(c),
        "query": c.query,
    })
}

/// `coverage`, `reachable`, … as written in rule files.
fn query_kind(c: &CheckDef) -> String {
    serde_json::to_value(c.query.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", c.query.kind))
}

/// `builtin` or the rule file's path.
fn origin(c: &CheckDef) -> String {
    if c.origin.starts_with("builtin:") || c.origin.is_empty() {
        "builtin".into()
    } else {
        c.origin.clone()
    }
}

/// `nist-800-53: AC-4, SC-7(5); cis-controls-v8: 9.2`.
fn compliance(c: &CheckDef, sep: &str) -> String {
    c.compliance
        .iter()
        .map(|(framework, controls)| format!("{framework}: {}", controls.join(", ")))
        .collect::<Vec<_>>()
        .join(sep)
}

fn table(catalog: &Catalog) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "Id",
            "Slug",
            "Severity",
            "Title",
            "Compliance",
            "Query",
            "Origin",
        ]);
    if t.width().is_none() {
        t.set_width(140);
    }
    for c in &catalog.checks {
        t.add_row(vec![
            c.id.clone(),
            c.slug.clone(),
            c.severity.to_string().into(),
            c.title.clone(),
            compliance(c, "\n").into(),
            query_kind(c).into(),
            origin(c).into(),
        ]);
    }
    format!("{t}\n{} checks\n", catalog.checks.len())
}

fn markdown(catalog: &Catalog) -> String {
    let mut out = String::from("# egress-audit checks\n\n");
    out.push_str("| Id | Slug | Severity | Title | Compliance | Query | Origin |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for c in &catalog.checks {
        let _ = writeln!(
            out,
            "| [{}](#{}) | `{}` | {} | {} | {} | {} | {} |",
            c.id,
            c.id.to_ascii_lowercase(),
            c.slug,
            c.severity,
            cell(&c.title),
            cell(&compliance(c, "; ")),
            query_kind(c),
            cell(&origin(c))
        );
    }
    for c in &catalog.checks {
        let _ = write!(
            out,
            "\n## {}\n\n**{}** (`{}`, {})\n\n{}\n\n**Remediation.** {}\n",
            c.id,
            c.title,
            c.slug,
            c.severity,
            c.rationale.trim(),
            c.remediation.trim()
        );
        if !c.compliance.is_empty() {
            let _ = writeln!(out, "\n**Compliance.** {}", compliance(c, "; "));
        }
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
