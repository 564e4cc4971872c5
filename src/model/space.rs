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

use smallvec::SmallVec;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;
/// Protocols whose rules name ports.
pub const PORTED: [u8; 3] = [TCP, UDP, SCTP];
pub const PORT_MAX: u32 = 65535;

/// An integer usable as an interval bound.
pub trait Key: Copy + Ord + std::fmt::Debug + std::hash::Hash {
    const MAX: Self;
    const MIN: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
    /// Number of keys in `lo..=hi`, saturating at `u128::MAX`.
    fn span(lo: Self, hi: Self) -> u128;
}

macro_rules! impl_key {
    ($t:ty) => {
        impl Key for $t {
            const MAX: Self = <$t>::MAX;
            const MIN: Self = 0;
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
            fn span(lo: Self, hi: Self) -> u128 {
                ((hi - lo) as u128).saturating_add(1)
            }
        }
    };
}
impl_key!(u32);
impl_key!(u128);

/// A set of integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct RangeSet<K: Key> {
    // Most sets are one or two ranges: keep them inline, since set algebra is allocation-bound.
    ranges: SmallVec<[(K, K); 2]>,
}

pub type AddrSet = RangeSet<u128>;
pub type PortSet = RangeSet<u32>;
pub type ProtoSet = RangeSet<u32>;

impl<K: Key> Default for RangeSet<K> {
    fn default() -> Self {
        RangeSet {
            ranges: SmallVec::new(),
        }
    }
}

