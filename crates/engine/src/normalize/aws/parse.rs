//! The `aws ec2 describe-*` documents, read into plain structs. Nothing is resolved here: prefix
//! lists, subnets and route tables may arrive in later files, so `build` joins them.

use super::shapes::{parse_protocol, proto_ports, region_of_az, tags, ProtoPorts};
use crate::model::space::{all_v4, all_v6};
use crate::model::{Action, AddrSet, Text};
use crate::normalize::fields::{
    first_str, list, opt_bool, opt_cidr, opt_int, opt_str, req_cidr, req_str as req,
};
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Where an object came from: the document's scope, else what the object itself says.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub source: String,
    pub account: Option<String>,
    pub region: Option<String>,
}

// A large estate holds millions of these until `build`: they are kept small (no parsed address
// set beside its text, boxed strings, lists without spare capacity).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestKind {
    /// A CIDR block, checked when read; its addresses are parsed again from the text when the
    /// rule is made rather than kept beside it.
    Cidr,
    PrefixList,
    /// Another security group: internal traffic, never public.
    Group,
}

#[derive(Clone, Debug)]
pub struct Destination {
    pub kind: DestKind,
    /// As written: the CIDR, `pl-…` or `sg-…`.
    pub text: Text,
    pub description: Option<Box<str>>,
}

#[derive(Clone, Debug)]
pub struct Permission {
    pub pp: ProtoPorts,
    pub dests: Box<[Destination]>,
    /// `sgr-…` when read from `describe-security-group-rules`: the name users search for.
    pub rule_id: Option<Box<str>>,
}

#[derive(Clone, Debug)]
pub struct SecurityGroup {
    pub id: String,
    pub name: Option<String>,
    pub vpc_id: Option<String>,
    pub scope: Scope,
    pub tags: BTreeMap<String, String>,
    pub egress: Vec<Permission>,
    /// The listing has no `IpPermissionsEgress` field (a `--query` projection): its egress rules
    /// are unknown, which is not the same as none. `describe-security-group-rules` can supply them.
    pub egress_unknown: bool,
    /// Egress permissions that name no destination at all (AWS prints at least one): their
    /// destination fields were not understood, so they are reported rather than read as "none".
    pub empty_permissions: Vec<usize>,
}

pub fn security_group(v: &Value, i: usize, scope: &Scope) -> Result<SecurityGroup, NormalizeError> {
    let id = req(v, "GroupId", &format!("SecurityGroups[{i}]"))?.to_string();
    let what = format!("security group {id}");
    let owner = opt_str(v, "OwnerId", &what)?;
    let mut egress = Vec::new();
    let mut empty_permissions = Vec::new();
    for (p, perm) in list(v, "IpPermissionsEgress", &what)?.iter().enumerate() {
        let perm = permission(perm, &format!("{what}: IpPermissionsEgress[{p}]"), owner)?;
        if perm.dests.is_empty() {
            empty_permissions.push(p);
        }
        egress.push(perm);
    }
    egress.shrink_to_fit();
    Ok(SecurityGroup {
        name: opt_str(v, "GroupName", &what)?.map(str::to_string),
        vpc_id: opt_str(v, "VpcId", &what)?.map(str::to_string),
        scope: owned_scope(scope, owner, None),
        tags: tags(v, "Tags", &what)?,
        egress,
        egress_unknown: v.get("IpPermissionsEgress").is_none_or(Value::is_null),
        empty_permissions,
        id,
    })
}

