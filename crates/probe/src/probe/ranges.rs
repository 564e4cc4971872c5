//! Port lists as inclusive `[lo, hi]` ranges, the shape of every verdict in the probe JSON.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PortRanges(pub Vec<[u16; 2]>);

impl PortRanges {
    /// Builds canonical ranges (sorted, merged) from ports in any order, duplicates allowed.
    pub fn from_ports(ports: impl IntoIterator<Item = u16>) -> Self {
        let mut v: Vec<u16> = ports.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let mut out: Vec<[u16; 2]> = Vec::new();
        for p in v {
            match out.last_mut() {
                Some(r) if r[1].checked_add(1) == Some(p) => r[1] = p,
                _ => out.push([p, p]),
            }
        }
        PortRanges(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn count(&self) -> u32 {
        self.0.iter().map(|r| (r[1] - r[0]) as u32 + 1).sum()
    }

    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().flat_map(|r| r[0]..=r[1])
    }

    pub fn contains(&self, p: u16) -> bool {
        self.0.iter().any(|r| r[0] <= p && p <= r[1])
    }

    /// `1-20, 22, 80`: the compact form for tables and rule names.
    pub fn display(&self) -> String {
        if self.0.is_empty() {
            return "-".into();
        }
        self.0
            .iter()
            .map(|r| {
                if r[0] == r[1] {
                    r[0].to_string()
                } else {
                    format!("{}-{}", r[0], r[1])
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses `1-1024,3389,8000-9000` (also `all`, `*`) into a sorted list of distinct ports.
/// Port 0 cannot be dialled, so it is refused.
pub fn parse_port_list(s: &str) -> Result<Vec<u16>, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    if s == "*" || s.eq_ignore_ascii_case("all") {
        return Ok((1..=65535).collect());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let num = |x: &str| -> Result<u16, String> {
            let n: u16 = x
                .trim()
                .parse()
                .map_err(|_| format!("{x:?} in {part:?} is not a port number (1-65535)"))?;
            if n == 0 {
                return Err(format!("port 0 in {part:?} cannot be dialled"));
            }
            Ok(n)
        };
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let p = num(part)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(format!("port range {part:?} runs backwards"));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_display() {
        let r = PortRanges::from_ports([5, 1, 2, 3, 80, 65535, 65534, 2]);
        assert_eq!(r.0, vec![[1, 3], [5, 5], [80, 80], [65534, 65535]]);
        assert_eq!(r.count(), 7);
        assert_eq!(r.display(), "1-3, 5, 80, 65534-65535");
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            "[[1,3],[5,5],[80,80],[65534,65535]]"
        );
    }

    #[test]
    fn port_lists_parse() {
        assert_eq!(parse_port_list("3,1-2,2").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_port_list("all").unwrap().len(), 65535);
        assert!(parse_port_list("0").unwrap_err().contains("port 0"));
        assert!(parse_port_list("9-3").unwrap_err().contains("backwards"));
        assert!(parse_port_list("70000").is_err());
    }
}
