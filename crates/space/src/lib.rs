//! The traffic space `protocol × port × address` and exact set algebra over it.
//!
//! Every set is canonical (sorted, disjoint, adjacent equal pieces merged), so two sets are equal
//! exactly when they hold the same packets: `0.0.0.0/1 ∪ 128.0.0.0/1 == 0.0.0.0/0`.
//!
//! Addresses live in one 128-bit axis: IPv6 as itself, IPv4 as its IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`). An IPv6 prefix such as `::/0` is parsed *without* the mapped block, so an
//! IPv6 rule never matches IPv4 traffic.
//!
//! Ports: 0–65535 for tcp, udp and sctp. For icmp and icmpv6 the port axis holds `type * 256 + code`.
//! Other protocols have no ports: their port axis is always the full range.

mod addr;
mod ranges;

pub use addr::*;
pub use ranges::*;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;
/// Protocols whose rules name ports.
pub const PORTED: [u8; 3] = [TCP, UDP, SCTP];
pub const PORT_MAX: u32 = 65535;

/// A set of packets: protocol → port → destination addresses.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct TrafficSet(Piecewise<Piecewise<AddrSet>>);

impl TrafficSet {
    pub fn empty() -> Self {
        Self::default()
    }
    /// Every protocol, port and address.
    pub fn everything() -> Self {
        Self::product(
            &ProtoSet::range(0, 255),
            &PortSet::full_ports(),
            &AddrSet::full(),
        )
    }
    /// `protocols × ports × addresses`, taken literally (no protocol-dependent port handling).
    pub fn product(protos: &ProtoSet, ports: &PortSet, addrs: &AddrSet) -> Self {
        let protos = protos.intersect(&ProtoSet::range(0, 255));
        let ports = ports.intersect(&PortSet::full_ports());
        TrafficSet(Piecewise::product(
            &protos,
            Piecewise::product(&ports, addrs.clone()),
        ))
    }
    /// The traffic a firewall rule matches, with each provider's protocol/port conventions:
    /// - `proto = None` means every protocol. With a port restriction, only the ported protocols
    ///   (tcp, udp, sctp) can match; without one, everything matches.
    /// - `ports = None` means every port (or, for icmp, every type and code).
    /// - For protocols without ports the restriction is ignored.
    pub fn rule(proto: Option<u8>, ports: Option<&PortSet>, addrs: &AddrSet) -> Self {
        let all_ports = PortSet::full_ports();
        let ports = ports.filter(|p| **p != all_ports);
        match (proto, ports) {
            (None, None) => Self::product(&ProtoSet::range(0, 255), &all_ports, addrs),
            (None, Some(p)) => {
                let protos =
                    ProtoSet::from_ranges(PORTED.iter().map(|&x| (x as u32, x as u32)).collect());
                Self::product(&protos, p, addrs)
            }
            (Some(x), p) => {
                let has_ports = PORTED.contains(&x) || x == ICMP || x == ICMPV6;
                let p = if has_ports {
                    p.unwrap_or(&all_ports)
                } else {
                    &all_ports
                };
                Self::product(&ProtoSet::single(x as u32), p, addrs)
            }
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty_set()
    }
    pub fn union(&self, o: &Self) -> Self {
        TrafficSet(self.0.union_set(&o.0))
    }
    pub fn intersect(&self, o: &Self) -> Self {
        // The first layer of every chain sees everything: skip the merge.
        if o.is_everything() {
            return self.clone();
        }
        if self.is_everything() {
            return o.clone();
        }
        TrafficSet(self.0.intersect_set(&o.0))
    }
    /// Every protocol, port and address (cheap: one piece to look at).
    pub fn is_everything(&self) -> bool {
        match self.0.segments() {
            [(0, 255, ports)] => match ports.segments() {
                [(0, PORT_MAX, addrs)] => addrs.ranges() == [(0, u128::MAX)],
                _ => false,
            },
            _ => false,
        }
    }
    pub fn difference(&self, o: &Self) -> Self {
        TrafficSet(self.0.difference_set(&o.0))
    }
    pub fn is_subset(&self, o: &Self) -> bool {
        self.0.is_subset_set(&o.0)
    }
    pub fn intersects(&self, o: &Self) -> bool {
        self.0.intersects_set(&o.0)
    }
    /// Restricts the destination addresses, keeping protocols and ports.
    pub fn restrict_addrs(&self, addrs: &AddrSet) -> Self {
        self.intersect(&Self::product(
            &ProtoSet::range(0, 255),
            &PortSet::full_ports(),
            addrs,
        ))
    }
    pub fn contains(&self, proto: u8, port: u32, addr: u128) -> bool {
        self.0
            .get(proto as u32)
            .and_then(|p| p.get(port))
            .is_some_and(|a| a.contains(addr))
    }
    /// The port → addresses map of one protocol.
    pub fn ports_of(&self, proto: u8) -> Option<&Piecewise<AddrSet>> {
        self.0.get(proto as u32)
    }
    /// Iterates over `(protocols lo..=hi, ports lo..=hi, addresses)` pieces.
    pub fn pieces(&self) -> impl Iterator<Item = ((u32, u32), (u32, u32), &AddrSet)> {
        self.0.segments().iter().flat_map(|(plo, phi, ports)| {
            ports
                .segments()
                .iter()
                .map(move |(lo, hi, a)| ((*plo, *phi), (*lo, *hi), a))
        })
    }
}

impl PortSet {
    pub fn full_ports() -> Self {
        Self::range(0, PORT_MAX)
    }
    /// ICMP type (and optionally code) on the port axis.
    pub fn icmp(icmp_type: u8, code: Option<u8>) -> Self {
        let base = icmp_type as u32 * 256;
        match code {
            Some(c) => Self::single(base + c as u32),
            None => Self::range(base, base + 255),
        }
    }
    /// Parses `80`, `1024-65535`, `20-21,443`, `*`; bounds are checked.
    pub fn parse_ports(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "*" || s.eq_ignore_ascii_case("any") || s.eq_ignore_ascii_case("all") {
            return Ok(Self::full_ports());
        }
        let mut v = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (parse_port(a)?, parse_port(b)?),
                None => {
                    let p = parse_port(part)?;
                    (p, p)
                }
            };
            if lo > hi {
                return Err(format!("port range {part:?} runs backwards"));
            }
            v.push((lo, hi));
        }
        Ok(Self::from_ranges(v))
    }
    /// `80`, `20-21`, `0-65535` as `all`, joined by commas.
    pub fn display_ports(&self) -> String {
        if *self == Self::full_ports() {
            return "all".into();
        }
        let parts: Vec<String> = self
            .ranges()
            .iter()
            .map(|&(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        parts.join(",")
    }
}

fn parse_port(s: &str) -> Result<u32, String> {
    let p: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a port number"))?;
    if p > PORT_MAX {
        return Err(format!("port {p} is above 65535"));
    }
    Ok(p)
}

/// Protocol number → name for display.
pub fn proto_name(p: u32) -> String {
    match p as u8 {
        TCP => "tcp".into(),
        UDP => "udp".into(),
        ICMP => "icmp".into(),
        ICMPV6 => "icmpv6".into(),
        SCTP => "sctp".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        51 => "ah".into(),
        _ => p.to_string(),
    }
}

/// Parses a protocol as the providers write it: `-1`, `all`, `*`, `any` (every protocol → `None`),
/// names (`tcp`, `udp`, `icmp`, `icmpv6`/`ipv6-icmp`, `sctp`, `esp`, `ah`, `gre`) and numbers.
pub fn parse_proto(s: &str) -> Result<Option<u8>, String> {
    let t = s.trim().to_ascii_lowercase();
    Ok(Some(match t.as_str() {
        "-1" | "all" | "*" | "any" => return Ok(None),
        "tcp" => TCP,
        "udp" => UDP,
        "icmp" => ICMP,
        "icmpv6" | "ipv6-icmp" | "icmp6" => ICMPV6,
        "sctp" => SCTP,
        "esp" => 50,
        "ah" => 51,
        "gre" => 47,
        "ipip" => 4,
        other => other
            .parse::<u8>()
            .map_err(|_| format!("{s:?} is not a protocol name or number 0–255"))?,
    }))
}

/// [`parse_proto`] limited to the names a provider documents (`names`, lower case) and protocol
/// numbers: a name another provider uses (`*` in a GCP rule, `all` in an AWS one) is an error,
/// not read as whatever it means elsewhere.
pub fn parse_proto_named(s: &str, names: &[&str]) -> Result<Option<u8>, String> {
    let t = s.trim().to_ascii_lowercase();
    if t.parse::<u8>().is_err() && !names.contains(&t.as_str()) {
        return Err(format!(
            "{s:?} is not a protocol number 0–255 or one of: {}",
            names.join(", ")
        ));
    }
    parse_proto(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_halves_are_the_whole() {
        let a = parse_addrs("0.0.0.0/1")
            .unwrap()
            .union(&parse_addrs("128.0.0.0/1").unwrap());
        assert_eq!(a, parse_addrs("0.0.0.0/0").unwrap());
        assert_eq!(display_addrs(&a), vec!["0.0.0.0/0"]);
    }

    #[test]
    fn ipv6_any_excludes_ipv4() {
        let v6any = parse_addrs("::/0").unwrap();
        assert!(!v6any.intersects(&all_v4()));
        assert_eq!(
            v6any.union(&parse_addrs("0.0.0.0/0").unwrap()),
            AddrSet::full()
        );
        assert!(display_addrs(&v6any).iter().all(|c| c.contains(':')));
    }

    #[test]
    fn public_sizes() {
        // 2^32 minus the special-purpose blocks.
        let special: u128 = (1 << 24) * 3
            + (1 << 22)
            + (1 << 16)
            + (1 << 20)
            + 256 * 2
            + (1 << 16)
            + (1 << 17)
            + 256 * 2
            + (1 << 28) * 2;
        assert_eq!(public4().len(), (1u128 << 32) - special);
        assert_eq!(public6().len(), (1u128 << 125) - (1u128 << 96));
    }

    #[test]
    fn everything_is_recognised_and_is_the_identity_of_intersection() {
        let all = TrafficSet::everything();
        assert!(all.is_everything());
        let tcp = TrafficSet::rule(Some(TCP), None, &AddrSet::full());
        assert!(!tcp.is_everything());
        assert_eq!(tcp.intersect(&all), tcp);
        assert_eq!(all.intersect(&tcp), tcp);
        let v4 = TrafficSet::rule(None, None, &all_v4());
        assert!(!v4.is_everything());
        // IPv4 and IPv6 together are every address.
        assert!(v4
            .union(&TrafficSet::rule(None, None, &all_v6()))
            .is_everything());
    }

    #[test]
    fn traffic_algebra() {
        let any = AddrSet::full();
        let all_tcp = TrafficSet::rule(Some(TCP), None, &any);
        let smb = TrafficSet::rule(Some(TCP), Some(&PortSet::single(445)), &any);
        let rest = all_tcp.difference(&smb);
        assert!(!rest.contains(TCP, 445, v4("8.8.8.8".parse().unwrap())));
        assert!(rest.contains(TCP, 444, v4("8.8.8.8".parse().unwrap())));
        assert_eq!(rest.union(&smb), all_tcp);
        // `*` with a port restriction never matches icmp.
        let star80 = TrafficSet::rule(None, Some(&PortSet::single(80)), &any);
        assert!(!star80.contains(ICMP, 80, v4("1.1.1.1".parse().unwrap())));
        assert!(star80.contains(UDP, 80, v4("1.1.1.1".parse().unwrap())));
        // gre ignores ports.
        let gre = TrafficSet::rule(Some(47), Some(&PortSet::single(80)), &any);
        assert!(gre.contains(47, 1234, v4("1.1.1.1".parse().unwrap())));
    }

    #[test]
    fn ports_parse_and_display() {
        let p = PortSet::parse_ports("20-21, 443,22").unwrap();
        assert_eq!(p.display_ports(), "20-22,443");
        assert!(PortSet::parse_ports("70000").is_err());
        assert!(PortSet::parse_ports("9-1").is_err());
    }

    #[test]
    fn host_bits_are_masked() {
        assert_eq!(
            parse_addrs("10.1.2.3/8").unwrap(),
            parse_addrs("10.0.0.0/8").unwrap()
        );
        assert!(parse_addrs("10.0.0.0/33").is_err());
        assert!(parse_addrs("banana").is_err());
    }

    mod algebra {
        use super::super::*;
        use proptest::prelude::*;
        use std::collections::BTreeSet;

        fn set() -> impl Strategy<Value = Vec<(u32, u32)>> {
            prop::collection::vec((0u32..64, 0u32..64), 0..5)
                .prop_map(|v| v.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect())
        }

        fn members(v: &[(u32, u32)]) -> BTreeSet<u32> {
            v.iter().flat_map(|&(lo, hi)| lo..=hi).collect()
        }

        /// A union of up to four rules over a few protocols, ports and addresses.
        fn traffic() -> impl Strategy<Value = TrafficSet> {
            let rule = (0u8..3, 0u32..8, 0u32..8, 0u128..16, 0u128..16);
            prop::collection::vec(rule, 0..4).prop_map(|rules| {
                rules
                    .into_iter()
                    .fold(TrafficSet::empty(), |acc, (p, lo, hi, alo, ahi)| {
                        let ports = PortSet::range(lo.min(hi), lo.max(hi));
                        let addrs = AddrSet::range(alo.min(ahi), alo.max(ahi));
                        acc.union(&TrafficSet::rule(Some(6 + p), Some(&ports), &addrs))
                    })
            })
        }

        fn of(s: &PortSet) -> BTreeSet<u32> {
            members(s.ranges())
        }

        proptest! {
            // Range-set algebra against plain sets of integers.
            #[test]
            fn matches_btreeset(a in set(), b in set()) {
                let (ra, rb) = (PortSet::from_ranges(a.clone()), PortSet::from_ranges(b.clone()));
                let (ma, mb) = (members(&a), members(&b));
                prop_assert_eq!(of(&ra.union(&rb)), &ma | &mb);
                prop_assert_eq!(of(&ra.intersect(&rb)), &ma & &mb);
                prop_assert_eq!(of(&ra.difference(&rb)), &ma - &mb);
                prop_assert_eq!(ra.is_subset(&rb), ma.is_subset(&mb));
                prop_assert_eq!(ra.len() as usize, ma.len());
                // Canonical: equal sets have equal representations.
                prop_assert_eq!(ra.union(&rb), rb.union(&ra));
                prop_assert_eq!(ra.intersects(&rb), !(&ma & &mb).is_empty());
                prop_assert_eq!(ra.overlap_len(&rb) as usize, (&ma & &mb).len());
                prop_assert_eq!(PortSet::from_ranges(ma.iter().map(|&x| (x, x)).collect()), ra);
            }

            // The nested subset test, which builds nothing, against the difference it replaces.
            #[test]
            fn nested_subset_matches_difference(a in traffic(), b in traffic()) {
                prop_assert_eq!(a.is_subset(&b), a.difference(&b).is_empty());
                prop_assert_eq!(b.is_subset(&a), b.difference(&a).is_empty());
                prop_assert!(a.is_subset(&a.union(&b)));
                prop_assert_eq!(a.intersects(&b), !a.intersect(&b).is_empty());
            }
        }
    }
}
