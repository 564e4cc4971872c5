//! Renderers: table, JSON, SARIF, JUnit, Markdown, CSV, HTML. (Skeleton: JSON only so far.)

pub mod baseline;
pub mod catalog;

use crate::checks::Catalog;
use crate::model::Report;
use std::path::Path;

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

pub fn render(report: &Report, format: Format, _catalog: &Catalog) -> anyhow::Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(report)? + "\n"),
        other => anyhow::bail!("format {other:?} is not implemented yet"),
    }
}

/// Writes to a temporary file beside `path`, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
