//! Azure and GCP writers. Only `OK` records are written (these logs have no NODATA/SKIPDATA);
//! the NIC / VM names are derived from the record's interface and instance ids.

use super::{LogStatus, Record};
use crate::time::format_rfc3339;
use crate::Disposition;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn ok(records: &[Record]) -> impl Iterator<Item = &Record> {
    records.iter().filter(|r| r.status == LogStatus::Ok)
}

/// The MAC the Azure writers give an interface: `eni-…a00c` → `00224800A00C`.
pub fn azure_mac(r: &Record) -> String {
    let tail = &r.interface_id[r.interface_id.len() - 6..];
    format!("002248{}", tail.to_uppercase())
}

fn by_mac(records: &[Record]) -> BTreeMap<String, Vec<&Record>> {
    let mut out: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for r in ok(records) {
        out.entry(azure_mac(r)).or_default().push(r);
    }
    out
}

fn rule_of(r: &Record) -> String {
    r.rule
        .clone()
        .unwrap_or_else(|| "DefaultRule_AllowInternetOutBound".into())
}

/// A VNet flow log blob: one record per NIC, tuples grouped by rule; time in milliseconds,
/// protocol as a number, state `D` for denied flows, `E` with counters for allowed ones.
pub fn azure_vnet(records: &[Record]) -> String {
    let recs: Vec<Value> = by_mac(records)
        .into_iter()
        .map(|(mac, rs)| {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for r in rs.iter() {
                let state = if r.action == Disposition::Denied { "D" } else { "E" };
                let dir = if r.egress { "O" } else { "I" };
                groups.entry(rule_of(r)).or_default().push(format!(
                    "{},{},{},{},{},{},{dir},{state},NX,{},{},0,0",
                    r.start * 1000, r.src, r.dst, r.src_port, r.dst_port, r.protocol, r.packets, r.bytes
                ));
            }
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(rule, tuples)| json!({"rule": rule, "flowTuples": tuples}))
                .collect();
            json!({
                "time": format_rfc3339(rs[0].start),
                "flowLogVersion": 4,
                "flowLogGUID": "00000000-0000-0000-0000-000000000001",
                "macAddress": mac,
                "category": "FlowLogFlowEvent",
                "flowLogResourceID": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NW/FLOWLOGS/VNETFLOWLOG",
                "targetResourceID": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet",
                "operationName": "FlowLogFlowEvent",
                "flowRecords": {"flows": [{
                    "aclID": "00000000-0000-0000-0000-00000000acl1",
                    "flowGroups": groups,
                }]},
            })
        })
        .collect();
    serde_json::to_string(&json!({"records": recs})).expect("JSON of values")
}

/// An NSG flow log v2 blob: tcp and udp records only (the format has `T`/`U`), time in seconds,
/// decision `A`/`D`; allowed flows as state `E` with counters, denied as `B` without.
pub fn azure_nsg(records: &[Record]) -> String {
    let mut per_rule: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for r in ok(records).filter(|r| matches!(r.protocol, 6 | 17)) {
        let proto = if r.protocol == 6 { "T" } else { "U" };
        let dir = if r.egress { "O" } else { "I" };
        let tuple = match r.action {
            Disposition::Accepted => format!(
                "{},{},{},{},{},{proto},{dir},A,E,{},{},0,0",
                r.start, r.src, r.dst, r.src_port, r.dst_port, r.packets, r.bytes
            ),
            Disposition::Denied => format!(
                "{},{},{},{},{},{proto},{dir},D,B,,,,",
                r.start, r.src, r.dst, r.src_port, r.dst_port
            ),
        };
        per_rule
            .entry(rule_of(r))
            .or_default()
            .entry(azure_mac(r))
            .or_default()
            .push(tuple);
    }
    let flows: Vec<Value> = per_rule
        .into_iter()
        .map(|(rule, macs)| {
            let macs: Vec<Value> = macs
                .into_iter()
                .map(|(mac, t)| json!({"mac": mac, "flowTuples": t}))
                .collect();
            json!({"rule": rule, "flows": macs})
        })
        .collect();
    let t = ok(records).map(|r| r.start).min().unwrap_or(0);
    serde_json::to_string_pretty(&json!({"records": [{
        "time": format_rfc3339(t),
        "systemId": "00000000-0000-0000-0000-000000000002",
        "macAddress": "000D3AF87856",
        "category": "NetworkSecurityGroupFlowEvent",
        "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG",
        "operationName": "NetworkSecurityGroupFlowEvents",
        "properties": {"Version": 2, "flows": flows},
    }]}))
    .expect("JSON of values")
}

