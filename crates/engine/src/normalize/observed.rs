//! What a probe result says beyond its generalised rules: where it ran (`identity`, `labels`) and
//! each measurement as it was made (protocol, ports, the one address reached, leaving or not), so
//! that `scan` can reconcile it with the declared rules of the workload it ran on (CHECKS.md §6).
//!
//! Leaving: tcp `open`; icmp `reply`; dns `answered` (udp, tcp), DoT `answered` / `connected`; DoH
//! `answered`; udp `echoed` / `answered`. Not leaving: tcp `filtered`, `closed`, `intercepted`;
//! icmp `no-reply`, `blocked`, `unreachable`; dns and DoH `no-answer`, `refused`, `blocked`, DoH
//! `connected` (the TLS session did not reach the resolver: intercepted); udp `rejected`,
//! `blocked`, `silent`. Not measured (skipped): tcp `untested`, `not-tested`, `error`.

use crate::model::space::{ICMP, ICMPV6, TCP, UDP};
use crate::normalize::fields::{self, FieldError};
use crate::normalize::NormalizeError;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The instance-metadata identity the probe recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProbeIdentity {
    /// `aws`, `azure`, `gcp`.
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<ProbeInterface>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProbeInterface {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
}

/// One measurement: `proto` to `address` on ports (icmp: `type * 256 + code`) `lo..=hi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub proto: u8,
    pub lo: u32,
    pub hi: u32,
    pub address: IpAddr,
    /// The probe's verdict as written: `open`, `filtered`, `reply`, `answered`…
    pub verdict: String,
    pub leaves: bool,
    /// What was measured: `tcp sweep`, `icmp echo`, `dns udp`, `dot`, `doh dns.google`, `udp`.
    pub what: String,
}

/// One probe result, kept for reconciliation.
#[derive(Clone, Debug)]
pub struct ProbeRecord {
    /// The file it was read from.
    pub source: String,
    pub host: String,
    pub target: String,
    pub address: IpAddr,
    pub partial: bool,
    pub identity: Option<ProbeIdentity>,
    pub labels: BTreeMap<String, String>,
    pub observations: Vec<Observation>,
    /// The observed (`host`) target built from this probe.
    pub resource_id: String,
}

fn opt_string(v: &Value, key: &str, at: &str) -> Result<Option<String>, NormalizeError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("probe result field `{at}{key}` must be a string").into()),
    }
}

/// The `identity` object, if any.
pub fn identity(v: &Value) -> Result<Option<ProbeIdentity>, NormalizeError> {
    let Some(id) = v.get("identity").filter(|x| !x.is_null()) else {
        return Ok(None);
    };
    if !id.is_object() {
        return Err("probe result field `identity` must be an object".into());
    }
    let at = "identity.";
    let provider = opt_string(id, "provider", at)?
        .ok_or("probe result field `identity.provider` is missing")?;
    let mut interfaces = Vec::new();
    if let Some(list) = id.get("interfaces").filter(|x| !x.is_null()) {
        let list = list
            .as_array()
            .ok_or("probe result field `identity.interfaces` must be a list")?;
        for (i, n) in list.iter().enumerate() {
            let at = format!("identity.interfaces[{i}].");
            let mut addresses = Vec::new();
            if let Some(a) = n.get("addresses").filter(|x| !x.is_null()) {
                let a = a
                    .as_array()
                    .ok_or(format!("probe result field `{at}addresses` must be a list"))?;
                for (j, x) in a.iter().enumerate() {
                    let ip = x.as_str().and_then(|s| s.parse().ok()).ok_or(format!(
                        "probe result field `{at}addresses[{j}]` is not an IP address"
                    ))?;
                    addresses.push(ip);
                }
            }
            interfaces.push(ProbeInterface {
                id: opt_string(n, "id", &at)?,
                mac: opt_string(n, "mac", &at)?,
                addresses,
            });
        }
    }
    Ok(Some(ProbeIdentity {
        provider: provider.to_ascii_lowercase(),
        account: opt_string(id, "account", at)?,
        region: opt_string(id, "region", at)?,
        instance_id: opt_string(id, "instance_id", at)?,
        instance_name: opt_string(id, "instance_name", at)?,
        network: opt_string(id, "network", at)?,
        interfaces,
    }))
}

/// The `labels` object (`--label KEY=VALUE`), if any.
pub fn labels(v: &Value) -> Result<BTreeMap<String, String>, NormalizeError> {
    let mut out = BTreeMap::new();
    let Some(l) = v.get("labels").filter(|x| !x.is_null()) else {
        return Ok(out);
    };
    let l = l
        .as_object()
        .ok_or("probe result field `labels` must be an object")?;
    for (k, x) in l {
        let s = x
            .as_str()
            .ok_or(format!("probe result field `labels.{k}` must be a string"))?;
        out.insert(k.clone(), s.to_string());
    }
    Ok(out)
}

