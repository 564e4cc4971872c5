//! `networks.getEffectiveFirewalls` responses (`gcloud compute networks
//! get-effective-firewalls`): their hierarchical policies are read as policies, while their VPC
//! rules and network policies are held back and used for a network only where the firewall and
//! policy listings lack them, since the listings say more. Kept apart from the entry point because
//! the response mixes every layer of the chain in one document.

use super::{parse, policy, urls, GcpBundle};
use crate::model::Warning;
use crate::model::WarningKind;
use crate::normalize::fields;
use crate::normalize::DocContext;
use crate::normalize::NormalizeError;
use serde_json::Value;

impl GcpBundle {
    /// Only the hierarchical policies are taken from effective firewalls: the VPC rules and the
    /// network policies also come from their own listings, which say more (disabled rules,
    /// associations, regions).
    pub(super) fn add_effective(
        &mut self,
        v: &Value,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
        let network = match v.get("network") {
            // gcloud's `get-effective-firewalls --format=json` leaves `network` out; the VPC
            // rules in the response are all the network's (or the interface's network's).
            None => {
                let mut nets = fields::obj_list(v, "firewalls", "effective firewalls")?
                    .iter()
                    .filter_map(|f| f.get("network").and_then(Value::as_str))
                    .map(urls::NetRef::parse);
                let first = nets.next();
                match first {
                    Some(mut n) if nets.all(|m| m == n) => {
                        n.project = n.project.or_else(|| ctx.account.clone());
                        Some(n)
                    }
                    _ => None,
                }
            }
            Some(Value::String(s)) => {
                let mut n = urls::NetRef::parse(s);
                n.project = n.project.or_else(|| ctx.account.clone());
                Some(n)
            }
            Some(other) => {
                return Err(format!(
                    "`network` must be a network URL, found {}",
                    fields::type_name(other)
                )
                .into())
            }
        };
        for (i, f) in fields::obj_list(v, "firewalls", "effective firewalls")?
            .iter()
            .enumerate()
        {
            let mut fw = parse::firewall(f, &format!("firewalls[{i}]"))?;
            fw.project = fw
                .project
                .or_else(|| network.as_ref().and_then(|n| n.project.clone()))
                .or_else(|| ctx.account.clone());
            self.effective_firewalls.push(fw);
        }
        // The legacy organization security policies (`organizationFirewalls`), which gcloud prints
        // only when `firewallPolicys` is empty, are not read.
        let legacy = fields::obj_list(v, "organizationFirewalls", "effective firewalls")?;
        if legacy.iter().any(|p| {
            p.get("rules")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty())
        }) {
            self.warnings.push(Warning {
                kind: WarningKind::NotEvaluated,
                source: ctx.source.clone(),
                message: "`organizationFirewalls` (legacy organization security policies) has rules, which were not applied; export the organization's hierarchical firewall policies with `gcloud compute firewall-policies describe`".into(),
            });
        }
        let entries = fields::obj_list(v, "firewallPolicys", "effective firewalls")?;
        for (i, e) in entries.iter().enumerate() {
            let at = format!("firewallPolicys[{i}]");
            let kind = fields::opt_str(e, "type", &at)?.unwrap_or("");
            if kind == "NETWORK" {
                let Some(net) = &network else {
                    self.warnings.push(Warning {
                        kind: WarningKind::NotEvaluated,
                        source: ctx.source.clone(),
                        message: format!("{at}: a network firewall policy in effective firewalls that name no `network`: it was applied to no network; export it with `gcloud compute network-firewall-policies describe`"),
                    });
                    continue;
                };
                let mut p = policy::policy(e, &at)?;
                p.from_effective = true;
                p.project = p.project.or_else(|| net.project.clone());
                p.scope = policy::PolicyScope::Global;
                p.networks = vec![net.clone()];
                self.effective_policies.push(p);
                continue;
            }
            if kind != "HIERARCHY" {
                // NETWORK_REGIONAL (instance and regional effective firewalls) names no region,
                // SYSTEM_* policies are Google's: neither is placed in a chain, so say so when
                // it has egress rules rather than drop them unseen.
                // Read (and so validated) like any policy, so a damaged rule is not hidden here.
                let egress = policy::policy(e, &at)?.rules.iter().any(|r| r.egress);
                if egress {
                    let name = fields::opt_str(e, "name", &at)?.unwrap_or("?");
                    self.warnings.push(Warning {
                        kind: WarningKind::NotEvaluated,
                        source: ctx.source.clone(),
                        message: format!("{at}: firewall policy {name} of type {kind:?} in effective firewalls has egress rules that were not applied; export it with `gcloud compute network-firewall-policies describe {name} --region=REGION` (a regional network policy) to include them"),
                    });
                }
                continue;
            }
            let mut p = policy::effective_hierarchy(e, network.clone(), &at)?;
            if network.is_none() {
                // No network is known: bind to every network of the project.
                p.scope = policy::PolicyScope::Organization;
            }
            self.policies.push(p);
        }
        Ok(())
    }

    /// Effective firewalls fill in what the listings lack: a VPC rule or a network policy that no
    /// listing has (by name, on the same network) is taken from the effective response.
    pub(super) fn merge_effective(&mut self) {
        for fw in std::mem::take(&mut self.effective_firewalls) {
            let listed = self
                .firewalls
                .iter()
                .any(|f| f.name == fw.name && f.net.matches(&fw.net));
            if !listed {
                self.firewalls.push(fw);
            }
        }
        for p in std::mem::take(&mut self.effective_policies) {
            let listed = self.policies.iter().any(|q| {
                q.name == p.name
                    && !q.scope.hierarchical()
                    && q.scope != policy::PolicyScope::Ancestry
                    && (q.project.is_none() || p.project.is_none() || q.project == p.project)
            });
            if !listed {
                self.policies.push(p);
            }
        }
    }
}