/// The VM a GCP writer gives a record: its instance id, or the interface id when none.
pub fn gcp_vm(r: &Record) -> String {
    r.instance_id
        .clone()
        .unwrap_or_else(|| r.interface_id.clone())
}

fn gcp_instance(r: &Record) -> Value {
    json!({"project_id": "proj", "region": "us-central1", "zone": "us-central1-a", "vm_name": gcp_vm(r)})
}

fn connection(r: &Record) -> Value {
    json!({"src_ip": r.src.to_string(), "src_port": r.src_port, "dest_ip": r.dst.to_string(),
           "dest_port": r.dst_port, "protocol": r.protocol})
}

fn render(entries: Vec<Value>, lines: bool) -> String {
    if lines {
        entries.iter().map(|e| format!("{e}\n")).collect()
    } else {
        serde_json::to_string_pretty(&entries).expect("JSON of values")
    }
}

/// GCP VPC Flow Logs entries (accepted records only: VPC flow logs do not log denied traffic);
/// `lines`: JSON lines as a Cloud Storage sink writes them, else a `gcloud logging read` array.
pub fn gcp_vpc(records: &[Record], lines: bool) -> String {
    let entries = ok(records)
        .filter(|r| r.action == Disposition::Accepted)
        .enumerate()
        .map(|(i, r)| {
            let (reporter, side) = if r.egress { ("SRC", "src_instance") } else { ("DEST", "dest_instance") };
            json!({
                "insertId": format!("gen{i}"),
                "jsonPayload": {
                    "connection": connection(r),
                    "reporter": reporter,
                    side: gcp_instance(r),
                    "bytes_sent": r.bytes.to_string(),
                    "packets_sent": r.packets.to_string(),
                    "start_time": format_rfc3339(r.start),
                    "end_time": format_rfc3339(r.end),
                },
                "logName": "projects/proj/logs/compute.googleapis.com%2Fvpc_flows",
                "resource": {"type": "gce_subnetwork", "labels": {"project_id": "proj", "subnetwork_name": "default"}},
                "timestamp": format_rfc3339(r.end),
            })
        })
        .collect();
    render(entries, lines)
}

/// GCP Firewall Rules Logging entries: the record's rule as `network:default/firewall:<rule>`.
pub fn gcp_firewall(records: &[Record], lines: bool) -> String {
    let entries = ok(records)
        .enumerate()
        .map(|(i, r)| {
            let allowed = r.action == Disposition::Accepted;
            json!({
                "insertId": format!("fw{i}"),
                "jsonPayload": {
                    "connection": connection(r),
                    "disposition": if allowed { "ALLOWED" } else { "DENIED" },
                    "instance": gcp_instance(r),
                    "rule_details": {
                        "reference": format!("network:default/firewall:{}", rule_of(r).to_lowercase()),
                        "priority": 1000,
                        "action": if allowed { "ALLOW" } else { "DENY" },
                        "direction": if r.egress { "EGRESS" } else { "INGRESS" },
                    },
                },
                "logName": "projects/proj/logs/compute.googleapis.com%2Ffirewall",
                "resource": {"type": "gce_subnetwork"},
                "timestamp": format_rfc3339(r.start),
            })
        })
        .collect();
    render(entries, lines)
}
