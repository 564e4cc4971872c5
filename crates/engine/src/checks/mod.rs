//! The check catalog (`rules/*.toml`, embedded in the binary, plus `--rules DIR`) and how it runs:
//! every target is evaluated once, then every enabled check queries the result.

pub mod classes;
pub mod consistency;
mod query;
pub mod reconcile;
mod rule_level;
pub mod spec;

use crate::config::Config;
use crate::diag::{Diagnostic, DiagnosticKind, Diagnostics, Seg, Source};
use crate::eval::{EvalCache, TargetOutcome};
use crate::model::{AddrSet, Evidence, Finding, Severity, Target, Text};
use crate::normalize::Inventory;
pub use query::{finding, Query, QueryFault, QueryKind, TargetSelector};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One rule file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    pub id: Text,
    pub slug: Text,
    pub severity: Severity,
    pub title: Text,
    pub rationale: String,
    pub remediation: String,
    /// Framework → control ids, e.g. `nist-800-53 = ["AC-4"]`.
    #[serde(default)]
    pub compliance: BTreeMap<String, Vec<String>>,
    pub query: Query,
    /// Where it came from: `builtin` or the file path.
    #[serde(skip)]
    pub origin: String,
}

/// The built-in rules: every file under `rules/`, found and embedded at build time (build.rs), so
/// a rule file cannot be added without shipping.
const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub checks: Vec<CheckDef>,
}

/// The catalog could not be loaded: exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{}: cannot read {what}: {source}", path.display())]
    Read {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{}: no .toml rule files in this folder", path.display())]
    NoRules { path: PathBuf },
    /// Every error of every rule file, each at its file:line:column.
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
}

impl Catalog {
    /// The built-in rules plus every `*.toml` file in the `extra` folders (or files). Every rule
    /// file is read and every error in them reported, not only the first.
    pub fn load(extra: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let mut files: Vec<(String, std::borrow::Cow<'static, str>)> = BUILTIN
            .iter()
            .map(|(name, text)| (format!("builtin:rules/{name}"), (*text).into()))
            .collect();
        for dir in extra {
            for file in rule_files(dir)? {
                let text = std::fs::read_to_string(&file).map_err(|source| CatalogError::Read {
                    path: file.clone(),
                    what: "rule file",
                    source,
                })?;
                files.push((file.display().to_string(), text.into()));
            }
        }
        let mut checks = Vec::new();
        let mut errors = Vec::new();
        // Check id → where it is defined, for the error on a second definition.
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (origin, text) in &files {
            let src = Source::new(origin, text);
            match parse_check(&src, text, origin) {
                Err(e) => errors.push(*e),
                // A file with a bad query still holds its id: a second file with that id is
                // reported in the same pass.
                Ok((def, mut faults)) => {
                    match seen.get(def.id.as_str()) {
                        Some(previous) => errors.push(src.value(
                            &[Seg::Key("id")],
                            DiagnosticKind::DuplicateId {
                                id: def.id.to_string(),
                                previous: previous.clone(),
                            },
                        )),
                        None => {
                            seen.insert(def.id.to_string(), src.position(&[Seg::Key("id")]));
                        }
                    }
                    if faults.is_empty() {
                        checks.push(def);
                    }
                    errors.append(&mut faults);
                }
            }
        }
        Diagnostics::into_result(errors)?;
        Ok(Catalog { checks })
    }

    pub fn get(&self, id: &str) -> Option<&CheckDef> {
        self.checks.iter().find(|c| c.id == id || c.slug == id)
    }
}

fn rule_files(path: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        what: "rules folder",
        source,
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CatalogError::NoRules {
            path: path.to_path_buf(),
        });
    }
    Ok(files)
}

