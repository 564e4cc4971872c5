//! Azure flow logs (JSON blobs `{"records": […]}`):
//! - VNet flow logs: `records[].flowRecords.flows[].flowGroups[].{rule, flowTuples}`, tuples
//!   `time(ms),src,dst,srcport,dstport,protocol(number),direction I|O,state B|C|E|D,encryption,
//!   packets out,bytes out,packets in,bytes in`; state `D` is a denied flow; the NIC is the
//!   record's `macAddress`.
//! - NSG flow logs v2: `records[].properties.flows[].{rule, flows[].{mac, flowTuples}}`, tuples
//!   `time(s),src,dst,srcport,dstport,protocol T|U,direction I|O,decision A|D,state B|C|E,
//!   packets out,bytes out,packets in,bytes in` (counters empty on `B`).
//!
//! Egress = direction `O`. Records are numbered by their index in `records` (1-based); the reason
//! of a skipped tuple names its path.

use crate::agg::{Aggregator, Rec};
use crate::json_logs::Shape;
use crate::{Disposition, FlowSource};
use serde_json::Value;

pub(crate) fn read(doc: &Value, file: &str, agg: &mut Aggregator) -> Shape {
    let Some(records) = doc["records"].as_array() else {
        return Shape::Unknown("`records` is not an array".into());
    };
    for (i, rec) in records.iter().enumerate() {
        let line = i as u64 + 1;
        let res = if rec.get("flowRecords").is_some() {
            agg.source(FlowSource::AzureVnet);
            vnet(rec, i, agg)
        } else if rec.pointer("/properties/flows").is_some() {
            agg.source(FlowSource::AzureNsg);
            nsg(rec, i, agg)
        } else {
            Err(vec![format!(
                "records[{i}] has neither flowRecords nor properties.flows"
            )])
        };
        if let Err(reasons) = res {
            for reason in reasons {
                agg.skip(file, line, reason);
            }
        }
    }
    Shape::Read
}

fn array<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} is not an array"))
}

/// Reads every tuple under a VNet record; returns the reasons of the tuples it could not read.
fn vnet(rec: &Value, i: usize, agg: &mut Aggregator) -> Result<(), Vec<String>> {
    let mac = rec["macAddress"].as_str();
    let flows = array(&rec["flowRecords"]["flows"], "flowRecords.flows").map_err(|e| vec![e])?;
    let mut bad = Vec::new();
    for (f, flow) in flows.iter().enumerate() {
        let groups = match array(&flow["flowGroups"], "flowGroups") {
            Ok(g) => g,
            Err(e) => {
                bad.push(format!("records[{i}].flowRecords.flows[{f}]: {e}"));
                continue;
            }
        };
        for (g, group) in groups.iter().enumerate() {
            let rule = group["rule"].as_str();
            let at = format!("records[{i}].flowRecords.flows[{f}].flowGroups[{g}]");
            tuples(
                &group["flowTuples"],
                &at,
                mac,
                rule,
                Kind::Vnet,
                agg,
                &mut bad,
            );
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad)
    }
}

fn nsg(rec: &Value, i: usize, agg: &mut Aggregator) -> Result<(), Vec<String>> {
    let rules = array(&rec["properties"]["flows"], "properties.flows").map_err(|e| vec![e])?;
    let mut bad = Vec::new();
    for (r, rule_entry) in rules.iter().enumerate() {
        let rule = rule_entry["rule"].as_str();
        let Ok(per_mac) = array(&rule_entry["flows"], "flows") else {
            bad.push(format!(
                "records[{i}].properties.flows[{r}].flows is not an array"
            ));
            continue;
        };
        for (m, entry) in per_mac.iter().enumerate() {
            let mac = entry["mac"].as_str().or(rec["macAddress"].as_str());
            let at = format!("records[{i}].properties.flows[{r}].flows[{m}]");
            tuples(
                &entry["flowTuples"],
                &at,
                mac,
                rule,
                Kind::Nsg,
                agg,
                &mut bad,
            );
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Vnet,
    Nsg,
}

fn tuples(
    list: &Value,
    at: &str,
    mac: Option<&str>,
    rule: Option<&str>,
    kind: Kind,
    agg: &mut Aggregator,
    bad: &mut Vec<String>,
) {
    let Some(list) = list.as_array() else {
        bad.push(format!("{at}.flowTuples is not an array"));
        return;
    };
    for (t, tuple) in list.iter().enumerate() {
        let res = tuple
            .as_str()
            .ok_or_else(|| "not a string".to_string())
            .and_then(|s| tuple_rec(s, mac, rule, kind, agg));
        if let Err(e) = res {
            bad.push(format!("{at}.flowTuples[{t}]: {e}"));
        }
    }
}

fn tuple_rec(
    s: &str,
    mac: Option<&str>,
    rule: Option<&str>,
    kind: Kind,
    agg: &mut Aggregator,
) -> Result<(), String> {
    let f: Vec<&str> = s.split(',').collect();
    if f.len() != 13 {
        return Err(format!("expected 13 tuple fields, found {}", f.len()));
    }
    let num = |i: usize, name: &str| -> Result<u64, String> {
        f[i].parse::<u64>()
            .map_err(|_| format!("{name} `{}` is not a number", f[i]))
    };
    let counter = |i: usize, name: &str| if f[i].is_empty() { Ok(0) } else { num(i, name) };
    let addr = |i: usize, name: &str| -> Result<std::net::IpAddr, String> {
        f[i].parse()
            .map_err(|_| format!("{name} `{}` is not an address", f[i]))
    };
    let time = num(0, "time")? as i64;
    // VNet flow logs write milliseconds, NSG v2 seconds.
    let time = if time > 100_000_000_000 {
        time / 1000
    } else {
        time
    };
    let (src, dst) = (addr(1, "source")?, addr(2, "destination")?);
    let dst_port = u16::try_from(num(4, "destination port")?).map_err(|_| "port > 65535")?;
    let protocol = match (kind, f[5]) {
        (Kind::Nsg, "T") => 6,
        (Kind::Nsg, "U") => 17,
        (Kind::Vnet, p) => {
            u8::try_from(num(5, "protocol")?).map_err(|_| format!("protocol `{p}`"))?
        }
        (_, p) => return Err(format!("protocol `{p}`")),
    };
    let egress = match f[6] {
        "O" => true,
        "I" => false,
        d => return Err(format!("direction `{d}`")),
    };
    let (state, decision) = match kind {
        Kind::Vnet => (f[7], None),
        Kind::Nsg => (f[8], Some(f[7])),
    };
    let denied = match (state, decision) {
        (_, Some("D")) | ("D", _) => true,
        ("B" | "C" | "E", None | Some("A")) => false,
        (s, d) => {
            return Err(format!(
                "flow state `{s}` / decision `{}`",
                d.unwrap_or("-")
            ))
        }
    };
    // The source → destination counters, as AWS and GCP count an egress record (the replies are
    // the other direction's traffic).
    let packets = counter(9, "packets")?;
    let bytes = counter(10, "bytes")?;
    counter(11, "packets")?;
    counter(12, "bytes")?;
    let seen = agg.seen(mac, None, time, time);
    if egress {
        agg.egress(
            seen,
            &Rec {
                src,
                dst,
                protocol,
                dst_port,
                disposition: if denied {
                    Disposition::Denied
                } else {
                    Disposition::Accepted
                },
                rule,
                // A tuple is one flow record, as an AWS record is (a long connection logs B, C…, E).
                flows: 1,
                packets,
                bytes,
                start: time,
                end: time,
            },
        );
    }
    Ok(())
}
