//! Targets from the parsed Azure resources: each NIC (or scale-set model) with the chains of its
//! own and its subnets' NSGs, each NSG that no NIC uses on its own, and the route data of the
//! subnets they sit in; plus the warnings for VMs whose NICs are missing. This is the second half
//! of `AzureBundle::build`, apart from the reading of documents in the entry point.

use super::network::{self, Nic, Vm};
use super::nsg::{self, Nsg, SourceView};
use super::shape::{id_key, id_name};
use super::{AzureBundle, ServiceTags};
use crate::model::space::all_v4;
use crate::model::WarningKind;
use crate::model::{Chain, Identity, RouteInfo, Target, Warning};
use crate::normalize::Inventory;
use egress_audit_snapshot::Provider;
use std::collections::BTreeSet;

impl AzureBundle {
    /// The targets (and the VM warnings) of everything added, once rule listings are merged.
    pub(super) fn push_targets(&self, tags: Option<&ServiceTags>, inv: &mut Inventory) {
        // A VM is audited through its NICs: one whose NICs are missing would vanish unseen.
        for vm in self.vms.values() {
            let missing: Vec<&str> = vm
                .nics
                .iter()
                .filter(|k| !self.nics.contains_key(*k))
                .map(|k| id_name(k))
                .collect();
            let message = if vm.nics.is_empty() {
                format!(
                    "VM {}: its `networkProfile` names no network interface, so its egress is not \
                     evaluated",
                    vm.name
                )
            } else if !missing.is_empty() {
                format!(
                    "VM {}: network interface(s) {} are not in the inputs (add `az network nic \
                     list`), so the VM's egress through them is not evaluated (an NSG that no \
                     NIC of the inputs uses is evaluated on its own)",
                    vm.name,
                    missing.join(", ")
                )
            } else {
                continue;
            };
            inv.warnings.push(Warning {
                kind: WarningKind::PartialData,
                source: vm.id.clone(),
                message,
            });
        }
        let mut used_nsgs: BTreeSet<String> = BTreeSet::new();
        for nic in self.nics.values() {
            if let Some(pe) = &nic.private_endpoint {
                // Private Link answers connections to a PaaS resource; it opens none of its own.
                inv.warnings.push(Warning {
                    kind: WarningKind::NotEvaluated,
                    source: nic.id.clone(),
                    message: format!(
                        "NIC {} belongs to private endpoint {}: a private endpoint only receives \
                         traffic, so it has no egress to audit",
                        nic.name,
                        id_name(pe)
                    ),
                });
                continue;
            }
            if let Some(ss) = &nic.scale_set {
                // The instances' own NICs (`az vmss nic list`) are read instead of the model.
                let prefix = format!("{ss}/virtualmachines/");
                if self.nics.keys().any(|k| k.starts_with(&prefix)) {
                    continue;
                }
            }
            if let Some(t) = self.nic_target(nic, tags, &mut used_nsgs, &mut inv.warnings) {
                inv.targets.push(t);
            }
        }
        for (key, n) in &self.nsgs {
            if used_nsgs.contains(key) {
                continue;
            }
            let mut t = Target::new(Provider::Azure, n.id.clone(), "nsg");
            t.name = Some(n.name.as_str().into());
            t.account = n.account.clone().map(Into::into);
            t.region = n.region.clone().map(Into::into);
            t.labels = n.tags.clone();
            t.chains = vec![Chain {
                layers: vec![nsg::layer(n, tags, None, &mut inv.warnings)],
            }];
            t.route = self.nsg_route(key, n);
            inv.targets.push(t);
        }
    }