impl<K: Key> RangeSet<K> {
    pub fn empty() -> Self {
        Self::default()
    }
    pub fn range(lo: K, hi: K) -> Self {
        if lo > hi {
            return Self::empty();
        }
        let mut ranges = SmallVec::new();
        ranges.push((lo, hi));
        RangeSet { ranges }
    }
    pub fn single(k: K) -> Self {
        Self::range(k, k)
    }
    pub fn full() -> Self {
        Self::range(K::MIN, K::MAX)
    }
    /// Builds a set from ranges in any order, overlapping or not.
    pub fn from_ranges(mut v: Vec<(K, K)>) -> Self {
        v.retain(|(lo, hi)| lo <= hi);
        v.sort();
        let mut out: SmallVec<[(K, K); 2]> = SmallVec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut() {
                if last.1.succ().is_none_or(|n| n >= lo) {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                    continue;
                }
            }
            out.push((lo, hi));
        }
        RangeSet { ranges: out }
    }
    pub fn ranges(&self) -> &[(K, K)] {
        &self.ranges
    }
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    pub fn contains(&self, k: K) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < k);
        i < self.ranges.len() && self.ranges[i].0 <= k
    }
    /// Number of members, saturating at `u128::MAX` (only the full u128 axis saturates).
    pub fn len(&self) -> u128 {
        self.ranges
            .iter()
            .fold(0u128, |acc, &(lo, hi)| acc.saturating_add(K::span(lo, hi)))
    }
    pub fn union(&self, o: &Self) -> Self {
        if o.ranges.is_empty() {
            return self.clone();
        }
        if self.ranges.is_empty() {
            return o.clone();
        }
        // Merge two sorted lists, coalescing overlapping and adjacent ranges.
        let (a, b) = (&self.ranges, &o.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out: SmallVec<[(K, K); 2]> = SmallVec::with_capacity(a.len() + b.len());
        while i < a.len() || j < b.len() {
            let next = if j >= b.len() || (i < a.len() && a[i].0 <= b[j].0) {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            match out.last_mut() {
                Some(last) if last.1.succ().is_none_or(|n| n >= next.0) => {
                    if next.1 > last.1 {
                        last.1 = next.1;
                    }
                }
                _ => out.push(next),
            }
        }
        RangeSet { ranges: out }
    }
    pub fn intersect(&self, o: &Self) -> Self {
        let (a, b) = (&self.ranges, &o.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out = SmallVec::new();
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet { ranges: out }
    }
    pub fn difference(&self, o: &Self) -> Self {
        if o.ranges.is_empty() {
            return self.clone();
        }
        let mut out = SmallVec::new();
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            let mut cur = Some(lo);
            while j < o.ranges.len() && o.ranges[j].1 < lo {
                j += 1;
            }
            let mut k = j;
            while let Some(start) = cur {
                if k >= o.ranges.len() || o.ranges[k].0 > hi {
                    out.push((start, hi));
                    break;
                }
                let (blo, bhi) = o.ranges[k];
                if blo > start {
                    out.push((start, blo.pred().expect("blo > start")));
                }
                cur = if bhi >= hi { None } else { bhi.succ() };
                k += 1;
            }
        }
        RangeSet { ranges: out }
    }
    pub fn is_subset(&self, o: &Self) -> bool {
        self.difference(o).is_empty()
    }
    pub fn intersects(&self, o: &Self) -> bool {
        !self.intersect(o).is_empty()
    }
}

/// What the nested piecewise maps need from their values.
pub trait SetOps: Clone + PartialEq {
    fn is_empty_set(&self) -> bool;
    fn union_set(&self, o: &Self) -> Self;
    fn intersect_set(&self, o: &Self) -> Self;
    fn difference_set(&self, o: &Self) -> Self;
}

impl SetOps for AddrSet {
    fn is_empty_set(&self) -> bool {
        self.is_empty()
    }
    fn union_set(&self, o: &Self) -> Self {
        self.union(o)
    }
    fn intersect_set(&self, o: &Self) -> Self {
        self.intersect(o)
    }
    fn difference_set(&self, o: &Self) -> Self {
        self.difference(o)
    }
}

/// A map from disjoint key ranges (u32) to non-empty sets; keys not covered map to the empty set.
#[derive(Clone, PartialEq, Debug)]
pub struct Piecewise<V: SetOps> {
    segs: Vec<(u32, u32, V)>,
}

impl<V: SetOps> Default for Piecewise<V> {
    fn default() -> Self {
        Piecewise { segs: Vec::new() }
    }
}

impl<V: SetOps> Piecewise<V> {
    pub fn segments(&self) -> &[(u32, u32, V)] {
        &self.segs
    }
    /// `keys × value`.
    pub fn product(keys: &RangeSet<u32>, value: V) -> Self {
        if value.is_empty_set() {
            return Self::default();
        }
        Piecewise {
            segs: keys
                .ranges()
                .iter()
                .map(|&(lo, hi)| (lo, hi, value.clone()))
                .collect(),
        }
    }
    pub fn get(&self, k: u32) -> Option<&V> {
        let i = self.segs.partition_point(|s| s.1 < k);
        self.segs.get(i).filter(|s| s.0 <= k).map(|s| &s.2)
    }
    /// The keys whose value is non-empty.
    pub fn keys(&self) -> RangeSet<u32> {
        RangeSet::from_ranges(self.segs.iter().map(|s| (s.0, s.1)).collect())
    }

    fn push(out: &mut Vec<(u32, u32, V)>, lo: u32, hi: u32, v: V) {
        if v.is_empty_set() {
            return;
        }
        if let Some(last) = out.last_mut() {
            if last.1 as u64 + 1 == lo as u64 && last.2 == v {
                last.1 = hi;
                return;
            }
        }
        out.push((lo, hi, v));
    }

    /// Walks the elementary segments of both maps and combines their values with `f`.
    fn merge(&self, o: &Self, f: impl Fn(Option<&V>, Option<&V>) -> Option<V>) -> Self {
        let (a, b) = (&self.segs, &o.segs);
        let (mut i, mut j) = (0usize, 0usize);
        let mut pos: u64 = 0;
        let mut out = Vec::with_capacity(a.len().max(b.len()));
        loop {
            while i < a.len() && (a[i].1 as u64) < pos {
                i += 1;
            }
            while j < b.len() && (b[j].1 as u64) < pos {
                j += 1;
            }
            if i >= a.len() && j >= b.len() {
                break;
            }
            let side = |segs: &Vec<(u32, u32, V)>, k: usize| -> (Option<usize>, u64) {
                match segs.get(k) {
                    Some(s) if (s.0 as u64) <= pos => (Some(k), s.1 as u64),
                    Some(s) => (None, s.0 as u64 - 1),
                    None => (None, u32::MAX as u64),
                }
            };
            let (ia, enda) = side(a, i);
            let (jb, endb) = side(b, j);
            let end = enda.min(endb);
            if ia.is_some() || jb.is_some() {
                if let Some(v) = f(ia.map(|k| &a[k].2), jb.map(|k| &b[k].2)) {
                    Self::push(&mut out, pos as u32, end as u32, v);
                }
            }
            pos = end + 1;
            if pos > u32::MAX as u64 {
                break;
            }
        }
        Piecewise { segs: out }
    }
}

impl<V: SetOps> SetOps for Piecewise<V> {
    fn is_empty_set(&self) -> bool {
        self.segs.is_empty()
    }
    fn union_set(&self, o: &Self) -> Self {
        if o.segs.is_empty() {
            return self.clone();
        }
        if self.segs.is_empty() {
            return o.clone();
        }
        self.merge(o, |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.union_set(b)),
            (Some(a), None) => Some(a.clone()),
            (None, Some(b)) => Some(b.clone()),
            (None, None) => None,
        })
    }
    fn intersect_set(&self, o: &Self) -> Self {
        if self.segs.is_empty() || o.segs.is_empty() {
            return Self::default();
        }
        self.merge(o, |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.intersect_set(b)),
            _ => None,
        })
    }
    fn difference_set(&self, o: &Self) -> Self {
        if self.segs.is_empty() || o.segs.is_empty() {
            return self.clone();
        }
        self.merge(o, |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.difference_set(b)),
            (Some(a), None) => Some(a.clone()),
            _ => None,
        })
    }
}

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
        TrafficSet(self.0.intersect_set(&o.0))
    }
    pub fn difference(&self, o: &Self) -> Self {
        TrafficSet(self.0.difference_set(&o.0))
    }
    pub fn is_subset(&self, o: &Self) -> bool {
        self.difference(o).is_empty()
    }
    pub fn intersects(&self, o: &Self) -> bool {
        !self.intersect(o).is_empty()
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

const V4_BASE: u128 = 0xffff_0000_0000;

pub fn v4(a: Ipv4Addr) -> u128 {
    V4_BASE | u32::from(a) as u128
}
pub fn v6(a: Ipv6Addr) -> u128 {
    u128::from(a)
}
pub fn addr(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => v6(a),
    }
}

