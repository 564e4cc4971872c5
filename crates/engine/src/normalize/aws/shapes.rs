//! AWS value shapes the shared readers do not know: `[{"Key", "Value"}]` tags, zone names, and
//! a protocol with its `FromPort`/`ToPort` pair.

use crate::model::space::{parse_proto_named, proto_name, ICMP, ICMPV6, PORT_MAX, TCP, UDP};
use crate::model::{PortSet, Text};
use crate::normalize::fields::{list, opt_str, req_str, FieldError};
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// `[{"Key": k, "Value": v}]` → map.
pub fn tags(obj: &Value, field: &str, what: &str) -> Result<BTreeMap<String, String>, FieldError> {
    let mut out = BTreeMap::new();
    for (i, t) in list(obj, field, what)?.iter().enumerate() {
        let w = format!("{what}: {field}[{i}]");
        let k = req_str(t, "Key", &w)?;
        let v = opt_str(t, "Value", &w)?.unwrap_or("");
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
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
    /// Shared: a whole estate has a handful of protocol names.
    pub proto_text: Text,
    pub ports_text: Text,
}

/// `all`, `tcp`, `47`: one `Text` per protocol (per thread), not one string per permission.
fn proto_text(proto: Option<u8>) -> Text {
    thread_local! {
        static MADE: RefCell<BTreeMap<Option<u8>, Text>> = const { RefCell::new(BTreeMap::new()) };
    }
    MADE.with(|made| {
        made.borrow_mut()
            .entry(proto)
            .or_insert_with(|| match proto {
                None => "all".into(),
                Some(p) => proto_name(p as u32).into(),
            })
            .clone()
    })
}

pub fn parse_protocol(raw: &Value, field: &str, what: &str) -> Result<Option<u8>, FieldError> {
    let text = match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(FieldError::wrong_type(
                what,
                field,
                "a protocol name or number",
                other,
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
    .map_err(|e| FieldError::invalid(what, field, format!("{text:?}"), e))
}

/// Builds the port restriction from AWS's pair of numbers: `FromPort`/`ToPort` for tcp/udp (`-1`
/// or absent = all), and for icmp/icmpv6 the type and code (`-1` = any).
pub fn proto_ports(
    proto: Option<u8>,
    from: Option<i64>,
    to: Option<i64>,
    names: (&str, &str),
    what: &str,
) -> Result<ProtoPorts, NormalizeError> {
    let proto_text = proto_text(proto);
    let all = |proto_text| ProtoPorts {
        proto,
        ports: None,
        proto_text,
        ports_text: Text::constant("all"),
    };
    // AWS always prints both ends (or neither); one alone is a damaged export, and reading it as
    // a single port (or any icmp code) would hide the rest of the range.
    match (from, to) {
        (Some(_), None) => {
            return Err(format!("{what}: `{}` is set but `{}` is missing", names.0, names.1).into())
        }
        (None, Some(_)) => {
            return Err(format!("{what}: `{}` is set but `{}` is missing", names.1, names.0).into())
        }
        _ => {}
    }
    for (v, name) in [(from, names.0), (to, names.1)] {
        if let Some(v) = v.filter(|v| !(-1..=PORT_MAX as i64).contains(v)) {
            let range = "-1 (all) and the ports or icmp values 0–65535";
            return Err(FieldError::out_of_range(what, name, v, range).into());
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
                    let e = FieldError::out_of_range(what, name, v, "the ports 0–65535");
                    return Err(e.into());
                }
            }
            if lo > hi {
                return Err(format!(
                    "{what}: port range {lo}-{hi} (`{}`-`{}`) runs backwards",
                    names.0, names.1
                )
                .into());
            }
            let ports_text = if lo == hi {
                Text::interned(&lo.to_string())
            } else {
                Text::interned(&format!("{lo}-{hi}"))
            };
            Ok(ProtoPorts {
                proto,
                ports: Some(PortSet::range(lo as u32, hi as u32)),
                proto_text,
                ports_text,
            })
        }
        Some(ICMP) | Some(ICMPV6) => {
            let check = |v: Option<i64>, name: &str| -> Result<Option<u8>, FieldError> {
                match v {
                    None | Some(-1) => Ok(None),
                    Some(x) if (0..=255).contains(&x) => Ok(Some(x as u8)),
                    Some(x) => Err(FieldError::out_of_range(
                        what,
                        name,
                        x,
                        "the icmp values 0–255",
                    )),
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
                        Some(c) => format!("type {t} code {c}").into(),
                        None => format!("type {t}").into(),
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