/// `owner`: the group's account, so that a reference to another account's group says whose it is.
fn permission(v: &Value, what: &str, owner: Option<&str>) -> Result<Permission, NormalizeError> {
    let raw = v
        .get("IpProtocol")
        .ok_or_else(|| format!("{what} has no field `IpProtocol`"))?;
    let proto = parse_protocol(raw, "IpProtocol", what)?;
    let pp = proto_ports(
        proto,
        opt_int(v, "FromPort", what)?,
        opt_int(v, "ToPort", what)?,
        ("FromPort", "ToPort"),
        what,
    )?;
    let mut dests = Vec::new();
    for (field, key, ipv6) in [
        ("IpRanges", "CidrIp", false),
        ("Ipv6Ranges", "CidrIpv6", true),
    ] {
        for (j, r) in list(v, field, what)?.iter().enumerate() {
            let w = format!("{what}.{field}[{j}]");
            let (text, _) = req_cidr(r, key, ipv6, &w)?;
            dests.push(Destination {
                kind: DestKind::Cidr,
                // Estates repeat a few destinations (0.0.0.0/0, the VPC's blocks) everywhere.
                text: Text::interned(&text),
                description: description(r, &w)?,
            });
        }
    }
    for (j, r) in list(v, "PrefixListIds", what)?.iter().enumerate() {
        let w = format!("{what}.PrefixListIds[{j}]");
        dests.push(Destination {
            kind: DestKind::PrefixList,
            text: Text::interned(req(r, "PrefixListId", &w)?),
            description: description(r, &w)?,
        });
    }
    for (j, r) in list(v, "UserIdGroupPairs", what)?.iter().enumerate() {
        let w = format!("{what}.UserIdGroupPairs[{j}]");
        let group = first_str(r, &["GroupId", "GroupName"], &w)?
            .ok_or_else(|| format!("{w} has neither `GroupId` nor `GroupName`"))?;
        // Another account's group (across a peering connection, or shared): `account/sg-…`, as
        // the console writes it. Still internal traffic, never public.
        let text = match opt_str(r, "UserId", &w)? {
            Some(user) if owner.is_some_and(|o| o != user) => format!("{user}/{group}"),
            _ => group.to_string(),
        };
        dests.push(Destination {
            kind: DestKind::Group,
            text: text.into(),
            description: description(r, &w)?,
        });
    }
    Ok(Permission {
        pp,
        dests: dests.into_boxed_slice(),
        rule_id: None,
    })
}

/// A rule's `Description`, trimmed; none when empty.
pub fn description(v: &Value, what: &str) -> Result<Option<Box<str>>, NormalizeError> {
    Ok(opt_str(v, "Description", what)?
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(Box::from))
}

#[derive(Clone, Debug)]
pub struct NaclEntry {
    pub number: i64,
    pub action: Action,
    pub pp: ProtoPorts,
    pub dest: AddrSet,
    pub dest_text: String,
}

#[derive(Clone, Debug)]
pub struct Nacl {
    pub id: String,
    pub vpc_id: Option<String>,
    pub is_default: bool,
    pub scope: Scope,
    pub tags: BTreeMap<String, String>,
    pub subnets: Vec<String>,
    /// Outbound entries only, by rule number.
    pub egress: Vec<NaclEntry>,
    /// The listing has no `Entries` field (a `--query` projection): its rules are unknown, which
    /// is not the same as none (every network ACL has at least its `*` entries).
    pub entries_unknown: bool,
}

pub fn nacl(v: &Value, i: usize, scope: &Scope) -> Result<Nacl, NormalizeError> {
    let id = req(v, "NetworkAclId", &format!("NetworkAcls[{i}]"))?.to_string();
    let what = format!("network ACL {id}");
    let mut subnets = Vec::new();
    for (j, a) in list(v, "Associations", &what)?.iter().enumerate() {
        if let Some(s) = opt_str(a, "SubnetId", &format!("{what}: Associations[{j}]"))? {
            subnets.push(s.to_string());
        }
    }
    let mut egress = Vec::new();
    for (j, e) in list(v, "Entries", &what)?.iter().enumerate() {
        let w = format!("{what}: Entries[{j}]");
        let is_egress =
            opt_bool(e, "Egress", &w)?.ok_or_else(|| format!("{w} has no field `Egress`"))?;
        if is_egress {
            egress.push(nacl_entry(e, &w)?);
        }
    }
    egress.sort_by_key(|e: &NaclEntry| e.number);
    Ok(Nacl {
        vpc_id: opt_str(v, "VpcId", &what)?.map(str::to_string),
        is_default: opt_bool(v, "IsDefault", &what)?.unwrap_or(false),
        scope: owned_scope(scope, opt_str(v, "OwnerId", &what)?, None),
        tags: tags(v, "Tags", &what)?,
        subnets,
        egress,
        entries_unknown: v.get("Entries").is_none_or(Value::is_null),
        id,
    })
}

