//! Renderers: table, JSON, SARIF 2.1.0, JUnit XML, Markdown, CSV, HTML; the rules catalog;
//! baselines; atomic writes. Every renderer reads the finished [`Report`] and nothing else
//! (plus the catalog for rule metadata): the report is the single source of truth.

pub mod baseline;
pub mod catalog;
pub mod cause;
pub mod consistency;
mod csv;
pub mod filter;
pub mod flow_profile;
mod html;
mod junit;
mod markdown;
pub mod matrix;
mod remedy;
mod sarif;
mod spliced;
mod stream;
mod table;
pub mod text;

use egress_audit_engine::checks::Catalog;
use egress_audit_engine::model::{Evidence, Finding, Report, RuleText, Severity, Text};
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

impl Format {
    /// The format a file name asks for: `.sarif`, `.json`, `.md`, `.csv`, `.html`, `.xml`
    /// (JUnit), `.txt` (table).
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let ext = name.rsplit_once('.')?.1;
        Some(match ext {
            "sarif" => Format::Sarif,
            "json" => Format::Json,
            "md" | "markdown" => Format::Markdown,
            "csv" => Format::Csv,
            "html" | "htm" => Format::Html,
            "xml" | "junit" => Format::Junit,
            "txt" | "table" => Format::Table,
            _ => return None,
        })
    }
}

/// How the table, Markdown and HTML group findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// One entry per root cause: the rules whose change closes the findings.
    #[default]
    Cause,
    /// One entry per target (ENI, NIC, instance, group).
    Target,
    /// One entry per check.
    Check,
}

/// Presentation choices for the human formats.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub group_by: GroupBy,
    /// ANSI colours in the table.
    pub color: bool,
    /// Evidence under every line of the table.
    pub verbose: bool,
    /// Table width in columns.
    pub width: u16,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            group_by: GroupBy::Cause,
            color: false,
            verbose: false,
            width: 100,
        }
    }
}

/// What renderers read besides the report: the catalog, the root causes and the evaluated
/// targets (for the HTML matrix: targets without findings are rows too).
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub causes: cause::Causes,
    /// Every evaluated target, findings or not.
    pub targets: Vec<ResourceKey>,
    pub style: Style,
    /// Findings at or above this severity fail the run (JUnit failures); `None`: none do.
    pub gate: Option<Severity>,
    /// The check ids that ran (not disabled, not filtered out): the matrix says "closed" only
    /// for these.
    pub checked: std::collections::BTreeSet<String>,
    /// When the scan ran, as shown in the HTML page.
    pub generated: Option<String>,
}

impl<'a> Context<'a> {
    /// Causes from the evaluated `targets` (precise), or from the evidence alone when empty.
    pub fn new(
        report: &Report,
        catalog: &'a Catalog,
        targets: &[egress_audit_engine::model::Target],
    ) -> Self {
        let mut keys: Vec<ResourceKey> = targets.iter().map(ResourceKey::of_target).collect();
        keys.sort();
        keys.dedup();
        Context {
            catalog,
            causes: cause::Causes::build(report, targets),
            targets: keys,
            style: Style::default(),
            gate: Some(Severity::Info),
            checked: catalog.checks.iter().map(|c| c.id.to_string()).collect(),
            generated: None,
        }
    }
}

/// Renders `report` in `format` with causes read from the evidence and the default style (the
/// table at 100 columns, no colour). `scan` streams with [`write_report`].
pub fn render(report: &Report, format: Format, catalog: &Catalog) -> anyhow::Result<String> {
    let ctx = Context::new(report, catalog, &[]);
    let mut report = report.clone();
    ctx.causes.apply(&mut report);
    render_with(&report, format, &ctx)
}

pub fn render_with(report: &Report, format: Format, ctx: &Context) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Sarif => serde_json::to_string(&sarif::sarif(report, ctx.catalog))? + "\n",
        other => {
            let mut out = String::new();
            render_into(report, other, ctx, &mut out)?;
            out
        }
    })
}

/// Writes `report` in `format` to `w`, streamed: JSON and SARIF are serialized as they are
/// written, the text formats rendered piece by piece, so the whole document is never held as one
/// string (on a large estate it is gigabytes). A failed write is returned, never swallowed.
pub fn write_report(
    report: &Report,
    format: Format,
    ctx: &Context,
    w: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    match format {
        // The findings are serialized on every core (a large estate has millions).
        Format::Json => spliced::write(
            &mut *w,
            spliced::Layout::Pretty,
            &report.without_findings(),
            ("findings", 1),
            &report.findings,
            |f, buf| serde_json::to_writer_pretty(buf, f),
        )?,
        Format::Sarif => sarif::write(report, ctx.catalog, &mut *w)?,
        Format::Csv => return Ok(csv::write(report, ctx.catalog, &mut *w)?),
        Format::Html => return html::write(report, ctx, w),
        Format::Junit => return junit::write(report, ctx.catalog, ctx.gate, w),
        other => {
            let mut sink = stream::IoSink::new(w);
            let rendered = render_into(report, other, ctx, &mut sink);
            return sink.finish(rendered);
        }
    }
    Ok(w.write_all(b"\n")?)
}

