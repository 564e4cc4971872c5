//! AWS VPC Flow Logs, text: the default version-2 format and custom formats (v2–v5+) whose S3 files
//! start with a header line naming the fields in their order. A hand-written splitter: one pass over
//! the bytes of a line, no regex, no allocation per field.

use crate::agg::{Aggregator, Rec};
use crate::net::{is_workload_side, parse_ip, parse_u64};
use crate::{Disposition, FlowError, FlowSource};
use std::path::Path;

/// The default format (version 2), in order.
pub const DEFAULT_FORMAT: &str =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// Every field AWS documents (versions 2–8); a header may name any of them in any order.
pub const KNOWN_FIELDS: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
];

// The fields the profile uses; the others are skipped over.
pub(crate) const IFACE: u8 = 0;
pub(crate) const INST: u8 = 1;
pub(crate) const SRC: u8 = 2;
pub(crate) const DST: u8 = 3;
pub(crate) const DPORT: u8 = 4;
pub(crate) const PROTO: u8 = 5;
pub(crate) const PACKETS: u8 = 6;
pub(crate) const BYTES: u8 = 7;
pub(crate) const START: u8 = 8;
pub(crate) const END: u8 = 9;
pub(crate) const ACTION: u8 = 10;
pub(crate) const STATUS: u8 = 11;
pub(crate) const DIRECTION: u8 = 12;
pub(crate) const PKT_DST: u8 = 13;
pub(crate) const ROLES: usize = 14;
pub(crate) const IGNORED: u8 = u8::MAX;

pub(crate) fn role_of(name: &str) -> u8 {
    // Parquet and Athena spell the names with underscores.
    match name.replace('_', "-").as_str() {
        "interface-id" => IFACE,
        "instance-id" => INST,
        "srcaddr" => SRC,
        "dstaddr" => DST,
        "dstport" => DPORT,
        "protocol" => PROTO,
        "packets" => PACKETS,
        "bytes" => BYTES,
        "start" => START,
        "end" => END,
        "action" => ACTION,
        "log-status" => STATUS,
        "flow-direction" => DIRECTION,
        "pkt-dstaddr" => PKT_DST,
        _ => IGNORED,
    }
}

/// Where each field the profile needs sits in a record.
#[derive(Clone, Debug)]
pub struct AwsLayout {
    roles: Vec<u8>,
}

impl AwsLayout {
    pub fn default_v2() -> Self {
        Self::from_names(DEFAULT_FORMAT.split(' ')).expect("the default format has every field")
    }

    /// A header line (`version account-id …`), or None when the line is not one.
    pub fn from_header(line: &str) -> Option<Result<Self, &'static str>> {
        let names: Vec<&str> = line.split_ascii_whitespace().collect();
        let plausible = names.iter().all(|n| {
            n.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && n.starts_with(|c: char| c.is_ascii_lowercase())
        });
        if !plausible || !names.contains(&"srcaddr") || !names.contains(&"dstaddr") {
            return None;
        }
        Some(Self::from_names(names.into_iter()))
    }

    /// A `--aws-format` string: the field names of a headerless custom format, with or without
    /// `${…}` as in the flow log's LogFormat.
    pub fn from_format(format: &str) -> Result<Self, FlowError> {
        let names: Vec<String> = format
            .split_ascii_whitespace()
            .map(|n| n.trim_start_matches("${").trim_end_matches('}').to_string())
            .collect();
        if let Some(bad) = names.iter().find(|n| !KNOWN_FIELDS.contains(&n.as_str())) {
            return Err(FlowError::BadFormat { field: bad.clone() });
        }
        Self::from_names(names.iter().map(String::as_str)).map_err(|f| FlowError::BadFormat {
            field: format!("(missing) {f}"),
        })
    }

    fn from_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<Self, &'static str> {
        let roles: Vec<u8> = names.map(role_of).collect();
        for (role, name) in [
            (SRC, "srcaddr"),
            (DST, "dstaddr"),
            (DPORT, "dstport"),
            (PROTO, "protocol"),
            (START, "start"),
            (END, "end"),
            (ACTION, "action"),
        ] {
            if !roles.contains(&role) {
                return Err(name);
            }
        }
        Ok(AwsLayout { roles })
    }

    pub fn fields(&self) -> usize {
        self.roles.len()
    }

    /// Splits one record and adds it to `agg`, or counts it as skipped with the reason.
    #[inline]
    pub(crate) fn record(&self, line: &[u8], file: &str, line_no: u64, agg: &mut Aggregator) {
        let mut vals: [&[u8]; ROLES] = [b"-"; ROLES];
        let mut n = 0usize;
        for field in line.split(|&c| c == b' ').filter(|f| !f.is_empty()) {
            if let Some(&role) = self.roles.get(n) {
                if role != IGNORED {
                    vals[role as usize] = field;
                }
            }
            n += 1;
        }
        if n != self.roles.len() {
            let reason = format!("expected {} fields, found {n}", self.roles.len());
            return agg.skip(file, line_no, reason);
        }
        if let Err(reason) = apply(&vals, agg) {
            agg.skip(file, line_no, reason);
        }
    }
}

