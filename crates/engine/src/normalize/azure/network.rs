//! NICs, virtual networks and subnets, route tables and Azure Firewalls: what ties a NIC to its
//! subnet's NSG and tells where the subnet's internet traffic goes.

use super::shape::{
    array_field, field, id_key, id_name, name_of, opt_str, ref_id, ref_ids, subscription,
};
use crate::model::space::{all_v4, parse_addrs, public4, public6};
use crate::model::{AddrSet, RouteInfo};
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Clone, Debug)]
pub struct Nic {
    pub id: String,
    pub name: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The VM it is attached to.
    pub vm: Option<String>,
    /// The NSG on the NIC itself.
    pub nsg: Option<String>,
    /// The private endpoint the NIC belongs to: it only receives traffic.
    pub private_endpoint: Option<String>,
    /// Subnets of its IP configurations, primary first, without repeats.
    pub subnets: Vec<String>,
    /// Application security groups of its IP configurations (ids as written), without repeats.
    pub asgs: Vec<String>,
    pub addrs: Vec<AddrSet>,
    /// Private and (where the export expands them) public addresses, for attributing probe
    /// results and flows to the NIC.
    pub ips: Vec<IpAddr>,
    /// Whether some IP configuration shows no address (not allocated yet, or a scale-set model):
    /// then `addrs` is not all of the NIC's addresses.
    pub addrs_incomplete: bool,
    /// Whether every IP configuration is known to be IPv4 (by its address or its
    /// `privateIPAddressVersion`): then the NIC cannot send IPv6 at all.
    pub ipv4_only: bool,
    /// For the network-interface configuration of a scale set's model (`az vmss list`): the scale
    /// set's lower-cased id. Its instances' NICs are in no `az network nic list`.
    pub scale_set: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Vm {
    pub id: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// Its NICs (lower-cased ids).
    pub nics: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Subnet {
    pub id: String,
    /// Whether the subnet has an IPv6 prefix (`None`: its prefixes are not in the export).
    pub ipv6: Option<bool>,
    pub nsg: Option<String>,
    pub route_table: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    pub prefix: String,
    pub next_hop_type: String,
    pub next_hop_ip: Option<String>,
}

#[derive(Clone, Debug)]
pub struct RouteTable {
    pub id: String,
    pub name: String,
    pub routes: Vec<Route>,
    /// Subnets the table says it is associated with (lower-cased ids).
    pub subnets: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Firewall {
    pub name: String,
    pub private_ips: Vec<String>,
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if !list.iter().any(|x| id_key(x) == id_key(v)) {
        list.push(v.to_string());
    }
}

pub fn parse_nic(item: &Value, fallback_account: Option<&str>) -> Result<Nic, NormalizeError> {
    let name = name_of(item, "NIC")?;
    let what = format!("NIC {name}");
    let id = opt_str(item, "id", &what)?.unwrap_or(name).to_string();
    let mut nic = Nic {
        account: subscription(&id).or(fallback_account.map(str::to_string)),
        region: opt_str(item, "location", &what)?.map(str::to_string),
        tags: super::shape::tags(item),
        nsg: ref_id(item, "networkSecurityGroup", &what)?.map(str::to_string),
        vm: ref_id(item, "virtualMachine", &what)?.map(str::to_string),
        private_endpoint: ref_id(item, "privateEndpoint", &what)?.map(str::to_string),
        subnets: Vec::new(),
        asgs: Vec::new(),
        addrs: Vec::new(),
        ips: Vec::new(),
        addrs_incomplete: false,
        ipv4_only: false,
        scale_set: None,
        name: name.to_string(),
        id,
    };
    let configs = array_field(item, "ipConfigurations", &what)?;
    read_ip_configs(&mut nic, configs, &what, false)?;
    Ok(nic)
}

/// A NIC's (or a scale-set NIC configuration's) IP configurations: subnets, ASGs, addresses and
/// IP versions. `version_defaults_to_v4`: a configuration that names no version is IPv4 (the
/// scale-set model's documented default); otherwise it leaves the versions unknown.
fn read_ip_configs(
    nic: &mut Nic,
    configs: &[Value],
    what: &str,
    version_defaults_to_v4: bool,
) -> Result<(), NormalizeError> {
    // The primary configuration's subnet decides the route; list it first.
    let mut ordered: Vec<&Value> = configs.iter().collect();
    // A configuration is IPv6 by its address or by its version (the address may be missing, e.g.
    // not yet allocated); one that shows neither leaves the NIC's IP versions unknown.
    let (mut any_v6, mut all_known_v4) = (false, !configs.is_empty());
    ordered.sort_by_key(|c| field(c, "primary").and_then(Value::as_bool) != Some(true));
    for (i, c) in ordered.into_iter().enumerate() {
        let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let cwhat = format!("{what} ipConfiguration {cname} (#{i})");
        if let Some(s) = ref_id(c, "subnet", &cwhat)? {
            push_unique(&mut nic.subnets, s);
        }
        for a in ref_ids(c, "applicationSecurityGroups", &cwhat)? {
            push_unique(&mut nic.asgs, a);
        }
        let addr = match opt_str(c, "privateIPAddress", &cwhat)? {
            Some(ip) => Some(
                parse_addrs(ip).map_err(|e| format!("{cwhat}: field `privateIPAddress`: {e}"))?,
            ),
            None => None,
        };
        let version = opt_str(c, "privateIPAddressVersion", &cwhat)?
            .or((version_defaults_to_v4 && addr.is_none()).then_some("IPv4"));
        let addr_v4 = addr.as_ref().map(|a| a.is_subset(&all_v4()));
        let v6 = version.is_some_and(|v| v.eq_ignore_ascii_case("IPv6")) || addr_v4 == Some(false);
        let v4 = version.is_some_and(|v| v.eq_ignore_ascii_case("IPv4")) || addr_v4 == Some(true);
        any_v6 |= v6;
        all_known_v4 &= v4 && !v6;
        nic.addrs_incomplete |= addr.is_none();
        nic.addrs.extend(addr);
        read_ips(nic, c, &cwhat)?;
    }
    nic.ipv4_only = all_known_v4 && !any_v6;
    Ok(())
}

/// The addresses of one IP configuration: `privateIPAddress`, and `publicIPAddress.ipAddress`
/// when the export expands the public address (`az network nic list` shows only its id).
fn read_ips(nic: &mut Nic, config: &Value, what: &str) -> Result<(), NormalizeError> {
    let public = field(config, "publicIPAddress");
    let found = [
        (
            "privateIPAddress",
            opt_str(config, "privateIPAddress", what)?,
        ),
        (
            "publicIPAddress.ipAddress",
            match public {
                Some(p) => opt_str(p, "ipAddress", what)?,
                None => None,
            },
        ),
    ];
    for (name, text) in found {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            continue;
        };
        let ip: IpAddr = text
            .parse()
            .map_err(|_| format!("{what}: field `{name}` {text:?} is not an IP address"))?;
        if !nic.ips.contains(&ip) {
            nic.ips.push(ip);
        }
    }
    Ok(())
}

/// A virtual machine scale set of `az vmss list` (flattened) or the Compute REST listing: one
/// NIC-like target per network-interface configuration of its model
/// (`virtualMachineProfile.networkProfile.networkInterfaceConfigurations`), with that
/// configuration's NSG and subnets, since a Uniform scale set's instance NICs are in no
/// `az network nic list`. A scale set without such a model (Flexible orchestration, whose VMs and
/// NICs are ordinary resources) gives none.
pub fn parse_vmss(
    item: &Value,
    fallback_account: Option<&str>,
) -> Result<Vec<Nic>, NormalizeError> {
    let name = name_of(item, "virtual machine scale set")?;
    let what = format!("virtual machine scale set {name}");
    let id = opt_str(item, "id", &what)?.unwrap_or(name).to_string();
    // Flexible orchestration: the instances are ordinary VMs whose NICs `az network nic list`
    // prints; their model would only repeat them.
    let mode = opt_str(item, "orchestrationMode", &what)?;
    if mode.is_some_and(|m| m.eq_ignore_ascii_case("Flexible")) {
        return Ok(Vec::new());
    }
    let Some(profile) = field(item, "virtualMachineProfile") else {
        return Ok(Vec::new());
    };
    let pwhat = format!("{what} virtualMachineProfile");
    let Some(net) = field(profile, "networkProfile") else {
        return Ok(Vec::new());
    };
    let configs = array_field(
        net,
        "networkInterfaceConfigurations",
        &format!("{pwhat}.networkProfile"),
    )?;
    let mut out = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        let cname = name_of(c, "network interface configuration")
            .map_err(|e| format!("{what}: networkInterfaceConfigurations[{i}]: {e}"))?;
        let cwhat = format!("{what} networkInterfaceConfiguration {cname}");
        let (nic_id, nic_name) = if configs.len() == 1 {
            (id.clone(), name.to_string())
        } else {
            (
                format!("{id}/networkInterfaceConfigurations/{cname}"),
                format!("{name}/{cname}"),
            )
        };
        let mut nic = Nic {
            account: subscription(&id).or(fallback_account.map(str::to_string)),
            region: opt_str(item, "location", &what)?.map(str::to_string),
            tags: super::shape::tags(item),
            nsg: ref_id(c, "networkSecurityGroup", &cwhat)?.map(str::to_string),
            vm: None,
            private_endpoint: None,
            subnets: Vec::new(),
            asgs: Vec::new(),
            addrs: Vec::new(),
            ips: Vec::new(),
            addrs_incomplete: false,
            ipv4_only: false,
            scale_set: Some(id_key(&id)),
            name: nic_name,
            id: nic_id,
        };
        let ips = array_field(c, "ipConfigurations", &cwhat)?;
        read_ip_configs(&mut nic, ips, &cwhat, true)?;
        out.push(nic);
    }
    Ok(out)
}

/// A virtual machine of `az vm list` (flattened) or the Compute REST listing: its tags and NICs.
pub fn parse_vm(item: &Value) -> Result<Vm, NormalizeError> {
    let name = name_of(item, "virtual machine")?;
    let what = format!("virtual machine {name}");
    let id = opt_str(item, "id", &what)?.unwrap_or(name).to_string();
    let nics = match field(item, "networkProfile") {
        None => Vec::new(),
        Some(p) => ref_ids(p, "networkInterfaces", &format!("{what} networkProfile"))?
            .into_iter()
            .map(id_key)
            .collect(),
    };
    Ok(Vm {
        id,
        name: name.to_string(),
        tags: super::shape::tags(item),
        nics,
    })
}

/// One subnet, from `az network vnet subnet list` or from a virtual network's `subnets`.
pub fn parse_subnet(item: &Value, vnet: Option<&str>) -> Result<Subnet, NormalizeError> {
    let name = name_of(item, "subnet")?;
    let what = match vnet {
        Some(v) => format!("virtual network {v} subnet {name}"),
        None => format!("subnet {name}"),
    };
    let id = opt_str(item, "id", &what)?
        .ok_or_else(|| format!("{what}: has no field `id`"))?
        .to_string();
    let mut prefixes: Vec<&str> = opt_str(item, "addressPrefix", &what)?.into_iter().collect();
    for p in array_field(item, "addressPrefixes", &what)? {
        prefixes.extend(p.as_str());
    }
    Ok(Subnet {
        ipv6: (!prefixes.is_empty()).then(|| prefixes.iter().any(|p| p.contains(':'))),
        nsg: ref_id(item, "networkSecurityGroup", &what)?.map(str::to_string),
        route_table: ref_id(item, "routeTable", &what)?.map(str::to_string),
        id,
    })
}

pub fn parse_vnet(item: &Value) -> Result<Vec<Subnet>, NormalizeError> {
    let name = name_of(item, "virtual network")?;
    let what = format!("virtual network {name}");
    array_field(item, "subnets", &what)?
        .iter()
        .map(|s| parse_subnet(s, Some(name)))
        .collect()
}

pub fn parse_route_table(item: &Value) -> Result<RouteTable, NormalizeError> {
    let name = name_of(item, "route table")?;
    let what = format!("route table {name}");
    let id = opt_str(item, "id", &what)?.unwrap_or(name).to_string();
    let mut routes = Vec::new();
    for r in array_field(item, "routes", &what)? {
        let rname = name_of(r, "route")?;
        let rwhat = format!("{what} route {rname}");
        let prefix = opt_str(r, "addressPrefix", &rwhat)?
            .ok_or_else(|| format!("{rwhat}: has no field `addressPrefix`"))?;
        let hop = opt_str(r, "nextHopType", &rwhat)?
            .ok_or_else(|| format!("{rwhat}: has no field `nextHopType`"))?;
        routes.push(Route {
            name: rname.to_string(),
            prefix: prefix.to_string(),
            next_hop_type: hop.to_string(),
            next_hop_ip: opt_str(r, "nextHopIpAddress", &rwhat)?.map(str::to_string),
        });
    }
    Ok(RouteTable {
        subnets: ref_ids(item, "subnets", &what)?
            .into_iter()
            .map(id_key)
            .collect(),
        name: name.to_string(),
        id,
        routes,
    })
}

pub fn parse_firewall(item: &Value) -> Result<Firewall, NormalizeError> {
    let name = name_of(item, "firewall")?;
    let what = format!("Azure Firewall {name}");
    let mut private_ips = Vec::new();
    for c in array_field(item, "ipConfigurations", &what)? {
        if let Some(ip) = opt_str(c, "privateIPAddress", &what)? {
            private_ips.push(ip.to_string());
        }
    }
    // Firewalls in a Virtual WAN hub carry their address here instead.
    if let Some(hub) = field(item, "hubIPAddresses") {
        if let Some(ip) = field(hub, "privateIPAddress").and_then(Value::as_str) {
            private_ips.push(ip.to_string());
        }
    }
    Ok(Firewall {
        name: name.to_string(),
        private_ips,
    })
}

/// [`route_info`] for a target that may send IPv6 too (`ipv6`): when the table leaves public IPv4
/// no internet path but does not drop all of public IPv6 (by its IPv6 routes, longest prefix
/// first; the system route sends `::/0` to Internet), the path is unknown rather than absent, so
/// IPv6 findings keep their severity.
pub fn route_info_both(
    subnet_name: &str,
    table: Option<Option<&RouteTable>>,
    firewalls: &[Firewall],
    ipv6: bool,
) -> RouteInfo {
    let v4 = route_info(subnet_name, table, firewalls);
    let (true, Some(false), Some(Some(t))) = (ipv6, v4.internet_path, table) else {
        return v4;
    };
    let mut covering: Vec<(&Route, AddrSet, u32)> = t
        .routes
        .iter()
        .filter_map(|r| {
            let p = r.prefix.trim();
            let len = p
                .split_once('/')
                .map_or(Some(128), |(_, l)| l.parse().ok())?;
            let set = parse_addrs(p).ok()?.intersect(public6());
            (!set.is_empty()).then_some((r, set, len))
        })
        .collect();
    covering.sort_by_key(|(_, _, len)| std::cmp::Reverse(*len));
    let mut remaining = public6().clone();
    let mut all_dropped = true;
    for (r, set, _) in covering {
        let decided = set.intersect(&remaining);
        if decided.is_empty() {
            continue;
        }
        remaining = remaining.difference(&decided);
        let hop = r.next_hop_type.to_ascii_lowercase();
        all_dropped &= hop == "none" || hop == "vnetlocal";
    }
    if all_dropped && remaining.is_empty() {
        return v4;
    }
    RouteInfo {
        internet_path: None,
        reason: Some(format!(
            "{} (public IPv4); route table {} does not drop all of public IPv6, which the system \
             route sends to Internet",
            v4.reason.unwrap_or_default(),
            t.name
        )),
        appliance: None,
    }
}

/// Where a subnet's internet-bound traffic goes, from its route table.
/// `table`: `Some(None)` when the subnet is known to have no route table, `None` when unknown.
///
/// Public IPv4 is split by longest-prefix match over the table's routes (so `0.0.0.0/1` plus
/// `128.0.0.0/1` is a default route too); what no route covers takes the system route to Internet.
pub fn route_info(
    subnet_name: &str,
    table: Option<Option<&RouteTable>>,
    firewalls: &[Firewall],
) -> RouteInfo {
    let table = match table {
        None => return RouteInfo::default(),
        Some(None) => {
            return RouteInfo {
                internet_path: Some(true),
                reason: Some(format!(
                    "subnet {subnet_name} has no route table: the system default route sends 0.0.0.0/0 to Internet"
                )),
                appliance: None,
            }
        }
        Some(Some(t)) => t,
    };
    let mut covering: Vec<(&Route, AddrSet, u32)> = table
        .routes
        .iter()
        .filter_map(|r| {
            let p = r.prefix.trim();
            if p.eq_ignore_ascii_case("Internet") {
                return Some((r, public4().clone(), 0));
            }
            let len = p
                .split_once('/')
                .map_or(Some(32), |(_, l)| l.parse().ok())?;
            let set = parse_addrs(p).ok()?.intersect(&all_v4());
            (!set.is_empty()).then_some((r, set, len))
        })
        .collect();
    // Longest prefix first; equal prefixes keep the table's order.
    covering.sort_by_key(|(_, _, len)| std::cmp::Reverse(*len));
    let mut remaining = public4().clone();
    let (mut internet, mut dropped, mut appliance) = (Vec::new(), Vec::new(), Vec::new());
    for (r, set, _) in covering {
        let decided = set.intersect(&remaining);
        if decided.is_empty() {
            continue;
        }
        remaining = remaining.difference(&decided);
        match r.next_hop_type.to_ascii_lowercase().as_str() {
            "internet" => internet.push(r),
            "none" | "vnetlocal" => dropped.push(r),
            // VirtualAppliance, VirtualNetworkGateway: the appliance or the gateway decides.
            _ => appliance.push((r, decided.len())),
        }
    }
    let said = |r: &Route| {
        format!(
            "route table {} route {} sends {} to {}",
            table.name, r.name, r.prefix, r.next_hop_type
        )
    };
    if let Some(r) = internet.first() {
        return RouteInfo {
            internet_path: Some(true),
            reason: Some(said(r)),
            appliance: None,
        };
    }
    if !remaining.is_empty() {
        return RouteInfo {
            internet_path: Some(true),
            reason: Some(format!(
                "route table {} has no route for all of public IPv4: the system default route sends the rest to Internet",
                table.name
            )),
            appliance: None,
        };
    }
    if let Some((r, _)) = appliance.iter().max_by_key(|(_, n)| *n) {
        let ip = r.next_hop_ip.as_deref().unwrap_or("");
        let firewall = firewalls
            .iter()
            .find(|f| !ip.is_empty() && f.private_ips.iter().any(|x| x == ip))
            .map(|f| format!(", Azure Firewall {}", f.name))
            .unwrap_or_default();
        let ip_note = if ip.is_empty() {
            String::new()
        } else {
            format!(" {ip}")
        };
        let table_name = id_name(&table.id);
        // Forced tunnelling: internet-bound traffic goes through the VPN / ExpressRoute gateway to
        // on-premises. There is no direct path from Azure, but whether on-premises lets it out is
        // not in the inputs, so the path stays unknown (findings keep their severity) with a note.
        if r.next_hop_type
            .eq_ignore_ascii_case("VirtualNetworkGateway")
        {
            return RouteInfo {
                internet_path: None,
                reason: Some(format!(
                    "{}: forced tunnelling, internet-bound traffic goes to on-premises through the \
                     virtual network gateway, whose egress controls are not in the inputs",
                    said(r)
                )),
                appliance: Some(format!(
                    "route {} → VirtualNetworkGateway ({table_name}, forced tunnelling to on-premises)",
                    r.prefix
                )),
            };
        }
        return RouteInfo {
            internet_path: None,
            reason: Some(format!(
                "{}{ip_note}: the appliance decides what reaches the internet",
                said(r)
            )),
            appliance: Some(format!(
                "route {} → {}{ip_note} ({table_name}{firewall})",
                r.prefix, r.next_hop_type
            )),
        };
    }
    let drops: Vec<String> = dropped
        .iter()
        .map(|r| {
            let how = if r.next_hop_type.eq_ignore_ascii_case("none") {
                "dropped"
            } else {
                "kept inside the virtual network"
            };
            format!("{} ({how})", said(r))
        })
        .collect();
    RouteInfo {
        internet_path: Some(false),
        reason: Some(drops.join("; ")),
        appliance: None,
    }
}
