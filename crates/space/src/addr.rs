//! Addresses on one 128-bit axis (IPv4 as IPv4-mapped IPv6), their parsing, the public address
//! space of docs/SEMANTICS.md §1, and their display as CIDR blocks.

use super::AddrSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

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
            let set = AddrSet::range(lo, lo | host).difference(&all_v4());
            // `::ffff:0.0.0.0/96` and its sub-blocks are IPv4 written as IPv6: no provider field
            // takes them, and read as IPv6 they would stand for no address at all.
            if set.is_empty() {
                return Err(format!(
                    "{s:?} is an IPv4-mapped IPv6 block (inside ::ffff:0.0.0.0/96), which no \
                     provider accepts; write IPv4 addresses as IPv4"
                ));
            }
            set
        }
    })
}

fn cidrs(list: &[&str]) -> AddrSet {
    list.iter()
        .map(|c| parse_addrs(c).expect("built-in CIDR"))
        .fold(AddrSet::empty(), |acc, s| acc.union(&s))
}

/// Public IPv4: `0.0.0.0/0` minus the IANA special-purpose blocks (docs/SEMANTICS.md §1).
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
    cidr_blocks(set, |block| {
        out.push(block.to_string());
        true
    });
    out
}

/// Hands each CIDR block of `set` to `visit`, in order, until it returns false.
fn cidr_blocks(set: &AddrSet, mut visit: impl FnMut(Block) -> bool) {
    let v4 = all_v4();
    for &(lo, hi) in set.ranges() {
        // Split at the IPv4-mapped block so each part renders in its own family.
        for part in [
            AddrSet::range(lo, hi).intersect(&v4),
            AddrSet::range(lo, hi).difference(&v4),
        ] {
            for &(lo, hi) in part.ranges() {
                if !range_to_cidrs(lo, hi, &mut visit) {
                    return;
                }
            }
        }
    }
}

/// One CIDR block, formatted only when shown.
struct Block {
    lo: u128,
    size_bits: u32,
    is_v4: bool,
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_v4 {
            write!(
                f,
                "{}/{}",
                Ipv4Addr::from(self.lo as u32),
                32 - self.size_bits
            )
        } else {
            write!(f, "{}/{}", Ipv6Addr::from(self.lo), 128 - self.size_bits)
        }
    }
}

/// False when `visit` asked to stop.
fn range_to_cidrs(mut lo: u128, hi: u128, visit: &mut impl FnMut(Block) -> bool) -> bool {
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
        if !visit(Block {
            lo,
            size_bits,
            is_v4,
        }) {
            return false;
        }
        let last = if size_bits == 128 {
            u128::MAX
        } else {
            lo + ((1u128 << size_bits) - 1)
        };
        if last >= hi {
            return true;
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
    let mut rest: Option<AddrSet> = None;
    for (fam, name) in [
        (public4(), "all public IPv4"),
        (public6(), "all public IPv6"),
    ] {
        let left = rest.as_ref().unwrap_or(set);
        if fam.is_subset(left) {
            named.push(name.to_string());
            rest = Some(left.difference(fam));
        }
    }
    if let Some(rest) = rest {
        if !rest.is_empty() {
            named.push(describe_addrs(&rest));
        }
        return named.join(", ");
    }
    // Six blocks are shown; the rest are only counted, never formatted.
    let (mut shown, mut more) = (Vec::new(), 0usize);
    let mut count = |block: Block| {
        if shown.len() < 6 {
            shown.push(block.to_string());
        } else {
            more += 1;
        }
        true
    };
    cidr_blocks(set, &mut count);
    if more > 0 {
        format!("{} and {more} more blocks", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
