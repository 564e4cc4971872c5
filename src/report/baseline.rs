//! `--baseline previous.json`: keep only findings whose fingerprint is new. (Skeleton.)

use crate::model::Report;
use std::path::Path;

pub fn apply(_path: &Path, _report: &mut Report) -> anyhow::Result<()> {
    anyhow::bail!("--baseline is not implemented yet")
}
