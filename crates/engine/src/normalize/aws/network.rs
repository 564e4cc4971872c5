//! Network documents: subnets, route tables, prefix lists and their entries.

use super::parse::{owned_scope, Scope};
use crate::model::space::parse_addrs;
use crate::model::AddrSet;
use crate::normalize::fields::{first_str, list, opt_bool, opt_cidr, opt_str, req_str as req};
use crate::normalize::NormalizeError;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: Option<String>,
    pub scope: Scope,
}

pub fn subnet(v: &Value, i: usize, scope: &Scope) -> Result<Subnet, NormalizeError> {
    let id = req(v, "SubnetId", &format!("Subnets[{i}]"))?.to_string();
    let what = format!("subnet {id}");
    Ok(Subnet {
        vpc_id: opt_str(v, "VpcId", &what)?.map(str::to_string),
        scope: owned_scope(
            scope,
            opt_str(v, "OwnerId", &what)?,
            opt_str(v, "AvailabilityZone", &what)?,
        ),
        id,
    })
}

#[derive(Clone, Debug)]
pub enum RouteDest {
    Cidr(String, AddrSet),
    PrefixList(String),
}

#[derive(Clone, Debug)]
pub struct Route {
    pub dest: RouteDest,
    /// The next hop's id (`igw-…`, `nat-…`, `vpce-…`, `local`), if any.
    pub target: Option<String>,
    pub blackhole: bool,
}

#[derive(Clone, Debug)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: Option<String>,
    pub main: bool,
    pub subnets: Vec<String>,
    pub routes: Vec<Route>,
}

/// Route fields that name the next hop, most specific first.
const ROUTE_TARGETS: &[&str] = &[
    "NatGatewayId",
    "TransitGatewayId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "CoreNetworkArn",
    "LocalGatewayId",
    "VpcPeeringConnectionId",
    "GatewayId",
    "InstanceId",
    "NetworkInterfaceId",
];

pub fn route_table(v: &Value, i: usize) -> Result<RouteTable, NormalizeError> {
    let id = req(v, "RouteTableId", &format!("RouteTables[{i}]"))?.to_string();
    let what = format!("route table {id}");
    let mut main = false;
    let mut subnets = Vec::new();
    for (j, a) in list(v, "Associations", &what)?.iter().enumerate() {
        let w = format!("{what}: Associations[{j}]");
        // An association being removed (or that failed) no longer decides the subnet's routes.
        let state = match a.get("AssociationState") {
            Some(st) if !st.is_null() => opt_str(st, "State", &format!("{w}.AssociationState"))?,
            _ => None,
        };
        if state.is_some_and(|s| s != "associated" && s != "associating") {
            continue;
        }
        main |= opt_bool(a, "Main", &w)?.unwrap_or(false);
        if let Some(s) = opt_str(a, "SubnetId", &w)? {
            subnets.push(s.to_string());
        }
    }
    let mut routes = Vec::new();
    for (j, r) in list(v, "Routes", &what)?.iter().enumerate() {
        let w = format!("{what}: Routes[{j}]");
        let dest = if let Some(pl) = opt_str(r, "DestinationPrefixListId", &w)? {
            RouteDest::PrefixList(pl.to_string())
        } else {
            let cidr = match opt_cidr(r, "DestinationCidrBlock", false, &w)? {
                Some(c) => c,
                None => opt_cidr(r, "DestinationIpv6CidrBlock", true, &w)?
                    .ok_or_else(|| format!("{w} has no destination (`DestinationCidrBlock`, `DestinationIpv6CidrBlock` or `DestinationPrefixListId`)"))?,
            };
            RouteDest::Cidr(cidr.0, cidr.1)
        };
        routes.push(Route {
            dest,
            target: first_str(r, ROUTE_TARGETS, &w)?.map(str::to_string),
            blackhole: opt_str(r, "State", &w)?
                .is_some_and(|s| s.eq_ignore_ascii_case("blackhole")),
        });
    }
    Ok(RouteTable {
        vpc_id: opt_str(v, "VpcId", &what)?.map(str::to_string),
        main,
        subnets,
        routes,
        id,
    })
}

#[derive(Clone, Debug)]
pub struct PrefixList {
    pub id: String,
    /// `AWS` for AWS-managed lists (S3, DynamoDB, CloudFront).
    pub owner: Option<String>,
    /// `describe-prefix-lists` (the older call) prints the CIDRs inline.
    pub cidrs: Option<AddrSet>,
}

pub fn prefix_list(v: &Value, i: usize) -> Result<PrefixList, NormalizeError> {
    let id = req(v, "PrefixListId", &format!("PrefixLists[{i}]"))?.to_string();
    let what = format!("prefix list {id}");
    let cidrs = match v.get("Cidrs") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let mut set = AddrSet::empty();
            for (j, c) in list(v, "Cidrs", &what)?.iter().enumerate() {
                let c = c
                    .as_str()
                    .ok_or_else(|| format!("{what}: Cidrs[{j}] is not a string"))?;
                set = set.union(&parse_addrs(c).map_err(|e| format!("{what}: Cidrs[{j}]: {e}"))?);
            }
            Some(set)
        }
    };
    Ok(PrefixList {
        owner: opt_str(v, "OwnerId", &what)?.map(str::to_string),
        cidrs,
        id,
    })
}

/// `get-managed-prefix-list-entries`: the entries' union.
pub fn entries(v: &Value, what: &str) -> Result<AddrSet, NormalizeError> {
    let mut set = AddrSet::empty();
    for (j, e) in list(v, "Entries", what)?.iter().enumerate() {
        let w = format!("{what}: Entries[{j}]");
        let c = req(e, "Cidr", &w)?;
        set = set.union(&parse_addrs(c).map_err(|err| format!("{w}.Cidr: {err}"))?);
    }
    Ok(set)
}
