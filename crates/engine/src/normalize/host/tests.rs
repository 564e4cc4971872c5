//! The nftables and iptables readers on real exports (captured from `nft -j list ruleset` and
//! `iptables-save` of the rulesets written beside them), judged packet by packet.

use super::*;
use crate::eval::eval_target;
use crate::model::space::{addr, ICMP, TCP, UDP};
use serde_json::Value;

/// `nft -j list ruleset` (nftables 1.0.6) of:
/// ```text
/// table inet filter {
///   set blocked { type ipv4_addr; flags interval; elements = { 198.51.100.0/24, 203.0.113.5 } }
///   chain output {
///     type filter hook output priority 0; policy drop;
///     ct state established,related accept
///     oifname "lo" accept
///     ip daddr @blocked drop
///     tcp dport { 80, 443, 8000-8080 } accept
///     udp dport 53 ip daddr 10.0.0.2 accept
///     meta l4proto icmp icmp type echo-request accept
///     ip6 daddr 2001:db8::/32 tcp dport 22 reject
///     ip daddr { 10.0.0.0/8, 1.1.1.1 } tcp dport 853 accept
///     jump extra
///     counter
///   }
///   chain extra { tcp dport 445 drop; tcp dport 23 accept; return }
///   chain forward { type filter hook forward priority 0; policy accept; tcp dport 25 drop }
/// }
/// ```
const NFT: &str = r#"{"nftables": [
{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
{"table": {"family": "inet", "name": "filter", "handle": 1}},
{"set": {"family": "inet", "name": "blocked", "table": "filter", "type": "ipv4_addr", "handle": 4, "flags": ["interval"], "elem": [{"prefix": {"addr": "198.51.100.0", "len": 24}}, "203.0.113.5"]}},
{"chain": {"family": "inet", "table": "filter", "name": "output", "handle": 1, "type": "filter", "hook": "output", "prio": 0, "policy": "drop"}},
{"chain": {"family": "inet", "table": "filter", "name": "extra", "handle": 2}},
{"chain": {"family": "inet", "table": "filter", "name": "forward", "handle": 3, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 5, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 6, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "lo"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@blocked"}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443, {"range": [8000, 8080]}]}}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.0.0.2"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 11, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": "echo-request"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": {"prefix": {"addr": "2001:db8::", "len": 32}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"reject": {"type": "icmpv6", "expr": "port-unreachable"}}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 14, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"set": ["1.1.1.1", {"prefix": {"addr": "10.0.0.0", "len": 8}}]}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 853}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 15, "expr": [{"jump": {"target": "extra"}}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "output", "handle": 16, "expr": [{"counter": {"packets": 0, "bytes": 0}}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 17, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 445}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 18, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 23}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 19, "expr": [{"return": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 20, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 25}}, {"drop": null}]}}
]}"#;

fn build(export: HostExport) -> Inventory {
    let mut b = HostBundle::default();
    b.add_export(export);
    let mut inv = Inventory::default();
    b.build(&mut inv);
    inv
}

fn nft_inv(text: &str) -> Inventory {
    let v: Value = serde_json::from_str(text).unwrap();
    assert!(nft::detect(&v));
    build(nft::parse(&v, "/tmp/web-1.nft.json").unwrap())
}

