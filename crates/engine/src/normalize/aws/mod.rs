//! AWS exports (`aws ec2 describe-* --output json`, PascalCase) → targets.
//!
//! Files combine: security groups from one file, interfaces from another, prefix-list entries from a
//! third. Each document is parsed on `add` (errors name the object and field); `build` joins them:
//!
//! - With interface data (`describe-network-interfaces` and/or `describe-instances`), every
//!   interface that has security groups is a target (`network-interface`) with two chains: the union
//!   of its groups, and its subnet's network ACL (explicit association, else the VPC's default ACL).
//! - Security groups attached to no listed interface, and network ACLs of no evaluated subnet, are
//!   also evaluated on their own (`security-group`, `network-acl`): they exist and may be attached
//!   later, and without attachment data that is all there is (docs/SEMANTICS.md §2, "Targets").
//! - An interface sends only the address families it has addresses of: without any IPv6 address
//!   its target's `address_limit` is IPv4 (a `::/0` rule opens nothing for it), an IPv6-only
//!   interface (`Ipv6Native`) is limited to IPv6. Lone groups and ACLs have no limit.
//! - Route tables give `RouteInfo` per subnet and address family (see `routes`).
//! - `describe-security-group-rules` supplies groups that `describe-security-groups` does not list.

mod network;
mod parse;
mod routes;
mod rules;
mod sg_rules;
mod shapes;
mod targets;

use super::{fields, DocContext, Inventory, NormalizeError, Options};
use crate::model::{AddrSet, Warning};
use network::{PrefixList, RouteTable, Subnet};
use parse::{Eni, Instance, Nacl, Scope, SecurityGroup};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Top-level key → document kind.
const KINDS: &[(&str, &str)] = &[
    ("SecurityGroups", "security-groups"),
    ("SecurityGroupRules", "security-group-rules"),
    ("NetworkAcls", "network-acls"),
    ("NetworkInterfaces", "network-interfaces"),
    ("Reservations", "instances"),
    ("Subnets", "subnets"),
    ("Vpcs", "vpcs"),
    ("RouteTables", "route-tables"),
    ("PrefixLists", "prefix-lists"),
    ("Entries", "prefix-list-entries"),
];

/// The id field every element of a bare listing (`aws ec2 describe-… --query Key`) has, and a
/// second field that tells the kind apart: (id field, other field, listing key, kind).
const BARE: &[(&str, &str, &str, &str)] = &[
    (
        "GroupId",
        "IpPermissionsEgress",
        "SecurityGroups",
        "security-groups",
    ),
    (
        "SecurityGroupRuleId",
        "IsEgress",
        "SecurityGroupRules",
        "security-group-rules",
    ),
    ("NetworkAclId", "Entries", "NetworkAcls", "network-acls"),
    (
        "NetworkInterfaceId",
        "InterfaceType",
        "NetworkInterfaces",
        "network-interfaces",
    ),
    // Older outputs (and some emulators) print no `InterfaceType`; every interface lists `Groups`.
    (
        "NetworkInterfaceId",
        "Groups",
        "NetworkInterfaces",
        "network-interfaces",
    ),
    ("ReservationId", "Instances", "Reservations", "instances"),
    ("RouteTableId", "Routes", "RouteTables", "route-tables"),
    ("SubnetId", "CidrBlock", "Subnets", "subnets"),
    ("VpcId", "DhcpOptionsId", "Vpcs", "vpcs"),
    (
        "PrefixListId",
        "PrefixListName",
        "PrefixLists",
        "prefix-lists",
    ),
];

/// The listing a bare, non-empty list of AWS objects came from: every element must carry both
/// PascalCase fields (Azure and GCP lists use camelCase `id` / `name`).
fn bare_list_kind(items: &[Value]) -> Option<(&'static str, &'static str)> {
    if items.is_empty() {
        return None;
    }
    BARE.iter()
        .find(|(id, other, _, _)| items.iter().all(|i| is_bare(i, id, other)))
        .map(|(_, _, key, kind)| (*key, *kind))
}

