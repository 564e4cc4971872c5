//! Exports shaped as real accounts print them (`aws ec2 describe-* --output json`, no `--query`):
//! several reservations, instances with two interfaces, managed interfaces (Lambda, NAT gateway,
//! interface endpoint, Network Load Balancer), an unattached interface, dual-stack and IPv4-only
//! interfaces, IPv6 rules, the two `*` entries of a network ACL, every kind of route target, and
//! AWS-managed prefix lists. Fixture: tests/fixtures/aws/real-shapes (README there).
//! Also: malformed values are errors naming file, resource and field, and no mutation of any
//! example or fixture makes the loader panic.

use egress_audit::eval::eval_target;
use egress_audit::model::space::{all_v4, v4, v6};
use egress_audit::model::{Finding, Severity, Target};
use egress_audit::normalize::{DocContext, Inventory, Loader, Options};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::inputs;
use inputs::{check, load, scan_paths};

const DIR: &str = "tests/fixtures/aws/real-shapes";
const WEB1: &str = "eni-0d1e2f3a4b5c6d701";
const WEB1_SECOND: &str = "eni-0d1e2f3a4b5c6d702";
const WEB2: &str = "eni-0d1e2f3a4b5c6d703";
const APP1: &str = "eni-0d1e2f3a4b5c6d704";
const DB1: &str = "eni-0d1e2f3a4b5c6d705";
const LAMBDA: &str = "eni-0d1e2f3a4b5c6d706";
const NAT: &str = "eni-0d1e2f3a4b5c6d707";
const VPCE: &str = "eni-0d1e2f3a4b5c6d708";
const NLB: &str = "eni-0d1e2f3a4b5c6d709";
const SPARE: &str = "eni-0d1e2f3a4b5c6d70a";
const SG_APP: &str = "sg-0c1d2e3f4a5b6c702";
const SG_DB: &str = "sg-0c1d2e3f4a5b6c703";
const SG_PING6: &str = "sg-0c1d2e3f4a5b6c707";
const ACL_APP: &str = "acl-0e1f2a3b4c5d6e702";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scan_fixture(ids: &[&str]) -> (Inventory, Vec<Finding>) {
    scan_paths(&[root().join(DIR)], ids)
}

fn ids(f: &[Finding], resource: &str) -> Vec<String> {
    let set: BTreeSet<String> = f
        .iter()
        .filter(|x| x.resource_id == resource)
        .map(|x| x.check_id.to_string())
        .collect();
    set.into_iter().collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn find<'a>(f: &'a [Finding], resource: &str, id: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.resource_id == resource && x.check_id == id)
        .unwrap_or_else(|| panic!("no {id} on {resource}"))
}

fn target<'a>(inv: &'a Inventory, id: &str) -> &'a Target {
    inv.targets
        .iter()
        .find(|t| t.resource_id == id)
        .unwrap_or_else(|| panic!("no target {id}"))
}

/// (rule, protocol, ports, destination) of each piece of evidence.
fn evidence(f: &Finding) -> Vec<(String, String, String, String)> {
    f.evidence
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.protocol.to_string(),
                e.ports.to_string(),
                e.destination.to_string(),
            )
        })
        .collect()
}

fn ev(rule: &str, proto: &str, ports: &str, dest: &str) -> (String, String, String, String) {
    (rule.into(), proto.into(), ports.into(), dest.into())
}

#[test]
fn targets_of_a_real_account() {
    let (inv, _) = scan_fixture(inputs::EVERY);
    let mut kinds: Vec<(&str, &str)> = inv
        .targets
        .iter()
        .map(|t| (t.resource_id.as_str(), t.resource_kind.as_str()))
        .collect();
    kinds.sort();
    // Every interface with security groups (instance, Lambda, endpoint, unattached), and the one
    // group no interface uses. The terminated instance has no interface and is skipped; the
    // network ACLs are both covered by interfaces.
    assert_eq!(
        kinds,
        vec![
            (WEB1, "network-interface"),
            (WEB1_SECOND, "network-interface"),
            (WEB2, "network-interface"),
            (APP1, "network-interface"),
            (DB1, "network-interface"),
            (LAMBDA, "network-interface"),
            (VPCE, "network-interface"),
            (SPARE, "network-interface"),
            (SG_PING6, "security-group"),
        ]
    );
    let skipped: Vec<(&str, &str)> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "not-evaluated")
        .map(|w| (w.source.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0].0, NAT);
    assert!(skipped[0].1.contains("(nat_gateway)"));
    assert_eq!(skipped[1].0, NLB);
    assert!(skipped[1].1.contains("(network_load_balancer)"));
    // The partners list's entries were saved without an id: the one customer list lacking them.
    // The AWS-managed S3 list has its own entries; the DynamoDB one is named by nothing.
    let kinds: Vec<&str> = inv.warnings.iter().map(|w| w.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["inferred-prefix-list", "not-evaluated", "not-evaluated"]
    );
    assert!(inv.warnings[0].message.contains("pl-0f9e8d7c6b5a49381"));

    // Names: the instance's Name tag and id on both of its interfaces; the others their own.
    let name = |id| target(&inv, id).name.clone().unwrap_or_default();
    assert_eq!(name(WEB1), "web-1 (i-0a1b2c3d4e5f60701)");
    assert_eq!(name(WEB1_SECOND), "web-1 (i-0a1b2c3d4e5f60701)");
    assert_eq!(name(LAMBDA), "AWS Lambda VPC ENI-orders-worker-0f1e2d3c");
    assert_eq!(name(SPARE), "spare-eni");
    let t = target(&inv, WEB1_SECOND);
    assert_eq!(t.account.as_deref(), Some("111122223333"));
    assert_eq!(t.region.as_deref(), Some("us-east-1"));
    assert_eq!(t.labels.get("team").map(String::as_str), Some("shop"));
    // Each interface has its own groups and its own subnet's ACL.
    assert_eq!(t.chains[0].layers[0].resource, SG_APP);
    assert_eq!(t.chains[1].layers[0].resource, ACL_APP);
    assert_eq!(
        target(&inv, WEB1).chains[1].layers[0].resource,
        "acl-0e1f2a3b4c5d6e701"
    );
}

