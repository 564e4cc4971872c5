//! Observed traffic from flow logs (CHECKS.md §5), downstream of a [`FlowProfile`]: attribution of
//! each accepted egress flow to its target and, through the engine, to the rules that decide it;
//! the per-target profile of classes; observed check findings, EG014 / EG015 and deny rules with
//! hits. Proposals build on the result (`crate::propose`).

pub mod attribute;
pub mod classes;
pub mod coverage;
mod judge;
pub mod profile;
mod read;

pub use read::read_flows;

use crate::checks::Catalog;
use crate::config::{Config, DEFAULT_WINDOW_DAYS};
use crate::model::space::public;
use crate::model::WarningKind;
use crate::model::{Finding, Target, Warning};
use crate::normalize::Inventory;
use attribute::{decide, rule_at, same_rule, Decision, Point, TargetIndex};
pub use classes::{Class, Status};
use egress_audit_flows::{Disposition, FlowKey, FlowProfile, FlowStats};
use std::collections::{BTreeMap, HashMap};

/// The observation window: `days` ending at the newest record read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub days: u32,
}

impl Window {
    pub fn new(profile: &FlowProfile, days: u32) -> Window {
        let end = profile.newest.unwrap_or(0);
        Window {
            start: end - i64::from(days) * 86_400,
            end,
            days,
        }
    }
}

/// A rule by the resource that holds it and its name: the key of hits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleKey {
    pub resource: String,
    pub name: String,
}

impl RuleKey {
    pub fn of(rule: &crate::model::Rule) -> RuleKey {
        RuleKey {
            resource: rule.resource.to_string(),
            name: rule.name.to_string(),
        }
    }
}

/// One accepted egress flow key to a public address, attributed to one target.
#[derive(Clone, Debug)]
pub struct Observed {
    pub target: usize,
    pub key: FlowKey,
    pub stats: FlowStats,
    pub point: Point,
    pub decision: Decision,
    /// Seen during the window (its last record is not older than the window start).
    pub in_window: bool,
}

/// What the rules' hits are, within the window.
#[derive(Clone, Debug, Default)]
pub struct Hits {
    pub flows: u64,
    /// The distinct points that hit the rule (for EG015's elements).
    pub points: Vec<Point>,
}

/// Everything the flow logs tell about the inventory.
#[derive(Debug)]
pub struct Analysis {
    pub window: Window,
    pub observed: Vec<Observed>,
    pub classes: Vec<Class>,
    pub hits: HashMap<RuleKey, Hits>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<Warning>,
    /// Flow keys (and their flows) to public addresses that match no target.
    pub unattributed_keys: u64,
    pub unattributed_flows: u64,
}

/// The window the config and command line ask for.
pub fn window_days(cfg: &Config, cli: Option<u32>) -> u32 {
    cli.or(cfg.window_days).unwrap_or(DEFAULT_WINDOW_DAYS)
}

/// Attributes `profile` to `inv`'s targets and judges it (CHECKS.md §5).
pub fn analyze(
    inv: &Inventory,
    profile: &FlowProfile,
    catalog: &Catalog,
    cfg: &Config,
    days: u32,
) -> anyhow::Result<Analysis> {
    let window = Window::new(profile, days);
    let checks = crate::checks::observed_traffic(catalog, cfg)?;
    let authorized = classes::AuthorizedSet::new(&cfg.authorized)?;
    let index = TargetIndex::new(&inv.targets);
    let mut a = Analysis {
        window,
        observed: Vec::new(),
        classes: Vec::new(),
        hits: HashMap::new(),
        findings: Vec::new(),
        warnings: Vec::new(),
        unattributed_keys: 0,
        unattributed_flows: 0,
    };
    let mut notes = Notes::default();
    // Sorted, so that reports are the same from run to run.
    let mut keys: Vec<(&FlowKey, &FlowStats)> = profile.flows.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (key, stats) in keys {
        // Traffic to private ranges is not egress to the internet (CHECKS.md §1).
        if !public().contains(crate::model::space::addr(key.dst)) {
            continue;
        }
        let found = index.find(key);
        if found.is_empty() {
            a.unattributed_keys += 1;
            a.unattributed_flows += stats.flows;
            notes.unattributed(key);
            continue;
        }
        let point = Point::of(key);
        let in_window = stats.last_seen >= window.start;
        for &ti in found {
            let target = &inv.targets[ti];
            let decision = decide(target, point);
            if in_window {
                notes.logged_rule(target, key, &decision, stats.flows);
            }
            match key.disposition {
                Disposition::Denied if in_window => notes.denied(target, key, stats, &decision),
                Disposition::Denied => {}
                Disposition::Accepted => {
                    if in_window && !decision.allowed {
                        notes.engine_denies(target, key, stats.flows);
                    }
                    a.observed.push(Observed {
                        target: ti,
                        key: key.clone(),
                        stats: *stats,
                        point,
                        decision,
                        in_window,
                    });
                }
            }
        }
    }
    for o in a.observed.iter().filter(|o| o.in_window) {
        let target = &inv.targets[o.target];
        for pos in &o.decision.allows {
            let h = a
                .hits
                .entry(RuleKey::of(rule_at(target, *pos)))
                .or_default();
            h.flows += o.stats.flows;
            h.points.push(o.point);
        }
    }
    for h in a.hits.values_mut() {
        h.points.sort();
        h.points.dedup();
    }
    a.classes = classes::build(&a.observed, &inv.targets, &checks, &authorized);
    a.findings = judge::observed_findings(&a, &inv.targets, &checks);
    let (unused, not_judged) = judge::unused(&a, inv, profile, catalog, cfg);
    a.findings.extend(unused);
    a.warnings = notes.into_warnings(&a, profile);
    a.warnings.extend(not_judged);
    Ok(a)
}