/// All IPv4 addresses (the IPv4-mapped block).
pub fn all_v4() -> AddrSet {
    AddrSet::range(V4_BASE, V4_BASE | u32::MAX as u128)
}
/// All IPv6 addresses except the IPv4-mapped block.
pub fn all_v6() -> AddrSet {
    AddrSet::full().difference(&all_v4())
}

/// Parses `10.0.0.0/8`, `::/0`, `1.2.3.4` (a /32), `2001:db8::1` (a /128) and ranges
/// `10.0.0.1-10.0.0.9`. Host bits below the prefix are ignored, as Azure and GCP do.
pub fn parse_addrs(s: &str) -> Result<AddrSet, String> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once('-') {
        let lo: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address range"))?;
        let hi: IpAddr = b
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address range"))?;
        if lo.is_ipv4() != hi.is_ipv4() || addr(lo) > addr(hi) {
            return Err(format!("{s:?} is not an address range"));
        }
        return Ok(AddrSet::range(addr(lo), addr(hi)));
    }
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u32 = match len {
        Some(l) => l
            .trim()
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("{s:?} has a prefix length that is not 0–{max}"))?,
        None => max,
    };
    Ok(match ip {
        IpAddr::V4(a) => {
            let host = u32::MAX.checked_shr(len).unwrap_or(0);
            let lo = u32::from(a) & !host;
            AddrSet::range(V4_BASE | lo as u128, V4_BASE | (lo | host) as u128)
        }
        IpAddr::V6(a) => {
            let host = u128::MAX.checked_shr(len).unwrap_or(0);
            let lo = u128::from(a) & !host;
            AddrSet::range(lo, lo | host).difference(&all_v4())
        }
    })
}