fn nacl_entry(e: &Value, what: &str) -> Result<NaclEntry, NormalizeError> {
    let number = opt_int(e, "RuleNumber", what)?
        .ok_or_else(|| format!("{what} has no field `RuleNumber`"))?;
    // 1–32766 for the ACL's own entries; 32767 and 32768 are the final `*` entries (IPv4, IPv6)
    // AWS prints.
    if !(1..=32768).contains(&number) {
        return Err(format!(
            "{what}: `RuleNumber` {number} is outside 1–32768, the rule numbers AWS allows"
        )
        .into());
    }
    let what = &format!("{what} (rule {number})");
    let action = match req(e, "RuleAction", what)?.to_ascii_lowercase().as_str() {
        "allow" => Action::Allow,
        "deny" => Action::Deny,
        other => return Err(format!("{what}: `RuleAction` {other:?} is not allow or deny").into()),
    };
    let raw = e
        .get("Protocol")
        .ok_or_else(|| format!("{what} has no field `Protocol`"))?;
    let proto = parse_protocol(raw, "Protocol", what)?;
    // icmp/icmpv6 read only `IcmpTypeCode` (absent = every type): a `PortRange` printed beside
    // it means nothing to AWS and is not a type/code. Other protocols read only `PortRange`.
    let icmp = matches!(proto, Some(1) | Some(58));
    let (from, to, names) = match (e.get("IcmpTypeCode"), e.get("PortRange")) {
        (Some(icmp_tc), _) if icmp && !icmp_tc.is_null() => (
            opt_int(icmp_tc, "Type", what)?,
            opt_int(icmp_tc, "Code", what)?,
            ("IcmpTypeCode.Type", "IcmpTypeCode.Code"),
        ),
        (_, Some(range)) if !icmp && !range.is_null() => (
            opt_int(range, "From", what)?,
            opt_int(range, "To", what)?,
            ("PortRange.From", "PortRange.To"),
        ),
        _ => (None, None, ("PortRange.From", "PortRange.To")),
    };
    let pp = proto_ports(proto, from, to, names, what)?;
    let (dest_text, dest) = match opt_cidr(e, "CidrBlock", false, what)? {
        Some(c) => c,
        None => opt_cidr(e, "Ipv6CidrBlock", true, what)?
            .ok_or_else(|| format!("{what} has neither `CidrBlock` nor `Ipv6CidrBlock`"))?,
    };
    Ok(NaclEntry {
        number,
        action,
        pp,
        dest,
        dest_text,
    })
}

/// A network interface, or an instance whose interfaces are not listed (`kind = "instance"`).
#[derive(Clone, Debug, Default)]
pub struct Eni {
    pub id: String,
    pub kind: &'static str,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub groups: Vec<String>,
    pub description: Option<String>,
    pub interface_type: Option<String>,
    pub instance_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub scope: Scope,
    pub family: Family,
    /// Private IPv4/IPv6 and public addresses, for attributing probe results and flows to it.
    pub addresses: Vec<IpAddr>,
}

/// Which address families an interface can send from, from the addresses it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Family {
    /// A private IPv4 address or an IPv4 prefix.
    pub v4: bool,
    /// An IPv6 address or an IPv6 prefix.
    pub v6: bool,
    /// `Ipv6Native: true`: an IPv6-only interface (it has no IPv4 address at all).
    pub ipv6_native: bool,
}

impl Family {
    /// The addresses the interface can send to: IPv6 only for an IPv6-only interface, IPv4 only
    /// for one without any IPv6 address, else no limit.
    pub fn limit(&self) -> Option<AddrSet> {
        if self.ipv6_native || (self.v6 && !self.v4) {
            Some(all_v6())
        } else if !self.v6 {
            Some(all_v4())
        } else {
            None
        }
    }

    fn merge(&mut self, o: Family) {
        self.v4 |= o.v4;
        self.v6 |= o.v6;
        self.ipv6_native |= o.ipv6_native;
    }
}

