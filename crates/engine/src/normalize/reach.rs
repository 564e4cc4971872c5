//! What a probe really reached. A probe measures the path to one address; when that address is
//! not public (loopback, private, documentation, …) its results stand in for the public plane
//! but must not be *claimed* as the public internet: rule destinations and findings name the
//! address that was reached (docs/SEMANTICS.md §6).

use crate::model::space::{public4, public6};
use crate::model::Finding;
use std::net::IpAddr;

/// Marks a rule's destination that stands in for the public plane without having reached it.
pub const NOT_PUBLIC: &str = "not the public internet";

/// Why `a` is not a public address (`loopback`, `private`, `documentation`, …), or `None` when it
/// is one (public4 / public6 of the semantics contract).
pub fn non_public_class(a: IpAddr) -> Option<&'static str> {
    let public = if a.is_ipv4() { public4() } else { public6() };
    if public.contains(crate::model::space::addr(a)) {
        return None;
    }
    Some(match a {
        IpAddr::V4(v) => {
            let [b0, b1, b2, _] = v.octets();
            match (b0, b1, b2) {
                _ if v.is_loopback() => "loopback",
                _ if v.is_private() => "private",
                (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
                _ if v.is_link_local() => "link-local",
                (100, 64..=127, _) => "shared (carrier-grade NAT)",
                (198, 18..=19, _) => "benchmarking",
                _ if v.is_multicast() => "multicast",
                _ if v.is_unspecified() => "unspecified",
                _ => "reserved",
            }
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            match s[0] {
                _ if v.is_loopback() => "loopback",
                _ if v.is_unspecified() => "unspecified",
                0x2001 if s[1] == 0x0db8 => "documentation",
                x if x & 0xfe00 == 0xfc00 => "private (unique local)",
                x if x & 0xffc0 == 0xfe80 => "link-local",
                x if x & 0xff00 == 0xff00 => "multicast",
                _ => "reserved",
            }
        }
    })
}

/// The destination text of a rule generalised from reaching `reached` (`what` names it).
pub fn reached_text(fam_name: &str, reached: IpAddr, what: &str) -> String {
    match non_public_class(reached) {
        None => format!("{fam_name} (observed reaching {what})"),
        Some(class) => format!("{what} only ({class} address; {NOT_PUBLIC})"),
    }
}

/// A finding whose evidence rests only on rules that reached a non-public address says so: its
/// message names what was reached instead of a share of the public internet, and a note explains.
pub fn scope_finding(f: &mut Finding) {
    let reached: Option<Vec<String>> = f
        .evidence
        .iter()
        .map(|e| {
            let (what, rest) = e.destination.split_once(" only (")?;
            let (class, _) = rest.split_once(&format!(" address; {NOT_PUBLIC})"))?;
            Some(format!("{what} ({class})"))
        })
        .collect();
    let Some(mut reached) = reached.filter(|r| !r.is_empty()) else {
        return;
    };
    reached.sort();
    reached.dedup();
    let reached = reached.join(", ");
    // `tcp/445 to all public IPv4` → `tcp/445 to 10.0.0.5 (private)`.
    let retarget = |text: &str| -> String {
        text.split("; ")
            .map(|part| match part.split_once(" to ") {
                Some((traffic, _)) => format!("{traffic} to {reached}"),
                None => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    for e in &mut f.evidence {
        if let Some(d) = &e.decides {
            e.decides = Some(crate::model::Decides::Text(retarget(&d.text())));
        }
    }
    let verb = " was observed open";
    let parts: Vec<String> = f
        .message
        .split("; ")
        .map(|part| match part.split_once(verb) {
            Some((traffic, _)) => format!("{traffic}{verb} to {reached} only"),
            None => part.to_string(),
        })
        .collect();
    f.message = parts.join("; ");
    f.notes.push(format!(
        "the probe reached only {reached}, {NOT_PUBLIC}: this shows what leaves the host, \
         not what reaches the internet; probe a public target to measure that"
    ));
}

/// `letmeoutofyour.net 203.0.113.9`, or just the address when the target was given as one.
pub fn reach_name(target: &str, address: IpAddr) -> String {
    if target == address.to_string() {
        target.to_string()
    } else {
        format!("{target} {address}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_outside_the_public_internet_are_named() {
        let class = |s: &str| non_public_class(s.parse().unwrap());
        for (a, want) in [
            ("127.0.0.93", Some("loopback")),
            ("10.213.0.2", Some("private")),
            ("192.168.1.1", Some("private")),
            ("198.51.100.7", Some("documentation")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (carrier-grade NAT)")),
            ("198.18.0.1", Some("benchmarking")),
            ("240.0.0.1", Some("reserved")),
            ("1.1.1.1", None),
            ("::1", Some("loopback")),
            ("2001:db8::1", Some("documentation")),
            ("fd00::1", Some("private (unique local)")),
            ("fe80::1", Some("link-local")),
            ("2606:4700:4700::1111", None),
        ] {
            assert_eq!(class(a), want, "{a}");
        }
    }

    #[test]
    fn findings_resting_on_non_public_rules_say_what_was_reached() {
        let ev = |destination: &str| {
            crate::model::Evidence::new(
                std::sync::Arc::new(crate::model::RuleText {
                    name: "probe tcp open 445 (w00tw00t)".into(),
                    action: "allow".into(),
                    priority: None,
                    protocol: "tcp".into(),
                    ports: "445".into(),
                    destination: destination.into(),
                }),
                Some("tcp/445 to all public IPv4".into()),
            )
        };
        let mut f: Finding = serde_json::from_value(json!({
            "check_id": "EG002", "slug": "smb-egress", "severity": "high", "title": "t",
            "provider": "probe", "resource_id": "h", "resource_kind": "host",
            "message": "tcp/445 was observed open to 100% of public IPv4", "evidence": [],
            "fingerprint": ""}))
        .unwrap();
        f.evidence = vec![ev(
            "10.0.0.5 only (private address; not the public internet)",
        )];
        let mut public = f.clone();
        scope_finding(&mut f);
        assert_eq!(
            f.message,
            "tcp/445 was observed open to 10.0.0.5 (private) only"
        );
        assert!(f.notes[0].starts_with("the probe reached only 10.0.0.5 (private)"));
        assert_eq!(
            f.evidence[0].decides.as_ref().map(|d| d.text()).as_deref(),
            Some("tcp/445 to 10.0.0.5 (private)")
        );
        // One rule that did reach the public internet: the finding stands as it is.
        public
            .evidence
            .push(ev("public IPv4 (observed reaching 1.1.1.1)"));
        let before = public.clone();
        scope_finding(&mut public);
        assert_eq!(public, before);
    }
}
