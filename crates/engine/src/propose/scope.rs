//! GCP: which instances a proposed rule applies to. A VPC firewall rule applies to every instance
//! on its network unless it names target tags or target service accounts, so each allow and keep
//! rule of a network's proposal names the network tags (else the service accounts) of the
//! instances whose traffic it carries, and says why when it has to apply to the whole network.
//! The engine applies the rule only to the targets it selects, so verification judges exactly
//! what GCP would do.

use crate::model::Target;
use crate::normalize::Inventory;
use serde::Serialize;
use std::collections::BTreeSet;

/// Whom one GCP rule applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleScope {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_service_accounts: Vec<String>,
    /// The instances whose observed traffic (or kept rules) need it.
    pub needed_by: Vec<String>,
    /// Other instances of the input that its tags or service accounts select too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Why it applies to every instance on the network (no tag or service account is named).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_wide: Option<String>,
}

/// A target's network tags. GCP tags are RFC 1035 labels and service accounts are e-mail
/// addresses, so `@` tells the two apart in `Target::selectors`.
fn tags(t: &Target) -> Vec<&str> {
    t.selectors
        .iter()
        .filter(|s| !s.contains('@'))
        .map(String::as_str)
        .collect()
}

fn service_accounts(t: &Target) -> Vec<&str> {
    t.selectors
        .iter()
        .filter(|s| s.contains('@'))
        .map(String::as_str)
        .collect()
}

impl RuleScope {
    /// A rule for every instance on the network, and why.
    pub fn network(reason: String) -> RuleScope {
        RuleScope {
            network_wide: Some(reason),
            ..RuleScope::default()
        }
    }

    /// Whether GCP applies the rule to `t` (any of its tags, else any of its service accounts).
    pub fn applies_to(&self, t: &Target) -> bool {
        if self.target_tags.is_empty() && self.target_service_accounts.is_empty() {
            return true;
        }
        tags(t)
            .iter()
            .any(|x| self.target_tags.iter().any(|s| s == x))
            || service_accounts(t)
                .iter()
                .any(|x| self.target_service_accounts.iter().any(|s| s == x))
    }

    /// `instances tagged web, http-server (web-1; also web-2)`, or the whole network and why.
    pub fn describe(&self) -> String {
        let who = |what: &str, list: &[String]| {
            let also = if self.also.is_empty() {
                String::new()
            } else {
                format!("; also selects {}", self.also.join(", "))
            };
            format!(
                "{what} {} (needed by {}{also})",
                list.join(", "),
                self.needed_by.join(", ")
            )
        };
        if !self.target_tags.is_empty() {
            who("instances tagged", &self.target_tags)
        } else if !self.target_service_accounts.is_empty() {
            who("instances running as", &self.target_service_accounts)
        } else {
            format!(
                "every instance on the network: {}",
                self.network_wide.as_deref().unwrap_or("no target named")
            )
        }
    }
}

/// The narrowest scope for a rule that `needed` (indices into the inventory) must get, among the
/// `unit`'s targets: tags when each needed instance has one, else service accounts, whichever
/// selects fewer other instances; the whole network when neither can name them all.
pub fn choose(inv: &Inventory, unit: &[usize], needed: &BTreeSet<usize>) -> RuleScope {
    let names = |set: &mut dyn Iterator<Item = usize>| -> Vec<String> {
        set.map(|i| inv.targets[i].resource_id.to_string())
            .collect()
    };
    let needed_by = names(&mut needed.iter().copied());
    let by_tags = cover(inv, unit, needed, tags);
    let by_sas = cover(inv, unit, needed, service_accounts);
    let pick = match (by_tags, by_sas) {
        (Some(t), Some(s)) if s.1.len() < t.1.len() => Some((false, s)),
        (Some(t), _) => Some((true, t)),
        (None, Some(s)) => Some((false, s)),
        (None, None) => None,
    };
    let Some((is_tags, (chosen, also))) = pick else {
        let bare: Vec<String> = needed
            .iter()
            .filter(|&&i| inv.targets[i].selectors.is_empty())
            .map(|&i| inv.targets[i].resource_id.to_string())
            .collect();
        let reason = if bare.is_empty() {
            "no single kind of target (tags or service accounts) names every instance that needs it"
                .to_string()
        } else {
            format!(
                "{} {} no network tag and no service account in the input, so no narrower target can name {}",
                bare.join(", "),
                if bare.len() == 1 { "has" } else { "have" },
                if bare.len() == 1 { "it" } else { "them" }
            )
        };
        return RuleScope {
            needed_by,
            ..RuleScope::network(reason)
        };
    };
    RuleScope {
        target_tags: if is_tags { chosen.clone() } else { Vec::new() },
        target_service_accounts: if is_tags { Vec::new() } else { chosen },
        needed_by,
        also: names(&mut also.into_iter()),
        network_wide: None,
    }
}

type Names = fn(&Target) -> Vec<&str>;

/// Names (tags or service accounts) that select every needed target, chosen greedily: fewest
/// other targets selected first, then most needed targets covered, then by name. None when a
/// needed target has no such name. Returns the names and the other targets they select.
fn cover(
    inv: &Inventory,
    unit: &[usize],
    needed: &BTreeSet<usize>,
    of: Names,
) -> Option<(Vec<String>, BTreeSet<usize>)> {
    if needed.iter().any(|&i| of(&inv.targets[i]).is_empty()) {
        return None;
    }
    let holders = |name: &str| -> BTreeSet<usize> {
        unit.iter()
            .copied()
            .filter(|&i| of(&inv.targets[i]).contains(&name))
            .collect()
    };
    let mut uncovered = needed.clone();
    let mut chosen: Vec<String> = Vec::new();
    let mut also = BTreeSet::new();
    while !uncovered.is_empty() {
        let candidates: BTreeSet<&str> = uncovered
            .iter()
            .flat_map(|&i| of(&inv.targets[i]))
            .collect();
        let (name, held) =
            candidates
                .into_iter()
                .map(|n| (n, holders(n)))
                .min_by_key(|(n, h)| {
                    let extra = h.difference(needed).count();
                    let covers = h.intersection(&uncovered).count();
                    (extra, std::cmp::Reverse(covers), n.to_string())
                })?;
        uncovered.retain(|i| !held.contains(i));
        also.extend(held.difference(needed).copied());
        chosen.push(name.to_string());
    }
    chosen.sort();
    Some((chosen, also))
}