/// Reads the address fields of an interface (or of an instance): `PrivateIpAddress`,
/// `PrivateIpAddresses[]`, `Ipv4Prefixes[]`, `Ipv6Address`, `Ipv6Addresses[]`, `Ipv6Prefixes[]`,
/// `Ipv6Native`.
fn family(v: &Value, what: &str) -> Result<Family, NormalizeError> {
    let any_str = |field: &str, key: &str| -> Result<bool, NormalizeError> {
        let mut found = false;
        for (j, item) in list(v, field, what)?.iter().enumerate() {
            found |= opt_str(item, key, &format!("{what}: {field}[{j}]"))?.is_some();
        }
        Ok(found)
    };
    let v4 = opt_str(v, "PrivateIpAddress", what)?.is_some_and(|a| !a.is_empty())
        | any_str("PrivateIpAddresses", "PrivateIpAddress")?
        | any_str("Ipv4Prefixes", "Ipv4Prefix")?;
    let v6 = opt_str(v, "Ipv6Address", what)?.is_some_and(|a| !a.is_empty())
        | any_str("Ipv6Addresses", "Ipv6Address")?
        | any_str("PrivateIpAddresses", "Ipv6Address")?
        | any_str("Ipv6Prefixes", "Ipv6Prefix")?;
    Ok(Family {
        v4,
        v6,
        ipv6_native: opt_bool(v, "Ipv6Native", what)?.unwrap_or(false),
    })
}

