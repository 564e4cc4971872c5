//! The values of `nft -j` JSON: address and port elements, service and icmp type names, and a
//! short nft-like text of any value for warnings and evidence.

use crate::model::space::{addr, parse_addrs, AddrSet, PortSet};
use serde_json::Value;

pub(super) fn addr_elem(v: &Value) -> Option<AddrSet> {
    match v {
        Value::String(s) if s.contains('.') || s.contains(':') => parse_addrs(s).ok(),
        Value::Object(o) => {
            if let Some(p) = o.get("prefix") {
                let a = p.get("addr")?.as_str()?;
                let len = p.get("len")?.as_u64()?;
                parse_addrs(&format!("{a}/{len}")).ok()
            } else if let Some(r) = o.get("range").and_then(Value::as_array) {
                let lo: std::net::IpAddr = r.first()?.as_str()?.parse().ok()?;
                let hi: std::net::IpAddr = r.get(1)?.as_str()?.parse().ok()?;
                (lo.is_ipv4() == hi.is_ipv4()).then(|| AddrSet::range(addr(lo), addr(hi)))
            } else {
                None
            }
        }
        _ => None,
    }
}

pub(super) fn port_elem(v: &Value) -> Option<PortSet> {
    match v {
        Value::Number(n) => {
            let p = n.as_u64().filter(|p| *p <= 65535)? as u32;
            Some(PortSet::single(p))
        }
        Value::Object(o) => {
            let r = o.get("range")?.as_array()?;
            let lo = r.first()?.as_u64().filter(|p| *p <= 65535)? as u32;
            let hi = r.get(1)?.as_u64().filter(|p| *p <= 65535)? as u32;
            (lo <= hi).then(|| PortSet::range(lo, hi))
        }
        Value::String(name) => service_port(name).map(PortSet::single),
        _ => None,
    }
}

/// The few service names `nft -j` may print instead of numbers (`nft -S`).
fn service_port(name: &str) -> Option<u32> {
    Some(match name {
        "ftp-data" => 20,
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" => 80,
        "https" => 443,
        "microsoft-ds" => 445,
        "domain-s" => 853,
        _ => return None,
    })
}

pub(super) fn icmp_type(w: &str) -> Option<u32> {
    Some(match w {
        "echo-reply" => 0,
        "destination-unreachable" => 3,
        "source-quench" => 4,
        "redirect" => 5,
        "echo-request" => 8,
        "router-advertisement" => 9,
        "router-solicitation" => 10,
        "time-exceeded" => 11,
        "parameter-problem" => 12,
        "timestamp-request" => 13,
        "timestamp-reply" => 14,
        "info-request" => 15,
        "info-reply" => 16,
        "address-mask-request" => 17,
        "address-mask-reply" => 18,
        n => n.parse().ok().filter(|t| *t <= 255)?,
    })
}

pub(super) fn icmpv6_type(w: &str) -> Option<u32> {
    Some(match w {
        "destination-unreachable" => 1,
        "packet-too-big" => 2,
        "time-exceeded" => 3,
        "parameter-problem" => 4,
        "echo-request" => 128,
        "echo-reply" => 129,
        "mld-listener-query" => 130,
        "mld-listener-report" => 131,
        "mld-listener-done" | "mld-listener-reduction" => 132,
        "nd-router-solicit" => 133,
        "nd-router-advert" => 134,
        "nd-neighbor-solicit" => 135,
        "nd-neighbor-advert" => 136,
        "nd-redirect" => 137,
        "mld2-listener-report" => 143,
        n => n.parse().ok().filter(|t| *t <= 255)?,
    })
}

pub(super) fn words(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(words).collect(),
        Value::Object(o) if o.contains_key("set") => words(&o["set"]),
        _ => Vec::new(),
    }
}

pub(super) fn neg_text(neg: bool, s: String) -> String {
    if neg {
        format!("!= {s}")
    } else {
        s
    }
}

pub(super) fn describe_left(left: &Value) -> String {
    if let Some(p) = left.get("payload") {
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("?");
        let field = p.get("field").and_then(Value::as_str).unwrap_or("?");
        return format!("{proto} {field}");
    }
    for k in ["meta", "ct"] {
        if let Some(m) = left.get(k) {
            return format!(
                "{k} {}",
                m.get("key").and_then(Value::as_str).unwrap_or("?")
            );
        }
    }
    compact(left)
}

/// A short nft-like text of a JSON value: `{ 80, 443 }`, `10.0.0.0/8`, `@blocked`.
pub(super) fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(compact).collect::<Vec<_>>().join(","),
        Value::Object(o) => {
            if let Some(set) = o.get("set") {
                format!("{{ {} }}", compact(set).replace(',', ", "))
            } else if let Some(p) = o.get("prefix") {
                format!(
                    "{}/{}",
                    p.get("addr").map(compact).unwrap_or_default(),
                    p.get("len").map(compact).unwrap_or_default()
                )
            } else if let Some(r) = o.get("range").and_then(Value::as_array) {
                r.iter().map(compact).collect::<Vec<_>>().join("-")
            } else if let Some(e) = o.get("elem").and_then(|e| e.get("val")) {
                compact(e)
            } else {
                v.to_string()
            }
        }
        other => other.to_string(),
    }
}