/// Attempts a deny rule blocked: flows, a few examples, first and last time.
type DenyHits = (u64, Vec<String>, i64, i64);

/// Warnings gathered while attributing, merged by what they say.
#[derive(Default)]
struct Notes {
    unattributed: Vec<String>,
    /// (target, logged rule, engine rules) → flows.
    disagreements: BTreeMap<(String, String, String), u64>,
    /// (target, traffic) → flows the engine denies although the log accepted them.
    engine_denies: BTreeMap<(String, String), u64>,
    /// deny rule (resource, name) → (flows, traffic examples, first, last).
    deny_hits: BTreeMap<(String, String), DenyHits>,
}

fn key_traffic(key: &FlowKey) -> String {
    let p = Point::of(key);
    crate::eval::describe_traffic(&classes::point_traffic(
        p.proto,
        p.port,
        &crate::model::AddrSet::single(p.addr),
    ))
}

impl Notes {
    fn unattributed(&mut self, key: &FlowKey) {
        if self.unattributed.len() < 5 {
            let who = key
                .interface_id
                .clone()
                .or_else(|| key.instance_id.clone())
                .unwrap_or_else(|| "no interface id".into());
            self.unattributed.push(format!("{who} ({})", key.src));
        }
    }

    fn logged_rule(&mut self, target: &Target, key: &FlowKey, d: &Decision, flows: u64) {
        let Some(logged) = &key.logged_rule else {
            return;
        };
        let engine: Vec<&crate::model::Rule> = d.deciding().map(|p| rule_at(target, p)).collect();
        if engine.iter().any(|r| same_rule(logged, r)) {
            return;
        }
        let names = if engine.is_empty() {
            "no rule (a layer's default)".to_string()
        } else {
            engine
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        *self
            .disagreements
            .entry((target.resource_id.to_string(), logged.clone(), names))
            .or_default() += flows;
    }

    fn engine_denies(&mut self, target: &Target, key: &FlowKey, flows: u64) {
        *self
            .engine_denies
            .entry((target.resource_id.to_string(), key_traffic(key)))
            .or_default() += flows;
    }

    fn denied(&mut self, target: &Target, key: &FlowKey, stats: &FlowStats, d: &Decision) {
        // The engine's deny rule, else the one the log names, else the layer default.
        let rule = match (d.denied_by, &key.logged_rule) {
            (Some(pos), _) => {
                let r = rule_at(target, pos);
                (r.resource.to_string(), r.name.to_string())
            }
            (None, Some(l)) => (target.resource_id.to_string(), l.clone()),
            (None, None) => return,
        };
        let e = self
            .deny_hits
            .entry(rule)
            .or_insert((0, Vec::new(), i64::MAX, i64::MIN));
        e.0 += stats.flows;
        let t = format!("{} from {}", key_traffic(key), target.resource_id);
        if e.1.len() < 3 && !e.1.contains(&t) {
            e.1.push(t);
        }
        e.2 = e.2.min(stats.first_seen);
        e.3 = e.3.max(stats.last_seen);
    }

    fn into_warnings(self, a: &Analysis, profile: &FlowProfile) -> Vec<Warning> {
        let mut out = Vec::new();
        let w = |kind: WarningKind, source: String, message: String| Warning {
            kind,
            source,
            message,
        };
        if a.unattributed_keys > 0 {
            out.push(w(
                WarningKind::FlowsUnattributed,
                "flow logs".into(),
                format!(
                    "{} distinct flows ({} records) to public addresses match no target by interface id, \
                     instance id or address, so they were not judged: {}{}",
                    a.unattributed_keys,
                    a.unattributed_flows,
                    self.unattributed.join(", "),
                    if a.unattributed_keys > 5 { ", …" } else { "" }
                ),
            ));
        }
        for ((target, logged, engine), flows) in self.disagreements {
            out.push(w(
                WarningKind::FlowsRuleDisagreement,
                target.clone(),
                format!(
                    "the flow log names rule {logged} for {flows} flow(s) from {target}, the engine decides \
                     them by {engine}: the inventory or the model is stale"
                ),
            ));
        }
        for ((target, traffic), flows) in self.engine_denies {
            out.push(w(
                WarningKind::FlowsEngineDenies,
                target.clone(),
                format!(
                    "{flows} accepted flow(s) of {traffic} left {target}, but its rules as read deny it: \
                     the inventory is stale or incomplete, or the traffic takes a path the rules do not show"
                ),
            ));
        }
        for ((resource, rule), (flows, examples, first, last)) in self.deny_hits {
            out.push(w(
                WarningKind::DenyRuleHits,
                resource,
                format!(
                    "deny rule {rule} blocked {flows} attempt(s) between {} and {} ({}): worth a look",
                    coverage::time(first),
                    coverage::time(last),
                    examples.join("; ")
                ),
            ));
        }
        if profile.skipped_count > 0 {
            let first: Vec<String> = profile
                .skipped
                .iter()
                .take(3)
                .map(|s| format!("{}:{}: {}", s.file, s.line, s.reason))
                .collect();
            out.push(w(
                WarningKind::FlowsSkippedRecords,
                "flow logs".into(),
                format!(
                    "{} flow-log record(s) could not be read and were skipped: {}",
                    profile.skipped_count,
                    first.join("; ")
                ),
            ));
        }
        out
    }
}
