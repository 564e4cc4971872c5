//! Azure exports → targets.
//!
//! Reads `az network nsg | nic | vnet | vnet subnet | route-table | firewall list`, `az vm list`,
//! `az vmss list` and `az network nsg rule list` (the CLI's flattened arrays), the one object of
//! the matching `show` commands, `az graph query` results (`data`), and the ARM REST
//! `{"value": [...]}` listings, in any mix and any
//! number of files. A rule listing's rules belong to the NSG their `id` names; an NSG known only
//! from them is evaluated on its own, with a `partial-data` warning. A Uniform scale set is
//! evaluated through its model's NIC configurations unless its instances' NICs are in the inputs. A NIC is a target that must pass its own NSG *and* its subnet's NSG (two chains); an NSG
//! that no NIC of the inputs uses is a target on its own. Every NSG layer ends with Azure's fixed
//! default rules (65000, 65001, 65500) as synthetic rules, whether the input lists them or not.
//!
//! Approximations, chosen so that nothing is reported by guessing:
//! - destinations `*` and `Any` are everything; `0.0.0.0/0` is a CIDR like any other (IPv4 only);
//!   `VirtualNetwork`, `AzureLoadBalancer` and application security groups are "not public" (only
//!   public traffic is checked); other service tags (`Storage.WestEurope`, `AzureCloud.eastus`, …)
//!   resolve only from a service-tags file, else warn;
//! - a NIC whose IP configurations are all IPv4 (by address or `privateIPAddressVersion`) sends no
//!   IPv6 (`Target.address_limit`); one whose versions are unknown is not limited;
//! - source conditions are applied per NIC where the data shows the NIC is outside them (its
//!   private address outside a source CIDR, `Internet`, `AzureLoadBalancer`, an ASG it is not in);
//!   source ports are not modelled (an outbound connection's source port is ephemeral); a rule
//!   whose sources are all IPv4 (or all IPv6) blocks decides only that family's traffic;
//! - a VM whose NICs are not in the inputs gets a `partial-data` warning;
//! - a private endpoint's NIC is not a target (it only receives traffic), with a `not-evaluated`
//!   warning; listings of ARM types not read here are skipped with a `skipped-input` warning;
//! - outbound rules sharing a priority (Azure refuses them) are evaluated in input order, with a
//!   `duplicate-priority` warning;
//! - a NIC whose subnet is in no input is evaluated with its own NSG only, with a `partial-data`
//!   warning; a NIC whose NSG (own or subnet's) is named but not in the inputs is not evaluated,
//!   with a `partial-data` warning;
//! - route tables are read for public IPv4 by longest-prefix match; public IPv6 is read only to
//!   tell whether a target that can send IPv6 (its NIC configurations, or its subnets' prefixes)
//!   still has a path when IPv4 has none (then the path is unknown, and findings keep severity). A route to
//!   `VirtualNetworkGateway` (forced tunnelling to on-premises) or `VirtualAppliance` leaves the
//!   internet path unknown (findings keep their severity) with a reason and an appliance note;
//!   `None` / `VnetLocal` for all of public IPv4 means no internet path.

mod network;
mod nsg;
mod service_tags;
mod shape;

pub use service_tags::ServiceTags;

use super::{DocContext, Inventory, Options};
use crate::model::space::all_v4;
use crate::model::{Chain, RouteInfo, Target, Warning};
use egress_audit_snapshot::Provider;
use network::{Firewall, Nic, RouteTable, Subnet, Vm};
use nsg::{Nsg, SourceView};
use serde_json::Value;
use shape::{id_key, id_name, Kind};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default, Debug)]
pub struct AzureBundle {
    /// By lower-cased ARM id (ids compare case-insensitively); the first copy of an id is kept.
    nsgs: BTreeMap<String, Nsg>,
    nics: BTreeMap<String, Nic>,
    subnets: BTreeMap<String, Subnet>,
    route_tables: BTreeMap<String, RouteTable>,
    firewalls: Vec<Firewall>,
    vms: BTreeMap<String, Vm>,
    /// Security rules of `az network nsg rule list`, by lower-cased NSG id: the NSG is built from
    /// them when no NSG listing holds it.
    rule_listings: BTreeMap<String, RuleListing>,
    /// Service-tags files found among the inputs.
    service_tags: Option<ServiceTags>,
    warnings: Vec<Warning>,
}

