//! Everything egress-audit reads from one account in one region, page by page.

use crate::convert;
use crate::error::reason;
use aws_sdk_ec2::Client;
use egress_audit_snapshot::{Document, NotScanned, Provider};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What one region gave: its documents, and the listings (or the whole region) it refused.
#[derive(Debug, Default)]
pub struct RegionResult {
    pub documents: Vec<Document>,
    pub not_scanned: Vec<NotScanned>,
}

/// Runs every item of a paginated listing through a converter; the first failed page fails it.
macro_rules! list_all {
    ($req:expr, $convert:path) => {
        async {
            let mut out = Vec::new();
            let mut items = $req.into_paginator().items().send();
            while let Some(item) = items.next().await {
                out.push($convert(&item.map_err(|e| reason(&e))?));
            }
            Ok::<Vec<Value>, String>(out)
        }
    };
}

/// The listings of a region, in the order `region` fetches them: API name, CLI command (the
/// document kind), and the top-level key of the CLI's JSON.
const LISTINGS: [(&str, &str, &str); 7] = [
    (
        "DescribeSecurityGroups",
        "describe-security-groups",
        "SecurityGroups",
    ),
    (
        "DescribeNetworkAcls",
        "describe-network-acls",
        "NetworkAcls",
    ),
    (
        "DescribeNetworkInterfaces",
        "describe-network-interfaces",
        "NetworkInterfaces",
    ),
    ("DescribeSubnets", "describe-subnets", "Subnets"),
    ("DescribeVpcs", "describe-vpcs", "Vpcs"),
    (
        "DescribeRouteTables",
        "describe-route-tables",
        "RouteTables",
    ),
    (
        "DescribeManagedPrefixLists",
        "describe-managed-prefix-lists",
        "PrefixLists",
    ),
];

/// One listing: the CLI command (the document kind), the API name, and its top-level key.
struct Listing {
    kind: &'static str,
    api: &'static str,
    key: &'static str,
    result: Result<Vec<Value>, String>,
}

/// Fetches one region. `entry_concurrency` bounds the per-prefix-list entry calls.
pub async fn region(
    client: &Client,
    account: &str,
    region: &str,
    entry_concurrency: usize,
) -> RegionResult {
    let (sgs, nacls, enis, subnets, vpcs, rts, pls) = futures::join!(
        list_all!(
            client.describe_security_groups().max_results(1000),
            convert::security_group
        ),
        list_all!(
            client.describe_network_acls().max_results(1000),
            convert::network_acl
        ),
        list_all!(
            client.describe_network_interfaces().max_results(1000),
            convert::network_interface
        ),
        list_all!(client.describe_subnets().max_results(1000), convert::subnet),
        list_all!(client.describe_vpcs().max_results(1000), convert::vpc),
        list_all!(
            client.describe_route_tables().max_results(100),
            convert::route_table
        ),
        list_all!(
            client.describe_managed_prefix_lists().max_results(100),
            convert::managed_prefix_list
        ),
    );
    let results = [sgs, nacls, enis, subnets, vpcs, rts, pls];
    let listings: Vec<Listing> = LISTINGS
        .iter()
        .zip(results)
        .map(|(&(api, kind, key), result)| Listing {
            kind,
            api,
            key,
            result,
        })
        .collect();

    let scope = |what: &str, reason: String| NotScanned {
        provider: Provider::Aws,
        account: Some(account.to_string()),
        region: Some(region.to_string()),
        scope: what.to_string(),
        reason,
    };
    let doc = |kind: &str, data: Value| Document {
        provider: Provider::Aws,
        account: Some(account.to_string()),
        region: Some(region.to_string()),
        kind: kind.to_string(),
        data,
    };

    let mut out = RegionResult::default();
    // A region that refuses everything (no access, not opted in) is one gap, not seven.
    if let Some(first_error) = listings
        .iter()
        .map(|l| l.result.as_ref().err())
        .collect::<Option<Vec<_>>>()
        .and_then(|errors| errors.first().map(|e| e.to_string()))
    {
        out.not_scanned.push(scope("region", first_error));
        return out;
    }

    let mut wanted_lists = BTreeSet::new();
    for l in listings {
        match l.result {
            Ok(items) => {
                match l.key {
                    "SecurityGroups" => referenced_by_groups(&items, &mut wanted_lists),
                    "RouteTables" => referenced_by_routes(&items, &mut wanted_lists),
                    "PrefixLists" => customer_managed(&items, &mut wanted_lists),
                    _ => {}
                }
                let mut data = serde_json::Map::new();
                data.insert(l.key.to_string(), Value::Array(items));
                out.documents.push(doc(l.kind, Value::Object(data)));
            }
            Err(e) => out.not_scanned.push(scope(l.api, e)),
        }
    }

    let entries: Vec<(String, Result<Vec<Value>, String>)> = stream::iter(wanted_lists)
        .map(|id| async move {
            let req = client
                .get_managed_prefix_list_entries()
                .prefix_list_id(&id)
                .max_results(100);
            let result = list_all!(req, convert::prefix_list_entry).await;
            (id, result)
        })
        .buffer_unordered(entry_concurrency.max(1))
        .collect()
        .await;
    let mut entries = entries;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, result) in entries {
        match result {
            Ok(items) => out.documents.push(doc(
                "get-managed-prefix-list-entries",
                json!({"PrefixListId": id, "Entries": items}),
            )),
            Err(e) => out
                .not_scanned
                .push(scope(&format!("GetManagedPrefixListEntries {id}"), e)),
        }
    }
    out
}

fn referenced_by_groups(groups: &[Value], out: &mut BTreeSet<String>) {
    for g in groups {
        for key in ["IpPermissionsEgress", "IpPermissions"] {
            let perms = g.get(key).and_then(Value::as_array).into_iter().flatten();
            for p in perms {
                let ids = p
                    .get("PrefixListIds")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten();
                out.extend(ids.filter_map(|r| r.get("PrefixListId")?.as_str().map(str::to_string)));
            }
        }
    }
}

fn referenced_by_routes(tables: &[Value], out: &mut BTreeSet<String>) {
    for t in tables {
        let routes = t
            .get("Routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        out.extend(routes.filter_map(|r| {
            r.get("DestinationPrefixListId")?
                .as_str()
                .map(str::to_string)
        }));
    }
}

/// Customer-managed lists (owned by an account, not `AWS`); AWS-managed ones are fetched only
/// when a rule or route names them, since there are many and most are never used.
fn customer_managed(lists: &[Value], out: &mut BTreeSet<String>) {
    for l in lists {
        if l.get("OwnerId").and_then(Value::as_str) != Some("AWS") {
            if let Some(id) = l.get("PrefixListId").and_then(Value::as_str) {
                out.insert(id.to_string());
            }
        }
    }
}
