//! GCP Cloud Logging entries, as `gcloud logging read --format=json` prints them (an array) and as a
//! Cloud Storage sink writes them (JSON lines):
//! - VPC Flow Logs: `jsonPayload.{connection{src_ip,src_port,dest_ip,dest_port,protocol},
//!   reporter, src_instance{project_id,zone,vm_name}, bytes_sent, packets_sent, start_time,
//!   end_time}`; egress = `reporter` `SRC` (the source VM reported it). No firewall entry: accepted.
//! - Firewall Rules Logging: `jsonPayload.{connection, disposition ALLOWED|DENIED, instance{…},
//!   rule_details{reference, priority, action, direction}}`, timed by the entry's `timestamp`;
//!   egress = `rule_details.direction` `EGRESS`.
//!
//! The workload is named `project/zone/vm` (interface) and `vm` (instance).

use crate::agg::{Aggregator, Rec};
use crate::time::parse_rfc3339;
use crate::{Disposition, FlowSource};
use serde_json::Value;

fn int(v: &Value, what: &str) -> Result<u64, String> {
    // Cloud Logging writes int64 fields as strings.
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{what} is missing or not a number"))
}

fn time(v: &Value, what: &str) -> Result<i64, String> {
    v.as_str()
        .and_then(parse_rfc3339)
        .ok_or_else(|| format!("{what} is missing or not an RFC 3339 time"))
}

fn vm_name(v: &Value) -> Option<(String, String)> {
    let vm = v["vm_name"].as_str()?;
    let iface = format!(
        "{}/{}/{}",
        v["project_id"].as_str().unwrap_or("-"),
        v["zone"].as_str().unwrap_or("-"),
        vm
    );
    Some((iface, vm.to_string()))
}

pub(crate) fn entry(e: &Value, agg: &mut Aggregator) -> Result<(), String> {
    let p = &e["jsonPayload"];
    let c = &p["connection"];
    let src = c["src_ip"].as_str().and_then(|s| s.parse().ok());
    let dst = c["dest_ip"].as_str().and_then(|s| s.parse().ok());
    let (Some(src), Some(dst)) = (src, dst) else {
        return Err("jsonPayload.connection.src_ip / dest_ip missing or not addresses".into());
    };
    let protocol = u8::try_from(int(&c["protocol"], "connection.protocol")?)
        .map_err(|_| "connection.protocol > 255")?;
    let dst_port = match c.get("dest_port") {
        None | Some(Value::Null) => 0,
        Some(v) => {
            u16::try_from(int(v, "connection.dest_port")?).map_err(|_| "dest_port > 65535")?
        }
    };
    if let Some(rule) = p.get("rule_details") {
        agg.source(FlowSource::GcpFirewall);
        let t = time(&e["timestamp"], "timestamp")?;
        let disposition = match p["disposition"].as_str() {
            Some("ALLOWED") => Disposition::Accepted,
            Some("DENIED") => Disposition::Denied,
            other => return Err(format!("disposition {other:?}")),
        };
        let egress = match rule["direction"].as_str() {
            Some("EGRESS") => true,
            Some("INGRESS") => false,
            other => return Err(format!("rule_details.direction {other:?}")),
        };
        let vm = vm_name(&p["instance"]);
        let (iface, inst) = (
            vm.as_ref().map(|v| v.0.as_str()),
            vm.as_ref().map(|v| v.1.as_str()),
        );
        let seen = agg.seen(iface, inst, t, t);
        if egress {
            agg.egress(
                seen,
                &Rec {
                    src,
                    dst,
                    protocol,
                    dst_port,
                    disposition,
                    rule: rule["reference"].as_str(),
                    flows: 1,
                    packets: 0,
                    bytes: 0,
                    start: t,
                    end: t,
                },
            );
        }
        return Ok(());
    }
    agg.source(FlowSource::GcpVpc);
    let (start, end) = (
        time(&p["start_time"], "start_time")?,
        time(&p["end_time"], "end_time")?,
    );
    let packets = int(&p["packets_sent"], "packets_sent")?;
    let bytes = int(&p["bytes_sent"], "bytes_sent")?;
    let egress = match p["reporter"].as_str() {
        Some("SRC") => true,
        Some("DEST") => false,
        other => return Err(format!("reporter {other:?}")),
    };
    let reporter = if egress {
        &p["src_instance"]
    } else {
        &p["dest_instance"]
    };
    let vm = vm_name(reporter);
    let (iface, inst) = (
        vm.as_ref().map(|v| v.0.as_str()),
        vm.as_ref().map(|v| v.1.as_str()),
    );
    let seen = agg.seen(iface, inst, start, end);
    if egress {
        agg.egress(
            seen,
            &Rec {
                src,
                dst,
                protocol,
                dst_port,
                disposition: Disposition::Accepted,
                rule: None,
                flows: 1,
                packets,
                bytes,
                start,
                end,
            },
        );
    }
    Ok(())
}
