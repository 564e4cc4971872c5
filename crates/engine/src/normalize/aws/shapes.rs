//! Small readers for the AWS CLI's JSON with errors that name the object and the field.
//!
//! Missing optional fields read as absent; a field of the wrong type is an error, because a
//! silently skipped permission would make the scan look cleaner than the account is.

use crate::model::space::{
    all_v4, parse_addrs, parse_proto_named, ICMP, ICMPV6, PORT_MAX, TCP, UDP,
};
use crate::model::{AddrSet, PortSet};
use serde_json::Value;
use std::collections::BTreeMap;

/// `field` as a list; absent or null reads as empty.
pub fn list<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a [Value], String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(format!(
            "{what}: `{field}` is not a list (found {})",
            type_name(other)
        )),
    }
}

pub fn opt_str<'a>(obj: &'a Value, field: &str, what: &str) -> Result<Option<&'a str>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "{what}: `{field}` is not a string (found {})",
            type_name(other)
        )),
    }
}

pub fn req<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a str, String> {
    opt_str(obj, field, what)?.ok_or_else(|| format!("{what} has no string field `{field}`"))
}

pub fn opt_bool(obj: &Value, field: &str, what: &str) -> Result<Option<bool>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!(
            "{what}: `{field}` is not true or false (found {})",
            type_name(other)
        )),
    }
}

/// An integer written as a JSON number or a numeric string (`"FromPort": 443` or `"443"`).
pub fn opt_int(obj: &Value, field: &str, what: &str) -> Result<Option<i64>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{what}: `{field}` {n} is not a whole number")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{what}: `{field}` {s:?} is not a number")),
        Some(other) => Err(format!(
            "{what}: `{field}` is not a number (found {})",
            type_name(other)
        )),
    }
}

/// A CIDR field of one address family (`CidrIp` is IPv4, `CidrIpv6` IPv6): the text and its
/// addresses, or None when the field is absent.
pub fn opt_cidr(
    obj: &Value,
    field: &str,
    ipv6: bool,
    what: &str,
) -> Result<Option<(String, AddrSet)>, String> {
    let Some(text) = opt_str(obj, field, what)? else {
        return Ok(None);
    };
    let set = parse_addrs(text).map_err(|e| format!("{what}: `{field}` {e}"))?;
    if set.is_subset(&all_v4()) == ipv6 {
        let family = if ipv6 { "IPv6" } else { "IPv4" };
        return Err(format!(
            "{what}: `{field}` {text:?} is not an {family} CIDR block"
        ));
    }
    Ok(Some((text.to_string(), set)))
}

/// Like `opt_cidr`, for a field that must be there.
pub fn req_cidr(
    obj: &Value,
    field: &str,
    ipv6: bool,
    what: &str,
) -> Result<(String, AddrSet), String> {
    opt_cidr(obj, field, ipv6, what)?.ok_or_else(|| format!("{what} has no string field `{field}`"))
}

/// The first of several string fields that is present (route targets, group references).
pub fn first_str<'a>(
    obj: &'a Value,
    fields: &[&str],
    what: &str,
) -> Result<Option<&'a str>, String> {
    for f in fields {
        if let Some(s) = opt_str(obj, f, what)? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// `[{"Key": k, "Value": v}]` → map.
pub fn tags(obj: &Value, field: &str, what: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, t) in list(obj, field, what)?.iter().enumerate() {
        let w = format!("{what}: {field}[{i}]");
        let k = req(t, "Key", &w)?;
        let v = opt_str(t, "Value", &w)?.unwrap_or("");
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The region of an availability zone: `us-east-1a` → `us-east-1`, `us-west-2-lax-1a` → `us-west-2`,
/// `us-gov-west-1b` → `us-gov-west-1`.
pub fn region_of_az(az: &str) -> Option<String> {
    let parts: Vec<&str> = az.split('-').collect();
    let i = parts
        .iter()
        .position(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter(|i| *i > 0)?;
    let num: String = parts[i]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let mut region = parts[..i].join("-");
    region.push('-');
    region.push_str(&num);
    Some(region)
}

/// A protocol and its port (or icmp type/code) restriction, with how to show them.
#[derive(Clone, Debug)]
pub struct ProtoPorts {
    /// None = every protocol.
    pub proto: Option<u8>,
    /// None = every port / type.
    pub ports: Option<PortSet>,
    pub proto_text: String,
    pub ports_text: String,
}

pub fn parse_protocol(raw: &Value, field: &str, what: &str) -> Result<Option<u8>, String> {
    let text = match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "{what}: `{field}` is not a protocol (found {})",
                type_name(other)
            ))
        }
    };
    // `-1` is AWS's "all"; names other providers use for "all" (`all`, `*`) are not AWS's.
    parse_proto_named(
        &text,
        &[
            "-1", "tcp", "udp", "icmp", "icmpv6", "esp", "ah", "gre", "sctp", "ipip",
        ],
    )
    .map_err(|e| format!("{what}: `{field}` {e}"))
}

