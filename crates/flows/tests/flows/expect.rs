//! What each format must yield for generated records, computed here from the records and each
//! format's documented meaning, independently of the readers.

use egress_audit_flows::generate::{azure_mac, gcp_vm, LogStatus, Record};
use egress_audit_flows::{is_public, Disposition, FlowKey, FlowProfile, FlowStats, ReadOptions};
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fmt {
    /// Default v2 text or CloudWatch: no direction, no pkt-dstaddr, no instance id.
    AwsV2,
    /// v5 text or Parquet: direction, pkt-dstaddr and instance id.
    AwsV5,
    AzureVnet,
    AzureNsg,
    GcpVpc,
    GcpFirewall,
}

pub fn expected(records: &[Record], fmt: Fmt) -> HashMap<FlowKey, FlowStats> {
    let mut out: HashMap<FlowKey, FlowStats> = HashMap::new();
    for r in records.iter().filter(|r| r.status == LogStatus::Ok) {
        let gcp_iface = || format!("proj/us-central1-a/{}", gcp_vm(r));
        let (egress, iface, inst, dst, rule, packets, bytes, end) = match fmt {
            Fmt::AwsV2 => (
                !is_public(r.src),
                Some(r.interface_id.clone()),
                None,
                r.dst,
                None,
                r.packets,
                r.bytes,
                r.end,
            ),
            Fmt::AwsV5 => (
                r.egress,
                Some(r.interface_id.clone()),
                r.instance_id.clone(),
                r.pkt_dst.unwrap_or(r.dst),
                None,
                r.packets,
                r.bytes,
                r.end,
            ),
            Fmt::AzureVnet => (
                r.egress,
                Some(azure_mac(r)),
                None,
                r.dst,
                r.rule.clone(),
                r.packets,
                r.bytes,
                r.start,
            ),
            Fmt::AzureNsg => {
                if !matches!(r.protocol, 6 | 17) {
                    continue;
                }
                let denied = r.action == Disposition::Denied;
                let (p, b) = if denied { (0, 0) } else { (r.packets, r.bytes) };
                (
                    r.egress,
                    Some(azure_mac(r)),
                    None,
                    r.dst,
                    r.rule.clone(),
                    p,
                    b,
                    r.start,
                )
            }
            Fmt::GcpVpc => {
                if r.action == Disposition::Denied {
                    continue;
                }
                (
                    r.egress,
                    Some(gcp_iface()),
                    Some(gcp_vm(r)),
                    r.dst,
                    None,
                    r.packets,
                    r.bytes,
                    r.end,
                )
            }
            Fmt::GcpFirewall => {
                let rule = format!(
                    "network:default/firewall:{}",
                    r.rule.clone().unwrap().to_lowercase()
                );
                (
                    r.egress,
                    Some(gcp_iface()),
                    Some(gcp_vm(r)),
                    r.dst,
                    Some(rule),
                    0,
                    0,
                    r.start,
                )
            }
        };
        if !egress {
            continue;
        }
        let key = FlowKey {
            interface_id: iface,
            instance_id: inst,
            src: r.src,
            dst,
            protocol: r.protocol,
            dst_port: r.dst_port,
            disposition: r.action,
            logged_rule: rule,
        };
        let s = out.entry(key).or_insert(FlowStats {
            flows: 0,
            packets: 0,
            bytes: 0,
            first_seen: r.start,
            last_seen: end,
        });
        s.flows += 1;
        s.packets += packets;
        s.bytes += bytes;
        s.first_seen = s.first_seen.min(r.start);
        s.last_seen = s.last_seen.max(end);
    }
    out
}

pub fn read(paths: &[&Path]) -> FlowProfile {
    egress_audit_flows::read_paths(paths, &ReadOptions::default()).expect("readable flow logs")
}

/// Compares two flow maps and names the first differing keys (a plain assert_eq on thousands of
/// keys prints nothing useful).
pub fn assert_same_flows(got: &HashMap<FlowKey, FlowStats>, want: &HashMap<FlowKey, FlowStats>) {
    let mut missing: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .collect();
    let mut extra: Vec<_> = got.iter().filter(|(k, _)| !want.contains_key(*k)).collect();
    missing.sort_by(|a, b| a.0.cmp(b.0));
    extra.sort_by(|a, b| a.0.cmp(b.0));
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} wanted keys differ or are missing, first: {:?} (got {:?}); {} unexpected, first: {:?}",
        missing.len(),
        missing.first(),
        missing.first().and_then(|(k, _)| got.get(*k)),
        extra.len(),
        extra.first()
    );
    assert!(
        !want.is_empty(),
        "a test with no expected flows proves nothing"
    );
}
