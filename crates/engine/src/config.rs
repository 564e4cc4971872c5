//! `egress-audit.toml`: risky ports, DNS resolver allow-list, disabled checks, severity overrides,
//! suppressions. A sample with every key documented: `examples/egress-audit.toml`.

use crate::checks::Catalog;
use crate::model::{Pattern, WarningKind};
use crate::model::{Report, Severity, Warning};
use chrono::NaiveDate;
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
    /// Lower findings to `info` where route data shows no path to the internet (the severity they
    /// would have stays in `original_severity`). Off by default: the catalog's severity stands
    /// and the finding carries a "no internet path" note.
    #[serde(default)]
    pub lower_unreachable: bool,
    /// Observed traffic that is expected (CHECKS.md §5 classes): a flow that matches an entry, and is
    /// not a check's traffic, is `authorized`; anything else not a check's traffic is `ambiguous`.
    #[serde(default)]
    pub authorized: Vec<Authorized>,
    /// The flow-log observation window for EG014 / EG015, in days ending at the newest record
    /// (default 90; `--window` overrides).
    #[serde(default)]
    pub window_days: Option<u32>,
    /// The file it was read from, for messages (`None` for the defaults).
    #[serde(skip)]
    pub source: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Check id (`EG004`) or slug; `*` for all.
    pub check: String,
    /// Resource pattern, `*` matches any run of characters (case-insensitive). It is matched against
    /// the resource id (`sg-0abc*`) and against `provider/account/region/resource_id`
    /// (`aws/111122223333/*`, `-` for a missing account or region).
    pub resource: String,
    pub reason: String,
    /// `YYYY-MM-DD`; on and after that day the suppression stops suppressing and says so.
    #[serde(default)]
    pub expires: Option<String>,
}

/// One `[[authorized]]` entry: `traffic = "tcp/443 to 52.94.0.0/16"`, optionally only for
/// `targets = { tags = ["web"] }` (the rule files' target selector).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorized {
    /// A traffic spec (`tcp/443 to 52.94.0.0/16`, `udp/123`); destinations default to public.
    pub traffic: String,
    #[serde(default)]
    pub targets: Option<crate::checks::TargetSelector>,
    /// Why it is expected, for the proposal's output.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The default observation window (CHECKS.md §5).