/// A `duplicate-priority` warning for each priority that outbound rules of the NSG share, and an
/// `invalid-priority` one for each listed rule outside Azure's 100–4096.
fn tie_warnings(n: &Nsg) -> Vec<Warning> {
    let out_of_range = n
        .rules
        .iter()
        .filter(|r| !r.synthetic && !(100..=4096).contains(&r.priority))
        .map(|r| Warning {
            kind: "invalid-priority".into(),
            source: n.id.clone(),
            message: format!(
                "NSG {}: outbound rule {} has priority {}, outside the 100–4096 Azure allows for \
                 security rules; it is evaluated at that priority, so the result may differ from \
                 what Azure enforces",
                n.name, r.name, r.priority
            ),
        });
    n.priority_ties
        .iter()
        .map(|(priority, names)| Warning {
            kind: "duplicate-priority".into(),
            source: n.id.clone(),
            message: format!(
                "NSG {}: outbound rules {} share priority {priority}, which Azure does not allow; \
                 they are evaluated in the order listed (the first matching one decides), so the \
                 result may differ from what Azure enforces",
                n.name,
                names.join(", ")
            ),
        })
        .chain(out_of_range)
        .collect()
}

/// The rules of one NSG, as `az network nsg rule list` printed them.
#[derive(Default, Debug)]
struct RuleListing {
    nsg_id: String,
    account: Option<String>,
    region: Option<String>,
    source: String,
    /// Lower-cased rule ids already held (the same rule in two files is read once).
    seen: BTreeSet<String>,
    rules: Vec<Value>,
    defaults: Vec<Value>,
}