/// Whether `target` lets `proto`/`port` out to `ip` (icmp: port = type * 256).
fn lets(inv: &Inventory, target: &str, proto: u8, port: u32, ip: &str) -> bool {
    let t = inv
        .targets
        .iter()
        .find(|t| t.resource_id == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    eval_target(t)
        .allowed
        .contains(proto, port, addr(ip.parse().unwrap()))
}

#[test]
fn nft_output_and_forward_hooks_become_two_targets() {
    let inv = nft_inv(NFT);
    let ids: Vec<(&str, &str)> = inv
        .targets
        .iter()
        .map(|t| (t.resource_id.as_str(), t.resource_kind.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("web-1:output", "host-firewall"),
            ("web-1:forward", "gateway-firewall")
        ]
    );
    assert!(inv.warnings.is_empty(), "{:#?}", inv.warnings);
    let out = "web-1:output";
    // Accepted ports, and the named interval set that drops before them.
    assert!(lets(&inv, out, TCP, 443, "8.8.8.8"));
    assert!(lets(&inv, out, TCP, 8080, "8.8.8.8"));
    assert!(!lets(&inv, out, TCP, 8081, "8.8.8.8"));
    assert!(!lets(&inv, out, TCP, 443, "198.51.100.77"));
    assert!(!lets(&inv, out, TCP, 443, "203.0.113.5"));
    assert!(lets(&inv, out, TCP, 443, "203.0.113.6"));
    // udp/53 only to the one resolver; icmp echo but not other types.
    assert!(lets(&inv, out, UDP, 53, "10.0.0.2"));
    assert!(!lets(&inv, out, UDP, 53, "8.8.8.8"));
    assert!(lets(&inv, out, ICMP, 8 * 256, "8.8.8.8"));
    assert!(!lets(&inv, out, ICMP, 13 * 256, "8.8.8.8"));
    // The anonymous set of addresses, and IPv6 hitting the policy.
    assert!(lets(&inv, out, TCP, 853, "1.1.1.1"));
    assert!(!lets(&inv, out, TCP, 853, "1.0.0.1"));
    assert!(!lets(&inv, out, TCP, 22, "2001:db8::1"));
    assert!(lets(&inv, out, TCP, 443, "2606:4700:4700::1111"));
    // The jumped chain: 445 dropped, 23 accepted, the rest returns to the policy.
    assert!(!lets(&inv, out, TCP, 445, "8.8.8.8"));
    assert!(lets(&inv, out, TCP, 23, "8.8.8.8"));
    assert!(!lets(&inv, out, TCP, 24, "8.8.8.8"));
    // `oifname "lo"` is the host itself; `ct state established,related` is no new egress.
    assert!(lets(&inv, out, TCP, 5432, "127.0.0.1"));
    assert!(!lets(&inv, out, TCP, 5432, "10.1.2.3"));
    // The gateway: everything but tcp/25.
    assert!(!lets(&inv, "web-1:forward", TCP, 25, "8.8.8.8"));
    assert!(lets(&inv, "web-1:forward", TCP, 445, "8.8.8.8"));
}

#[test]
fn nft_evidence_names_rule_and_handle() {
    let inv = nft_inv(NFT);
    let layer = &inv.targets[0].chains[0].layers[0];
    let names: Vec<&str> = layer.rules.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"inet filter extra #1 (handle 17)"),
        "{names:?}"
    );
    assert_eq!(
        names.last().copied(),
        Some("inet filter output policy drop")
    );
    let drop445 = layer
        .rules
        .iter()
        .find(|r| r.name == "inet filter extra #1 (handle 17)")
        .unwrap();
    assert_eq!(
        (drop445.protocol.as_str(), drop445.ports.as_str()),
        ("tcp", "445")
    );
}