#[test]
fn address_families_of_real_interfaces() {
    let (inv, _) = scan_fixture(inputs::EVERY);
    // Dual stack: IPv6 addresses in both listings.
    assert_eq!(target(&inv, WEB1).address_limit, None);
    assert_eq!(target(&inv, APP1).address_limit, None);
    // `Ipv6Addresses: []`: IPv4 only, whatever `::/0` rules say.
    for id in [WEB1_SECOND, WEB2, DB1, LAMBDA, VPCE, SPARE] {
        assert_eq!(target(&inv, id).address_limit, Some(all_v4()), "{id}");
    }
    // A lone group: no limit.
    assert_eq!(target(&inv, SG_PING6).address_limit, None);
}

/// The checks that fire on the real account: its 29 findings are all of theirs.
const ACCOUNT_CHECKS: &[&str] = &[
    "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG012",
    "EG013",
];

#[test]
fn findings_of_a_real_account() {
    let (_, f) = scan_fixture(ACCOUNT_CHECKS);
    let all_open = strs(&[
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
    ]);
    assert_eq!(ids(&f, WEB1), all_open);
    assert_eq!(ids(&f, WEB2), all_open);
    assert_eq!(ids(&f, WEB1_SECOND), strs(&["EG008", "EG009"]));
    assert_eq!(ids(&f, APP1), strs(&["EG007", "EG008", "EG009"]));
    assert_eq!(ids(&f, DB1), Vec::<String>::new());
    assert_eq!(ids(&f, LAMBDA), strs(&["EG008", "EG009"]));
    assert_eq!(ids(&f, VPCE), Vec::<String>::new());
    assert_eq!(ids(&f, SPARE), strs(&["EG008", "EG009"]));
    assert_eq!(ids(&f, SG_APP), strs(&["EG012"]));
    assert_eq!(ids(&f, SG_PING6), strs(&["EG007"]));
    assert_eq!(ids(&f, ACL_APP), Vec::<String>::new());
    assert_eq!(f.len(), 29);

    // Dual stack: IPv4 and IPv6 rules both decide.
    let smb = find(&f, WEB1, "EG002");
    assert_eq!(
        smb.message,
        "tcp/445 is allowed to 100% of public IPv4 and 100% of public IPv6"
    );
    assert_eq!(
        evidence(smb),
        vec![
            ev(
                "sg-0c1d2e3f4a5b6c701 egress #1 (all IPv4)",
                "all",
                "all",
                "0.0.0.0/0"
            ),
            ev(
                "sg-0c1d2e3f4a5b6c701 egress #2 (all IPv6)",
                "all",
                "all",
                "::/0"
            ),
            ev("acl-0e1f2a3b4c5d6e701 rule 100", "all", "all", "0.0.0.0/0"),
            ev("acl-0e1f2a3b4c5d6e701 rule 101", "all", "all", "::/0"),
        ]
    );
    assert_eq!(
        find(&f, WEB1, "EG007").message,
        "icmp echo (icmp/8:0) is allowed to 100% of public IPv4; icmpv6 echo (icmpv6/128:0) is allowed to 100% of public IPv6"
    );
    // The same group on an IPv4-only interface: no IPv6 in any message.
    assert_eq!(
        find(&f, WEB2, "EG002").message,
        "tcp/445 is allowed to 100% of public IPv4"
    );
    for x in f.iter().filter(|x| x.resource_id == WEB2) {
        assert!(!x.message.contains("IPv6"), "{}", x.message);
        assert!(x.evidence.iter().all(|e| e.destination != "::/0"), "{x:#?}");
    }

    // icmpv6 echo passes the group's `icmpv6` all-types rule and the ACL's type-128 entry.
    let echo6 = find(&f, APP1, "EG007");
    assert_eq!(
        echo6.message,
        "icmpv6 echo (icmpv6/128:0) is allowed to 100% of public IPv6"
    );
    assert_eq!(
        evidence(echo6),
        vec![
            ev("sg-0c1d2e3f4a5b6c702 egress #6", "icmpv6", "all", "::/0"),
            ev(
                "acl-0e1f2a3b4c5d6e702 rule 121",
                "icmpv6",
                "type 128",
                "::/0"
            ),
        ]
    );
    // The IPv4-only second interface of web-1 has the same group and ACL: its icmp echo is
    // blocked by the ACL, its icmpv6 cannot be sent, and only 10 of the 16 DoH addresses are IPv4.
    assert!(find(&f, WEB1_SECOND, "EG008")
        .message
        .contains("10 of 16 listed addresses"));
    assert!(find(&f, APP1, "EG008")
        .message
        .contains("16 of 16 listed addresses"));
    assert_eq!(
        evidence(find(&f, WEB1_SECOND, "EG008")),
        vec![
            ev(
                "sg-0c1d2e3f4a5b6c702 egress #1 (https out)",
                "tcp",
                "443",
                "0.0.0.0/0"
            ),
            ev("acl-0e1f2a3b4c5d6e702 rule 100", "tcp", "443", "0.0.0.0/0"),
        ]
    );
    assert_eq!(
        find(&f, APP1, "EG009").message,
        "tcp/443 is allowed to 100% of public IPv4 and 100% of public IPv6 (up to 2^124 addresses on one port); name the destinations it needs"
    );

    // Lambda: all protocols in the group, only 443 and 8443 through the ACL.
    let lam = find(&f, LAMBDA, "EG009");
    assert!(lam.message.starts_with("tcp/443,8443 "), "{}", lam.message);
    assert_eq!(
        evidence(lam),
        vec![
            ev("sg-0c1d2e3f4a5b6c704 egress #1", "all", "all", "0.0.0.0/0"),
            ev("acl-0e1f2a3b4c5d6e702 rule 100", "tcp", "443", "0.0.0.0/0"),
            ev("acl-0e1f2a3b4c5d6e702 rule 105", "tcp", "8443", "0.0.0.0/0"),
        ]
    );

    // The S3 prefix-list rule is covered by tcp/443 to 0.0.0.0/0 (its entries are loaded).
    let redundant = find(&f, SG_APP, "EG012");
    assert_eq!(
        redundant.rule.as_deref(),
        Some("sg-0c1d2e3f4a5b6c702 egress #9 (S3)")
    );
    assert_eq!(redundant.evidence[0].destination, "pl-63a5400a");
    assert_eq!(redundant.severity, Severity::Info);

    // The unattached group allows protocol "58" (all types) to ::/0.
    assert_eq!(
        evidence(find(&f, SG_PING6, "EG007")),
        vec![ev(
            "sg-0c1d2e3f4a5b6c707 egress #1 (ICMPv6)",
            "icmpv6",
            "all",
            "::/0"
        )]
    );
}