/// The resource every probe-result error names.
pub const PROBE: &str = "probe result";

fn ip(s: &str, path: &str) -> Result<IpAddr, FieldError> {
    s.parse()
        .map_err(|_| FieldError::invalid(PROBE, path, format!("{s:?}"), "is not an IP address"))
}

fn str_at<'a>(v: &'a Value, path: &str, key: &str) -> Result<&'a str, FieldError> {
    let at = format!("{path}{key}");
    fields::as_opt_str(v.get(key), &at, PROBE)?
        .ok_or_else(|| FieldError::missing(PROBE, &at, "a string"))
}

fn results<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], NormalizeError> {
    match v.get("results") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("`{path}.results` must be a list").into()),
    }
}

/// Every measurement of the result. `ranges` reads a `[[lo, hi], …]` field of an object.
pub fn observations(
    v: &Value,
    address: IpAddr,
    ranges: impl Fn(&Value, &str) -> Result<Vec<(u16, u16)>, NormalizeError>,
) -> Result<Vec<Observation>, NormalizeError> {
    let mut out = Vec::new();
    let mut push = |proto, lo: u32, hi: u32, address, verdict: &str, leaves, what: &str| {
        out.push(Observation {
            proto,
            lo,
            hi,
            address,
            verdict: verdict.to_string(),
            leaves,
            what: what.to_string(),
        })
    };
    if let Some(tcp) = v.get("tcp").filter(|t| t.is_object()) {
        for (f, leaves) in [
            ("open", true),
            ("closed", false),
            ("filtered", false),
            ("intercepted", false),
        ] {
            for (lo, hi) in ranges(tcp, &format!("tcp.{f}"))? {
                push(TCP, lo as u32, hi as u32, address, f, leaves, "tcp sweep");
            }
        }
    }
    if let Some(udp) = v.get("udp").filter(|t| t.is_object()) {
        for (f, leaves) in [
            ("echoed", true),
            ("answered", true),
            ("rejected", false),
            ("blocked", false),
            ("silent", false),
        ] {
            for (lo, hi) in ranges(udp, &format!("udp.{f}"))? {
                push(UDP, lo as u32, hi as u32, address, f, leaves, "udp sweep");
            }
        }
    }
    if let Some(icmp) = v.get("icmp").filter(|t| !t.is_null()) {
        for (i, r) in results(icmp, "icmp")?.iter().enumerate() {
            let path = format!("icmp.results[{i}].");
            let verdict = str_at(r, &path, "verdict")?;
            let leaves = match verdict {
                "reply" => true,
                "no-reply" | "blocked" | "unreachable" => false,
                _ => continue,
            };
            let a = ip(str_at(r, &path, "address")?, &format!("{path}address"))?;
            let (proto, ty) = if a.is_ipv4() {
                (ICMP, 8)
            } else {
                (ICMPV6, 128)
            };
            push(
                proto,
                ty * 256,
                ty * 256 + 255,
                a,
                verdict,
                leaves,
                "icmp echo",
            );
        }
    }
    if let Some(dns) = v.get("dns").filter(|t| !t.is_null()) {
        for (i, r) in results(dns, "dns")?.iter().enumerate() {
            let path = format!("dns.results[{i}].");
            let verdict = str_at(r, &path, "verdict")?;
            let transport = str_at(r, &path, "transport")?;
            let (proto, port, what) = match transport {
                "udp" => (UDP, 53, "dns udp"),
                "tcp" => (TCP, 53, "dns tcp"),
                "tls" => (TCP, 853, "dot"),
                _ => continue,
            };
            let leaves = match verdict {
                "answered" => true,
                "connected" if transport == "tls" => true,
                "no-answer" | "refused" | "blocked" => false,
                _ => continue,
            };
            let a = ip(str_at(r, &path, "server")?, &format!("{path}server"))?;
            push(proto, port, port, a, verdict, leaves, what);
        }
    }
    if let Some(doh) = v.get("doh").filter(|t| !t.is_null()) {
        for (i, r) in results(doh, "doh")?.iter().enumerate() {
            let path = format!("doh.results[{i}].");
            let verdict = str_at(r, &path, "verdict")?;
            let leaves = match verdict {
                "answered" => true,
                "connected" | "no-answer" | "refused" | "blocked" => false,
                _ => continue,
            };
            let a = ip(str_at(r, &path, "address")?, &format!("{path}address"))?;
            let what = format!("doh {}", str_at(r, &path, "resolver")?);
            push(TCP, 443, 443, a, verdict, leaves, &what);
        }
    }
    Ok(out)
}