/// The text formats (all but JSON and SARIF), written to `out` as they are rendered.
fn render_into(
    report: &Report,
    format: Format,
    ctx: &Context,
    out: &mut dyn std::fmt::Write,
) -> anyhow::Result<()> {
    let width = usize::from(ctx.style.width);
    match format {
        Format::Json | Format::Sarif => {
            anyhow::bail!("{format:?} is serialized, not rendered as text")
        }
        Format::Table => {
            table::render(report, ctx, out)?;
            out.write_str(&consistency::table_block(report, width))?;
            out.write_str(&flow_profile::table_block(report, width))?;
        }
        Format::Junit => via_bytes(out, |w| junit::write(report, ctx.catalog, ctx.gate, w))?,
        Format::Markdown => {
            // Capped at about 1 MiB (a job summary's limit), so rendered whole; the blocks after
            // it are not capped and are written as they come.
            out.write_str(&markdown::render(report, ctx))?;
            out.write_str(&consistency::markdown_block(report))?;
            flow_profile::markdown_block(report, out)?;
        }
        Format::Csv => via_bytes(out, |w| Ok(csv::write(report, ctx.catalog, w)?))?,
        Format::Html => via_bytes(out, |w| html::write(report, ctx, w))?,
    }
    Ok(())
}

/// A format with one writer, to an `io::Write`, rendered as text: written to bytes, then passed on.
fn via_bytes(
    out: &mut dyn std::fmt::Write,
    write: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    write(&mut bytes)?;
    Ok(out.write_str(std::str::from_utf8(&bytes)?)?)
}

/// `COLUMNS` when set (at least 40), else the terminal's width when standard output is one, else
/// 100.
pub fn table_width() -> u16 {
    const DEFAULT: u16 = 100;
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok());
    if let Some(c) = columns.filter(|c| *c >= 40) {
        return c;
    }
    if !std::io::stdout().is_terminal() {
        return DEFAULT;
    }
    comfy_table::Table::new()
        .width()
        .filter(|w| *w >= 40)
        .unwrap_or(DEFAULT)
}

/// Writes to a temporary file beside `path`, then renames it over `path`. The temporary file is
/// created exclusively (`O_CREAT|O_EXCL`: a planted file or symlink is never written through)
/// under an unpredictable name, takes the mode of the file it replaces, and is removed on every
/// failure.
///
/// Readers see the old report or the whole new one, never part of one. The file is not forced
/// to the disk before the rename: a report can be made again, and waiting for the disk was most
/// of the time of a large one (6 s of a 3.7 GB SARIF report's 12 s of writing).
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
    let existing_mode = std::fs::metadata(path).ok().map(|m| m.permissions());
    let (tmp, file) = create_temp(dir, name)?;
    let result = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
        fill(&mut w)?;
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        if let Some(perm) = existing_mode {
            file.set_permissions(perm)?;
        }
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `.NAME.RANDOM.tmp` in `dir`, created with `create_new` (O_EXCL); a few tries on a collision.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let mut last = None;
    for _ in 0..16 {
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(16)
            .collect();
        let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temporary file name was free")))
}

/// `provider/account/region/resource_id`, `-` for a missing account or region. SARIF's
/// fullyQualifiedName and config suppression patterns use this form.
pub fn qualified_name(f: &Finding) -> String {
    f.qualified_name()
}

/// `provider/account/region/resource_id`, as [`Finding::qualified_name`] makes it.
pub(crate) struct QualifiedName<'a>(pub &'a Finding);

impl std::fmt::Display for QualifiedName<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let f = self.0;
        write!(
            out,
            "{}/{}/{}/{}",
            f.provider,
            f.account.as_deref().unwrap_or("-"),
            f.region.as_deref().unwrap_or("-"),
            f.resource_id
        )
    }
}

/// One deciding rule on one line: `allow sg-1 egress #1 (prio 100): tcp 0-65535 → 0.0.0.0/0`.
pub fn evidence_line(e: &Evidence) -> String {
    EvidenceLine(e).to_string()
}

/// [`evidence_line`] written to a formatter, for a report that writes it into a longer text.
pub(crate) struct EvidenceLine<'a>(pub &'a Evidence);

impl std::fmt::Display for EvidenceLine<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(out, "{}", RuleLine(&self.0.written))?;
        if let Some(d) = &self.0.decides {
            write!(out, " [decides {d}]")?;
        }
        Ok(())
    }
}

/// An [`EvidenceLine`] up to what the rule decided: the rule as written, the same in every
/// finding that cites it.
pub(crate) struct RuleLine<'a>(pub &'a RuleText);

impl std::fmt::Display for RuleLine<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.0;
        write!(out, "{} {}", e.action, e.name)?;
        if let Some(p) = e.priority {
            write!(out, " (priority {p})")?;
        }
        out.write_str(": ")?;
        // `all all` and `tcp 0-65535` read better as `all traffic` and `tcp`.
        match (e.protocol.as_str(), e.ports.as_str()) {
            ("all" | "-1" | "*", "all" | "*" | "0-65535" | "") => out.write_str("all traffic")?,
            (p, "all" | "*" | "") => out.write_str(p)?,
            (p, ports) => write!(out, "{p} {ports}")?,
        }
        write!(out, " to {}", e.destination)
    }
}

/// The resource a group of findings is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceKey {
    pub provider: Text,
    pub account: Option<Text>,
    pub region: Option<Text>,
    pub resource_id: Text,
    pub resource_kind: Text,
    pub resource_name: Option<Text>,
}

impl ResourceKey {
    fn of_target(t: &egress_audit_engine::model::Target) -> Self {
        ResourceKey {
            provider: t.provider.as_str().into(),
            account: t.account.clone(),
            region: t.region.clone(),
            resource_id: t.resource_id.clone(),
            resource_kind: t.resource_kind.clone(),
            resource_name: t.name.clone(),
        }
    }

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
        let mut s = self.provider.to_string();
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