/// The addresses an interface (or an instance) holds: `PrivateIpAddress`, `PrivateIpAddresses[]`
/// (with their `Association.PublicIp`), `Association.PublicIp`, `PublicIpAddress`, `Ipv6Address`,
/// `Ipv6Addresses[]`. Only for attribution: they change no verdict.
fn addresses(v: &Value, what: &str) -> Result<Vec<IpAddr>, NormalizeError> {
    let mut out: Vec<IpAddr> = Vec::new();
    let mut add = |obj: &Value, key: &str, at: &str| -> Result<(), NormalizeError> {
        if let Some(a) = opt_str(obj, key, at)?.filter(|a| !a.is_empty()) {
            let ip = a
                .parse()
                .map_err(|_| format!("{at}: `{key}` {a:?} is not an IP address"))?;
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
        Ok(())
    };
    let assoc = |obj: &'_ Value| obj.get("Association").filter(|a| !a.is_null()).cloned();
    add(v, "PrivateIpAddress", what)?;
    add(v, "PublicIpAddress", what)?;
    add(v, "Ipv6Address", what)?;
    if let Some(a) = assoc(v) {
        add(&a, "PublicIp", &format!("{what}: Association"))?;
    }
    for (j, item) in list(v, "PrivateIpAddresses", what)?.iter().enumerate() {
        let at = format!("{what}: PrivateIpAddresses[{j}]");
        add(item, "PrivateIpAddress", &at)?;
        add(item, "Ipv6Address", &at)?;
        if let Some(a) = assoc(item) {
            add(&a, "PublicIp", &format!("{at}.Association"))?;
        }
    }
    for (j, item) in list(v, "Ipv6Addresses", what)?.iter().enumerate() {
        add(item, "Ipv6Address", &format!("{what}: Ipv6Addresses[{j}]"))?;
    }
    Ok(out)
}

impl Eni {
    /// Fills what `self` lacks from another listing of the same interface.
    pub fn merge(&mut self, o: Eni) {
        fn fill<T>(a: &mut Option<T>, b: Option<T>) {
            if a.is_none() {
                *a = b;
            }
        }
        fill(&mut self.subnet_id, o.subnet_id);
        fill(&mut self.vpc_id, o.vpc_id);
        fill(&mut self.description, o.description);
        fill(&mut self.interface_type, o.interface_type);
        fill(&mut self.instance_id, o.instance_id);
        fill(&mut self.scope.account, o.scope.account);
        fill(&mut self.scope.region, o.scope.region);
        if self.groups.is_empty() {
            self.groups = o.groups;
        }
        self.family.merge(o.family);
        for a in o.addresses {
            if !self.addresses.contains(&a) {
                self.addresses.push(a);
            }
        }
        for (k, v) in o.tags {
            self.tags.entry(k).or_insert(v);
        }
    }
}

/// One element of `NetworkInterfaces` (from describe-network-interfaces or describe-instances).
pub fn eni(
    v: &Value,
    path: &str,
    scope: &Scope,
    instance: Option<&str>,
) -> Result<Eni, NormalizeError> {
    let id = req(v, "NetworkInterfaceId", path)?.to_string();
    let what = format!("network interface {id}");
    let attached = match v.get("Attachment") {
        Some(a) if !a.is_null() => opt_str(a, "InstanceId", &format!("{what}: Attachment"))?,
        _ => None,
    };
    let az = opt_str(v, "AvailabilityZone", &what)?;
    let mut t = tags(v, "TagSet", &what)?;
    t.extend(tags(v, "Tags", &what)?);
    Ok(Eni {
        kind: "network-interface",
        subnet_id: opt_str(v, "SubnetId", &what)?.map(str::to_string),
        vpc_id: opt_str(v, "VpcId", &what)?.map(str::to_string),
        groups: group_ids(v, "Groups", &what)?,
        description: opt_str(v, "Description", &what)?
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        interface_type: opt_str(v, "InterfaceType", &what)?.map(str::to_string),
        instance_id: attached.or(instance).map(str::to_string),
        tags: t,
        scope: owned_scope(scope, opt_str(v, "OwnerId", &what)?, az),
        family: family(v, &what)?,
        addresses: addresses(v, &what)?,
        id,
    })
}

fn group_ids(v: &Value, field: &str, what: &str) -> Result<Vec<String>, NormalizeError> {
    let mut out = Vec::new();
    for (j, g) in list(v, field, what)?.iter().enumerate() {
        out.push(req(g, "GroupId", &format!("{what}: {field}[{j}]"))?.to_string());
    }
    Ok(out)
}

#[derive(Clone, Debug, Default)]
pub struct Instance {
    pub id: String,
    pub tags: BTreeMap<String, String>,
}

/// `describe-instances`: the instances and their interfaces (or the instance itself as a
/// pseudo-interface when its `NetworkInterfaces` are not listed).
pub fn reservations(v: &Value, scope: &Scope) -> Result<Vec<(Instance, Vec<Eni>)>, NormalizeError> {
    let mut out = Vec::new();
    for (r, res) in list(v, "Reservations", "describe-instances")?
        .iter()
        .enumerate()
    {
        let rwhat = format!("Reservations[{r}]");
        let owner = opt_str(res, "OwnerId", &rwhat)?;
        for (i, inst) in list(res, "Instances", &rwhat)?.iter().enumerate() {
            let id = req(inst, "InstanceId", &format!("{rwhat}.Instances[{i}]"))?;
            let what = format!("instance {id}");
            let state = match inst.get("State") {
                Some(s) if !s.is_null() => opt_str(s, "Name", &what)?.map(str::to_string),
                _ => None,
            };
            let az = match inst.get("Placement") {
                Some(p) if !p.is_null() => opt_str(p, "AvailabilityZone", &what)?,
                _ => None,
            };
            let iscope = owned_scope(scope, owner, az);
            let mut enis = Vec::new();
            let nics = list(inst, "NetworkInterfaces", &what)?;
            for (n, nic) in nics.iter().enumerate() {
                let path = format!("{what}: NetworkInterfaces[{n}]");
                let mut e = eni(nic, &path, &iscope, Some(id))?;
                // A trimmed export may leave out the interface's `Groups`: the instance's
                // `SecurityGroups` are its groups when it has this one interface only.
                let groups = if nics.len() == 1 && nic.get("Groups").is_none_or(Value::is_null) {
                    group_ids(inst, "SecurityGroups", &what)?
                } else {
                    Vec::new()
                };
                e.merge(Eni {
                    scope: iscope.clone(),
                    groups,
                    ..Default::default()
                });
                enis.push(e);
            }
            if nics.is_empty() && state.as_deref() != Some("terminated") {
                enis.push(Eni {
                    id: id.to_string(),
                    kind: "instance",
                    subnet_id: opt_str(inst, "SubnetId", &what)?.map(str::to_string),
                    vpc_id: opt_str(inst, "VpcId", &what)?.map(str::to_string),
                    groups: group_ids(inst, "SecurityGroups", &what)?,
                    instance_id: Some(id.to_string()),
                    scope: iscope.clone(),
                    family: family(inst, &what)?,
                    addresses: addresses(inst, &what)?,
                    ..Default::default()
                });
            }
            let instance = Instance {
                id: id.to_string(),
                tags: tags(inst, "Tags", &what)?,
            };
            out.push((instance, enis));
        }
    }
    Ok(out)
}

/// The document's scope wins (snapshots know it); else the object's owner and zone.
pub fn owned_scope(doc: &Scope, owner: Option<&str>, az: Option<&str>) -> Scope {
    Scope {
        source: doc.source.clone(),
        account: doc.account.clone().or_else(|| owner.map(str::to_string)),
        region: doc.region.clone().or_else(|| az.and_then(region_of_az)),
    }
}