#[test]
fn routes_of_a_real_account() {
    let (inv, f) = scan_fixture(&["EG009"]);
    let route = |id| target(&inv, id).route.clone();
    assert_eq!(route(WEB1).internet_path, Some(true));
    assert_eq!(
        route(WEB1).reason.as_deref(),
        Some("route 0.0.0.0/0 → igw-0a1b2c3d4e5f60701 (rtb-0b1c2d3e4f5a6b702)")
    );
    assert_eq!(
        route(WEB1_SECOND).reason.as_deref(),
        Some("route 0.0.0.0/0 → nat-0c1d2e3f4a5b6c7d8 (rtb-0b1c2d3e4f5a6b703)")
    );
    // The data subnet's association with the public table is `disassociated`: the main table
    // (`Main: true`) decides, whose only default route is a blackhole.
    for id in [DB1, SPARE] {
        let r = route(id);
        assert_eq!(r.internet_path, Some(false), "{id}");
        assert_eq!(
            r.reason.as_deref(),
            Some("rtb-0b1c2d3e4f5a6b701 has no 0.0.0.0/0 route to an internet, NAT, transit or virtual private gateway")
        );
    }
    let spare = find(&f, SPARE, "EG009");
    assert_eq!(spare.severity, Severity::Low);
    assert_eq!(spare.original_severity, None);
}

#[test]
fn cross_account_group_references_are_internal_and_named() {
    let (inv, _) = scan_fixture(inputs::EVERY);
    let rules = &target(&inv, DB1).chains[0].layers[0].rules;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].destination, "444455556666/sg-0d9c8b7a6f5e4d301");
    assert_eq!(
        rules[0].name,
        format!("{SG_DB} egress #1 (replica in the peer account)")
    );
    assert!(rules[0].traffic.is_empty() && rules[0].unresolved.is_empty());
    // The same account's group is written as the plain id.
    let app = &target(&inv, APP1).chains[0].layers[0].rules;
    assert!(app.iter().any(|r| r.destination == SG_DB));
}

#[test]
fn the_two_star_entries_of_a_dual_stack_acl() {
    let (inv, _) = scan_fixture(inputs::EVERY);
    let rules = &target(&inv, WEB1).chains[1].layers[0].rules;
    let shown: Vec<(&str, &str, bool)> = rules
        .iter()
        .map(|r| (r.name.as_str(), r.destination.as_str(), r.synthetic))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("acl-0e1f2a3b4c5d6e701 rule 100", "0.0.0.0/0", false),
            ("acl-0e1f2a3b4c5d6e701 rule 101", "::/0", false),
            ("acl-0e1f2a3b4c5d6e701 rule * (32767)", "0.0.0.0/0", true),
            ("acl-0e1f2a3b4c5d6e701 rule * (32767)", "::/0", true),
        ]
    );
    // The app ACL: ingress entries left out, egress in rule-number order.
    let numbers: Vec<Option<i64>> = target(&inv, APP1).chains[1].layers[0]
        .rules
        .iter()
        .map(|r| r.priority)
        .collect();
    assert_eq!(
        numbers,
        [90, 91, 100, 101, 105, 110, 121, 130, 140, 32767, 32767]
            .map(Some)
            .to_vec()
    );
    // ESP (protocol 50) to 0.0.0.0/0 passes both; tcp/445 is denied in both families.
    let out = eval_target(target(&inv, APP1));
    assert!(out
        .allowed
        .contains(50, 0, v4("192.0.9.1".parse().unwrap())));
    assert!(!out.allowed.contains(6, 445, v4("8.8.8.8".parse().unwrap())));
    assert!(!out
        .allowed
        .contains(6, 445, v6("2606:4700::1".parse().unwrap())));
    assert!(out
        .allowed
        .contains(6, 443, v6("2606:4700::1".parse().unwrap())));
    // tcp/8443 only to the partner prefix list's entries.
    assert!(out
        .allowed
        .contains(6, 8443, v4("52.94.76.1".parse().unwrap())));
    assert!(!out
        .allowed
        .contains(6, 8443, v4("8.8.8.8".parse().unwrap())));
}