/// A rule the reader does not understand can only add egress: an accept under it counts, a drop
/// under it does not; both are named in warnings.
#[test]
fn nft_unknown_matches_over_report() {
    let text = r#"{"nftables": [
{"table": {"family": "ip", "name": "f", "handle": 1}},
{"chain": {"family": "ip", "table": "f", "name": "out", "handle": 1, "type": "filter", "hook": "output", "prio": 0, "policy": "drop"}},
{"chain": {"family": "ip", "table": "f", "name": "sub", "handle": 2}},
{"rule": {"family": "ip", "table": "f", "chain": "out", "handle": 3, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "skuid"}}, "right": 0}}, {"drop": null}]}},
{"rule": {"family": "ip", "table": "f", "chain": "out", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "skuid"}}, "right": 1000}}, {"payload": {"protocol": "tcp", "field": "dport"}}, {"accept": null}]}},
{"rule": {"family": "ip", "table": "f", "chain": "out", "handle": 5, "expr": [{"jump": {"target": "sub"}}]}},
{"rule": {"family": "ip", "table": "f", "chain": "sub", "handle": 6, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}}, {"return": null}]}},
{"rule": {"family": "ip", "table": "f", "chain": "sub", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"drop": null}]}},
{"rule": {"family": "ip", "table": "f", "chain": "sub", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 123}}, {"accept": null}]}}
]}"#;
    let inv = nft_inv(text);
    let out = "web-1:output";
    // `meta skuid 1000 … accept` with an unknown statement: taken as accepting everything (IPv4).
    assert!(lets(&inv, out, TCP, 445, "8.8.8.8"));
    // The table is `ip`: IPv6 passes it.
    assert!(lets(&inv, out, TCP, 445, "2606:4700:4700::1111"));
    let messages: Vec<&str> = inv.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("meta skuid == 0")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("statement `payload`")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("meta mark == 1")),
        "{messages:?}"
    );
}

#[test]
fn nft_unknown_return_does_not_hide_a_later_accept_nor_enforce_a_later_drop() {
    let text = r#"{"nftables": [
{"table": {"family": "inet", "name": "f", "handle": 1}},
{"chain": {"family": "inet", "table": "f", "name": "out", "handle": 1, "type": "filter", "hook": "output", "prio": 0, "policy": "drop"}},
{"chain": {"family": "inet", "table": "f", "name": "sub", "handle": 2}},
{"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 5, "expr": [{"jump": {"target": "sub"}}]}},
{"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "sub", "handle": 6, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}}, {"return": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "sub", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "sub", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 123}}, {"accept": null}]}}
]}"#;
    let inv = nft_inv(text);
    let out = "web-1:output";
    // Marked packets return before the drop of tcp/22 and are accepted by the base chain: the
    // mark is unknown, so tcp/22 may leave.
    assert!(lets(&inv, out, TCP, 22, "8.8.8.8"));
    // udp/123 is accepted in the sub-chain whether or not the packet was marked.
    assert!(lets(&inv, out, UDP, 123, "8.8.8.8"));
    assert!(!lets(&inv, out, UDP, 124, "8.8.8.8"));
}

const IPTABLES: &str = "# Generated by iptables-save v1.8.9 (nf_tables) on Fri Dec  4 20:00:00 2026
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT DROP [0:0]
:EGRESS - [0:0]
-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -d 203.0.113.0/24 -p tcp -m tcp --dport 445 -j DROP
-A OUTPUT -p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT
-A OUTPUT -d 10.0.0.2/32 -p udp -m udp --dport 53 -m comment --comment \"internal \\\"dns\\\"\" -j ACCEPT
-A OUTPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A OUTPUT -m owner --uid-owner 0 -j DROP
-A OUTPUT -j EGRESS
-A OUTPUT -j LOG --log-prefix \"egress drop \"
-A EGRESS -p tcp -m tcp --dport 23 -j RETURN
-A EGRESS -p tcp -m tcp ! --dport 1:1023 -j ACCEPT
COMMIT
";

