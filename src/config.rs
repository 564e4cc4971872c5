//! `egress-audit.toml`: risky ports, DNS resolver allow-list, disabled checks, severity overrides,
//! suppressions. (Skeleton: loading and suppression/baseline application to be filled in.)

use crate::model::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Gate for the exit status when `--fail-on` is not given.
    #[serde(default)]
    pub fail_on: Option<Severity>,
    /// EG013's list, as traffic specs (`tcp/22`, `udp/1194`, `tcp/6660-6669`); replaces the default.
    #[serde(default)]
    pub risky_ports: Option<Vec<String>>,
    /// EG006: resolvers that may be reached on port 53 (addresses or CIDRs).
    #[serde(default)]
    pub dns_resolvers: Vec<String>,
    /// Check ids that are not run.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Check id → severity.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    #[serde(default, rename = "suppress")]
    pub suppressions: Vec<Suppression>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Check id (`EG004`) or slug; `*` for all.
    pub check: String,
    /// Resource id pattern, `*` wildcards: `sg-0abc*`, `*/nsg-legacy`.
    pub resource: String,
    pub reason: String,
    /// `YYYY-MM-DD`; on and after that day the suppression stops suppressing and says so.
    #[serde(default)]
    pub expires: Option<String>,
}

impl Config {
    /// Reads `path`, or `./egress-audit.toml` when it exists, or the defaults.
    pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let p = std::path::PathBuf::from("egress-audit.toml");
                if !p.exists() {
                    return Ok(Config::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read config: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: invalid config: {e}", path.display()))
    }

    /// Severity overrides and suppressions. (Skeleton.)
    pub fn apply(&self, _report: &mut crate::model::Report, _today: chrono::NaiveDate) {}
}