// ---------- listings: pages, empty results ----------

#[test]
fn empty_results_and_pages() {
    let fixture = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join(DIR).join(name)).unwrap())
            .unwrap()
    };
    // An empty describe-network-acls result is data (there are none), not missing data.
    let inv = load(vec![
        fixture("security-groups.json"),
        fixture("network-interfaces.json"),
        json!({"NetworkAcls": []}),
        json!({"RouteTables": []}),
        json!({"Subnets": []}),
    ])
    .unwrap();
    let acl_gaps: Vec<&str> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "partial-data")
        .map(|w| w.message.as_str())
        .collect();
    assert!(!acl_gaps.is_empty());
    assert!(acl_gaps
        .iter()
        .all(|m| m.contains("default network ACL of vpc-0a1b2c3d4e5f60718 is not in the input")));
    // No route table listed at all: no table, no verdict.
    assert_eq!(target(&inv, WEB1).route.internet_path, None);
    // Empty listings of every kind load without targets or errors.
    let inv = load(vec![
        json!({"SecurityGroups": []}),
        json!({"NetworkInterfaces": []}),
        json!({"Reservations": []}),
        json!({"PrefixLists": []}),
        json!({"Vpcs": []}),
    ])
    .unwrap();
    assert!(inv.targets.is_empty());
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    // One page of several: loaded, and said to be partial.
    let mut page = fixture("network-interfaces.json");
    page["NextToken"] = json!("eyJ2IjoyLCJjIjoiZXhhbXBsZSJ9");
    let inv = load(vec![fixture("security-groups.json"), page]).unwrap();
    assert!(inv.warnings.iter().any(|w| w.kind == "truncated-listing"
        && w.source == "doc-1.json"
        && w.message.contains("NextToken")));
    assert_eq!(target(&inv, WEB1).resource_kind, "network-interface");
    // `"NextToken": null` is the last page.
    let mut last = fixture("security-groups.json");
    last["NextToken"] = Value::Null;
    assert!(!load(vec![last])
        .unwrap()
        .warnings
        .iter()
        .any(|w| w.kind == "partial-data"));
}

// ---------- route semantics ----------

