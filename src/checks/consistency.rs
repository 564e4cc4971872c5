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
    // Probe resource id → (workload provider, kind), and workload resource id → site.
    let mut as_workload: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    let mut site_of: BTreeMap<&str, &str> = BTreeMap::new();
    for r in recs {
        let Some(rec) = inv.probes.iter().find(|p| p.source == r.probe.source) else {
            continue;
        };
        let Some(first) = r.targets.first() else {
            continue;
        };
        as_workload.insert(&rec.resource_id, (&first.provider, &first.resource_kind));
        if let Some(site) = rec.labels.get("site") {
            for t in &r.targets {
                site_of.insert(&t.resource_id, site);
            }
        }
    }
    let mut cache = EvalCache::default();
    let mut rows: Vec<(
        BTreeMap<Key, Vec<String>>,
        BTreeMap<Key, Vec<String>>,
        BTreeMap<Key, Vec<String>>,
    )> = classes().iter().map(|_| Default::default()).collect();
    for t in &inv.targets {
        let allowed = cache.eval_target(t).allowed;
        let key = key_of(t, &as_workload, &site_of, inv);
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
                .push(t.resource_id.clone());
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

fn key_of(
    t: &Target,
    as_workload: &BTreeMap<&str, (&str, &str)>,
    site_of: &BTreeMap<&str, &str>,
    inv: &Inventory,
) -> Key {
    let (provider, kind) = match as_workload.get(t.resource_id.as_str()) {
        Some((p, k)) if t.observed => (p.to_string(), k.to_string()),
        _ => (t.provider.as_str().to_string(), t.resource_kind.clone()),
    };
    let probe_site = t
        .observed
        .then(|| inv.probes.iter().find(|p| p.resource_id == t.resource_id))
        .flatten()
        .and_then(|p| p.labels.get("site").cloned());
    let scope = t
        .labels
        .get("site")
        .cloned()
        .or(probe_site)
        .or_else(|| site_of.get(t.resource_id.as_str()).map(|s| s.to_string()))
        .or_else(|| t.account.clone())
        .or_else(|| t.identity.network.clone())
        .unwrap_or_else(|| "-".into());
    (provider, scope, kind, t.observed)
}
