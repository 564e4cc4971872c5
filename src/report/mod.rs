//! Renderers: table, JSON, SARIF 2.1.0, JUnit XML, Markdown, CSV, HTML; the rules catalog;
//! baselines; atomic writes. Every renderer reads the finished [`Report`] and nothing else
//! (plus the catalog for rule metadata): the report is the single source of truth.

pub mod baseline;
pub mod catalog;
mod csv;
mod html;
mod junit;
mod markdown;
mod sarif;
mod table;

use crate::checks::Catalog;
use crate::model::{Evidence, Finding, Report, Severity};
use std::io::IsTerminal;
use std::path::Path;

pub use table::render_table;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
    Markdown,
    Csv,
    Html,
}

/// Renders `report` in `format`. The table is as wide as the terminal when standard output is
/// one, else 100 columns (use [`render_table`] for another width).
pub fn render(report: &Report, format: Format, catalog: &Catalog) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Table => render_table(report, table_width()),
        Format::Sarif => serde_json::to_string_pretty(&sarif::sarif(report, catalog))? + "\n",
        Format::Junit => junit::render(report, catalog),
        Format::Markdown => markdown::render(report),
        Format::Csv => csv::render(report),
        Format::Html => html::render(report),
    })
}

/// Writes `report` in `format` to `w`. JSON and SARIF are streamed (serialized as they are
/// written, never held as one string); the other formats are rendered, then written.
pub fn write_report(
    report: &Report,
    format: Format,
    catalog: &Catalog,
    w: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    match format {
        Format::Json => serde_json::to_writer_pretty(&mut *w, report)?,
        Format::Sarif => sarif::write(report, catalog, &mut *w)?,
        other => return Ok(w.write_all(render(report, other, catalog)?.as_bytes())?),
    }
    Ok(w.write_all(b"\n")?)
}

fn table_width() -> u16 {
    const DEFAULT: u16 = 100;
    if !std::io::stdout().is_terminal() {
        return DEFAULT;
    }
    comfy_table::Table::new()
        .width()
        .filter(|w| *w >= 40)
        .unwrap_or(DEFAULT)
}

/// Writes to a temporary file beside `path`, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for content written as it is produced (a streamed report).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
        fill(&mut w)?;
        w.flush()
    });
    written
        .and_then(|_| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// `provider/account/region/resource_id`, `-` for a missing account or region. SARIF's
/// fullyQualifiedName and config suppression patterns use this form.
pub fn qualified_name(f: &Finding) -> String {
    format!(
        "{}/{}/{}/{}",
        f.provider,
        f.account.as_deref().unwrap_or("-"),
        f.region.as_deref().unwrap_or("-"),
        f.resource_id
    )
}

/// One deciding rule on one line: `allow sg-1 egress #1 (prio 100): tcp 0-65535 → 0.0.0.0/0`.
pub fn evidence_line(e: &Evidence) -> String {
    let prio = e
        .priority
        .map(|p| format!(" (priority {p})"))
        .unwrap_or_default();
    // `all all` and `tcp 0-65535` read better as `all traffic` and `tcp`.
    let what = match (e.protocol.as_str(), e.ports.as_str()) {
        ("all" | "-1" | "*", "all" | "*" | "0-65535" | "") => "all traffic".to_string(),
        (p, "all" | "*" | "") => p.to_string(),
        (p, ports) => format!("{p} {ports}"),
    };
    let mut s = format!("{} {}{prio}: {what} to {}", e.action, e.rule, e.destination);
    if let Some(d) = &e.decides {
        s.push_str(&format!(" [decides {d}]"));
    }
    s
}

/// All of a finding's evidence, `; `-separated.
pub fn evidence_summary(f: &Finding) -> String {
    f.evidence
        .iter()
        .map(evidence_line)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The resource a group of findings is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceKey {
    pub provider: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub resource_id: String,
    pub resource_kind: String,
    pub resource_name: Option<String>,
}

impl ResourceKey {
    fn of(f: &Finding) -> Self {
        ResourceKey {
            provider: f.provider.clone(),
            account: f.account.clone(),
            region: f.region.clone(),
            resource_id: f.resource_id.clone(),
            resource_kind: f.resource_kind.clone(),
            resource_name: f.resource_name.clone(),
        }
    }

    /// `aws / 111122223333 / us-east-1 / sg-1 [security-group "web"]`.
    pub fn heading(&self) -> String {
        let mut s = self.provider.clone();
        for part in [&self.account, &self.region].into_iter().flatten() {
            s.push_str(" / ");
            s.push_str(part);
        }
        s.push_str(" / ");
        s.push_str(&self.resource_id);
        s.push_str(" [");
        s.push_str(&self.resource_kind);
        if let Some(n) = self
            .resource_name
            .as_deref()
            .filter(|n| *n != self.resource_id)
        {
            s.push_str(&format!(" {n:?}"));
        }
        s.push(']');
        s
    }
}

/// The findings (suppressed or not, chosen by `suppressed`) grouped by resource, worst resource
/// first, findings in each group by descending severity then check id.
pub fn by_resource(report: &Report, suppressed: bool) -> Vec<(ResourceKey, Vec<&Finding>)> {
    let mut groups: std::collections::BTreeMap<ResourceKey, Vec<&Finding>> = Default::default();
    for f in report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some() == suppressed)
    {
        groups.entry(ResourceKey::of(f)).or_default().push(f);
    }
    let mut out: Vec<(ResourceKey, Vec<&Finding>)> = groups.into_iter().collect();
    for (_, fs) in &mut out {
        fs.sort_by(|a, b| (b.severity, &a.check_id).cmp(&(a.severity, &b.check_id)));
    }
    let worst = |fs: &Vec<&Finding>| fs.iter().map(|f| f.severity).max();
    out.sort_by(|a, b| worst(&b.1).cmp(&worst(&a.1)).then_with(|| a.0.cmp(&b.0)));
    out
}

/// `3 targets · 4 findings (1 high, 3 medium) · 1 suppressed · 2 known from baseline`.
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let mut parts = vec![
        plural(s.targets, "target"),
        format!(
            "{}{}",
            plural(s.findings, "finding"),
            severity_counts(report)
        ),
    ];
    if s.suppressed > 0 {
        parts.push(format!("{} suppressed", s.suppressed));
    }
    if let Some(n) = s.baseline_matched.filter(|n| *n > 0) {
        parts.push(format!("{n} known from baseline"));
    }
    if !report.warnings.is_empty() {
        parts.push(plural(report.warnings.len(), "warning"));
    }
    if !report.not_scanned.is_empty() {
        parts.push(format!("PARTIAL: {} not read", report.not_scanned.len()));
    }
    parts.join(" · ")
}

/// ` (1 high, 3 medium)`, or nothing when there are no findings.
fn severity_counts(report: &Report) -> String {
    let counts: Vec<String> = Severity::ALL
        .iter()
        .filter_map(|sev| {
            let n = *report.summary.by_severity.get(sev.as_str())?;
            (n > 0).then(|| format!("{n} {sev}"))
        })
        .collect();
    if counts.is_empty() {
        String::new()
    } else {
        format!(" ({})", counts.join(", "))
    }
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `aws 111122223333 me-south-1: region: OptInRequired`.
pub fn not_scanned_line(n: &egress_audit_snapshot::NotScanned) -> String {
    let mut s = n.provider.as_str().to_string();
    for part in [&n.account, &n.region].into_iter().flatten() {
        s.push(' ');
        s.push_str(part);
    }
    format!("{s}: {}: {}", n.scope, n.reason)
}
