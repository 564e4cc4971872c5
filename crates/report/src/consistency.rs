//! The short text blocks of declared vs observed (per workload a probe ran on) and of the egress
//! classes across sites, appended to the table and Markdown reports. The JSON report carries the
//! full `reconciliation` and `consistency` sections.

use egress_audit_engine::model::reconciliation::{ClassRow, Entry, Group, Reconciliation};
use egress_audit_engine::model::Report;
use std::collections::BTreeMap;

/// At most this many runs per list in text; the JSON report has them all.
const SHOWN: usize = 12;

/// `tcp 80, 443, 8000-8080 to 203.0.113.9 (open); udp 53 to 8.8.8.8 (answered)`.
pub fn entries_line(list: &[Entry]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    let mut by: BTreeMap<(&str, &str, &str), Vec<&str>> = BTreeMap::new();
    for e in list {
        by.entry((&e.protocol, &e.destination, &e.observed))
            .or_default()
            .push(&e.ports);
    }
    let mut parts = Vec::new();
    for ((proto, dest, observed), ports) in by {
        let more = ports.len().saturating_sub(SHOWN);
        let mut shown: Vec<&str> = ports.into_iter().take(SHOWN).collect();
        shown.dedup();
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!(
            "{proto} {}{tail} to {dest} ({observed})",
            shown.join(", ")
        ));
    }
    parts.join("; ")
}

fn heading(r: &Reconciliation) -> String {
    let targets: Vec<String> = r
        .targets
        .iter()
        .map(|t| {
            let acct = t
                .account
                .as_deref()
                .map(|a| format!(" {a}"))
                .unwrap_or_default();
            format!("{} ({}{acct})", t.resource_id, t.provider)
        })
        .collect();
    format!(
        "{}\n    ← probe {} → {} (matched by {}){}",
        targets.join(" + "),
        r.probe.host,
        r.probe.target,
        r.probe.matched_by,
        if r.partial { " [partial probe]" } else { "" }
    )
}

/// `12 aws network-interfaces (111122223333)`, `1 probe host (dc1, observed)`.
fn group_text(g: &Group) -> String {
    let kind = if g.count == 1 {
        g.kind.clone()
    } else {
        format!("{}s", g.kind)
    };
    let observed = if g.observed { ", observed" } else { "" };
    format!("{} {} {kind} ({}{observed})", g.count, g.provider, g.scope)
}

fn groups_text(gs: &[Group]) -> String {
    gs.iter().map(group_text).collect::<Vec<_>>().join(", ")
}

/// `tcp/445 (SMB): open from 12 aws network-interfaces (111122223333); blocked on 2 host
/// host-firewalls (dc1)`.
pub fn class_line(row: &ClassRow) -> String {
    let (open_word, blocked_word) = if row.class == "default-deny" {
        ("missing on", "in place on")
    } else {
        ("open from", "blocked on")
    };
    let mut parts = Vec::new();
    if !row.open.is_empty() {
        parts.push(format!("{open_word} {}", groups_text(&row.open)));
    }
    if !row.blocked.is_empty() {
        parts.push(format!("{blocked_word} {}", groups_text(&row.blocked)));
    }
    if !row.not_measured.is_empty() {
        parts.push(format!(
            "not measured by {}",
            groups_text(&row.not_measured)
        ));
    }
    format!("{} ({}): {}", row.class, row.title, parts.join("; "))
}

/// The block under the table report.
pub fn table_block(report: &Report, width: usize) -> String {
    wrap_block(&table_lines(report), width)
}

/// Wraps each line of `raw` to `width` at spaces, at most two lines per entry.
pub(crate) fn wrap_block(raw: &str, width: usize) -> String {
    // Wrapped at spaces like the rest of the table, continuation lines indented under their text.
    let mut out = String::new();
    for line in raw.lines() {
        if line.is_empty() {
            out.push('\n');
            continue;
        }
        let lead = " ".repeat(line.len() - line.trim_start().len());
        let indent = format!("{lead}    ");
        let mut wrapped = crate::table::wrap(line, width.saturating_sub(lead.len() + 2), &indent);
        // A screen, not an inventory: two lines per entry here, every target in JSON and Markdown.
        if wrapped.len() > 2 {
            wrapped.truncate(2);
            wrapped[1].push_str(" …");
        }
        for (i, l) in wrapped.iter().enumerate() {
            if i == 0 {
                out.push_str(&lead);
            }
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

fn table_lines(report: &Report) -> String {
    let mut out = String::new();
    if !report.reconciliation.is_empty() {
        out.push_str("\nDeclared vs observed (every port in the JSON and Markdown reports):\n");
        for r in &report.reconciliation {
            out.push_str(&format!("  {}\n", heading(r)));
            for (name, list) in [
                ("confirmed:        ", &r.confirmed),
                ("blocked elsewhere:", &r.blocked_elsewhere),
                ("contradiction:    ", &r.contradictions),
            ] {
                out.push_str(&format!("    {name} {}\n", entries_line(list)));
            }
        }
    }
    if !report.consistency.is_empty() {
        out.push_str(
            "\nAcross targets (every target of each line in the JSON and Markdown reports):\n",
        );
        for row in &report.consistency {
            out.push_str(&format!("  {}\n", class_line(row)));
        }
    }
    out
}

/// The same for the Markdown report.
pub fn markdown_block(report: &Report) -> String {
    let esc = |s: String| s.replace('|', "\\|");
    let mut out = String::new();
    if !report.reconciliation.is_empty() {
        out.push_str("\n## Declared vs observed\n\n");
        for r in &report.reconciliation {
            out.push_str(&format!("**{}**\n\n", esc(heading(r))));
            out.push_str("| | |\n|---|---|\n");
            for (name, list) in [
                ("confirmed", &r.confirmed),
                ("blocked elsewhere", &r.blocked_elsewhere),
                ("contradiction (EG016)", &r.contradictions),
            ] {
                out.push_str(&format!("| {name} | {} |\n", esc(entries_line(list))));
            }
            out.push('\n');
        }
    }
    if !report.consistency.is_empty() {
        out.push_str("\n## Across targets\n\n");
        for row in &report.consistency {
            out.push_str(&format!("- {}\n", esc(class_line(row))));
        }
    }
    out
}
