//! The egress classes that reconciliation and the consistency matrix speak of: SMB, telnet, FTP,
//! DNS, encrypted DNS, ICMP echo, all of tcp, and default deny, each as public traffic (§1, §3).

use super::query::measure;
use super::spec::parse_spec;
use crate::model::space::{public4, public6, PortSet, ProtoSet, ICMP, ICMPV6, TCP, UDP};
use crate::model::{AddrSet, TrafficSet};
use std::net::IpAddr;
use std::sync::OnceLock;

/// EG008's DoH resolvers (a unit test keeps the two lists equal).
pub const DOH_SPEC: &str = "tcp/443 to 1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4, 9.9.9.9, 149.112.112.112, \
208.67.222.222, 208.67.220.220, 94.140.14.14, 94.140.15.15, 2606:4700:4700::1111, 2606:4700:4700::1001, \
2001:4860:4860::8888, 2001:4860:4860::8844, 2620:fe::fe, 2620:fe::9";

/// How a class is judged on a target's allowed traffic.
#[derive(Clone, Debug)]
pub enum Test {
    /// Any of this traffic is allowed.
    Any(TrafficSet),
    /// At least half of this plane, to public IPv4 or to public IPv6, is allowed (EG001, EG005).
    Half(TrafficSet),
}

#[derive(Clone, Debug)]
pub struct Class {
    /// `tcp/445`, `tcp/23`, `tcp/20-21`, `dns`, `dot-doh`, `icmp-echo`, `all-tcp`, `default-deny`.
    pub id: &'static str,
    pub title: &'static str,
    pub test: Test,
    /// `default-deny` is "open" when the posture lacks it; a probe cannot measure it.
    pub inverted: bool,
}

fn spec(texts: &[&str]) -> TrafficSet {
    texts.iter().fold(TrafficSet::empty(), |acc, t| {
        acc.union(&parse_spec(t).expect("built-in class specs parse").traffic)
    })
}

pub fn classes() -> &'static [Class] {
    static CLASSES: OnceLock<Vec<Class>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let any = |id, title, texts: &[&str]| Class {
            id,
            title,
            test: Test::Any(spec(texts)),
            inverted: false,
        };
        vec![
            any("tcp/445", "SMB", &["tcp/445"]),
            any("tcp/23", "telnet", &["tcp/23"]),
            any("tcp/20-21", "FTP", &["tcp/20-21"]),
            any("dns", "DNS", &["udp/53", "tcp/53"]),
            any("dot-doh", "DNS over TLS / HTTPS", &["tcp/853", DOH_SPEC]),
            any(
                "icmp-echo",
                "ICMP echo",
                &["icmp/8 to public4", "icmpv6/128 to public6"],
            ),
            Class {
                id: "all-tcp",
                title: "all of tcp",
                test: Test::Half(spec(&["tcp"])),
                inverted: false,
            },
            Class {
                id: "default-deny",
                title: "default deny",
                test: Test::Half(spec(&["253"])),
                inverted: true,
            },
        ]
    })
}

impl Class {
    /// Whether `allowed` lets this class out ("open"; for `default-deny`: the deny is missing).
    pub fn open(&self, allowed: &TrafficSet) -> bool {
        match &self.test {
            Test::Any(t) => allowed.intersects(t),
            Test::Half(plane) => [public4(), public6()].iter().any(|fam| {
                let whole = measure(plane, fam);
                whole > 0.0 && measure(&allowed.intersect(plane), fam) / whole >= 0.5
            }),
        }
    }
}

fn doh() -> &'static AddrSet {
    static DOH: OnceLock<AddrSet> = OnceLock::new();
    DOH.get_or_init(|| {
        parse_spec(DOH_SPEC)
            .expect("DoH spec parses")
            .traffic
            .pieces()
            .fold(AddrSet::empty(), |acc, (_, _, a)| acc.union(a))
    })
}

/// The class of one measured packet, by protocol and port (and, for tcp/443, the resolver):
/// a class id above, or `tcp`, `udp`, `other`.
pub fn class_of(proto: u8, port: u32, address: IpAddr) -> &'static str {
    match (proto, port) {
        (TCP, 445) => "tcp/445",
        (TCP, 23) => "tcp/23",
        (TCP, 20..=21) => "tcp/20-21",
        (TCP | UDP, 53) => "dns",
        (TCP, 853) => "dot-doh",
        (TCP, 443) if doh().contains(crate::model::space::addr(address)) => "dot-doh",
        (ICMP, p) if p / 256 == 8 => "icmp-echo",
        (ICMPV6, p) if p / 256 == 128 => "icmp-echo",
        (TCP, _) => "tcp",
        (UDP, _) => "udp",
        _ => "other",
    }
}

/// Splits `lo..=hi` of `proto` into runs of one class each.
pub fn split_by_class(
    proto: u8,
    lo: u32,
    hi: u32,
    address: IpAddr,
) -> Vec<(u32, u32, &'static str)> {
    let mut out: Vec<(u32, u32, &'static str)> = Vec::new();
    // Class borders only fall at these ports: walk from border to border, not port by port.
    let borders: &[u32] = match proto {
        TCP => &[20, 22, 23, 24, 53, 54, 443, 444, 445, 446, 853, 854],
        UDP => &[53, 54],
        _ => &[],
    };
    let mut start = lo;
    while start <= hi {
        let next = borders
            .iter()
            .copied()
            .find(|b| *b > start)
            .unwrap_or(u32::MAX);
        let end = hi.min(next.saturating_sub(1));
        let class = class_of(proto, start, address);
        match out.last_mut() {
            Some(last) if last.2 == class && last.1 + 1 == start => last.1 = end,
            _ => out.push((start, end, class)),
        }
        if end == u32::MAX {
            break;
        }
        start = end + 1;
    }
    out
}

/// The ports (or icmp type×256+code) of `proto` to `address` that `allowed` lets out, within
/// `lo..=hi`.
pub fn allowed_ports(
    allowed: &TrafficSet,
    proto: u8,
    lo: u32,
    hi: u32,
    address: IpAddr,
) -> PortSet {
    let probe = TrafficSet::product(
        &ProtoSet::single(proto as u32),
        &PortSet::range(lo, hi),
        &AddrSet::single(crate::model::space::addr(address)),
    );
    allowed
        .intersect(&probe)
        .pieces()
        .fold(PortSet::empty(), |acc, (_, (a, b), _)| {
            acc.union(&PortSet::range(a, b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doh_list_is_eg008s() {
        let catalog = crate::checks::Catalog::load(&[]).unwrap();
        let eg008 = catalog.get("EG008").unwrap();
        assert!(
            eg008.query.traffic.iter().any(|t| t.ends_with(DOH_SPEC)),
            "EG008's DoH list changed: update classes::DOH_SPEC"
        );
    }

    #[test]
    fn ranges_split_at_class_borders() {
        let a: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            split_by_class(TCP, 1, 500, a),
            vec![
                (1, 19, "tcp"),
                (20, 21, "tcp/20-21"),
                (22, 22, "tcp"),
                (23, 23, "tcp/23"),
                (24, 52, "tcp"),
                (53, 53, "dns"),
                (54, 444, "tcp"),
                (445, 445, "tcp/445"),
                (446, 500, "tcp"),
            ]
        );
        let google: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(
            split_by_class(TCP, 443, 443, google),
            vec![(443, 443, "dot-doh")]
        );
        assert_eq!(
            split_by_class(UDP, 50, 60, a),
            vec![(50, 52, "udp"), (53, 53, "dns"), (54, 60, "udp")]
        );
    }
}
