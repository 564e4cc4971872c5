//! Traffic specs in rule files and config: `tcp/445`, `tcp/20-21`, `udp`, `icmp/8`, `icmp/3:4`,
//! `253`, `all`, each optionally followed by ` to DEST[,DEST…]` where DEST is a CIDR, an address,
//! `public`, `public4`, `public6` or `any`. Destinations default to `public`. `NAME = SPEC` names a
//! spec for messages (`DoH resolvers = tcp/443 to 1.1.1.1, 8.8.8.8`).

use crate::model::space::{parse_addrs, parse_proto, public, public4, public6, ICMP, ICMPV6};
use crate::model::{AddrSet, PortSet, TrafficSet};

#[derive(Clone, Debug)]
pub struct Spec {
    /// As written, for messages.
    pub text: String,
    /// The traffic, always limited to public addresses.
    pub traffic: TrafficSet,
}

pub fn parse_spec(text: &str) -> Result<Spec, String> {
    // `DoH resolvers = tcp/443 to 1.1.1.1, …`: a name for messages.
    if let Some((name, spec)) = text.split_once(" = ") {
        let mut s = parse_spec(spec)?;
        s.text = format!(
            "{} ({})",
            name.trim(),
            s.text.split(" to ").next().unwrap_or("")
        );
        return Ok(s);
    }
    let t = text.trim();
    let (what, dest) = match t.split_once(" to ") {
        Some((w, d)) => (w.trim(), Some(d.trim())),
        None => (t, None),
    };
    let (proto, ports) = match what.split_once('/') {
        Some((p, ports)) => (p, Some(ports)),
        None => (what, None),
    };
    let proto = parse_proto(proto).map_err(|e| format!("traffic {text:?}: {e}"))?;
    let ports = match (proto, ports) {
        (_, None) => None,
        (Some(p), Some(s)) if p == ICMP || p == ICMPV6 => {
            Some(parse_icmp(s).map_err(|e| format!("traffic {text:?}: {e}"))?)
        }
        (_, Some(s)) => {
            Some(PortSet::parse_ports(s).map_err(|e| format!("traffic {text:?}: {e}"))?)
        }
    };
    let addrs = match dest {
        None => public().clone(),
        Some(d) => parse_dests(d).map_err(|e| format!("traffic {text:?}: {e}"))?,
    };
    Ok(Spec {
        text: t.to_string(),
        traffic: TrafficSet::rule(proto, ports.as_ref(), &addrs),
    })
}

/// `8` (type 8, any code) or `3:4` (type 3 code 4), comma-separated.
fn parse_icmp(s: &str) -> Result<PortSet, String> {
    let mut set = PortSet::empty();
    for part in s.split(',') {
        let part = part.trim();
        let (ty, code) = match part.split_once(':') {
            Some((t, c)) => (t, Some(c)),
            None => (part, None),
        };
        let ty: u8 = ty
            .parse()
            .map_err(|_| format!("{part:?} is not an ICMP type"))?;
        let code = code
            .map(|c| {
                c.parse::<u8>()
                    .map_err(|_| format!("{part:?} is not an ICMP code"))
            })
            .transpose()?;
        set = set.union(&PortSet::icmp(ty, code));
    }
    Ok(set)
}

/// Destinations, always limited to public addresses.
pub fn parse_dests(s: &str) -> Result<AddrSet, String> {
    let mut set = AddrSet::empty();
    for d in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let part = match d.to_ascii_lowercase().as_str() {
            "public" | "any" | "*" => public().clone(),
            "public4" => public4().clone(),
            "public6" => public6().clone(),
            _ => parse_addrs(d)?,
        };
        set = set.union(&part);
    }
    Ok(set.intersect(public()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::space::{v4, v6, TCP};

    #[test]
    fn specs() {
        let s = parse_spec("tcp/443 to 1.1.1.1, 2606:4700:4700::1111").unwrap();
        assert!(s.traffic.contains(TCP, 443, v4("1.1.1.1".parse().unwrap())));
        assert!(s
            .traffic
            .contains(TCP, 443, v6("2606:4700:4700::1111".parse().unwrap())));
        assert!(!s.traffic.contains(TCP, 443, v4("1.1.1.2".parse().unwrap())));
        let icmp = parse_spec("icmp/8 to public4").unwrap();
        assert!(icmp
            .traffic
            .contains(ICMP, 8 * 256 + 3, v4("8.8.8.8".parse().unwrap())));
        assert!(!icmp
            .traffic
            .contains(ICMP, 0, v4("8.8.8.8".parse().unwrap())));
        // Private destinations are never part of a check's traffic.
        assert!(parse_spec("tcp/22 to 10.0.0.0/8")
            .unwrap()
            .traffic
            .is_empty());
        assert!(parse_spec("tcpp/22").is_err());
        assert!(parse_spec("tcp/99999").is_err());
    }
}