/// One rule file and every fault of its values, each at the value at fault; or the TOML error
/// that keeps it from being read at all.
fn parse_check(
    src: &Source,
    text: &str,
    origin: &str,
) -> Result<(CheckDef, Vec<Diagnostic>), Box<Diagnostic>> {
    let mut def: CheckDef =
        toml::from_str(text).map_err(|e| Box::new(src.parse_error("rule file", &e)))?;
    def.origin = origin.to_string();
    let mut errors: Vec<Diagnostic> = def
        .query
        .validate()
        .into_iter()
        .map(|f| {
            let mut at = vec![Seg::Key("query"), Seg::Key(f.field)];
            at.extend(f.index.map(Seg::Index));
            let kind = DiagnosticKind::BadQuery {
                id: def.id.to_string(),
                message: f.message,
            };
            src.value(&at, kind)
        })
        .collect();
    for (field, value) in [("id", &def.id), ("slug", &def.slug)] {
        if value.trim().is_empty() {
            errors.push(src.value(&[Seg::Key(field)], DiagnosticKind::Empty { field }));
        }
    }
    Ok((def, errors))
}

/// What a query sees of one target.
pub struct Evaluated<'a> {
    pub target: &'a Target,
    pub outcome: TargetOutcome,
}

/// The traffic of every enabled `reachable` check (EG002–EG004, EG006–EG008, EG013 and users'
/// own), public and after the config's exclusions (resolver allow-list, risky ports): what makes an
/// observed flow `unauthorized` (CHECKS.md §5).
pub fn observed_traffic<'c>(
    catalog: &'c Catalog,
    cfg: &Config,
) -> anyhow::Result<Vec<(&'c CheckDef, crate::model::TrafficSet)>> {
    let ctx = query::Context::new(cfg).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    Ok(enabled(catalog, cfg)
        .into_iter()
        .filter(|c| c.query.kind == QueryKind::Reachable && c.query.targets.is_none())
        .map(|c| (c, query::Prepared::new(c, &ctx).traffic()))
        .collect())
}

/// The checks the config does not disable.
pub fn enabled<'c>(catalog: &'c Catalog, cfg: &Config) -> Vec<&'c CheckDef> {
    let disabled: HashSet<&str> = cfg.disabled.iter().map(String::as_str).collect();
    catalog
        .checks
        .iter()
        .filter(|c| !disabled.contains(c.id.as_str()) && !disabled.contains(c.slug.as_str()))
        .collect()
}

/// Runs every enabled check on every target.
pub fn run(inv: &Inventory, catalog: &Catalog, cfg: &Config) -> anyhow::Result<Vec<Finding>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    run_on(inv, catalog, cfg, threads)
}