pub const DEFAULT_WINDOW_DAYS: u32 = 90;

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
        Config::parse(&text, &path)
    }

    /// Parses config text; `path` only names the file in messages.
    pub fn parse(text: &str, path: &std::path::Path) -> anyhow::Result<Config> {
        let mut cfg: Config = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: invalid config: {e}", path.display()))?;
        cfg.source = Some(path.to_path_buf());
        for (i, a) in cfg.authorized.iter().enumerate() {
            let spec = crate::checks::spec::parse_spec(&a.traffic).map_err(|e| {
                anyhow::anyhow!("{}: [[authorized]] entry {}: {e}", path.display(), i + 1)
            })?;
            // Only public egress is classified: an entry with no public address would
            // authorize nothing, silently.
            if spec.traffic.is_empty() {
                anyhow::bail!(
                    "{}: [[authorized]] entry {} (traffic {:?}) names no public address \
                     (private, documentation and benchmark ranges such as 198.18.0.0/15 are not \
                     internet egress), so it would authorize nothing",
                    path.display(),
                    i + 1,
                    a.traffic
                );
            }
        }
        if cfg.window_days == Some(0) {
            anyhow::bail!("{}: window_days must be at least 1", path.display());
        }
        for (i, s) in cfg.suppressions.iter().enumerate() {
            if let Some(e) = &s.expires {
                parse_date(e).map_err(|err| {
                    anyhow::anyhow!(
                        "{}: [[suppress]] entry {} (check {:?}, resource {:?}): {err}",
                        path.display(),
                        i + 1,
                        s.check,
                        s.resource
                    )
                })?;
            }
        }
        Ok(cfg)
    }

    fn source_name(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config".into())
    }

    /// Every check id or slug the config names must exist in the catalog (a typo would silently
    /// disable nothing, re-grade nothing or suppress nothing).
    pub fn validate(&self, catalog: &Catalog) -> anyhow::Result<()> {
        let known = |id: &str| catalog.get(id).is_some();
        let mut unknown = Vec::new();
        for id in self.disabled.iter().filter(|id| !known(id)) {
            unknown.push(format!("disabled: {id:?}"));
        }
        for id in self.severity.keys().filter(|id| !known(id)) {
            unknown.push(format!("[severity] {id:?}"));
        }
        for (i, s) in self.suppressions.iter().enumerate() {
            if s.check != "*" && !known(&s.check) {
                unknown.push(format!("[[suppress]] entry {}: check {:?}", i + 1, s.check));
            }
        }
        if !unknown.is_empty() {
            anyhow::bail!(
                "{}: unknown check id or slug: {} (`egress-audit rules` lists the checks)",
                self.source_name(),
                unknown.join(", ")
            );
        }
        Ok(())
    }

    /// Severity overrides, then suppressions. A suppression on or after its expiry day no longer
    /// suppresses: its findings get a note and the report a `suppression-expired` warning. A
    /// suppression that matches nothing gets an `unused-suppression` warning.
    pub fn apply(&self, report: &mut Report, today: NaiveDate) {
        for f in &mut report.findings {
            let Some(sev) = self
                .severity
                .get(&f.check_id)
                .or_else(|| self.severity.get(&f.slug))
            else {
                continue;
            };
            if f.severity != *sev {
                f.original_severity.get_or_insert(f.severity);
                f.severity = *sev;
            }
        }
        if self.lower_unreachable {
            for f in &mut report.findings {
                let unreachable = f
                    .notes
                    .iter()
                    .any(|n| n.starts_with(crate::checks::NO_INTERNET_PATH));
                if unreachable && !f.observed && f.severity > Severity::Info {
                    f.original_severity = Some(f.severity);
                    f.severity = Severity::Info;
                }
            }
        }

        let source = self.source_name();
        let expiry: Vec<Option<NaiveDate>> = self
            .suppressions
            .iter()
            .map(|s| s.expires.as_deref().and_then(|e| parse_date(e).ok()))
            .collect();
        let patterns: Vec<Pattern> = self
            .suppressions
            .iter()
            .map(|s| Pattern::new(&s.resource))
            .collect();
        let mut matched = vec![0usize; self.suppressions.len()];
        for f in &mut report.findings {
            let qualified = f.qualified_name();
            let mut expired_notes = Vec::new();
            for (i, s) in self.suppressions.iter().enumerate() {
                let check_matches = s.check == "*" || s.check == f.check_id || s.check == f.slug;
                if !check_matches
                    || !(patterns[i].matches(&f.resource_id) || patterns[i].matches(&qualified))
                {
                    continue;
                }
                matched[i] += 1;
                match expiry[i] {
                    Some(day) if today >= day => {
                        expired_notes.push(format!("suppression expired on {day}: {}", s.reason));
                    }
                    _ => {
                        if f.suppressed.is_none() {
                            f.suppressed = Some(s.reason.clone());
                        }
                    }
                }
            }
            if f.suppressed.is_none() {
                f.notes.extend(expired_notes);
            }
        }
        for (i, s) in self.suppressions.iter().enumerate() {
            let what = format!(
                "[[suppress]] entry {} (check {:?}, resource {:?})",
                i + 1,
                s.check,
                s.resource
            );
            if matched[i] == 0 {
                report.warnings.push(Warning {
                    kind: WarningKind::UnusedSuppression,
                    source: source.clone(),
                    message: format!("{what} matches no finding; remove it or fix the pattern"),
                });
            } else if let Some(day) = expiry[i].filter(|d| today >= *d) {
                report.warnings.push(Warning {
                    kind: WarningKind::SuppressionExpired,
                    source: source.clone(),
                    message: format!(
                        "{what} expired on {day} and no longer suppresses {} finding(s): {}",
                        matched[i], s.reason
                    ),
                });
            }
        }
        report.recount();
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| format!("expires {s:?} is not a date YYYY-MM-DD ({e})"))
}