fn cidrs(list: &[&str]) -> AddrSet {
    list.iter()
        .map(|c| parse_addrs(c).expect("built-in CIDR"))
        .fold(AddrSet::empty(), |acc, s| acc.union(&s))
}

/// Public IPv4: `0.0.0.0/0` minus the IANA special-purpose blocks (CHECKS.md §1).
pub fn public4() -> &'static AddrSet {
    static S: OnceLock<AddrSet> = OnceLock::new();
    S.get_or_init(|| {
        all_v4().difference(&cidrs(&[
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/4",
            "240.0.0.0/4",
        ]))
    })
}

/// Public IPv6: `2000::/3` minus `2001:db8::/32`.
pub fn public6() -> &'static AddrSet {
    static S: OnceLock<AddrSet> = OnceLock::new();
    S.get_or_init(|| cidrs(&["2000::/3"]).difference(&cidrs(&["2001:db8::/32"])))
}

/// `public4 ∪ public6`.
pub fn public() -> &'static AddrSet {
    static S: OnceLock<AddrSet> = OnceLock::new();
    S.get_or_init(|| public4().union(public6()))
}

/// Renders an address set as the fewest CIDR blocks (IPv4 blocks in dotted form).
pub fn display_addrs(set: &AddrSet) -> Vec<String> {
    let mut out = Vec::new();
    let v4 = all_v4();
    for &(lo, hi) in set.ranges() {
        // Split at the IPv4-mapped block so each part renders in its own family.
        for part in [
            AddrSet::range(lo, hi).intersect(&v4),
            AddrSet::range(lo, hi).difference(&v4),
        ] {
            for &(lo, hi) in part.ranges() {
                range_to_cidrs(lo, hi, &mut out);
            }
        }
    }
    out
}

fn range_to_cidrs(mut lo: u128, hi: u128, out: &mut Vec<String>) {
    let is_v4 = (lo >> 32) == (V4_BASE >> 32);
    loop {
        // Largest aligned block starting at lo that fits in lo..=hi.
        let mut size_bits = if lo == 0 { 128 } else { lo.trailing_zeros() };
        while size_bits > 0 {
            let last = if size_bits == 128 {
                u128::MAX
            } else {
                lo + ((1u128 << size_bits) - 1)
            };
            if last <= hi && (!is_v4 || size_bits <= 32) {
                break;
            }
            size_bits -= 1;
        }
        if is_v4 {
            out.push(format!("{}/{}", Ipv4Addr::from(lo as u32), 32 - size_bits));
        } else {
            out.push(format!("{}/{}", Ipv6Addr::from(lo), 128 - size_bits));
        }
        let last = if size_bits == 128 {
            u128::MAX
        } else {
            lo + ((1u128 << size_bits) - 1)
        };
        if last >= hi {
            break;
        }
        lo = last + 1;
    }
}

/// Short human form of an address set, for messages: `0.0.0.0/0`, `public IPv4`, or the CIDRs.
pub fn describe_addrs(set: &AddrSet) -> String {
    if *set == AddrSet::full() {
        return "0.0.0.0/0, ::/0".into();
    }
    // Name the public ranges rather than print the ~100 blocks they are made of.
    let mut named = Vec::new();
    let mut rest = set.clone();
    for (fam, name) in [
        (public4(), "all public IPv4"),
        (public6(), "all public IPv6"),
    ] {
        if fam.is_subset(&rest) {
            named.push(name.to_string());
            rest = rest.difference(fam);
        }
    }
    if !named.is_empty() {
        if !rest.is_empty() {
            named.push(describe_addrs(&rest));
        }
        return named.join(", ");
    }
    let list = display_addrs(set);
    if list.len() > 6 {
        format!(
            "{} and {} more blocks",
            list[..6].join(", "),
            list.len() - 6
        )
    } else {
        list.join(", ")
    }
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
                prop_assert_eq!(PortSet::from_ranges(ma.iter().map(|&x| (x, x)).collect()), ra);
            }
        }
    }
}
