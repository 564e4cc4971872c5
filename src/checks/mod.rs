//! The check catalog (`rules/*.toml`, embedded in the binary) and the queries they run over
//! evaluated targets. (Skeleton: catalog types; queries to be filled in.)

use crate::config::Config;
use crate::model::{Finding, Severity};
use crate::normalize::Inventory;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One rule file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    pub id: String,
    pub slug: String,
    pub severity: Severity,
    pub title: String,
    pub rationale: String,
    pub remediation: String,
    /// Framework → control ids, e.g. `nist-800-53 = ["AC-4"]`.
    #[serde(default)]
    pub compliance: BTreeMap<String, Vec<String>>,
    pub query: toml::Value,
    /// Where it came from: `builtin` or the file path.
    #[serde(skip)]
    pub origin: String,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub checks: Vec<CheckDef>,
}

impl Catalog {
    /// The built-in rules plus every `*.toml` file in `extra` folders.
    pub fn load(_extra: &[PathBuf]) -> anyhow::Result<Catalog> {
        Ok(Catalog::default())
    }
}

pub fn run(_inv: &Inventory, _catalog: &Catalog, _cfg: &Config) -> Vec<Finding> {
    Vec::new()
}