fn is_bare(item: &Value, id: &str, other: &str) -> bool {
    item.get(id).is_some_and(Value::is_string) && item.get(other).is_some()
}

/// One object of a listing on its own (`--query 'NetworkAcls[0]'`, `--group-ids sg-… --query
/// 'SecurityGroups[0]'`): read as a listing of one. Checked before the listing keys, since a
/// network ACL's own `Entries` would otherwise read as prefix-list entries.
fn single_object_kind(v: &Value) -> Option<(&'static str, &'static str)> {
    BARE.iter()
        .find(|(id, other, _, _)| is_bare(v, id, other))
        .map(|(_, _, key, kind)| (*key, *kind))
}

#[derive(Default, Debug)]
pub struct AwsBundle {
    sgs: BTreeMap<String, SecurityGroup>,
    /// Groups made up from `describe-security-group-rules`, used where `sgs` lacks the group.
    rule_groups: sg_rules::RuleGroups,
    nacls: BTreeMap<String, Nacl>,
    enis: BTreeMap<String, Eni>,
    instances: BTreeMap<String, Instance>,
    subnets: BTreeMap<String, Subnet>,
    vpcs: BTreeMap<String, Scope>,
    route_tables: BTreeMap<String, RouteTable>,
    prefix_lists: BTreeMap<String, PrefixList>,
    /// Prefix-list id → the union of its entries.
    pl_entries: BTreeMap<String, AddrSet>,
    /// A `get-managed-prefix-list-entries` output without its id: (file, entries).
    anonymous_entries: Option<(String, AddrSet)>,
    /// Which kinds of document were given (even empty ones): absent data is not "none exist".
    loaded: BTreeSet<&'static str>,
    /// Found while adding (a listing that is one page of several), reported by `build`.
    warnings: Vec<Warning>,
}

/// Items with their position in the whole listing.
fn numbered(items: &[Value], first: usize) -> impl Iterator<Item = (usize, &Value)> {
    items
        .iter()
        .enumerate()
        .map(move |(i, item)| (first + i, item))
}

/// Listings whose items are read one by one, with no item depending on another, so a large file
/// may be read in slices (`describe-instances` nests instances in reservations and
/// `describe-security-group-rules` builds groups from rules: both are read whole).
pub const SLICEABLE: [&str; 7] = [
    "security-groups",
    "network-acls",
    "network-interfaces",
    "subnets",
    "vpcs",
    "route-tables",
    "prefix-lists",
];

impl AwsBundle {
    /// Reads one slice of a large listing whose first item is item `first` of the file.
    pub fn add_slice(
        &mut self,
        v: Value,
        first: usize,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
        let kind = Self::detect(&v).ok_or_else(|| NormalizeError::from("not an AWS listing"))?;
        self.add_kind_at(kind, v, ctx, first)
    }

