//! `egress-audit.toml`: risky ports, DNS resolver allow-list, disabled checks, severity overrides,
//! suppressions. A sample with every key documented: `examples/egress-audit.toml`.

use crate::checks::Catalog;
use crate::diag::{Diagnostic, DiagnosticKind, Diagnostics, Seg, Source};
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
    /// Its text, for the positions of errors found after parsing.
    #[serde(skip)]
    pub text: SourceText,
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

/// The config could not be used: exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// Every error in the file, each at its file:line:column.
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
}

/// The text a config was read from, kept so that validation against the catalog (which is loaded
/// later) can still point at the line of a bad check id.
#[derive(Clone, Default)]
pub struct SourceText(Option<std::sync::Arc<str>>);

impl std::fmt::Debug for SourceText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SourceText({} bytes)",
            self.0.as_ref().map_or(0, |t| t.len())
        )
    }
}

impl Config {
    /// Reads `path`, or `./egress-audit.toml` when it exists, or the defaults.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        Config::load_checked(path, None)
    }

    /// [`Config::load`], and with a catalog also [`Config::validate`], reporting the errors of
    /// both in one pass.
    pub fn load_checked(
        path: Option<&std::path::Path>,
        catalog: Option<&Catalog>,
    ) -> Result<Config, ConfigError> {
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
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let (cfg, mut errors) = Config::read(&text, &path)?;
        if let Some(catalog) = catalog {
            errors.extend(cfg.validate(catalog).err().into_iter().flat_map(|d| d.0));
        }
        Diagnostics::into_result(errors)?;
        Ok(cfg)
    }

    /// Parses config text; `path` only names the file in messages. Every value that does not
    /// parse is reported, not only the first.
    pub fn parse(text: &str, path: &std::path::Path) -> Result<Config, Diagnostics> {
        let (cfg, errors) = Config::read(text, path)?;
        Diagnostics::into_result(errors)?;
        Ok(cfg)
    }

    /// The config and the faults of its values; `Err` when the TOML itself cannot be read.
    fn read(text: &str, path: &std::path::Path) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
        let file = path.display().to_string();
        let src = Source::new(&file, text);
        let mut cfg: Config =
            toml::from_str(text).map_err(|e| Diagnostics(vec![src.parse_error("config", &e)]))?;
        cfg.source = Some(path.to_path_buf());
        cfg.text = SourceText(Some(text.into()));
        let mut errors = Vec::new();
        for (i, a) in cfg.authorized.iter().enumerate() {
            let at = [Seg::Key("authorized"), Seg::Index(i), Seg::Key("traffic")];
            match crate::checks::spec::parse_spec(&a.traffic) {
                Err(message) => errors.push(src.value(
                    &at,
                    DiagnosticKind::BadValue {
                        field: format!("[[authorized]] entry {}", i + 1),
                        message,
                    },
                )),
                // Only public egress is classified: an entry with no public address would
                // authorize nothing, silently.
                Ok(spec) if spec.traffic.is_empty() => errors.push(src.value(
                    &at,
                    DiagnosticKind::NoPublicAddress {
                        entry: i + 1,
                        traffic: a.traffic.clone(),
                    },
                )),
                Ok(_) => {}
            }
        }
        if cfg.window_days == Some(0) {
            errors.push(src.value(&[Seg::Key("window_days")], DiagnosticKind::ZeroWindow));
        }
        for (i, s) in cfg.suppressions.iter().enumerate() {
            if let Some(Err(message)) = s.expires.as_deref().map(parse_date) {
                errors.push(src.value(
                    &[Seg::Key("suppress"), Seg::Index(i), Seg::Key("expires")],
                    DiagnosticKind::BadValue {
                        field: format!(
                            "[[suppress]] entry {} (check {:?}, resource {:?})",
                            i + 1,
                            s.check,
                            s.resource
                        ),
                        message,
                    },
                ));
            }
        }
        // The queries read these only when the checks run: checked here, where the line is known.
        for (i, spec) in cfg.risky_ports.iter().flatten().enumerate() {
            if let Err(message) = crate::checks::spec::parse_spec(spec) {
                errors.push(src.value(
                    &[Seg::Key("risky_ports"), Seg::Index(i)],
                    DiagnosticKind::BadValue {
                        field: "risky_ports".into(),
                        message,
                    },
                ));
            }
        }
        for (i, dest) in cfg.dns_resolvers.iter().enumerate() {
            if let Err(message) = crate::checks::spec::parse_dests(dest) {
                errors.push(src.value(
                    &[Seg::Key("dns_resolvers"), Seg::Index(i)],
                    DiagnosticKind::BadValue {
                        field: format!("dns_resolvers {dest:?}"),
                        message,
                    },
                ));
            }
        }
        Ok((cfg, errors))
    }

    fn source_name(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config".into())
    }

    /// Every check id or slug the config names must exist in the catalog (a typo would silently
    /// disable nothing, re-grade nothing or suppress nothing). Each one is reported at its line.
    pub fn validate(&self, catalog: &Catalog) -> Result<(), Diagnostics> {
        let file = self.source_name();
        let src = self.text.0.as_deref().map(|t| Source::new(&file, t));
        let place = |path: &[Seg], key: bool, kind: DiagnosticKind| match &src {
            Some(s) if key => s.key(path, kind),
            Some(s) => s.value(path, kind),
            None => crate::diag::unplaced(&file, kind),
        };
        let known = known_ids(catalog);
        let unknown = |field: String, id: &str| DiagnosticKind::UnknownCheck {
            field,
            id: id.to_string(),
            known: known.clone(),
        };
        let exists = |id: &str| catalog.get(id).is_some();
        let mut errors = Vec::new();
        for (i, id) in self.disabled.iter().enumerate() {
            if !exists(id) {
                let at = [Seg::Key("disabled"), Seg::Index(i)];
                errors.push(place(&at, false, unknown("disabled".into(), id)));
            }
        }
        for id in self.severity.keys().filter(|id| !exists(id)) {
            let at = [Seg::Key("severity"), Seg::Key(id)];
            errors.push(place(&at, true, unknown("[severity]".into(), id)));
        }
        for (i, s) in self.suppressions.iter().enumerate() {
            if s.check != "*" && !exists(&s.check) {
                let at = [Seg::Key("suppress"), Seg::Index(i), Seg::Key("check")];
                let field = format!("[[suppress]] entry {} check", i + 1);
                errors.push(place(&at, false, unknown(field, &s.check)));
            }
        }
        Diagnostics::into_result(errors)
    }

    /// Severity overrides, then suppressions. A suppression on or after its expiry day no longer
    /// suppresses: its findings get a note and the report a `suppression-expired` warning. A
    /// suppression that matches nothing gets an `unused-suppression` warning.
    pub fn apply(&self, report: &mut Report, today: NaiveDate) {
        for f in &mut report.findings {
            let Some(sev) = self
                .severity
                .get(f.check_id.as_str())
                .or_else(|| self.severity.get(f.slug.as_str()))
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
                if f.no_internet_path && !f.observed && f.severity > Severity::Info {
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

/// The catalog's ids for messages: `EG001…EG016 (16 checks)`, or all of them when few.
fn known_ids(catalog: &Catalog) -> String {
    let mut ids: Vec<&str> = catalog.checks.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    match ids.as_slice() {
        [first, .., last] if ids.len() > 4 => format!("{first}…{last}, {} checks", ids.len()),
        _ => ids.join(", "),
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| format!("expires {s:?} is not a date YYYY-MM-DD ({e})"))
}
