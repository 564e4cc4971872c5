//! Address parsing on raw bytes and the "workload side" test used when a log has no direction.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parses an address from ASCII bytes: a hand-written IPv4 path (the hot one), std for IPv6.
pub(crate) fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_v4(b) {
        return Some(IpAddr::V4(v4));
    }
    std::str::from_utf8(b)
        .ok()?
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

fn parse_v4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    let mut cur: u32 = 0;
    let mut digits = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                cur = cur * 10 + u32::from(c - b'0');
                digits += 1;
                if digits > 3 || cur > 255 {
                    return None;
                }
            }
            b'.' => {
                if digits == 0 || i == 3 {
                    return None;
                }
                octets[i] = cur as u8;
                i += 1;
                cur = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if i != 3 || digits == 0 {
        return None;
    }
    octets[3] = cur as u8;
    Some(Ipv4Addr::from(octets))
}

/// Parses an unsigned decimal from ASCII bytes (no sign, no spaces).
pub(crate) fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Whether an address is public internet as `CHECKS.md` §1 defines it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [a0, a1, a2, _] = a.octets();
            !(a0 == 0
                || a0 == 10
                || a0 == 127
                || a0 >= 224
                || (a0 == 100 && (64..128).contains(&a1))
                || (a0 == 169 && a1 == 254)
                || (a0 == 172 && (16..32).contains(&a1))
                || (a0 == 192 && a1 == 0 && (a2 == 0 || a2 == 2))
                || (a0 == 192 && a1 == 168)
                || (a0 == 198 && (a1 == 18 || a1 == 19))
                || (a0 == 198 && a1 == 51 && a2 == 100)
                || (a0 == 203 && a1 == 0 && a2 == 113))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            (0x2000..0x4000).contains(&s[0]) && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// For a record without a direction: the workload is the source when the source is not a public
/// address (interfaces log their own private address). The SQL in [`crate::sql`] applies the same
/// test, so both paths agree.
pub(crate) fn is_workload_side(src: IpAddr) -> bool {
    !is_public(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_fast_path_agrees_with_std() {
        for s in ["10.0.0.1", "255.255.255.255", "0.0.0.0", "1.2.3.4"] {
            assert_eq!(parse_ip(s.as_bytes()), Some(s.parse().unwrap()));
        }
        for s in [
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            "",
            "1.2.3.4 ",
            "0001.2.3.4",
        ] {
            assert_eq!(parse_v4(s.as_bytes()), None, "{s}");
        }
        assert_eq!(
            parse_ip(b"2600:1f18::1"),
            Some("2600:1f18::1".parse().unwrap())
        );
    }

    #[test]
    fn public_per_checks() {
        for (s, p) in [
            ("8.8.8.8", true),
            ("10.1.2.3", false),
            ("100.64.0.1", false),
            ("100.128.0.1", true),
            ("172.31.0.1", false),
            ("172.32.0.1", true),
            ("198.19.1.1", false),
            ("203.0.113.9", false),
            ("224.0.0.1", false),
            ("2600::1", true),
            ("2001:db8::1", false),
            ("fd00::1", false),
            ("::ffff:8.8.8.8", false),
        ] {
            assert_eq!(is_public(s.parse().unwrap()), p, "{s}");
        }
    }
}
