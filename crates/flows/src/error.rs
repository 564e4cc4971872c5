//! Typed errors of the flow readers: every one names the file it concerns.

use std::path::PathBuf;

/// Why flow input could not be read at all. Unreadable *records* are not errors: they are counted
/// in [`crate::FlowProfile::skipped_count`] with file and line.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a flow log this tool reads (AWS VPC text/Parquet/CloudWatch export, Azure VNet/NSG flow logs, GCP VPC/firewall log entries, or the aggregated CSV/JSON lines): {detail}")]
    NotAFlowLog { path: PathBuf, detail: String },
    #[error("{path}: AWS flow log header lacks the field `{field}`, which the profile needs")]
    MissingField { path: PathBuf, field: &'static str },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: Parquet: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: Parquet column `{column}` has type {found}, expected {expected}")]
    ParquetColumn {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },
    #[error("--aws-format: `{field}` is not an AWS flow log field")]
    BadFormat { field: String },
    #[error("{path}: no such file or folder")]
    NotFound { path: PathBuf },
}

impl FlowError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        FlowError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
