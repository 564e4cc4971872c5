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
mod rule_listing;
mod service_tags;
mod shape;
mod targets;

pub use service_tags::ServiceTags;

use super::{DocContext, Inventory, NormalizeError, Options};
use crate::model::Warning;
use crate::model::WarningKind;
use network::{Firewall, Nic, RouteTable, Subnet, Vm};
use nsg::Nsg;
use rule_listing::RuleListing;
use serde_json::Value;
use shape::{id_key, Kind};
use std::collections::BTreeMap;

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
        .filter(|r| {
            // Listed default rules other than Azure's three (unknown names) keep their priority.
            let range = if r.synthetic {
                65000..=65500
            } else {
                100..=4096
            };
            !range.contains(&r.priority)
        })
        .map(|r| Warning {
            kind: WarningKind::InvalidPriority,
            source: n.id.clone(),
            message: format!(
                "NSG {}: outbound rule {} has priority {}, outside the {} Azure allows for \
                 {} rules; it is evaluated at that priority, so the result may differ from \
                 what Azure enforces",
                n.name,
                r.name,
                r.priority,
                if r.synthetic {
                    "65000–65500"
                } else {
                    "100–4096"
                },
                if r.synthetic { "default" } else { "security" },
            ),
        });
    n.priority_ties
        .iter()
        .map(|(priority, names)| Warning {
            kind: WarningKind::DuplicatePriority,
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
        .chain(
            n.default_priorities_ignored
                .iter()
                .map(|(rule, written)| Warning {
                    kind: crate::model::WarningKind::InvalidPriority,
                    source: n.id.clone(),
                    message: format!(
                "NSG {}: default rule {rule} has priority {written} in the input, but Azure's \
                 default rules have fixed priorities; it is evaluated at its fixed one",
                n.name
            ),
                }),
        )
        .collect()
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
    pub fn add_kind(
        &mut self,
        kind: &'static str,
        v: Value,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
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
                kind: crate::model::WarningKind::TruncatedListing,
                source: ctx.source.clone(),
                message: "the listing has a `nextLink`: it is one page of several, and the \
                          resources on the other pages were not read"
                    .into(),
            });
        }
        if shape::graph_skip_token(&v).is_some() {
            self.warnings.push(Warning {
                kind: crate::model::WarningKind::TruncatedListing,
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
                kind: WarningKind::EmptyInput,
                source: ctx.source.clone(),
                message: "the Resource Graph result has no rows; nothing was read from it".into(),
            });
        }
        // Resources of types that decide no egress (public IPs, load balancers, …) are skipped,
        // and the user is told which.
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Err(format!("item [{i}] is not an object").into());
            }
            if shape::item_kind(item).is_none() {
                if let Some(t) = shape::other_arm_type(item) {
                    *skipped.entry(t.to_string()).or_default() += 1;
                    continue;
                }
                if doc_kind == Kind::OtherArm {
                    return Err(format!(
                        "item [{i}] has no ARM `type` and `id`, unlike the other items"
                    )
                    .into());
                }
            }
            // One listing holds one kind; an item without a telling `type` or `id` is taken as it.
            let kind = shape::item_kind(item).unwrap_or(doc_kind);
            self.add_item(kind, item, ctx)
                .map_err(|e| format!("item [{i}]: {e}"))?;
        }
        for (t, n) in skipped {
            self.warnings.push(Warning {
                kind: WarningKind::SkippedInput,
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

    fn add_item(
        &mut self,
        kind: Kind,
        item: &Value,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
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
                        kind: WarningKind::PartialData,
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
            Kind::NsgRule => self.add_listed_rule(item, ctx)?,
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
        self.push_targets(tags, inv);
    }
}