/// [`run`] on at most `threads` threads (shares of fewer than 256 targets are not split).
pub fn run_on(
    inv: &Inventory,
    catalog: &Catalog,
    cfg: &Config,
    threads: usize,
) -> anyhow::Result<Vec<Finding>> {
    let enabled = enabled(catalog, cfg);
    // Fail before any thread starts: a bad config is one error, not one per thread.
    query::Context::new(cfg).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    // Targets are independent: each thread takes a contiguous share, with its own caches, and
    // the shares are joined in target order, so the result does not depend on the thread count.
    let share = inv.targets.len().div_ceil(threads.max(1)).max(256);
    let parts: Vec<(Vec<Finding>, rule_level::RuleVerdicts)> = if inv.targets.len() <= share {
        vec![run_share(&inv.targets, &enabled, cfg)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = inv
                .targets
                .chunks(share)
                .map(|part| s.spawn(|| run_share(part, &enabled, cfg)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    // The first share's findings and verdicts are the base: a million moved or re-inserted took
    // seconds.
    let mut parts = parts.into_iter();
    let (mut findings, mut verdicts) = parts.next().unwrap_or_default();
    let mut shares = Vec::new();
    for (part, part_verdicts) in parts {
        shares.push(part);
        verdicts.merge(part_verdicts);
    }
    // Rule-level findings are made as they are taken, against the first target that showed them.
    let (rule_count, rule_findings) = verdicts.into_findings();
    // Grown once to the exact total: doubling a vector of a million findings (twice) held
    // copies of it side by side.
    findings.reserve_exact(shares.iter().map(Vec::len).sum::<usize>() + rule_count);
    for part in shares {
        findings.extend(part);
    }
    findings.extend(rule_findings);
    sort_findings(&mut findings);
    Ok(findings)
}

/// Worst first, then by provider, account, region, resource and check. Resources and checks are
/// ranked once, so that sorting a million findings compares numbers, not strings; a finding
/// about the same resource as the one before it (most are) takes its rank without a lookup.
fn sort_findings(findings: &mut [Finding]) {
    type ResourceOf<'f> = (&'f str, Option<&'f str>, Option<&'f str>, &'f str);
    fn resource(f: &Finding) -> ResourceOf<'_> {
        (
            f.provider.as_str(),
            f.account.as_deref(),
            f.region.as_deref(),
            f.resource_id.as_str(),
        )
    }
    let resources = Ranks::of(findings.iter().map(resource));
    let checks = Ranks::of(findings.iter().map(|f| f.check_id.as_str()));
    let mut keys: Vec<(std::cmp::Reverse<Severity>, u32, u32, u32)> = findings
        .iter()
        .zip(resources.iter().zip(checks.iter()))
        .enumerate()
        .map(|(i, (f, (r, c)))| (std::cmp::Reverse(f.severity), r, c, i as u32))
        .collect();
    // Unique keys (the index is the last): stable, as findings equal in every other key keep
    // the order they were made in.
    keys.sort_unstable();
    let order = keys.into_iter().map(|k| k.3 as usize).collect();
    crate::order::apply_order(findings, order);
}

/// The rank of each of a list of values among the distinct values, in the list's order.
struct Ranks {
    /// Each value's id, ids given in order of first appearance.
    ids: Vec<u32>,
    /// Each id's rank.
    rank_of_id: Vec<u32>,
}

impl Ranks {
    fn of<K: Ord + std::hash::Hash + Copy>(values: impl Iterator<Item = K>) -> Ranks {
        let mut seen: rustc_hash::FxHashMap<K, u32> = Default::default();
        let mut distinct: Vec<K> = Vec::new();
        let mut last: Option<(K, u32)> = None;
        let ids = values
            .map(|v| match last {
                Some((l, id)) if l == v => id,
                _ => {
                    let id = *seen.entry(v).or_insert_with(|| {
                        distinct.push(v);
                        distinct.len() as u32 - 1
                    });
                    last = Some((v, id));
                    id
                }
            })
            .collect();
        let mut by_value: Vec<u32> = (0..distinct.len() as u32).collect();
        by_value.sort_unstable_by_key(|&id| distinct[id as usize]);
        let mut rank_of_id = vec![0; distinct.len()];
        for (rank, id) in by_value.into_iter().enumerate() {
            rank_of_id[id as usize] = rank as u32;
        }
        Ranks { ids, rank_of_id }
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids.iter().map(|&id| self.rank_of_id[id as usize])
    }
}

/// A capacity to reserve for an estimated number of entries: capped, so that a wild estimate
/// never asks for more address space than a large estate needs.
fn estimate(n: usize) -> usize {
    n.min(1 << 22)
}

/// Runs every enabled check on a share of the targets, in order.
fn run_share<'a>(
    targets: &'a [Target],
    enabled: &[&'a CheckDef],
    cfg: &Config,
) -> (Vec<Finding>, rule_level::RuleVerdicts<'a>) {
    let ctx = query::Context::new(cfg).expect("checked before the threads started");
    let is_rule_level = |c: &&CheckDef| {
        matches!(
            c.query.kind,
            QueryKind::ShadowedDeny | QueryKind::RedundantRule
        )
    };
    // Reserved at a generous estimate (a finding per target and check, a verdict per rule and
    // rule-level check): pages are only used as entries are added, and a share's lists of a
    // million entries are not copied at each doubling.
    let target_checks = enabled.iter().filter(|c| !is_rule_level(c)).count();
    let mut findings = Vec::with_capacity(estimate(targets.len() * target_checks));
    let rules: usize = targets
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.layers)
        .map(|l| l.rules.len())
        .sum();
    let rule_checks = enabled.len() - target_checks;
    let prepared: Vec<query::Prepared> = enabled
        .iter()
        .map(|c| query::Prepared::new(c, &ctx))
        .collect();
    let mut verdicts = rule_level::RuleVerdicts::with_capacity(estimate(rules * rule_checks));
    let mut cache = EvalCache::default();
    // Targets with the same (cached) chain outcomes get the same target-level findings: reuse them.
    let mut memo: HashMap<MemoKey, Vec<Vec<Finding>>> = HashMap::new();
    for target in targets {
        let outcome = cache.eval_target(target);
        let key = memo_key(target, &outcome);
        let ev = Evaluated { target, outcome };
        let known = key.as_ref().and_then(|k| memo.get(k));
        let mut fresh = Vec::new();
        for (i, (check, prep)) in enabled.iter().zip(&prepared).enumerate() {
            let rule_level = is_rule_level(check);
            let list = match known {
                // Same chains: the rule-level verdicts are already in.
                Some(_) if rule_level => Vec::new(),
                Some(m) if check.query.targets.is_none() => {
                    m[i].iter().map(|f| retarget(f, target)).collect()
                }
                _ => query::run(check, prep, &ev, &mut verdicts),
            };
            // Only worth keeping when a later target can find it by its key.
            if key.is_some() && known.is_none() {
                fresh.push(list.clone());
            }
            for mut f in list {
                finish(&mut f, check, target);
                findings.push(f);
            }
        }
        if let (Some(k), None) = (key, known) {
            memo.insert(k, fresh);
        }
    }
    (findings, verdicts)
}

type MemoKey = (Vec<usize>, bool, Option<AddrSet>);

/// Identifies a target's evaluation, when every chain outcome is held by the cache (so that its
/// address stays unique for the whole run).
fn memo_key(target: &Target, outcome: &TargetOutcome) -> Option<MemoKey> {
    if outcome.chains.iter().any(|c| Rc::strong_count(c) < 2) {
        return None;
    }
    let ptrs = outcome
        .chains
        .iter()
        .map(|c| Rc::as_ptr(c) as usize)
        .collect();
    Some((ptrs, target.observed, target.address_limit.clone()))
}

/// A finding computed for another target with the same chains, made about `target`.
fn retarget(f: &Finding, target: &Target) -> Finding {
    let mut f = f.clone();
    f.provider = Text::constant(target.provider.as_str());
    f.account = target.account.clone();
    f.region = target.region.clone();
    f.resource_id = target.resource_id.clone();
    f.resource_kind = target.resource_kind.clone();
    f.resource_name = target.name.clone();
    f
}

/// Adds route context as notes: an appliance on the way, or no internet path (which
/// `lower_unreachable` in the config turns into a lower severity; by default the catalog's
/// severity stands, since a route can be added at any time).
/// The note on findings whose target has no route to the internet.
pub const NO_INTERNET_PATH: &str = "no internet path";

/// Gives `s` an allocation of exactly its length: formatting grows a string by doubling, and a
/// million findings kept the slack.
fn exact(s: &mut String) {
    if s.capacity() > s.len() {
        *s = s.as_str().to_owned();
    }
}

/// A message and evidence list (and its texts) in allocations of exactly their size.
pub(crate) fn held_exactly(message: &mut String, evidence: &mut Vec<Evidence>) {
    exact(message);
    if evidence.capacity() > evidence.len() {
        let mut exactly = Vec::with_capacity(evidence.len());
        exactly.append(evidence);
        *evidence = exactly;
    }
    for e in evidence.iter_mut() {
        if let Some(crate::model::Decides::Text(d)) = &mut e.decides {
            exact(d);
        }
    }
}

pub(crate) fn finish(f: &mut Finding, check: &CheckDef, target: &Target) {
    f.title = check.title.clone();
    f.slug = check.slug.clone();
    if f.observed {
        crate::normalize::reach::scope_finding(f);
    }
    if let Some(a) = &target.route.appliance {
        f.notes.push(format!("egress passes an appliance: {a}"));
    }
    if target.route.internet_path == Some(false) && !f.observed {
        let why = target
            .route
            .reason
            .clone()
            .unwrap_or_else(|| "route data shows no path to the internet".into());
        f.notes.push(format!("{NO_INTERNET_PATH}: {why}"));
        f.no_internet_path = true;
    }
    // Findings are kept until the report is written: held at the size they are.
    held_exactly(&mut f.message, &mut f.evidence);
}
