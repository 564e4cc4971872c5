//! The observed egress profile (`scan --flows`) in the human formats: per target its numbers and
//! its top classes, unauthorized first, with a count of the rest. The JSON report carries every
//! class of every target.

use egress_audit_engine::model::traffic::{ProfileClass, TargetProfile, TrafficProfile};
use egress_audit_engine::model::Report;
use std::fmt::{self, Write};

/// Classes shown per target; the rest are counted.
pub const TOP_CLASSES: usize = 5;
/// Targets shown in the table (a screen, not an inventory); Markdown and HTML show every target.
pub const TABLE_TARGETS: usize = 20;
/// Destinations named per class; the rest are counted.
const SHOWN_DESTINATIONS: usize = 3;

/// `tcp/445 to 52.1.2.3/32, 52.1.2.9/32 and 4 more [EG002]`.
pub fn class_text(c: &ProfileClass) -> String {
    let mut dest = c
        .destinations
        .iter()
        .take(SHOWN_DESTINATIONS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = c.destinations.len().saturating_sub(SHOWN_DESTINATIONS);
    if more > 0 {
        let _ = write!(dest, " and {more} more");
    }
    let mut s = format!("{} to {dest}", c.service());
    if !c.checks.is_empty() {
        let _ = write!(s, " [{}]", c.checks.join(", "));
    }
    s
}

/// `3 flows, 9 packets, 4.4 KiB`.
pub fn numbers(flows: u64, packets: u64, bytes: u64) -> String {
    format!(
        "{} flow{}, {packets} packets, {}",
        flows,
        if flows == 1 { "" } else { "s" },
        human_bytes(bytes)
    )
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The date part of an RFC 3339 time.
fn day(t: &str) -> &str {
    t.get(..10).unwrap_or(t)
}

fn seen(c: &ProfileClass) -> String {
    format!("{} – {}", day(&c.first_seen), day(&c.last_seen))
}

/// `eni-0abc (aws 111122223333 us-east-1): 1 unauthorized, 2 authorized · 20 flows, …`.
pub fn target_heading(t: &TargetProfile) -> String {
    let r = &t.target;
    let mut scope = r.provider.clone();
    for part in [&r.account, &r.region].into_iter().flatten() {
        scope.push(' ');
        scope.push_str(part);
    }
    let counts: Vec<String> = [
        (t.unauthorized, "unauthorized"),
        (t.ambiguous, "ambiguous"),
        (t.authorized, "authorized"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    format!(
        "{} ({scope}): {} · {}",
        r.resource_id,
        counts.join(", "),
        numbers(t.flows, t.packets, t.bytes)
    )
}

/// `… and 3 more classes (40 flows)`, or None when every class was shown.
fn rest(t: &TargetProfile) -> Option<String> {
    let hidden = &t.classes[t.classes.len().min(TOP_CLASSES)..];
    (!hidden.is_empty()).then(|| {
        format!(
            "… and {} more class{} ({} flows)",
            hidden.len(),
            if hidden.len() == 1 { "" } else { "es" },
            hidden.iter().map(|c| c.flows).sum::<u64>()
        )
    })
}

fn title(p: &TrafficProfile) -> String {
    format!(
        "Observed egress (flow logs, {} – {}, {} days)",
        day(&p.window_start),
        day(&p.window_end),
        p.window_days
    )
}

/// The block under the table report.
pub fn table_block(report: &Report, width: usize) -> String {
    let Some(p) = &report.flow_profile else {
        return String::new();
    };
    let mut raw = format!(
        "\n{}: {} target{}; the top {TOP_CLASSES} classes of each, every class in the JSON report:\n",
        title(p),
        p.targets.len(),
        if p.targets.len() == 1 { "" } else { "s" }
    );
    if p.targets.is_empty() {
        raw.push_str("  no public egress attributed to a target in the window\n");
    }
    for t in p.targets.iter().take(TABLE_TARGETS) {
        let _ = writeln!(raw, "  {}", target_heading(t));
        for c in t.classes.iter().take(TOP_CLASSES) {
            let _ = writeln!(
                raw,
                "    {:<12} {} · {} · {}",
                c.status.as_str(),
                class_text(c),
                numbers(c.flows, c.packets, c.bytes),
                seen(c)
            );
        }
        if let Some(r) = rest(t) {
            let _ = writeln!(raw, "    {r}");
        }
    }
    let hidden = p.targets.len().saturating_sub(TABLE_TARGETS);
    if hidden > 0 {
        let _ = writeln!(
            raw,
            "  … and {hidden} more targets (every target in the JSON, Markdown and HTML reports)"
        );
    }
    crate::consistency::wrap_block(&raw, width)
}

/// The same for the Markdown report: every target, its top classes.
pub fn markdown_block(report: &Report, out: &mut dyn Write) -> fmt::Result {
    let Some(p) = &report.flow_profile else {
        return Ok(());
    };
    let esc = |s: &str| s.replace('|', "\\|");
    write!(
        out,
        "\n## {}\n\nThe top {TOP_CLASSES} classes of each target; the JSON report has every class.\n\n",
        title(p)
    )?;
    if p.targets.is_empty() {
        out.write_str("No public egress attributed to a target in the window.\n")?;
    }
    for t in &p.targets {
        write!(
            out,
            "**{}**\n\n| status | traffic | flows | packets | bytes | first – last seen |\n|---|---|---:|---:|---:|---|\n",
            esc(&target_heading(t))
        )?;
        for c in t.classes.iter().take(TOP_CLASSES) {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                c.status.as_str(),
                esc(&class_text(c)),
                c.flows,
                c.packets,
                human_bytes(c.bytes),
                seen(c)
            )?;
        }
        if let Some(r) = rest(t) {
            writeln!(out, "| | {r} | | | | |")?;
        }
        out.write_char('\n')?;
    }
    Ok(())
}

/// The HTML section: every target, its top classes.
pub fn html_section(
    report: &Report,
    esc: impl Fn(&str) -> String,
    out: &mut dyn Write,
) -> fmt::Result {
    let Some(p) = &report.flow_profile else {
        return Ok(());
    };
    writeln!(
        out,
        "<h2 id=\"flows\">{}</h2>\n<p class=\"meta\">The top {TOP_CLASSES} classes of each target; \
         the JSON report has every class.</p>",
        esc(&title(p))
    )?;
    if p.targets.is_empty() {
        out.write_str("<p>No public egress attributed to a target in the window.</p>\n")?;
    }
    for t in &p.targets {
        writeln!(
            out,
            "<p><strong>{}</strong></p>\n<table class=\"flows\"><tr><th>Status</th><th>Traffic</th>\
             <th>Flows</th><th>Packets</th><th>Bytes</th><th>First – last seen</th></tr>",
            esc(&target_heading(t))
        )?;
        for c in t.classes.iter().take(TOP_CLASSES) {
            writeln!(
                out,
                "<tr class=\"{0}\"><td>{0}</td><td><code>{1}</code></td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td></tr>",
                c.status.as_str(),
                esc(&class_text(c)),
                c.flows,
                c.packets,
                esc(&human_bytes(c.bytes)),
                esc(&seen(c))
            )?;
        }
        if let Some(r) = rest(t) {
            writeln!(out, "<tr><td></td><td colspan=\"5\">{}</td></tr>", esc(&r))?;
        }
        out.write_str("</table>\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