impl AzureBundle {
    /// The kind of document, if this provider recognises it.
    pub fn detect(v: &Value) -> Option<&'static str> {
        if shape::is_service_tags(v) {
            return Some(Kind::ServiceTags.as_str());
        }
        let items = shape::items(v)?;
        if items.is_empty() && shape::is_graph_result(v) {
            // An `az graph query` that matched nothing: read, with a warning that it was empty.
            return Some(Kind::OtherArm.as_str());
        }
        if let Some(k) = items.iter().find_map(shape::item_kind) {
            return Some(k.as_str());
        }
        if items.iter().any(|i| shape::other_arm_type(i).is_some()) {
            return Some(Kind::OtherArm.as_str());
        }
        // An empty REST page that links to the next one: nothing to read, but it must say so.
        let link = v.get("nextLink").and_then(Value::as_str)?;
        let lower = link.to_ascii_lowercase();
        let azure = lower.contains("/microsoft.network/") || lower.contains("/microsoft.compute/");
        if !items.is_empty() || !azure {
            return None;
        }
        Some(shape::kind_of_link(link).unwrap_or(Kind::Nsg).as_str())
    }

    /// Parses one document of a detected kind; an error names the object and field that is wrong.
    pub fn add(&mut self, kind: &'static str, v: Value, ctx: &DocContext) -> Result<(), String> {
        let doc_kind = Kind::from_str(kind).ok_or_else(|| format!("unknown Azure kind {kind}"))?;
        if doc_kind == Kind::ServiceTags {
            let tags = ServiceTags::from_value(&v)?;
            self.service_tags
                .get_or_insert_with(ServiceTags::default)
                .merge(&tags);
            return Ok(());
        }
        // A collector follows `nextLink` itself and reports unread pages as NotScanned, so only a
        // saved file with a `nextLink` is known to be one page of several.
        let from_snapshot = ctx.source.contains("#documents[");
        if !from_snapshot && v.get("nextLink").and_then(Value::as_str).is_some() {
            self.warnings.push(Warning {
                kind: crate::normalize::TRUNCATED_LISTING.into(),
                source: ctx.source.clone(),
                message: "the listing has a `nextLink`: it is one page of several, and the \
                          resources on the other pages were not read"
                    .into(),
            });
        }
        if shape::graph_skip_token(&v).is_some() {
            self.warnings.push(Warning {
                kind: crate::normalize::TRUNCATED_LISTING.into(),
                source: ctx.source.clone(),
                message:
                    "the Resource Graph result has a `skip_token`: it is one page of several \
                          (`az graph query --first`), and the rows on the other pages were not read"
                        .into(),
            });
        }
        let items = shape::items(&v).ok_or("expected an array or a `value` array")?;
        if items.is_empty() && shape::is_graph_result(&v) {
            self.warnings.push(Warning {
                kind: "empty-input".into(),
                source: ctx.source.clone(),
                message: "the Resource Graph result has no rows; nothing was read from it".into(),
            });
        }
        // Resources of types that decide no egress (public IPs, load balancers, …) are skipped,
        // and the user is told which.
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Err(format!("item [{i}] is not an object"));
            }
            if shape::item_kind(item).is_none() {
                if let Some(t) = shape::other_arm_type(item) {
                    *skipped.entry(t.to_string()).or_default() += 1;
                    continue;
                }
                if doc_kind == Kind::OtherArm {
                    return Err(format!(
                        "item [{i}] has no ARM `type` and `id`, unlike the other items"
                    ));
                }
            }
            // One listing holds one kind; an item without a telling `type` or `id` is taken as it.
            let kind = shape::item_kind(item).unwrap_or(doc_kind);
            self.add_item(kind, item, ctx)
                .map_err(|e| format!("item [{i}]: {e}"))?;
        }
        for (t, n) in skipped {
            self.warnings.push(Warning {
                kind: "skipped-input".into(),
                source: ctx.source.clone(),
                message: format!(
                    "{n} resource(s) of type {t} not read: egress-audit reads network security \
                     groups, network interfaces, virtual networks and subnets, route tables, \
                     Azure Firewalls, virtual machines and scale sets"
                ),
            });
        }
        Ok(())
    }

    fn add_item(&mut self, kind: Kind, item: &Value, ctx: &DocContext) -> Result<(), String> {
        let account = ctx.account.as_deref();
        match kind {
            Kind::Nsg => {
                let mut n = nsg::parse_nsg(item, account)?;
                n.region = n.region.or_else(|| ctx.region.clone());
                if self.nsgs.contains_key(&id_key(&n.id)) {
                    return Ok(());
                }
                self.warnings.extend(tie_warnings(&n));
                if !n.rules_listed {
                    // Evaluating it with the default rules alone would report what its own rules
                    // may block; it counts as missing (a NIC that uses it says so too).
                    self.warnings.push(Warning {
                        kind: "partial-data".into(),
                        source: n.id.clone(),
                        message: format!(
                            "NSG {}: the export has no `securityRules` field (a summary listing \
                             such as `az resource list`?), so its rules are unknown and it is not \
                             evaluated; export it with `az network nsg list`",
                            n.name
                        ),
                    });
                    return Ok(());
                }
                self.nsgs.insert(id_key(&n.id), n);
            }
            Kind::Nic => {
                let mut n = network::parse_nic(item, account)?;
                n.region = n.region.or_else(|| ctx.region.clone());
                self.nics.entry(id_key(&n.id)).or_insert(n);
            }
            Kind::VirtualNetwork => {
                for s in network::parse_vnet(item)? {
                    self.subnets.entry(id_key(&s.id)).or_insert(s);
                }
            }
            Kind::Subnet => {
                let s = network::parse_subnet(item, None)?;
                self.subnets.entry(id_key(&s.id)).or_insert(s);
            }
            Kind::RouteTable => {
                let t = network::parse_route_table(item)?;
                self.route_tables.entry(id_key(&t.id)).or_insert(t);
            }
            Kind::Firewall => self.firewalls.push(network::parse_firewall(item)?),
            Kind::ScaleSet => {
                for mut n in network::parse_vmss(item, account)? {
                    n.region = n.region.or_else(|| ctx.region.clone());
                    self.nics.entry(id_key(&n.id)).or_insert(n);
                }
            }
            Kind::VirtualMachine => {
                let vm = network::parse_vm(item)?;
                self.vms.entry(id_key(&vm.id)).or_insert(vm);
            }
            Kind::NsgRule => {
                let name = shape::name_of(item, "security rule")?;
                let (parent, default) = shape::rule_parent(item).ok_or_else(|| {
                    format!(
                        "security rule {name}: field `id` does not name its network security \
                         group (`…/networkSecurityGroups/NSG/securityRules/RULE`), so the rule \
                         cannot be attributed to one"
                    )
                })?;
                let default = default
                    || item
                        .get("type")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|t| t.to_ascii_lowercase().ends_with("/defaultsecurityrules"));
                // Validated now, so that a damaged rule names its file.
                nsg::parse_rule(item, id_name(parent), default)?;
                let listing =
                    self.rule_listings
                        .entry(id_key(parent))
                        .or_insert_with(|| RuleListing {
                            nsg_id: parent.to_string(),
                            account: shape::subscription(parent).or_else(|| ctx.account.clone()),
                            region: ctx.region.clone(),
                            source: ctx.source.clone(),
                            ..Default::default()
                        });
                let rule_id = item.get("id").and_then(Value::as_str).unwrap_or(name);
                if listing.seen.insert(id_key(rule_id)) {
                    if default {
                        listing.defaults.push(item.clone());
                    } else {
                        listing.rules.push(item.clone());
                    }
                }
            }
            Kind::ServiceTags => unreachable!("service tags are whole documents"),
            // Items of other types are skipped before they get here.
            Kind::OtherArm => {}
        }
        Ok(())
    }

    /// Builds targets from everything added.
    pub fn build(mut self, opts: &Options, inv: &mut Inventory) {
        self.nsgs_from_rule_listings();
        let tags = match (&opts.azure_service_tags, &self.service_tags) {
            (None, None) => None,
            (a, b) => {
                let mut t = a.clone().unwrap_or_default();
                if let Some(b) = b {
                    t.merge(b);
                }
                Some(t)
            }
        };
        let tags = tags.as_ref();
        inv.warnings.extend(self.warnings.iter().cloned());
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
                kind: "partial-data".into(),
                source: vm.id.clone(),
                message,
            });
        }
        let mut used_nsgs: BTreeSet<String> = BTreeSet::new();
        for nic in self.nics.values() {
            if let Some(pe) = &nic.private_endpoint {
                // Private Link answers connections to a PaaS resource; it opens none of its own.
                inv.warnings.push(Warning {
                    kind: "not-evaluated".into(),
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
            t.name = Some(n.name.clone());
            t.account = n.account.clone();
            t.region = n.region.clone();
            t.labels = n.tags.clone();
            t.chains = vec![Chain {
                layers: vec![nsg::layer(n, tags, None, &mut inv.warnings)],
            }];
            t.route = self.nsg_route(key, n);
            inv.targets.push(t);
        }
    }

    /// NSGs that only `az network nsg rule list` output shows: built from their rules (and Azure's
    /// default rules), with a warning that their attachments are not known. An NSG that an NSG
    /// listing holds is read from that listing, which has all of its rules.
    fn nsgs_from_rule_listings(&mut self) {
        for (key, l) in std::mem::take(&mut self.rule_listings) {
            if self.nsgs.contains_key(&key) {
                continue;
            }
            let name = id_name(&l.nsg_id).to_string();
            let doc = serde_json::json!({
                "id": l.nsg_id,
                "name": name,
                "securityRules": l.rules,
                "defaultSecurityRules": l.defaults,
            });
            let mut n = match nsg::parse_nsg(&doc, l.account.as_deref()) {
                Ok(n) => n,
                // Every rule was validated when it was read; this is not expected.
                Err(e) => {
                    self.warnings.push(Warning {
                        kind: "partial-data".into(),
                        source: l.source.clone(),
                        message: format!("NSG {name} from a rule listing not read: {e}"),
                    });
                    continue;
                }
            };
            n.region = l.region.clone();
            self.warnings.push(Warning {
                kind: "partial-data".into(),
                source: l.nsg_id.clone(),
                message: format!(
                    "NSG {name} is known only from a rule listing (`az network nsg rule list`) in \
                     {}: it is evaluated with those rules and Azure's default rules, but the subnets \
                     and NICs it is attached to are not known (add `az network nsg list`)",
                    l.source
                ),
            });
            self.warnings.extend(tie_warnings(&n));
            self.nsgs.insert(key, n);
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
                    kind: "partial-data".into(),
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
                    kind: "partial-data".into(),
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
        t.name = Some(nic.name.clone());
        t.account = nic.account.clone();
        t.region = nic.region.clone();
        // The VM's tags, with the NIC's own tags taking precedence.
        if let Some(vm) = self.vm_of(nic) {
            t.labels = vm.tags.clone();
        }
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