/// Builds the port restriction from AWS's pair of numbers: `FromPort`/`ToPort` for tcp/udp (`-1`
/// or absent = all), and for icmp/icmpv6 the type and code (`-1` = any).
pub fn proto_ports(
    proto: Option<u8>,
    from: Option<i64>,
    to: Option<i64>,
    names: (&str, &str),
    what: &str,
) -> Result<ProtoPorts, String> {
    let proto_text = match proto {
        None => "all".to_string(),
        Some(p) => crate::model::space::proto_name(p as u32),
    };
    let all = |proto_text| ProtoPorts {
        proto,
        ports: None,
        proto_text,
        ports_text: "all".into(),
    };
    // AWS always prints both ends (or neither); one alone is a damaged export, and reading it as
    // a single port (or any icmp code) would hide the rest of the range.
    match (from, to) {
        (Some(_), None) => {
            return Err(format!(
                "{what}: `{}` is set but `{}` is missing",
                names.0, names.1
            ))
        }
        (None, Some(_)) => {
            return Err(format!(
                "{what}: `{}` is set but `{}` is missing",
                names.1, names.0
            ))
        }
        _ => {}
    }
    for (v, name) in [(from, names.0), (to, names.1)] {
        if let Some(v) = v.filter(|v| !(-1..=PORT_MAX as i64).contains(v)) {
            return Err(format!(
                "{what}: `{name}` {v} is not -1 (all) or a port or icmp value"
            ));
        }
    }
    match proto {
        Some(TCP) | Some(UDP) => {
            let (lo, hi) = match (from, to) {
                (Some(f), Some(t)) if f != -1 || t != -1 => (f, t),
                _ => return Ok(all(proto_text)),
            };
            for (v, name) in [(lo, names.0), (hi, names.1)] {
                if !(0..=PORT_MAX as i64).contains(&v) {
                    return Err(format!("{what}: `{name}` {v} is not a port 0–65535"));
                }
            }
            if lo > hi {
                return Err(format!(
                    "{what}: port range {lo}-{hi} (`{}`-`{}`) runs backwards",
                    names.0, names.1
                ));
            }
            let ports_text = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            };
            Ok(ProtoPorts {
                proto,
                ports: Some(PortSet::range(lo as u32, hi as u32)),
                proto_text,
                ports_text,
            })
        }
        Some(ICMP) | Some(ICMPV6) => {
            let check = |v: Option<i64>, name: &str| -> Result<Option<u8>, String> {
                match v {
                    None | Some(-1) => Ok(None),
                    Some(x) if (0..=255).contains(&x) => Ok(Some(x as u8)),
                    Some(x) => Err(format!("{what}: `{name}` {x} is not an icmp value 0–255")),
                }
            };
            let icmp_type = check(from, names.0)?;
            let code = check(to, names.1)?;
            match icmp_type {
                None => Ok(all(proto_text)),
                Some(t) => Ok(ProtoPorts {
                    proto,
                    ports: Some(PortSet::icmp(t, code)),
                    proto_text,
                    ports_text: match code {
                        Some(c) => format!("type {t} code {c}"),
                        None => format!("type {t}"),
                    },
                }),
            }
        }
        // Every other protocol (all, esp, gre, numbers) has no ports: AWS ignores the pair.
        _ => Ok(all(proto_text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_zones() {
        assert_eq!(region_of_az("us-east-1a").as_deref(), Some("us-east-1"));
        assert_eq!(
            region_of_az("us-west-2-lax-1a").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            region_of_az("us-gov-west-1b").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(region_of_az("nowhere"), None);
        assert_eq!(region_of_az("1a"), None);
    }
}