    /// A NIC with its NSG chains; `None` (with a warning) when an NSG it names is not in the inputs,
    /// since evaluating without it would report traffic that NSG may block.
    fn nic_target(
        &self,
        nic: &Nic,
        tags: Option<&ServiceTags>,
        used: &mut BTreeSet<String>,
        warnings: &mut Vec<Warning>,
    ) -> Option<Target> {
        let view = SourceView {
            // Some address unknown: every source block may hold it, so none rules a rule out.
            addrs: if nic.addrs_incomplete {
                Vec::new()
            } else {
                nic.addrs.clone()
            },
            asgs: nic.asgs.iter().map(|a| id_key(a)).collect(),
        };
        let noun = if nic.scale_set.is_some() {
            "scale set"
        } else {
            "NIC"
        };
        let mut nsg_ids: Vec<String> = nic.nsg.iter().cloned().collect();
        for s in &nic.subnets {
            match self.subnet_nsg(s) {
                Some(Some(n)) => nsg_ids.push(n),
                Some(None) => {}
                None => warnings.push(Warning {
                    kind: WarningKind::PartialData,
                    source: nic.id.clone(),
                    message: format!(
                        "{} {}: subnet {} is in no `az network vnet list` / `vnet subnet list` input, \
                         so an NSG on it is known only if the NSG listing names the subnet",
                        noun,
                        nic.name,
                        id_name(s)
                    ),
                }),
            }
        }
        let mut chains = Vec::new();
        for id in &nsg_ids {
            let key = id_key(id);
            let Some(n) = self.nsgs.get(&key) else {
                warnings.push(Warning {
                    kind: WarningKind::PartialData,
                    source: nic.id.clone(),
                    message: format!(
                        "{} {}: its NSG {} is not in the inputs (add `az network nsg list`); \
                         it is not evaluated",
                        noun,
                        nic.name,
                        id_name(id)
                    ),
                });
                return None;
            };
            used.insert(key);
            chains.push(Chain {
                layers: vec![nsg::layer(n, tags, Some(&view), warnings)],
            });
        }
        let kind = if nic.scale_set.is_some() {
            "vmss"
        } else {
            "nic"
        };
        let mut t = Target::new(Provider::Azure, nic.id.clone(), kind);
        t.name = Some(nic.name.as_str().into());
        t.account = nic.account.clone().map(Into::into);
        t.region = nic.region.clone().map(Into::into);
        // The VM's tags, with the NIC's own tags taking precedence.
        let vm = self.vm_of(nic);
        if let Some(vm) = vm {
            t.labels = vm.tags.clone();
        }
        t.identity = Identity {
            instance_ids: nic
                .vm
                .clone()
                .or_else(|| vm.map(|v| v.id.clone()))
                .into_iter()
                .collect(),
            interface_ids: vec![nic.id.clone()],
            addresses: nic.ips.clone(),
            // The VNet is the subnet id up to `/subnets/`.
            network: nic.subnets.first().and_then(|s| {
                let at = s.to_ascii_lowercase().find("/subnets/")?;
                Some(s[..at].to_string())
            }),
        };
        t.labels
            .extend(nic.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        t.selectors = nic.asgs.iter().map(|a| id_name(a).to_string()).collect();
        t.chains = chains;
        // A NIC without an IPv6 configuration cannot send IPv6 at all.
        if nic.ipv4_only {
            t.address_limit = Some(all_v4());
        }
        t.route = nic
            .subnets
            .first()
            .map(|s| self.subnet_route(s, !nic.ipv4_only))
            .unwrap_or_default();
        Some(t)
    }

    /// The VM a NIC is attached to, by the NIC's `virtualMachine` or the VM's `networkProfile`.
    fn vm_of(&self, nic: &Nic) -> Option<&Vm> {
        nic.vm
            .as_deref()
            .and_then(|v| self.vms.get(&id_key(v)))
            .or_else(|| {
                let key = id_key(&nic.id);
                self.vms.values().find(|vm| vm.nics.contains(&key))
            })
    }

    /// The NSG of a subnet: `Some(None)` when known to have none, `None` when unknown.
    fn subnet_nsg(&self, subnet_id: &str) -> Option<Option<String>> {
        let key = id_key(subnet_id);
        if let Some(s) = self.subnets.get(&key) {
            return Some(s.nsg.clone());
        }
        self.nsgs
            .values()
            .find(|n| n.subnets.contains(&key))
            .map(|n| Some(n.id.clone()))
    }

    /// Route data for a subnet: its route table from subnet data or from a table's association list.
    /// `ipv6`: whether the target can send IPv6 (the table is read for public IPv6 too, so that a
    /// blackholed IPv4 default route does not hide IPv6 findings).
    fn subnet_route(&self, subnet_id: &str, ipv6: bool) -> RouteInfo {
        let key = id_key(subnet_id);
        let listed = self
            .route_tables
            .values()
            .find(|t| t.subnets.contains(&key));
        let table = match self.subnets.get(&key) {
            Some(s) => match &s.route_table {
                // A table that is not in the inputs: nothing is known (`None`).
                Some(rt) => self.route_tables.get(&id_key(rt)).map(Some),
                None => Some(None),
            },
            None => listed.map(Some),
        };
        // A subnet without an IPv6 prefix sends no IPv6.
        let ipv6 = ipv6 && self.subnets.get(&key).and_then(|s| s.ipv6) != Some(false);
        network::route_info_both(id_name(subnet_id), table, &self.firewalls, ipv6)
    }

    /// An NSG target's route: that of its subnets when they all agree and it sits on no NIC.
    fn nsg_route(&self, key: &str, n: &Nsg) -> RouteInfo {
        if !n.nics.is_empty() {
            return RouteInfo::default();
        }
        let mut subnets: BTreeSet<String> = n.subnets.iter().cloned().collect();
        for (k, s) in &self.subnets {
            if s.nsg.as_deref().map(id_key).as_deref() == Some(key) {
                subnets.insert(k.clone());
            }
        }
        let infos: Vec<RouteInfo> = subnets.iter().map(|s| self.subnet_route(s, true)).collect();
        match infos.split_first() {
            Some((first, rest)) if rest.iter().all(|r| r == first) => first.clone(),
            _ => RouteInfo::default(),
        }
    }
}
