//! The engine's verdict on the proposals, applied together to a copy of the inventory: every class
//! a proposal must allow passes its target, EG001–EG005 fire on none of the patched targets, and
//! the observed classes that would be blocked are listed.

use super::Proposal;
use crate::checks::Catalog;
use crate::config::Config;
use crate::eval::eval_target;
use crate::flows::Analysis;
use crate::model::{Target, TrafficSet};
use crate::normalize::Inventory;
use std::collections::{BTreeMap, BTreeSet};

/// The checks a verified proposal must silence.
pub const MUST_NOT_FIRE: [&str; 5] = ["EG001", "EG002", "EG003", "EG004", "EG005"];

pub fn verify_all(
    inv: &Inventory,
    proposals: &mut [Proposal],
    analysis: &Analysis,
    catalog: &Catalog,
    cfg: &Config,
) -> anyhow::Result<()> {
    let mut patched: Vec<Target> = inv.targets.clone();
    let mut touched = BTreeSet::new();
    for p in proposals.iter() {
        for &t in &p.target_idx {
            super::patch::apply(&mut patched[t], p);
            touched.insert(t);
        }
    }
    let allowed: BTreeMap<usize, TrafficSet> = touched
        .iter()
        .map(|&t| (t, eval_target(&patched[t]).allowed))
        .collect();
    let five = Catalog {
        checks: catalog
            .checks
            .iter()
            .filter(|c| MUST_NOT_FIRE.contains(&c.id.as_str()))
            .cloned()
            .collect(),
    };
    if five.checks.len() != MUST_NOT_FIRE.len() {
        anyhow::bail!("the catalog lacks one of {MUST_NOT_FIRE:?}: proposals cannot be verified");
    }
    let sub = Inventory {
        targets: touched.iter().map(|&t| patched[t].clone()).collect(),
        warnings: Vec::new(),
        not_scanned: Vec::new(),
        ..Default::default()
    };
    // Verified against the checks as built in, whatever the config disables.
    let mut strict = cfg.clone();
    strict.disabled.clear();
    let still = crate::checks::run(&sub, &five, &strict)?;
    for p in proposals.iter_mut() {
        let mut problems = Vec::new();
        for c in &p.allows_classes {
            if !c.traffic_set().is_subset(&allowed[&c.target]) {
                problems.push(format!(
                    "{} from {} ({}) would not be allowed by the patched rules",
                    c.traffic,
                    c.target_id,
                    c.status.as_str()
                ));
            }
        }
        for f in still
            .iter()
            .filter(|f| p.targets.iter().any(|t| *t == f.resource_id))
        {
            let rules: Vec<&str> = f.evidence.iter().map(|e| e.name.as_str()).collect();
            problems.push(format!(
                "{} {} still fires on {}: {} (decided by {})",
                f.check_id,
                f.slug,
                f.resource_id,
                f.message,
                rules.join(", ")
            ));
        }
        let already: Vec<(usize, u8, u32)> = p
            .denied_elsewhere
            .iter()
            .map(|c| (c.target, c.protocol, c.port))
            .collect();
        p.blocks = analysis
            .classes
            .iter()
            .filter(|c| p.target_idx.contains(&c.target))
            .filter(|c| !already.contains(&(c.target, c.protocol, c.port)))
            .filter(|c| !c.traffic_set().is_subset(&allowed[&c.target]))
            .cloned()
            .collect();
        p.verified = problems.is_empty();
        p.problems = problems;
    }
    Ok(())
}