fn opt_str(v: &[u8]) -> Result<Option<&str>, String> {
    if v == b"-" {
        return Ok(None);
    }
    std::str::from_utf8(v)
        .map(Some)
        .map_err(|_| "an id is not UTF-8".to_string())
}

fn num(vals: &[&[u8]; ROLES], role: u8, name: &str) -> Result<u64, String> {
    let v = vals[role as usize];
    parse_u64(v).ok_or_else(|| format!("{name} `{}` is not a number", String::from_utf8_lossy(v)))
}

fn ip(vals: &[&[u8]; ROLES], role: u8, name: &str) -> Result<std::net::IpAddr, String> {
    let v = vals[role as usize];
    parse_ip(v).ok_or_else(|| format!("{name} `{}` is not an address", String::from_utf8_lossy(v)))
}

/// Interprets one record's fields (`-` where absent), by role.
pub(crate) fn apply(vals: &[&[u8]; ROLES], agg: &mut Aggregator) -> Result<(), String> {
    let iface = opt_str(vals[IFACE as usize])?;
    let inst = opt_str(vals[INST as usize])?;
    let start = num(vals, START, "start")? as i64;
    let end = num(vals, END, "end")? as i64;
    match vals[STATUS as usize] {
        b"OK" | b"-" => {}
        b"NODATA" => {
            // No traffic in the interval: the interface was logged, so it is covered.
            let seen = agg.seen(iface, inst, start, end);
            agg.timeline(seen, start, end);
            return Ok(());
        }
        b"SKIPDATA" => {
            let seen = agg.seen(iface, inst, start, end);
            agg.timeline(seen, start, end);
            let reason = "SKIPDATA: AWS skipped records in this interval".to_string();
            agg.hole(iface.or(inst), start, end, reason);
            return Ok(());
        }
        other => return Err(format!("log-status `{}`", String::from_utf8_lossy(other))),
    }
    let src = ip(vals, SRC, "srcaddr")?;
    let mut dst = ip(vals, DST, "dstaddr")?;
    if vals[PKT_DST as usize] != b"-" {
        // Through a NAT gateway or middlebox the packet's own destination is the real one.
        dst = ip(vals, PKT_DST, "pkt-dstaddr")?;
    }
    let protocol = u8::try_from(num(vals, PROTO, "protocol")?).map_err(|_| "protocol > 255")?;
    let dst_port = u16::try_from(num(vals, DPORT, "dstport")?).map_err(|_| "dstport > 65535")?;
    let disposition = match vals[ACTION as usize] {
        b"ACCEPT" => Disposition::Accepted,
        b"REJECT" => Disposition::Denied,
        other => return Err(format!("action `{}`", String::from_utf8_lossy(other))),
    };
    let counter = |role: u8, name: &str| {
        if vals[role as usize] == b"-" {
            Ok(0)
        } else {
            num(vals, role, name)
        }
    };
    let packets = counter(PACKETS, "packets")?;
    let bytes = counter(BYTES, "bytes")?;
    let egress = match vals[DIRECTION as usize] {
        b"egress" => true,
        b"ingress" => false,
        b"-" => is_workload_side(src),
        other => {
            return Err(format!(
                "flow-direction `{}`",
                String::from_utf8_lossy(other)
            ))
        }
    };
    let seen = agg.seen(iface, inst, start, end);
    agg.timeline(seen, start, end);
    if egress {
        agg.egress(
            seen,
            &Rec {
                src,
                dst,
                protocol,
                dst_port,
                disposition,
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

/// Reads an AWS text stream whose first line has been recognised (`layout`), `first_line` being the
/// 1-based number of the first record line.
pub(crate) fn read<R: std::io::Read>(
    r: R,
    path: &Path,
    layout: &AwsLayout,
    skip_header: bool,
    agg: &mut Aggregator,
) -> Result<(), FlowError> {
    agg.source(FlowSource::AwsVpc);
    let file = path.display().to_string();
    let mut broken = None;
    crate::read::for_each_line(
        r,
        path,
        &mut |line, reason| broken = Some((line, reason)),
        |line_no, line| {
            if !(skip_header && line_no == 1) {
                layout.record(line, &file, line_no, agg);
            }
        },
    )?;
    if let Some((line, reason)) = broken {
        agg.skip(&file, line, reason);
    }
    Ok(())
}