#[test]
fn prefix_list_routes_count_only_when_they_hold_public_addresses() {
    let docs = |routes: Value, extra: Vec<Value>| {
        let mut d = vec![
            json!({"SecurityGroups": [{"GroupId": "sg-0a", "OwnerId": "111122223333", "VpcId": "vpc-0a",
                "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}),
            json!({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0a", "SubnetId": "subnet-0a", "VpcId": "vpc-0a",
                "PrivateIpAddress": "10.0.0.5", "Groups": [{"GroupId": "sg-0a"}]}]}),
            json!({"RouteTables": [{"RouteTableId": "rtb-0a", "VpcId": "vpc-0a",
                "Associations": [{"Main": true, "RouteTableId": "rtb-0a", "AssociationState": {"State": "associated"}}],
                "Routes": routes}]}),
        ];
        d.extend(extra);
        d
    };
    let path = |d: Vec<Value>| target(&load(d).unwrap(), "eni-0a").route.clone();
    // A gateway endpoint for S3 (prefix list → vpce-) and a private prefix list to a gateway.
    let r = path(docs(
        json!([
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
            {"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-0s3", "Origin": "CreateRoute", "State": "active"},
            {"DestinationPrefixListId": "pl-0onprem", "TransitGatewayId": "tgw-0a", "Origin": "CreateRoute", "State": "active"}
        ]),
        vec![
            json!({"PrefixListId": "pl-0onprem", "Entries": [{"Cidr": "192.168.0.0/16"}, {"Cidr": "172.16.0.0/12"}]}),
        ],
    ));
    assert_eq!(r.internet_path, Some(false), "{r:?}");
    // The same list holding a public block is a path.
    let r = path(docs(
        json!([{"DestinationPrefixListId": "pl-0onprem", "TransitGatewayId": "tgw-0a", "State": "active"}]),
        vec![
            json!({"PrefixListId": "pl-0onprem", "Entries": [{"Cidr": "192.168.0.0/16"}, {"Cidr": "52.94.76.0/22"}]}),
        ],
    ));
    assert_eq!(r.internet_path, Some(true));
    assert_eq!(
        r.reason.as_deref(),
        Some("route pl-0onprem → tgw-0a (rtb-0a)")
    );
    // Entries unknown: the route may lead anywhere; nothing is lowered by guessing.
    let r = path(docs(
        json!([{"DestinationPrefixListId": "pl-0onprem", "TransitGatewayId": "tgw-0a", "State": "active"}]),
        vec![],
    ));
    assert_eq!(r.internet_path, Some(true));
    // Peering, local gateway and blackholes are no internet path; a NAT instance is an appliance.
    let r = path(docs(
        json!([
            {"DestinationCidrBlock": "0.0.0.0/1", "VpcPeeringConnectionId": "pcx-0a", "State": "active"},
            {"DestinationCidrBlock": "128.0.0.0/1", "LocalGatewayId": "lgw-0a", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0a", "State": "blackhole"}
        ]),
        vec![],
    ));
    assert_eq!(r.internet_path, Some(false));
    let r = path(docs(
        json!([{"DestinationCidrBlock": "0.0.0.0/0", "InstanceId": "i-0nat", "InstanceOwnerId": "111122223333",
                "NetworkInterfaceId": "eni-0nat", "Origin": "CreateRoute", "State": "active"}]),
        vec![],
    ));
    assert_eq!(r.internet_path, Some(true));
    assert_eq!(
        r.appliance.as_deref(),
        Some("route 0.0.0.0/0 → i-0nat (rtb-0a)")
    );
    // Carrier gateways and Cloud WAN core networks lead out.
    for target_field in [
        json!({"CarrierGatewayId": "cagw-0a"}),
        json!({"CoreNetworkArn": "arn:aws:networkmanager::111122223333:core-network/core-network-0a"}),
    ] {
        let mut route = json!({"DestinationCidrBlock": "0.0.0.0/0", "State": "active"});
        route
            .as_object_mut()
            .unwrap()
            .extend(target_field.as_object().unwrap().clone());
        assert_eq!(path(docs(json!([route]), vec![])).internet_path, Some(true));
    }
}

// ---------- malformed values ----------

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

#[test]
fn malformed_values_name_file_resource_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let sg = |perm: Value| json!({"SecurityGroups": [{"GroupId": "sg-0bad", "IpPermissionsEgress": [perm]}]});
    let acl =
        |entry: Value| json!({"NetworkAcls": [{"NetworkAclId": "acl-0bad", "Entries": [entry]}]});
    let eni = |extra: Value| {
        let mut e =
            json!({"NetworkInterfaceId": "eni-0bad", "SubnetId": "subnet-0a", "Groups": []});
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"NetworkInterfaces": [e]})
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            sg(
                json!({"IpProtocol": "tcp", "FromPort": "abc", "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}),
            ),
            vec!["sg-0bad", "IpPermissionsEgress[0]", "`FromPort`", "\"abc\""],
        ),
        (
            sg(json!({"IpProtocol": "-1", "IpRanges": {"CidrIp": "0.0.0.0/0"}})),
            vec![
                "sg-0bad",
                "IpPermissionsEgress[0]",
                "`IpRanges` must be a list",
            ],
        ),
        (
            sg(json!({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/33"}]})),
            vec![
                "sg-0bad",
                "IpRanges[0]",
                "`CidrIp`",
                "10.0.0.0/33",
                "prefix length",
            ],
        ),
        (
            sg(json!({"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "0.0.0.0/0"}]})),
            vec!["sg-0bad", "Ipv6Ranges[0]", "`CidrIpv6`", "not an IPv6 CIDR"],
        ),
        (
            sg(json!({"IpProtocol": null, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})),
            vec!["sg-0bad", "IpPermissionsEgress[0]", "`IpProtocol`"],
        ),
        (
            sg(
                json!({"IpProtocol": "icmp", "FromPort": 300, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}),
            ),
            vec!["sg-0bad", "`FromPort` 300"],
        ),
        (
            sg(json!({"IpProtocol": "-1", "UserIdGroupPairs": [{"UserId": "111122223333"}]})),
            vec!["sg-0bad", "UserIdGroupPairs[0]", "`GroupId`"],
        ),
        (
            acl(
                json!({"RuleNumber": 100, "Egress": true, "Protocol": "-1", "RuleAction": "allow", "Ipv6CidrBlock": "10.0.0.0/8"}),
            ),
            vec![
                "acl-0bad",
                "rule 100",
                "`Ipv6CidrBlock`",
                "not an IPv6 CIDR",
            ],
        ),
        (
            acl(
                json!({"RuleNumber": "abc", "Egress": true, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}),
            ),
            vec!["acl-0bad", "Entries[0]", "`RuleNumber`", "\"abc\""],
        ),
        (
            acl(
                json!({"RuleNumber": 100, "Egress": "yes", "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}),
            ),
            vec!["acl-0bad", "Entries[0]", "`Egress`"],
        ),
        (
            acl(
                json!({"RuleNumber": 100, "Egress": true, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0",
                       "PortRange": {"From": 443, "To": "x"}}),
            ),
            vec!["acl-0bad", "rule 100", "`To`"],
        ),
        (
            json!({"RouteTables": [{"RouteTableId": "rtb-0bad", "Routes": [{"DestinationCidrBlock": "0.0.0.0/99", "GatewayId": "igw-0a"}]}]}),
            vec![
                "rtb-0bad",
                "Routes[0]",
                "`DestinationCidrBlock`",
                "0.0.0.0/99",
            ],
        ),
        (
            json!({"RouteTables": [{"RouteTableId": "rtb-0bad", "Associations": [{"Main": "true"}]}]}),
            vec!["rtb-0bad", "Associations[0]", "`Main`"],
        ),
        (
            eni(json!({"Ipv6Addresses": "2600::1"})),
            vec!["eni-0bad", "`Ipv6Addresses` must be a list"],
        ),
        (
            eni(json!({"Ipv6Native": "false"})),
            vec!["eni-0bad", "`Ipv6Native`"],
        ),
        (
            eni(json!({"Groups": [{"GroupName": "no-id"}]})),
            vec!["eni-0bad", "Groups[0]", "`GroupId`"],
        ),
        (
            json!({"Reservations": [{"Instances": {"InstanceId": "i-0a"}}]}),
            vec!["Reservations[0]", "`Instances` must be a list"],
        ),
        (
            json!({"Reservations": [{"Instances": [{"InstanceId": "i-0bad", "NetworkInterfaces": [{"NetworkInterfaceId": 7}]}]}]}),
            vec![
                "instance i-0bad",
                "NetworkInterfaces[0]",
                "`NetworkInterfaceId`",
            ],
        ),
        (
            json!({"PrefixListId": "pl-0bad", "Entries": [{"Cidr": "300.0.0.0/8"}]}),
            vec!["pl-0bad", "Entries[0]", "Cidr", "300.0.0.0/8"],
        ),
        (
            json!({"Subnets": [{"SubnetId": 12}]}),
            vec!["Subnets[0]", "`SubnetId`"],
        ),
    ];
    for (i, (doc, needles)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("bad-{i}.json"), doc);
        let err = Loader::default()
            .add_path(&path)
            .expect_err("malformed input must fail");
        let text = err.to_string();
        assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
        for n in needles {
            assert!(text.contains(n), "case {i}: {text:?} should mention {n:?}");
        }
    }
}

// ---------- no panics ----------

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Every JSON path in `v` (object keys and list indices).
fn paths(v: &Value, here: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(here.clone());
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                here.push(PathStep::Key(k.clone()));
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(PathStep::Index(i));
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            PathStep::Key(k) => cur.get_mut(k.as_str())?,
            PathStep::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// One small change: delete a key, change a value's type, replace it by a number, a string or
/// null, truncate a list, or put an odd number or string where a value was.
fn mutate(doc: &mut Value, rng: &mut Rng) {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    let path = all[rng.below(all.len())].clone();
    let replacement = match rng.below(12) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(70000),
        3 => json!(1.5),
        4 => json!("abc"),
        5 => json!(""),
        6 => json!([]),
        7 => json!({}),
        8 => json!(true),
        9 => json!("10.0.0.0/33"),
        10 => json!(i64::MIN),
        _ => json!("::/0"),
    };
    match rng.below(4) {
        // Delete the key (or the list element).
        0 => {
            if let Some((last, parent)) = path.split_last() {
                match (at(doc, parent), last) {
                    (Some(Value::Object(o)), PathStep::Key(k)) => {
                        o.remove(k);
                    }
                    (Some(Value::Array(a)), PathStep::Index(i)) if *i < a.len() => {
                        a.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        // Truncate a list.
        1 => {
            if let Some(Value::Array(a)) = at(doc, &path) {
                let keep = rng.below(a.len() + 1);
                a.truncate(keep);
            } else if let Some(v) = at(doc, &path) {
                *v = replacement;
            }
        }
        // Wrap the value in a list or an object: its type changes, its content stays.
        2 => {
            if let Some(v) = at(doc, &path) {
                let inner = v.take();
                *v = if rng.below(2) == 0 {
                    json!([inner])
                } else {
                    json!({ "x": inner })
                };
            }
        }
        _ => {
            if let Some(v) = at(doc, &path) {
                *v = replacement;
            }
        }
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

#[test]
fn no_mutation_of_an_example_or_fixture_panics() {
    let mut dirs = Vec::new();
    json_files(&root().join("examples/aws"), &mut dirs);
    json_files(&root().join("tests/fixtures/aws"), &mut dirs);
    // One scenario at a time: its files together, one of them mutated.
    let mut groups: std::collections::BTreeMap<PathBuf, Vec<(PathBuf, Value)>> = Default::default();
    for p in dirs {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        groups
            .entry(p.parent().unwrap().to_path_buf())
            .or_default()
            .push((p, v));
    }
    assert!(groups.len() >= 5, "{:?}", groups.keys());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0, 0);
    for (dir, files) in &groups {
        for round in 0..rounds() {
            let victim = rng.below(files.len());
            let mut docs: Vec<Value> = files.iter().map(|(_, v)| v.clone()).collect();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut docs[victim], &mut rng);
            }
            let mutated = docs[victim].clone();
            let outcome = std::panic::catch_unwind(|| {
                let mut loader = Loader::default();
                for (i, d) in docs.into_iter().enumerate() {
                    let ctx = DocContext {
                        source: files[i].0.display().to_string(),
                        ..Default::default()
                    };
                    if let Err(e) = loader.add_value(d, &ctx) {
                        // A failure names the file it is about.
                        assert!(e.source_name.ends_with(".json"), "{e}");
                        return false;
                    }
                }
                let inv = loader.build(&Options::default());
                for t in &inv.targets {
                    eval_target(t);
                }
                check(&inv, inputs::EVERY);
                true
            });
            match outcome {
                Ok(true) => ok += 1,
                Ok(false) => err += 1,
                Err(_) => panic!(
                    "{} round {round}: a mutation of {} panicked: {}",
                    dir.display(),
                    files[victim].0.display(),
                    serde_json::to_string(&mutated).unwrap()
                ),
            }
        }
    }
    // Both outcomes happen: the mutations reach fields that matter and fields that do not.
    assert!(ok > 20 && err > 20, "ok {ok}, err {err}");
}

// ---------- describe-security-group-rules ----------

fn rules_listing() -> Value {
    json!({"SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-0a1b2c3d4e5f60701", "GroupId": "sg-0c1d2e3f4a5b6c701", "GroupOwnerId": "111122223333",
         "IsEgress": true, "IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0",
         "Description": "all IPv4", "Tags": [], "SecurityGroupRuleArn": "arn:aws:ec2:us-east-1:111122223333:security-group-rule/sgr-0a1b2c3d4e5f60701"},
        {"SecurityGroupRuleId": "sgr-0a1b2c3d4e5f60702", "GroupId": "sg-0c1d2e3f4a5b6c701", "GroupOwnerId": "111122223333",
         "IsEgress": true, "IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "CidrIpv6": "::/0", "Tags": []},
        {"SecurityGroupRuleId": "sgr-0a1b2c3d4e5f60703", "GroupId": "sg-0c1d2e3f4a5b6c701", "GroupOwnerId": "111122223333",
         "IsEgress": false, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv4": "0.0.0.0/0", "Tags": []},
        {"SecurityGroupRuleId": "sgr-0a1b2c3d4e5f60704", "GroupId": "sg-0e0e0e0e0e0e0e0e1", "GroupOwnerId": "111122223333",
         "IsEgress": true, "IpProtocol": "tcp", "FromPort": 445, "ToPort": 445, "CidrIpv4": "0.0.0.0/0", "Description": "smb", "Tags": []},
        {"SecurityGroupRuleId": "sgr-0a1b2c3d4e5f60705", "GroupId": "sg-0e0e0e0e0e0e0e0e1", "GroupOwnerId": "111122223333",
         "IsEgress": true, "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "ReferencedGroupInfo": {"GroupId": "sg-0d9c8b7a6f5e4d301", "PeeringStatus": "active", "UserId": "444455556666",
                                 "VpcId": "vpc-0f9e8d7c6b5a40312", "VpcPeeringConnectionId": "pcx-0a9b8c7d6e5f40321"}, "Tags": []},
        {"SecurityGroupRuleId": "sgr-0a1b2c3d4e5f60706", "GroupId": "sg-0e0e0e0e0e0e0e0e1", "GroupOwnerId": "111122223333",
         "IsEgress": true, "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "PrefixListId": "pl-0f9e8d7c6b5a49381", "Tags": []}
    ]})
}

#[test]
fn security_group_rules_listing() {
    // Alone: each group's egress rules, named by their rule id.
    let inv = load(vec![rules_listing()]).unwrap();
    let f = check(&inv, &["EG002", "EG009"]);
    let smb = find(&f, "sg-0e0e0e0e0e0e0e0e1", "EG002");
    assert_eq!(
        evidence(smb),
        vec![ev(
            "sg-0e0e0e0e0e0e0e0e1 egress sgr-0a1b2c3d4e5f60704 (smb)",
            "tcp",
            "445",
            "0.0.0.0/0"
        )]
    );
    let rules = &target(&inv, "sg-0e0e0e0e0e0e0e0e1").chains[0].layers[0].rules;
    let dests: Vec<&str> = rules.iter().map(|r| r.destination.as_str()).collect();
    assert_eq!(
        dests,
        vec![
            "0.0.0.0/0",
            "444455556666/sg-0d9c8b7a6f5e4d301",
            "pl-0f9e8d7c6b5a49381"
        ]
    );
    assert_eq!(
        target(&inv, "sg-0e0e0e0e0e0e0e0e1").account.as_deref(),
        Some("111122223333")
    );
    // The ingress rule is left out; `-1` with ports -1 is every protocol.
    let web = &target(&inv, "sg-0c1d2e3f4a5b6c701").chains[0].layers[0].rules;
    assert_eq!(web.len(), 2);
    assert_eq!(
        web[0].name,
        "sg-0c1d2e3f4a5b6c701 egress sgr-0a1b2c3d4e5f60701 (all IPv4)"
    );
    assert_eq!(
        (web[0].protocol.as_str(), web[0].ports.as_str()),
        ("all", "all")
    );
    // With describe-security-groups too, its listing of a group wins: no rule counted twice.
    let mut loader = Loader::default();
    loader.add_path(&root().join(DIR)).unwrap();
    loader
        .add_value(
            rules_listing(),
            &DocContext {
                source: "rules.json".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let inv = loader.build(&Options::default());
    let f = check(&inv, ACCOUNT_CHECKS);
    let web1 = &target(&inv, WEB1).chains[0].layers[0].rules;
    assert_eq!(web1.len(), 2);
    assert_eq!(web1[0].name, "sg-0c1d2e3f4a5b6c701 egress #1 (all IPv4)");
    assert_eq!(ids(&f, "sg-0e0e0e0e0e0e0e0e1"), strs(&["EG002", "EG009"]));
    assert_eq!(f.len(), 29 + 2);
    // Malformed: named by rule id and field.
    let mut bad = rules_listing();
    bad["SecurityGroupRules"][3]["CidrIpv4"] = json!("::/0");
    let err = load(vec![bad]).unwrap_err();
    assert!(
        err.problem
            .to_string()
            .contains("sg-0e0e0e0e0e0e0e0e1: rule sgr-0a1b2c3d4e5f60704"),
        "{}",
        err.problem.to_string()
    );
    assert!(
        err.problem.to_string().contains("`CidrIpv4`"),
        "{}",
        err.problem
    );
    let mut bad = rules_listing();
    bad["SecurityGroupRules"][3]
        .as_object_mut()
        .unwrap()
        .remove("CidrIpv4");
    let err = load(vec![bad]).unwrap_err();
    assert!(
        err.problem.to_string().contains("has no destination"),
        "{}",
        err.problem.to_string()
    );
}

#[test]
fn a_document_holding_several_listings_has_each_read() {
    let fixture = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join(DIR).join(name)).unwrap())
            .unwrap()
    };
    // `jq -s add` of three exports: one object with three top-level listings.
    let mut merged = fixture("security-groups.json");
    for name in ["network-interfaces.json", "network-acls.json"] {
        let other = fixture(name);
        merged
            .as_object_mut()
            .unwrap()
            .extend(other.as_object().unwrap().clone());
    }
    let inv = load(vec![merged]).unwrap();
    let t = target(&inv, APP1);
    assert_eq!(t.chains.len(), 2, "the ACL listing was read too");
    assert_eq!(t.chains[1].layers[0].resource, ACL_APP);
    assert!(!inv.warnings.iter().any(|w| w.kind == "partial-data"));
    // A bad listing among them is still an error.
    let mut merged = fixture("security-groups.json");
    merged["NetworkAcls"] = json!({"NetworkAclId": "acl-0x"});
    let err = load(vec![merged]).unwrap_err();
    assert!(
        err.problem
            .to_string()
            .contains("`NetworkAcls` is not a list"),
        "{}",
        err.problem.to_string()
    );
}

/// Mutation rounds per scenario; `EGRESS_AUDIT_MUTATION_ROUNDS` runs more for a deeper search.
fn rounds() -> usize {
    std::env::var("EGRESS_AUDIT_MUTATION_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60)
}

#[test]
fn bare_lists_from_query_are_read_as_their_listing() {
    let fixture = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join(DIR).join(name)).unwrap())
            .unwrap()
    };
    // `aws ec2 describe-security-groups --query SecurityGroups` and the like.
    let docs: Vec<Value> = [
        ("security-groups.json", "SecurityGroups"),
        ("network-interfaces.json", "NetworkInterfaces"),
        ("network-acls.json", "NetworkAcls"),
        ("route-tables.json", "RouteTables"),
        ("subnets.json", "Subnets"),
        ("vpcs.json", "Vpcs"),
        ("instances.json", "Reservations"),
    ]
    .iter()
    .map(|(file, key)| fixture(file)[*key].clone())
    .collect();
    let inv = load(docs).unwrap();
    let f = check(&inv, &["EG008", "EG009"]);
    assert_eq!(ids(&f, WEB1_SECOND), strs(&["EG008", "EG009"]));
    assert_eq!(target(&inv, DB1).route.internet_path, Some(false));
    assert_eq!(
        target(&inv, WEB1).name.as_deref(),
        Some("web-1 (i-0a1b2c3d4e5f60701)")
    );
    // A list of something else is not taken for an AWS listing.
    let err = load(vec![json!([{"GroupId": "sg-0a"}])]).unwrap_err();
    assert!(
        err.problem.to_string().contains("not a recognised export"),
        "{}",
        err.problem.to_string()
    );
}

// ---------- fail closed (issue 12 §1) ----------

use crate::fail_closed;

fn sg_with(perm: Value) -> Value {
    json!({"SecurityGroups": [{"GroupId": "sg-0f1", "GroupName": "g", "VpcId": "vpc-1",
        "OwnerId": "111122223333", "Description": "d", "IpPermissions": [],
        "IpPermissionsEgress": [perm]}]})
}

fn refused(docs: Vec<Value>) -> String {
    load(docs)
        .map(|inv| format!("loaded: {} targets, {:?}", inv.targets.len(), inv.warnings))
        .expect_err("the damaged input must be refused")
        .to_string()
}

#[test]
fn from_port_without_to_port_is_refused_not_read_as_one_port() {
    for (from, to) in [(Some(0), None), (None, Some(65535))] {
        let mut perm = json!({"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]});
        if let Some(f) = from {
            perm["FromPort"] = json!(f);
        }
        if let Some(t) = to {
            perm["ToPort"] = json!(t);
        }
        let e = refused(vec![sg_with(perm)]);
        assert!(
            e.contains("sg-0f1") && e.contains("is set but") && e.contains("Port` is missing"),
            "{e}"
        );
    }
    // Both ends, or neither (every port), still read.
    let both = json!({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]});
    let (_, f) = inputs::scan(vec![sg_with(both)], &["EG001"]);
    assert!(ids(&f, "sg-0f1").contains(&"EG001".to_string()));
}

#[test]
fn nacl_rule_numbers_outside_1_to_32768_are_refused() {
    for n in [0, -1, 32769, 70000] {
        let acl = json!({"NetworkAcls": [{"NetworkAclId": "acl-0f1", "VpcId": "vpc-1", "IsDefault": false,
            "OwnerId": "111122223333", "Associations": [], "Entries": [
                {"RuleNumber": n, "Protocol": "-1", "Egress": true, "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"},
                {"RuleNumber": 32767, "Protocol": "-1", "Egress": true, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}]}]});
        let e = refused(vec![acl]);
        assert!(
            e.contains("acl-0f1") && e.contains("`RuleNumber`") && e.contains("1–32768"),
            "{n}: {e}"
        );
    }
}

#[test]
fn ipv4_mapped_ipv6_in_cidr_ip_is_refused() {
    for cidr in ["::ffff:0.0.0.0/96", "::ffff:8.8.8.0/120"] {
        let perm = json!({"IpProtocol": "-1", "IpRanges": [{"CidrIp": cidr}]});
        let e = refused(vec![sg_with(perm)]);
        assert!(
            e.contains("CidrIp") && e.contains("IPv4-mapped"),
            "{cidr}: {e}"
        );
    }
    // `::/0` in the IPv4 field stays refused, and in `CidrIpv6` is read.
    let e = refused(vec![sg_with(
        json!({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "::/0"}]}),
    )]);
    assert!(e.contains("not an IPv4 CIDR block"), "{e}");
}

#[test]
fn damaged_egress_fields_fail_closed() {
    let dirs = [
        root().join("examples/aws"),
        root().join("tests/fixtures/aws"),
    ];
    let scenarios = fail_closed::scenarios(&dirs);
    let tally = fail_closed::sweep(
        fail_closed::Provider::Aws,
        &scenarios,
        rounds(),
        0x0A35_FA11_C105_ED00,
    );
    eprintln!("AWS fail-closed sweep: {tally}");
    assert!(
        tally.defects.is_empty(),
        "{tally}:\n{}",
        tally.defects.join("\n")
    );
    assert!(tally.tried > 300 && tally.refused > 50, "{tally}");
}