#[test]
fn iptables_save_is_read_like_nft() {
    assert!(iptables::detect(IPTABLES));
    let inv = build(iptables::parse(IPTABLES, "gw-1.iptables").unwrap());
    let ids: Vec<&str> = inv.targets.iter().map(|t| t.resource_id.as_str()).collect();
    assert_eq!(ids, vec!["gw-1:output", "gw-1:forward"]);
    let out = "gw-1:output";
    assert!(lets(&inv, out, TCP, 443, "8.8.8.8"));
    assert!(lets(&inv, out, TCP, 8000, "8.8.8.8"));
    assert!(!lets(&inv, out, TCP, 445, "203.0.113.9"));
    // 445 elsewhere: not in the multiport list, below 1024: the policy drops it.
    assert!(!lets(&inv, out, TCP, 445, "8.8.8.8"));
    assert!(lets(&inv, out, UDP, 53, "10.0.0.2"));
    assert!(!lets(&inv, out, UDP, 53, "10.0.0.3"));
    assert!(lets(&inv, out, ICMP, 8 * 256, "8.8.8.8"));
    // `! --dport 1:1023` in the user chain; tcp/23 returns before it and hits the policy.
    assert!(lets(&inv, out, TCP, 5000, "8.8.8.8"));
    assert!(!lets(&inv, out, TCP, 23, "8.8.8.8"));
    assert!(lets(&inv, out, TCP, 22, "127.0.0.1"));
    // An iptables-save file is IPv4: IPv6 is not filtered by it.
    assert!(lets(&inv, out, TCP, 445, "2606:4700:4700::1111"));
    // The owner match is unknown: its drop is not counted, and it is named.
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.message.contains("--uid-owner 0")));
    assert!(lets(&inv, "gw-1:forward", TCP, 443, "8.8.8.8"));
    assert!(!lets(&inv, "gw-1:forward", TCP, 80, "8.8.8.8"));
}

#[test]
fn ip6tables_save_is_ipv6() {
    let text = "# Generated by ip6tables-save v1.8.9 on Fri Dec  4 20:00:00 2026
*filter
:OUTPUT DROP [0:0]
-A OUTPUT -d 2606:4700:4700::1111/128 -p tcp -m tcp --dport 853 -j ACCEPT
-A OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -j ACCEPT
COMMIT
";
    let inv = build(iptables::parse(text, "db.ip6tables").unwrap());
    let out = "db:output";
    assert!(lets(&inv, out, TCP, 853, "2606:4700:4700::1111"));
    assert!(!lets(&inv, out, TCP, 853, "2606:4700:4700::1001"));
    assert!(lets(
        &inv,
        out,
        crate::model::space::ICMPV6,
        128 * 256,
        "2606:4700:4700::1001"
    ));
    // IPv4 passes an ip6tables table.
    assert!(lets(&inv, out, TCP, 445, "8.8.8.8"));
    assert_eq!(inv.targets.len(), 1, "no FORWARD chain: no gateway target");
}

#[test]
fn iptables_errors_name_the_line() {
    let err = iptables::parse(
        "*filter\n:OUTPUT DROP [0:0]\n-A NOPE -j ACCEPT\nCOMMIT\n",
        "h",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("line 3") && err.contains("NOPE"), "{err}");
    let err = iptables::parse("*filter\n:OUTPUT DROP [0:0]\n", "h")
        .unwrap_err()
        .to_string();
    assert!(err.contains("COMMIT"), "{err}");
}

#[test]
fn host_names_come_from_the_file_name() {
    assert_eq!(host_of("examples/host/web-1.nft.json"), "web-1");
    assert_eq!(host_of("gw.iptables"), "gw");
    assert_eq!(host_of("/x/y/db"), "db");
}

#[test]
fn nft_numeric_protocols_and_icmp_types() {
    let text = r#"{"nftables": [
{"table": {"family": "inet", "name": "f", "handle": 1}},
{"chain": {"family": "inet", "table": "f", "name": "out", "handle": 1, "type": "filter", "hook": "output", "prio": 0, "policy": "drop"}},
{"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": 47}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": 8}}, {"accept": null}]}}
]}"#;
    let inv = nft_inv(text);
    assert!(inv.warnings.is_empty(), "{:#?}", inv.warnings);
    let out = "web-1:output";
    assert!(lets(&inv, out, 47, 0, "8.8.8.8"));
    assert!(!lets(&inv, out, 50, 0, "8.8.8.8"));
    assert!(lets(&inv, out, ICMP, 8 * 256, "8.8.8.8"));
    assert!(!lets(&inv, out, ICMP, 0, "8.8.8.8"));
}