    /// The kind of document, if this provider recognises it.
    pub fn detect(v: &Value) -> Option<&'static str> {
        if let Some(items) = v.as_array() {
            return bare_list_kind(items).map(|(_, kind)| kind);
        }
        if let Some((_, kind)) = single_object_kind(v) {
            return Some(kind);
        }
        let obj = v.as_object()?;
        KINDS
            .iter()
            .find(|(key, _)| obj.contains_key(*key))
            .map(|(_, kind)| *kind)
    }

    /// Parses one document of a detected kind; an error names the object and field that is wrong.
    /// A document that holds several listings (`{"SecurityGroups": [...], "NetworkAcls": [...]}`,
    /// as a script may merge them) has each of them read, none silently dropped.
    pub fn add_kind(
        &mut self,
        kind: &'static str,
        v: Value,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
        self.add_kind_at(kind, v, ctx, 0)
    }

    /// [`AwsBundle::add_kind`] for a document whose first item is item `first` of its file (a
    /// slice of a large listing), so that messages name positions in the whole file.
    fn add_kind_at(
        &mut self,
        kind: &'static str,
        v: Value,
        ctx: &DocContext,
        first: usize,
    ) -> Result<(), NormalizeError> {
        // `--query SecurityGroups` prints the bare list: read it as the listing it came from.
        let v = match v {
            Value::Array(items) => match bare_list_kind(&items) {
                Some((key, _)) => serde_json::json!({ key: items }),
                None => return Err(format!("not an AWS listing of kind {kind}").into()),
            },
            obj => match single_object_kind(&obj) {
                Some((key, _)) => serde_json::json!({ key: [obj] }),
                None => obj,
            },
        };
        if kind == "prefix-list-entries" {
            return self.add_one(kind, &v, ctx, first);
        }
        let present: Vec<&'static str> = KINDS
            .iter()
            .filter(|(key, k)| *k != "prefix-list-entries" && v.get(*key).is_some())
            .map(|(_, k)| *k)
            .collect();
        for k in present {
            self.add_one(k, &v, ctx, first)?;
        }
        Ok(())
    }

    fn add_one(
        &mut self,
        kind: &'static str,
        v: &Value,
        ctx: &DocContext,
        first: usize,
    ) -> Result<(), NormalizeError> {
        let scope = Scope {
            source: ctx.source.clone(),
            account: ctx.account.clone(),
            region: ctx.region.clone(),
        };
        let key = KINDS
            .iter()
            .find(|(_, k)| *k == kind)
            .map(|(key, _)| *key)
            .ok_or_else(|| format!("unknown AWS document kind {kind:?}"))?;
        if !v.get(key).is_some_and(Value::is_array) {
            return Err(format!("`{key}` is not a list").into());
        }
        self.loaded.insert(kind);
        if v.get("NextToken").is_some_and(|t| !t.is_null()) {
            // `--max-items` / `--no-paginate` output: the resources on later pages are missing.
            let truncated = Warning {
                kind: crate::model::WarningKind::TruncatedListing,
                source: ctx.source.clone(),
                message: format!(
                    "this `{key}` listing has a NextToken: it is one page of a longer listing, and \
                     the resources on later pages were not read (export without --max-items)"
                ),
            };
            // Every slice of a file read in slices carries its NextToken: said once.
            if !self.warnings.contains(&truncated) {
                self.warnings.push(truncated);
            }
        }
        let items = fields::list(v, key, key)?;
        // Positions in messages are those of the whole file when it is read in slices (`first`).
        match kind {
            "security-groups" => {
                for (i, item) in numbered(items, first) {
                    let mut sg = parse::security_group(item, i, &scope)?;
                    // A listing without the rules does not replace one with them.
                    if let Some(known) = self.sgs.get_mut(&sg.id) {
                        if sg.egress_unknown && !known.egress_unknown {
                            sg.egress = std::mem::take(&mut known.egress);
                            sg.egress_unknown = false;
                        }
                    }
                    self.sgs.insert(sg.id.clone(), sg);
                }
            }
            "security-group-rules" => sg_rules::add(v, &scope, &mut self.rule_groups)?,
            "network-acls" => {
                for (i, item) in numbered(items, first) {
                    let mut n = parse::nacl(item, i, &scope)?;
                    if let Some(known) = self.nacls.get_mut(&n.id) {
                        if n.entries_unknown && !known.entries_unknown {
                            n.egress = std::mem::take(&mut known.egress);
                            n.entries_unknown = false;
                        }
                    }
                    self.nacls.insert(n.id.clone(), n);
                }
            }
            "network-interfaces" => {
                for (i, item) in numbered(items, first) {
                    let e = parse::eni(item, &format!("NetworkInterfaces[{i}]"), &scope, None)?;
                    self.add_eni(e);
                }
            }
            "instances" => {
                for (inst, enis) in parse::reservations(v, &scope)? {
                    for e in enis {
                        self.add_eni(e);
                    }
                    self.instances.insert(inst.id.clone(), inst);
                }
            }
            "subnets" => {
                for (i, item) in numbered(items, first) {
                    let s = network::subnet(item, i, &scope)?;
                    self.subnets.insert(s.id.clone(), s);
                }
            }
            "vpcs" => {
                for (i, item) in numbered(items, first) {
                    let id = fields::req_str(item, "VpcId", &format!("Vpcs[{i}]"))?;
                    let owner = fields::opt_str(item, "OwnerId", &format!("vpc {id}"))?;
                    let mut s = scope.clone();
                    s.account = s.account.or_else(|| owner.map(str::to_string));
                    self.vpcs.insert(id.to_string(), s);
                }
            }
            "route-tables" => {
                for (i, item) in numbered(items, first) {
                    let t = network::route_table(item, i)?;
                    self.route_tables.insert(t.id.clone(), t);
                }
            }
            "prefix-lists" => {
                for (i, item) in numbered(items, first) {
                    let p = network::prefix_list(item, i)?;
                    // describe-prefix-lists (with `Cidrs`) and describe-managed-prefix-lists
                    // (with `OwnerId`) list the same AWS-managed lists: keep what each knows.
                    match self.prefix_lists.get_mut(&p.id) {
                        Some(known) => {
                            known.owner = known.owner.take().or(p.owner);
                            known.cidrs = match (known.cidrs.take(), p.cidrs) {
                                (Some(a), Some(b)) => Some(a.union(&b)),
                                (a, b) => a.or(b),
                            };
                        }
                        None => {
                            self.prefix_lists.insert(p.id.clone(), p);
                        }
                    }
                }
            }
            "prefix-list-entries" => self.add_entries(v, &scope)?,
            _ => return Err(format!("unknown AWS document kind {kind:?}").into()),
        }
        Ok(())
    }

    fn add_eni(&mut self, e: Eni) {
        match self.enis.get_mut(&e.id) {
            Some(existing) => existing.merge(e),
            None => {
                self.enis.insert(e.id.clone(), e);
            }
        }
    }

    /// `get-managed-prefix-list-entries` prints no prefix-list id; `{"PrefixListId", "Entries"}` is
    /// accepted too. One output without an id can still be attributed (see `targets`); two cannot.
    fn add_entries(&mut self, v: &Value, scope: &Scope) -> Result<(), NormalizeError> {
        match fields::opt_str(v, "PrefixListId", "prefix-list entries")? {
            Some(id) => {
                let set = network::entries(v, &format!("prefix list {id}"))?;
                let e = self.pl_entries.entry(id.to_string()).or_default();
                *e = e.union(&set);
            }
            None => {
                let set = network::entries(v, "prefix-list entries")?;
                if let Some((first, _)) = &self.anonymous_entries {
                    return Err(format!(
                        "a second `get-managed-prefix-list-entries` output without a prefix-list id \
                         (the first is {first}): the entries cannot be told apart; save each as \
                         {{\"PrefixListId\": \"pl-…\", \"Entries\": [...]}}"
                    ).into());
                }
                self.anonymous_entries = Some((scope.source.clone(), set));
            }
        }
        Ok(())
    }

    /// Builds targets from everything added.
    pub fn build(mut self, _opts: &Options, inv: &mut Inventory) {
        inv.warnings.append(&mut self.warnings);
        for (id, sg) in std::mem::take(&mut self.rule_groups) {
            match self.sgs.get_mut(&id) {
                // A listing without its rules (`--query` for names and tags) and the rules from
                // describe-security-group-rules: the group is both.
                Some(listed) if listed.egress_unknown => {
                    listed.egress = sg.egress;
                    listed.egress_unknown = false;
                }
                Some(_) => {}
                None => {
                    self.sgs.insert(id, sg);
                }
            }
        }
        targets::build(self, inv);
    }
}
