//! One view across sites: for each egress class, which targets (declared and observed) let it out,
//! grouped by provider, scope (site, account, network) and kind, so that "445 is blocked on-prem
//! but open from 12 AWS ENIs" is one line.
//!
//! A probe matched to a declared workload counts as an observation *of that workload* (its
//! provider, scope and kind, marked observed); a host firewall takes the `site` label of the probe
//! run on it, since neither export format names a site.

use super::classes::classes;
use crate::eval::EvalCache;
use crate::model::reconciliation::{ClassRow, Group, Reconciliation};
use crate::model::Target;
use crate::normalize::Inventory;
use std::collections::BTreeMap;

type Key = (String, String, String, bool);
/// One class's targets by group: (open, blocked, not measured).
type Buckets = (
    BTreeMap<Key, Vec<String>>,
    BTreeMap<Key, Vec<String>>,
    BTreeMap<Key, Vec<String>>,
);

/// The matrix over every target of `inv`; `recs` supplies what probes tell about their workloads.
/// Empty when there is nothing to compare: one provider and scope, no probe, no host firewall
/// (a single account's scan keeps its report as it was).
pub fn matrix(inv: &Inventory, recs: &[Reconciliation]) -> Vec<ClassRow> {
    let scopes: std::collections::BTreeSet<(&str, Option<&str>)> = inv
        .targets
        .iter()
        .map(|t| (t.provider.as_str(), t.account.as_deref()))
        .collect();
    let mixed = inv
        .targets
        .iter()
        .any(|t| t.observed || t.provider == egress_audit_snapshot::Provider::Host);
    if scopes.len() < 2 && !mixed {
        return Vec::new();
    }
    // Host firewall → the site of the probe run on it (neither export format names one).
    let mut site_of: BTreeMap<&str, &str> = BTreeMap::new();
    // Matched probe's target → its workload (the first declared target it belongs to).
    let mut workload_of: BTreeMap<&str, &Target> = BTreeMap::new();
    for r in recs {
        let Some(rec) = inv.probes.iter().find(|p| p.source == r.probe.source) else {
            continue;
        };
        let declared = |id: &str| {
            inv.targets
                .iter()
                .find(|t| !t.observed && t.resource_id == id)
        };
        if let Some(first) = r.targets.first().and_then(|t| declared(&t.resource_id)) {
            workload_of.insert(&rec.resource_id, first);
        }
        if let Some(site) = rec.labels.get("site") {
            for t in r.targets.iter().filter(|t| t.provider == "host") {
                site_of.insert(&t.resource_id, site);
            }
        }
    }
    let mut cache = EvalCache::default();
    let mut rows: Vec<Buckets> = classes().iter().map(|_| Default::default()).collect();
    for t in &inv.targets {
        let allowed = cache.eval_target(t).allowed;
        // A matched probe is an observation of its workload: same provider, scope and kind.
        let seen_as = match workload_of.get(t.resource_id.as_str()) {
            Some(w) if t.observed => w,
            _ => t,
        };
        let (provider, scope, kind) = key_of(seen_as, &site_of);
        let key = (provider, scope, kind, t.observed);
        for (class, row) in classes().iter().zip(rows.iter_mut()) {
            let bucket = if class.inverted && t.observed {
                &mut row.2
            } else if class.open(&allowed) {
                &mut row.0
            } else {
                &mut row.1
            };
            bucket
                .entry(key.clone())
                .or_default()
                .push(t.resource_id.to_string());
        }
    }
    classes()
        .iter()
        .zip(rows)
        .map(|(c, (open, blocked, unknown))| ClassRow {
            class: c.id.to_string(),
            title: c.title.to_string(),
            open: groups(open),
            blocked: groups(blocked),
            not_measured: groups(unknown),
        })
        .collect()
}

fn groups(m: BTreeMap<Key, Vec<String>>) -> Vec<Group> {
    m.into_iter()
        .map(|((provider, scope, kind, observed), targets)| Group {
            provider,
            scope,
            kind,
            observed,
            count: targets.len(),
            targets,
        })
        .collect()
}

/// (provider, scope, kind): the scope is the `site` label, else the site of the probe run on a
/// host firewall, else the account, else `on-prem` for a host firewall, else the network.
fn key_of(t: &Target, site_of: &BTreeMap<&str, &str>) -> (String, String, String) {
    let provider = t.provider.as_str().to_string();
    let scope = t
        .labels
        .get("site")
        .cloned()
        .or_else(|| site_of.get(t.resource_id.as_str()).map(|s| s.to_string()))
        .or_else(|| t.account.clone().map(String::from))
        .or_else(|| (provider == "host").then(|| "on-prem".to_string()))
        .or_else(|| t.identity.network.clone())
        .unwrap_or_else(|| "-".into());
    (provider, scope, t.resource_kind.to_string())
}
