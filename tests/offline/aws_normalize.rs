//! The AWS normalizer end to end: CLI exports → Loader → checks, with exact check ids per resource.

use egress_audit::eval::eval_target;
use egress_audit::model::space::{v4, v6};
use egress_audit::model::{Finding, LayerKind, Severity, Target};
use egress_audit::normalize::{Inventory, Loader};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

use crate::inputs;
use inputs::{load, scan, scan_paths};

const ACCT: &str = "111122223333";

fn scan_dir(dir: &str, ids: &[&str]) -> (Inventory, Vec<Finding>) {
    scan_paths(&[Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)], ids)
}

/// The check ids (not rule-level ones unless they are about `resource`) reported on a resource.
fn ids(findings: &[Finding], resource: &str) -> Vec<String> {
    let set: BTreeSet<String> = findings
        .iter()
        .filter(|f| f.resource_id == resource)
        .map(|f| f.check_id.to_string())
        .collect();
    set.into_iter().collect()
}

fn find<'a>(findings: &'a [Finding], resource: &str, id: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.resource_id == resource && f.check_id == id)
        .unwrap_or_else(|| panic!("no {id} on {resource}: {findings:#?}"))
}

fn target<'a>(inv: &'a Inventory, id: &str) -> &'a Target {
    inv.targets
        .iter()
        .find(|t| t.resource_id == id)
        .unwrap_or_else(|| panic!("no target {id}"))
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------- document builders ----------

fn sg(id: &str, egress: Value) -> Value {
    json!({"GroupId": id, "GroupName": format!("{id}-name"), "OwnerId": ACCT,
           "VpcId": "vpc-0aaa", "IpPermissions": [], "IpPermissionsEgress": egress})
}

fn sgs(list: Vec<Value>) -> Value {
    json!({ "SecurityGroups": list })
}

fn cidr_perm(proto: &str, ports: Option<(i64, i64)>, cidrs: &[&str]) -> Value {
    let mut p = json!({"IpProtocol": proto, "IpRanges": [], "Ipv6Ranges": [],
                       "PrefixListIds": [], "UserIdGroupPairs": []});
    if let Some((f, t)) = ports {
        p["FromPort"] = json!(f);
        p["ToPort"] = json!(t);
    }
    for c in cidrs {
        if c.contains(':') {
            p["Ipv6Ranges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"CidrIpv6": c}));
        } else {
            p["IpRanges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"CidrIp": c}));
        }
    }
    p
}

fn eni(id: &str, subnet: &str, groups: &[&str]) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| json!({"GroupId": g, "GroupName": g}))
        .collect();
    json!({"NetworkInterfaceId": id, "SubnetId": subnet, "VpcId": "vpc-0aaa", "OwnerId": ACCT,
           "AvailabilityZone": "eu-west-1a", "Groups": groups, "InterfaceType": "interface",
           "Description": "", "TagSet": [{"Key": "Name", "Value": format!("{id}-name")}]})
}

fn nacl_entry(n: i64, action: &str, proto: &str, ports: Option<(i64, i64)>, cidr: &str) -> Value {
    let mut e = json!({"CidrBlock": cidr, "Egress": true, "Protocol": proto,
                       "RuleAction": action, "RuleNumber": n});
    if let Some((f, t)) = ports {
        e["PortRange"] = json!({"From": f, "To": t});
    }
    e
}

fn nacl(id: &str, subnet: &str, default: bool, entries: Vec<Value>) -> Value {
    json!({"NetworkAclId": id, "VpcId": "vpc-0aaa", "IsDefault": default, "OwnerId": ACCT,
           "Associations": [{"NetworkAclAssociationId": "aclassoc-1", "NetworkAclId": id, "SubnetId": subnet}],
           "Entries": entries})
}

fn allow_all_sg(id: &str) -> Value {
    sg(id, json!([cidr_perm("-1", None, &["0.0.0.0/0"])]))
}

// ---------- the examples ----------

#[test]
fn example_default_open() {
    let (inv, f) = scan_dir(
        "examples/aws/default-open",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    let web = "eni-0a9c1e3f5b7d9a601";
    let jump = "eni-0b0d2f4a6c8e0b702";
    let lone_default = "sg-0b8c0d2e4f6a8b902";
    // The probe result generated in the lab on web-1 (probe/probe.json): an observed target.
    let probed = "ip-10-20-1-37.ec2.internal → 10.213.0.2";
    // Two workload interfaces (listed by both describe-instances and describe-network-interfaces,
    // merged), the unattached default group of the default VPC; the NAT gateway's interface is skipped.
    let mut kinds: Vec<(String, String)> = inv
        .targets
        .iter()
        .map(|t| (t.resource_id.to_string(), t.resource_kind.to_string()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (web.to_string(), "network-interface".to_string()),
            (jump.to_string(), "network-interface".to_string()),
            (probed.to_string(), "host".to_string()),
            (lone_default.to_string(), "security-group".to_string()),
        ]
    );
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "not-evaluated" && w.source == "eni-0c1e3a5b7d9f1c803"));

    let all_open = strs(&[
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
    ]);
    assert_eq!(ids(&f, web), all_open);
    assert_eq!(ids(&f, lone_default), all_open);
    assert_eq!(
        ids(&f, jump),
        strs(&["EG001", "EG002", "EG003", "EG004", "EG006", "EG008", "EG013"])
    );
    // web-1's host firewall drops 23 and 445, so the probe observes neither EG002 nor EG003.
    assert_eq!(
        ids(&f, probed),
        strs(&["EG001", "EG004", "EG006", "EG007", "EG008", "EG013"])
    );
    assert_eq!(f.len(), 25 + 6);

    let t = target(&inv, web);
    assert_eq!(t.name.as_deref(), Some("web-1 (i-0a5c7e9b1d3f5a701)"));
    assert_eq!(t.account.as_deref(), Some(ACCT));
    assert_eq!(t.region.as_deref(), Some("us-east-1"));
    assert_eq!(t.labels.get("team").map(String::as_str), Some("storefront"));
    assert_eq!(t.labels.get("role").map(String::as_str), Some("frontend"));
    assert_eq!(t.route.internet_path, Some(true));
    assert_eq!(t.chains.len(), 2);
    assert_eq!(
        t.chains[0].layers[0].resource,
        "sg-0a7b9c1d3e5f7a901,sg-0c2e4a6b8d0f2c403"
    );

    let smb = find(&f, web, "EG002");
    let rules: Vec<&str> = smb.evidence.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        rules,
        vec![
            "sg-0a7b9c1d3e5f7a901 egress #1",
            "sg-0c2e4a6b8d0f2c403 egress #1",
            "acl-0a2b4c6d8e0f2a401 rule 100"
        ]
    );
    assert_eq!(smb.evidence[0].protocol, "all");
    assert_eq!(smb.evidence[0].destination, "0.0.0.0/0");
    assert_eq!(smb.evidence[2].priority, Some(100));
    let jump_smb = find(&f, jump, "EG002");
    assert_eq!(jump_smb.evidence[0].name, "sg-0d3f5b7c9e1a3d504 egress #1");
    assert_eq!(jump_smb.evidence[0].protocol, "tcp");
    assert_eq!(jump_smb.evidence[0].ports, "0-65535");
}

#[test]
fn example_split_halves_and_smb() {
    let (inv, f) = scan_dir(
        "examples/aws/split-halves-and-smb",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG006", "EG008", "EG009", "EG011", "EG013",
        ],
    );
    let app = "eni-0c2c4e6a8c0e2a106";
    let sync = "eni-0c3d5f7b9d1f3b207";
    let app_acl = "acl-0c9d1f3b5d7f9b80d";
    let public_acl = "acl-0c7b9d1f3b5d7f60b";
    assert_eq!(
        ids(&f, app),
        strs(&["EG001", "EG002", "EG003", "EG004", "EG006", "EG008", "EG013"])
    );
    assert_eq!(ids(&f, sync), strs(&["EG002", "EG008", "EG009"]));
    // The deny 445 at rule 200 sits behind an allow-all at 100.
    assert_eq!(ids(&f, app_acl), strs(&["EG011"]));
    let shadow = find(&f, app_acl, "EG011");
    assert_eq!(
        shadow.rule.as_deref(),
        Some("acl-0c9d1f3b5d7f9b80d rule 200")
    );
    assert_eq!(shadow.evidence[0].ports, "445");
    assert_eq!(shadow.evidence[0].action, "deny");
    assert_eq!(shadow.evidence[1].name, "acl-0c9d1f3b5d7f9b80d rule 100");
    // The public subnet's default ACL holds no listed interface: evaluated on its own.
    let lone = target(&inv, public_acl);
    assert_eq!(lone.resource_kind, "network-acl");
    // Its subnet routes to an internet gateway.
    assert_eq!(lone.route.internet_path, Some(true));
    assert!(ids(&f, public_acl).contains(&"EG001".to_string()));

    let halves = find(&f, app, "EG001");
    let dests: Vec<(&str, &str)> = halves
        .evidence
        .iter()
        .map(|e| (e.name.as_str(), e.destination.as_str()))
        .collect();
    assert_eq!(
        dests,
        vec![
            ("sg-0c7d9f1b3d5f7ca01 egress #1 (lower half)", "0.0.0.0/1"),
            ("sg-0c7d9f1b3d5f7ca01 egress #2 (upper half)", "128.0.0.0/1"),
            ("acl-0c9d1f3b5d7f9b80d rule 100", "0.0.0.0/0"),
        ]
    );
    let range = find(&f, sync, "EG002");
    assert_eq!(range.evidence[0].ports, "400-500");
    // The prefix list resolved from its entries: tcp/8443 to 35.80.0.0/12 is allowed.
    let t = target(&inv, sync);
    let out = eval_target(t);
    assert!(out
        .allowed
        .contains(6, 8443, v4("35.80.1.2".parse().unwrap())));
    assert!(!out
        .allowed
        .contains(6, 8443, v4("35.96.0.1".parse().unwrap())));
    let broad = find(&f, sync, "EG009");
    assert!(
        broad.message.starts_with("tcp/400-500,8443 "),
        "{}",
        broad.message
    );
    assert!(broad.evidence.iter().any(|e| e.name
        == "sg-0c9f1b3d5f7b9ec03 egress #1 (partner networks)"
        && e.destination == "pl-0c1b3d5f7a9c1e305"
        && e.ports == "8443"));
    assert!(!inv
        .warnings
        .iter()
        .any(|w| w.kind == "unresolved-destination"));
    assert_eq!(t.route.internet_path, Some(true));
    assert_eq!(t.region.as_deref(), Some("us-west-2"));
}

#[test]
fn example_locked_down_private() {
    let (inv, f) = scan_dir(
        "examples/aws/locked-down-private",
        &["EG006", "EG007", "EG008", "EG009"],
    );
    let db = "eni-0e9c1e3a5c7e9ab09";
    let ingest = "eni-0e0d2f4b6d8f0bc0a";
    assert_eq!(ids(&f, db), strs(&["EG006", "EG007", "EG009"]));
    for fi in f.iter().filter(|x| x.resource_id == db) {
        assert!(fi.severity > Severity::Info, "{fi:#?}");
        assert_eq!(fi.original_severity, None, "{fi:#?}");
        assert_eq!(
            fi.notes,
            vec!["no internet path: rtb-0e1c3e5a7c9e1a015 has no 0.0.0.0/0 route to an internet, NAT, transit or virtual private gateway"]
        );
    }
    assert_eq!(find(&f, db, "EG006").severity, Severity::Medium);
    assert_eq!(find(&f, db, "EG007").severity, Severity::Low);

    assert_eq!(ids(&f, ingest), strs(&["EG008", "EG009"]));
    let doh = find(&f, ingest, "EG008");
    assert_eq!(doh.severity, Severity::Medium);
    assert_eq!(
        doh.notes,
        vec!["egress passes an appliance: route 0.0.0.0/0 → vpce-0e7c9e1a3c5e7a01b (rtb-0e5a7c9e1a3c5e019)"]
    );
    // The prefix list entries had no id: attributed to the one customer list, with a warning.
    assert!(inv.warnings.iter().any(|w| w.kind == "inferred-prefix-list"
        && w.message.contains("pl-0e8b0d2f4b6d8fa08")
        && w.source.ends_with("prefix-list-entries.json")));
    let out = eval_target(target(&inv, db));
    assert!(out
        .allowed
        .contains(6, 443, v4("34.117.59.81".parse().unwrap())));
    assert!(!out
        .allowed
        .contains(6, 443, v4("34.117.59.82".parse().unwrap())));
    // tcp/5432 to another group is internal: nothing public, no finding, no warning.
    assert!(!out
        .allowed
        .contains(6, 5432, v4("34.117.59.81".parse().unwrap())));
    assert!(!inv
        .warnings
        .iter()
        .any(|w| w.kind == "unresolved-destination"));
    // The unattached default group has no egress rules: a target with no findings.
    assert_eq!(
        target(&inv, "sg-0e7a9c1e3a5c7e907").resource_kind,
        "security-group"
    );
    assert!(ids(&f, "sg-0e7a9c1e3a5c7e907").is_empty());
    assert_eq!(
        ids(&f, "acl-0e7e9a1c3e5a7c011"),
        Vec::<String>::new(),
        "the locked ACL is covered by the interfaces"
    );
}

// ---------- tricky cases ----------

#[test]
fn all_protocols_minus_one() {
    let (inv, f) = scan(
        vec![sgs(vec![allow_all_sg("sg-0all")])],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(
        ids(&f, "sg-0all"),
        strs(&["EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"])
    );
    let out = eval_target(target(&inv, "sg-0all"));
    assert!(out.allowed.contains(47, 0, v4("8.8.8.8".parse().unwrap())));
    // An IPv4 range does not open IPv6.
    assert!(!out
        .allowed
        .contains(6, 443, v6("2606:4700::1".parse().unwrap())));
    let ev = &find(&f, "sg-0all", "EG005").evidence[0];
    assert_eq!(
        (ev.name.as_str(), ev.protocol.as_str(), ev.ports.as_str()),
        ("sg-0all egress #1", "all", "all")
    );
}

#[test]
fn icmp_type_and_code() {
    let (inv, f) = scan(
        vec![sgs(vec![
            // echo request, any code → EG007
            sg(
                "sg-0echo",
                json!([cidr_perm("icmp", Some((8, -1)), &["0.0.0.0/0"])]),
            ),
            // echo reply only → not EG007
            sg(
                "sg-0reply",
                json!([cidr_perm("icmp", Some((0, -1)), &["0.0.0.0/0"])]),
            ),
            // destination unreachable, code 4 only
            sg(
                "sg-0frag",
                json!([cidr_perm("1", Some((3, 4)), &["0.0.0.0/0"])]),
            ),
            // icmpv6 echo by number
            sg(
                "sg-0v6",
                json!([cidr_perm("58", Some((128, 0)), &["::/0"])]),
            ),
        ])],
        &["EG007"],
    );
    assert_eq!(ids(&f, "sg-0echo"), strs(&["EG007"]));
    assert_eq!(find(&f, "sg-0echo", "EG007").evidence[0].ports, "type 8");
    assert!(ids(&f, "sg-0reply").is_empty());
    assert!(ids(&f, "sg-0frag").is_empty());
    let frag = eval_target(target(&inv, "sg-0frag"));
    let a = v4("1.2.3.4".parse().unwrap());
    assert!(frag.allowed.contains(1, 3 * 256 + 4, a));
    assert!(!frag.allowed.contains(1, 3 * 256 + 3, a));
    assert_eq!(ids(&f, "sg-0v6"), strs(&["EG007"]));
    assert_eq!(find(&f, "sg-0v6", "EG007").evidence[0].protocol, "icmpv6");
    assert_eq!(
        find(&f, "sg-0v6", "EG007").evidence[0].ports,
        "type 128 code 0"
    );
}

#[test]
fn split_halves_are_unrestricted() {
    let (_, f) = scan(
        vec![sgs(vec![sg(
            "sg-0half",
            json!([
                cidr_perm("udp", Some((0, 65535)), &["0.0.0.0/1"]),
                cidr_perm("17", Some((0, 65535)), &["128.0.0.0/1"]),
            ]),
        )])],
        &["EG001"],
    );
    let eg1 = find(&f, "sg-0half", "EG001");
    assert_eq!(eg1.message, "udp is allowed to 100% of public IPv4");
    assert_eq!(eg1.evidence.len(), 2);
    assert_eq!(eg1.evidence[1].destination, "128.0.0.0/1");
    assert_eq!(eg1.evidence[1].protocol, "udp");
}

#[test]
fn full_tcp_range_and_a_range_covering_445() {
    let (_, f) = scan(
        vec![sgs(vec![
            sg(
                "sg-0full",
                json!([cidr_perm("tcp", Some((0, 65535)), &["0.0.0.0/0"])]),
            ),
            sg(
                "sg-0range",
                json!([cidr_perm("6", Some((400, 500)), &["0.0.0.0/0"])]),
            ),
            sg(
                "sg-0narrow",
                json!([cidr_perm("tcp", Some((446, 500)), &["0.0.0.0/0"])]),
            ),
        ])],
        &["EG001", "EG002"],
    );
    assert!(ids(&f, "sg-0full").contains(&"EG001".to_string()));
    assert_eq!(find(&f, "sg-0full", "EG001").evidence[0].ports, "0-65535");
    assert!(!ids(&f, "sg-0range").contains(&"EG001".to_string()));
    let smb = find(&f, "sg-0range", "EG002");
    assert_eq!(smb.evidence[0].ports, "400-500");
    assert_eq!(smb.evidence[0].protocol, "tcp");
    assert!(!ids(&f, "sg-0narrow").contains(&"EG002".to_string()));
}

#[test]
fn nacl_first_match_blocks_smb() {
    let (inv, f) = scan(
        vec![
            sgs(vec![allow_all_sg("sg-0open")]),
            json!({"NetworkInterfaces": [eni("eni-0a", "subnet-0a", &["sg-0open"])]}),
            json!({"NetworkAcls": [nacl("acl-0a", "subnet-0a", false, vec![
                nacl_entry(100, "deny", "6", Some((445, 445)), "0.0.0.0/0"),
                nacl_entry(200, "allow", "-1", None, "0.0.0.0/0"),
            ])]}),
        ],
        &["EG001", "EG002"],
    );
    let got = ids(&f, "eni-0a");
    assert!(!got.contains(&"EG002".to_string()), "{got:?}");
    // All of tcp but 445 is still at least half the plane.
    assert!(got.contains(&"EG001".to_string()));
    assert!(
        ids(&f, "acl-0a").is_empty(),
        "the deny comes first: not shadowed"
    );
    // The ACL is covered by the interface; the group is attached: one target only.
    assert_eq!(inv.targets.len(), 1);
    let t = target(&inv, "eni-0a");
    assert_eq!(t.name.as_deref(), Some("eni-0a-name"));
    assert_eq!(t.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn implicit_final_deny_with_empty_entries() {
    let (inv, f) = scan(
        vec![
            sgs(vec![allow_all_sg("sg-0open")]),
            json!({"NetworkInterfaces": [eni("eni-0b", "subnet-0b", &["sg-0open"])]}),
            json!({"NetworkAcls": [nacl("acl-0b", "subnet-0b", false, vec![])]}),
        ],
        inputs::EVERY,
    );
    assert!(
        f.is_empty(),
        "a custom ACL with no entries denies all: {f:#?}"
    );
    let layer = &target(&inv, "eni-0b").chains[1].layers[0];
    assert_eq!(layer.kind, LayerKind::NetworkAcl);
    assert_eq!(layer.rules.len(), 1);
    let star = &layer.rules[0];
    assert_eq!(star.name, "acl-0b rule * (32767)");
    assert_eq!(star.priority, Some(32767));
    assert!(star.synthetic);
}

#[test]
fn listed_star_entry_is_not_duplicated() {
    let inv = load(vec![json!({"NetworkAcls": [nacl("acl-0c", "subnet-0c", true, vec![
        nacl_entry(32767, "deny", "-1", None, "0.0.0.0/0"),
        nacl_entry(100, "allow", "6", Some((443, 443)), "0.0.0.0/0"),
        json!({"Egress": true, "Ipv6CidrBlock": "::/0", "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32768}),
        json!({"Egress": false, "CidrBlock": "0.0.0.0/0", "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100}),
    ])]})])
    .unwrap();
    let t = target(&inv, "acl-0c");
    assert_eq!(t.resource_kind, "network-acl");
    let rules = &t.chains[0].layers[0].rules;
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "acl-0c rule 100",
            "acl-0c rule * (32767)",
            "acl-0c rule * (32768)"
        ]
    );
    assert!(rules[1].synthetic && rules[2].synthetic && !rules[0].synthetic);
}

#[test]
fn nacl_icmp_and_default_acl_fallback() {
    // No explicit association for subnet-0d: the VPC's default ACL applies.
    let mut acl = nacl(
        "acl-0dflt",
        "subnet-0other",
        true,
        vec![
            json!({"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "1", "RuleAction": "allow",
               "RuleNumber": 100, "IcmpTypeCode": {"Type": 8, "Code": -1}}),
        ],
    );
    acl["Associations"] = json!([]);
    let (inv, f) = scan(
        vec![
            sgs(vec![allow_all_sg("sg-0open")]),
            json!({"NetworkInterfaces": [eni("eni-0d", "subnet-0d", &["sg-0open"])]}),
            json!({"NetworkAcls": [acl]}),
        ],
        &["EG007"],
    );
    assert_eq!(ids(&f, "eni-0d"), strs(&["EG007"]));
    let ev = &find(&f, "eni-0d", "EG007").evidence;
    assert_eq!(ev[1].name, "acl-0dflt rule 100");
    assert_eq!(ev[1].ports, "type 8");
    assert_eq!(
        target(&inv, "eni-0d").chains[1].layers[0].resource,
        "acl-0dflt"
    );
}

#[test]
fn group_reference_is_internal() {
    let (inv, f) = scan(
        vec![sgs(vec![sg(
            "sg-0ref",
            json!([{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-0other", "UserId": ACCT}]}]),
        )])],
        inputs::EVERY,
    );
    assert!(f.is_empty(), "{f:#?}");
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    let rule = &target(&inv, "sg-0ref").chains[0].layers[0].rules[0];
    assert_eq!(rule.destination, "sg-0other");
    assert!(rule.traffic.is_empty() && rule.unresolved.is_empty());
}

#[test]
fn unresolved_prefix_list_is_a_warning_not_a_finding() {
    let (inv, f) = scan(
        vec![sgs(vec![sg(
            "sg-0pl",
            json!([{"IpProtocol": "-1", "PrefixListIds": [{"PrefixListId": "pl-0abc", "Description": "vendors"}]}]),
        )])],
        inputs::EVERY,
    );
    assert!(f.is_empty(), "{f:#?}");
    let w: Vec<_> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "unresolved-destination")
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].source, "sg-0pl");
    assert!(
        w[0].message.contains("pl-0abc") && w[0].message.contains("sg-0pl egress #1 (vendors)")
    );
    let rule = &target(&inv, "sg-0pl").chains[0].layers[0].rules[0];
    assert_eq!(rule.unresolved, vec!["pl-0abc".to_string()]);
}

#[test]
fn prefix_list_entries_attribution() {
    let refs = |ids: &[&str]| {
        let pls: Vec<Value> = ids.iter().map(|i| json!({"PrefixListId": i})).collect();
        sgs(vec![sg(
            "sg-0pls",
            json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": pls}]),
        )])
    };
    let entries = json!({"Entries": [{"Cidr": "0.0.0.0/0"}]});
    // One candidate: attributed, and EG009/EG013 (tcp/22 to everywhere) follow.
    let (inv, f) = scan(
        vec![entries.clone(), refs(&["pl-0one"])],
        &["EG009", "EG013"],
    );
    assert_eq!(ids(&f, "sg-0pls"), strs(&["EG009", "EG013"]));
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "inferred-prefix-list" && w.source == "doc-0.json"));
    // Two candidates: not used, warned with the file, and both stay unresolved.
    let (inv, f) = scan(
        vec![refs(&["pl-0one", "pl-0two"]), entries.clone()],
        &["EG009", "EG013"],
    );
    assert!(f.is_empty());
    let w = inv
        .warnings
        .iter()
        .find(|w| w.kind == "unattributed-entries")
        .expect("warned");
    assert_eq!(w.source, "doc-1.json");
    assert!(w.message.contains("pl-0one, pl-0two"));
    // With the id given, no guessing.
    let (inv, f) = scan(
        vec![
            refs(&["pl-0one", "pl-0two"]),
            json!({"PrefixListId": "pl-0two", "Entries": [{"Cidr": "0.0.0.0/0"}]}),
        ],
        &["EG009", "EG013"],
    );
    assert_eq!(ids(&f, "sg-0pls"), strs(&["EG009", "EG013"]));
    assert_eq!(
        inv.warnings
            .iter()
            .filter(|w| w.kind == "unresolved-destination")
            .count(),
        1
    );
    // Two outputs without ids cannot be told apart.
    let err = load(vec![entries.clone(), entries]).unwrap_err();
    assert_eq!(err.source_name, "doc-1.json");
    assert!(
        err.problem.to_string().contains("doc-0.json"),
        "{}",
        err.problem
    );
}

#[test]
fn other_protocol_numbers_parse() {
    let inv = load(vec![sgs(vec![sg(
        "sg-0esp",
        json!([
            cidr_perm("50", Some((-1, -1)), &["198.51.100.7/32"]),
            cidr_perm("gre", None, &["0.0.0.0/0"])
        ]),
    )])])
    .unwrap();
    let t = target(&inv, "sg-0esp");
    let out = eval_target(t);
    assert!(out
        .allowed
        .contains(50, 0, v4("198.51.100.7".parse().unwrap())));
    assert!(!out
        .allowed
        .contains(6, 443, v4("198.51.100.7".parse().unwrap())));
    assert!(out.allowed.contains(47, 0, v4("8.8.8.8".parse().unwrap())));
    assert_eq!(t.chains[0].layers[0].rules[0].protocol, "esp");
}

fn write(dir: &Path, name: &str, v: &Value) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

#[test]
fn malformed_files_name_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            json!({"SecurityGroups": [{"GroupId": "sg-0bad", "IpPermissionsEgress": {"IpProtocol": "-1"}}]}),
            vec!["sg-0bad", "IpPermissionsEgress", "must be a list"],
        ),
        (
            json!({"SecurityGroups": [sg("sg-0cidr", json!([cidr_perm("-1", None, &["10.0.0/8x"])]))]}),
            vec![
                "sg-0cidr",
                "IpPermissionsEgress[0].IpRanges[0]",
                "`CidrIp` \"10.0.0/8x\"",
            ],
        ),
        (
            json!({"SecurityGroups": [sg("sg-0port", json!([{"IpProtocol": "tcp", "FromPort": "abc", "ToPort": 80}]))]}),
            vec!["sg-0port", "FromPort", "\"abc\""],
        ),
        (
            json!({"SecurityGroups": [sg("sg-0proto", json!([{"IpProtocol": "bogus"}]))]}),
            vec!["sg-0proto", "IpProtocol", "bogus"],
        ),
        (
            json!({"SecurityGroups": [sg("sg-0hi", json!([cidr_perm("tcp", Some((80, 70000)), &["0.0.0.0/0"])]))]}),
            vec!["sg-0hi", "ToPort", "70000"],
        ),
        (
            json!({"NetworkAcls": [nacl("acl-0bad", "subnet-1", false, vec![nacl_entry(100, "maybe", "-1", None, "0.0.0.0/0")])]}),
            vec!["acl-0bad", "RuleAction", "maybe"],
        ),
        (
            json!({"SecurityGroups": {"GroupId": "sg-0x"}}),
            vec!["SecurityGroups", "not a list"],
        ),
    ];
    for (i, (doc, needles)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("bad-{i}.json"), doc);
        let mut loader = Loader::default();
        let err = loader
            .add_path(&path)
            .expect_err("malformed input must fail");
        let text = err.to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        for n in needles {
            assert!(text.contains(n), "{text:?} should mention {n:?}");
        }
    }
    // One page of a paginated listing loads, with a warning that names the file.
    let mut paged = sgs(vec![allow_all_sg("sg-0page")]);
    paged["NextToken"] = json!("eyJOZXh0VG9rZW4iOiBudWxsfQ==");
    let inv = load(vec![paged]).unwrap();
    assert!(inv.warnings.iter().any(|w| w.kind == "truncated-listing"
        && w.source == "doc-0.json"
        && w.message.contains("NextToken")));
    // The pages not read make the scan partial (exit 3), like a region that was not read.
    assert_eq!(inv.not_scanned.len(), 1);
    assert_eq!(inv.not_scanned[0].scope, "later pages of doc-0.json");
    // Unknown fields are ignored.
    let mut ok = allow_all_sg("sg-0extra");
    ok["SomethingNew"] = json!({"x": 1});
    ok["IpPermissionsEgress"][0]["FutureField"] = json!(true);
    assert!(load(vec![sgs(vec![ok])]).is_ok());
}

#[test]
fn no_internet_path_lowers_to_info() {
    let rtb = |routes: Value| {
        json!({"RouteTables": [{"RouteTableId": "rtb-0p", "VpcId": "vpc-0aaa", "OwnerId": ACCT,
            "Associations": [{"Main": true, "RouteTableId": "rtb-0p"}], "Routes": routes}]})
    };
    let base = || {
        vec![
            sgs(vec![sg(
                "sg-0smb",
                json!([cidr_perm("tcp", Some((445, 445)), &["0.0.0.0/0"])]),
            )]),
            json!({"NetworkInterfaces": [eni("eni-0p", "subnet-0p", &["sg-0smb"])]}),
            json!({"NetworkAcls": [nacl("acl-0p", "subnet-0p", true, vec![nacl_entry(100, "allow", "-1", None, "0.0.0.0/0")])]}),
        ]
    };
    // Only local and a peering default route: no path; the finding is kept at info.
    let mut docs = base();
    docs.push(rtb(json!([
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
        {"DestinationCidrBlock": "0.0.0.0/0", "VpcPeeringConnectionId": "pcx-0a", "State": "active"},
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0dead", "State": "blackhole"}
    ])));
    let (_, f) = scan(docs, &["EG002"]);
    let smb = find(&f, "eni-0p", "EG002");
    assert_eq!(smb.severity, Severity::High);
    assert_eq!(smb.original_severity, None);
    assert!(smb.notes[0].contains("rtb-0p has no 0.0.0.0/0 route"));
    // A prefix-list route to an internet gateway is a path.
    let mut docs = base();
    docs.push(rtb(json!([
        {"DestinationPrefixListId": "pl-0x", "GatewayId": "igw-0a", "State": "active"}
    ])));
    let (inv, f) = scan(docs, &["EG002"]);
    assert_eq!(find(&f, "eni-0p", "EG002").severity, Severity::High);
    assert_eq!(target(&inv, "eni-0p").route.internet_path, Some(true));
    // No route data: nothing assumed.
    let (inv, _) = scan(base(), &["EG002"]);
    assert_eq!(target(&inv, "eni-0p").route.internet_path, None);
}

#[test]
fn missing_nacl_keeps_the_security_group_chain() {
    let (inv, f) = scan(
        vec![
            sgs(vec![allow_all_sg("sg-0open")]),
            json!({"NetworkInterfaces": [eni("eni-0n", "subnet-0n", &["sg-0open", "sg-0gone"])]}),
        ],
        &["EG001"],
    );
    let t = target(&inv, "eni-0n");
    assert_eq!(t.chains.len(), 1);
    assert!(ids(&f, "eni-0n").contains(&"EG001".to_string()));
    assert!(inv.warnings.iter().any(|w| w.kind == "partial-data"
        && w.source == "subnet-0n"
        && w.message.contains("network ACL part was not evaluated")));
    assert!(inv.warnings.iter().any(|w| w.kind == "partial-data"
        && w.source == "eni-0n"
        && w.message.contains("sg-0gone")));
}

#[test]
fn instances_supply_names_and_snapshots_supply_scope() {
    let reservations = json!({"Reservations": [{"OwnerId": "444455556666", "Instances": [{
        "InstanceId": "i-0web", "State": {"Name": "running"},
        "Placement": {"AvailabilityZone": "ap-southeast-2c"},
        "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "prod"}],
        "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0w", "SubnetId": "subnet-0w", "VpcId": "vpc-0aaa",
            "Groups": [{"GroupId": "sg-0open", "GroupName": "open"}],
            "Attachment": {"DeviceIndex": 0, "Status": "attached"}}]
    }]}]});
    let snapshot = json!({
        "format": "egress-audit-snapshot/1", "tool_version": "0.1.0", "collected_at": "2026-11-25T10:00:00Z",
        "documents": [
            {"provider": "aws", "account": "999988887777", "region": "eu-central-1", "kind": "describe-security-groups",
             "data": sgs(vec![allow_all_sg("sg-0open")])},
            {"provider": "aws", "account": "999988887777", "region": "eu-central-1", "kind": "describe-instances",
             "data": reservations.clone()}
        ]
    });
    let (inv, _) = scan(vec![snapshot], inputs::EVERY);
    let t = target(&inv, "eni-0w");
    assert_eq!(t.account.as_deref(), Some("999988887777"));
    assert_eq!(t.region.as_deref(), Some("eu-central-1"));
    assert_eq!(t.name.as_deref(), Some("web (i-0web)"));
    assert_eq!(t.labels.get("env").map(String::as_str), Some("prod"));
    // Without a snapshot, the owner and the zone tell.
    let (inv, _) = scan(
        vec![sgs(vec![allow_all_sg("sg-0open")]), reservations],
        inputs::EVERY,
    );
    let t = target(&inv, "eni-0w");
    assert_eq!(t.account.as_deref(), Some("444455556666"));
    assert_eq!(t.region.as_deref(), Some("ap-southeast-2"));
}

/// Real CLI output captured from moto (tests/fixtures/aws/capture-moto.sh): its custom ACL has no
/// `*` entry, its prefix-list entries carry no id, its route table for the second subnet is the
/// main one with only `local`.
#[test]
fn moto_captured_exports() {
    let (inv, f) = scan_dir(
        "tests/fixtures/aws/moto",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG013",
        ],
    );
    let web = "eni-1edfe8b7b944c3173";
    let locked = "eni-412d2f445b09d0495";
    let default_sg = "sg-5e7d3e755db8332b8";
    assert_eq!(inv.targets.len(), 3);
    let all_open = strs(&[
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
    ]);
    assert_eq!(ids(&f, web), all_open);
    assert_eq!(ids(&f, default_sg), all_open);
    // tcp/443 to the prefix list (a /24 and a /19) is fine; udp/53 to everywhere passes the ACL;
    // icmp echo is allowed by the group but not by the ACL (implicit `*` deny).
    assert_eq!(ids(&f, locked), strs(&["EG006", "EG009"]));
    let dns = find(&f, locked, "EG006");
    assert_eq!(dns.severity, Severity::Medium);
    assert_eq!(dns.original_severity, None);
    let t = target(&inv, locked);
    assert_eq!(t.name.as_deref(), Some("moto-locked (i-bb603ba5a6a40feec)"));
    assert_eq!(t.account.as_deref(), Some("123456789012"));
    assert_eq!(t.region.as_deref(), Some("eu-west-1"));
    let acl = &t.chains[1].layers[0];
    assert_eq!(acl.resource, "acl-d2d5eaee90ddf7d9d");
    assert_eq!(
        acl.rules.last().map(|r| (r.name.as_str(), r.synthetic)),
        Some(("acl-d2d5eaee90ddf7d9d rule * (32767)", true))
    );
    let out = eval_target(t);
    assert!(out
        .allowed
        .contains(6, 443, v4("3.5.31.255".parse().unwrap())));
    assert!(!out
        .allowed
        .contains(6, 443, v4("3.5.32.0".parse().unwrap())));
    assert!(!out
        .allowed
        .contains(1, 8 * 256, v4("8.8.8.8".parse().unwrap())));
    assert_eq!(
        target(&inv, web).route.reason.as_deref(),
        Some("route 0.0.0.0/0 → igw-3cd5f98fd6e48e399 (rtb-82a45b8705e75edfb)")
    );
}

// ---------- address families ----------

/// An interface with the given addresses: `v4` its private IPv4, `v6` its IPv6 addresses.
fn eni_with(id: &str, subnet: &str, groups: &[&str], v4: Option<&str>, v6: &[&str]) -> Value {
    let mut e = eni(id, subnet, groups);
    if let Some(a) = v4 {
        e["PrivateIpAddress"] = json!(a);
        e["PrivateIpAddresses"] = json!([{"Primary": true, "PrivateIpAddress": a}]);
    }
    let v6: Vec<Value> = v6
        .iter()
        .map(|a| json!({"Ipv6Address": a, "IsPrimaryIpv6": false}))
        .collect();
    e["Ipv6Addresses"] = json!(v6);
    e
}

#[test]
fn ipv6_rules_do_not_apply_to_an_ipv4_only_interface() {
    use egress_audit::model::space::{all_v4, all_v6};
    let smb6 = sg(
        "sg-0smb6",
        json!([cidr_perm("tcp", Some((445, 445)), &["::/0"])]),
    );
    let mut native = eni_with(
        "eni-0native",
        "subnet-0f",
        &["sg-0smb6"],
        None,
        &["2600:1f18:aaaa:bb01::10"],
    );
    native["Ipv6Native"] = json!(true);
    let (inv, f) = scan(
        vec![
            sgs(vec![smb6]),
            json!({"NetworkInterfaces": [
                eni_with("eni-0v4", "subnet-0f", &["sg-0smb6"], Some("10.0.1.5"), &[]),
                eni_with("eni-0dual", "subnet-0f", &["sg-0smb6"], Some("10.0.1.6"), &["2600:1f18:aaaa:bb01::6"]),
                native,
                // No address fields at all (a trimmed export): no IPv6 address is known.
                eni("eni-0bare", "subnet-0f", &["sg-0smb6"]),
            ]}),
        ],
        &["EG002"],
    );
    assert_eq!(ids(&f, "eni-0v4"), Vec::<String>::new());
    assert_eq!(ids(&f, "eni-0bare"), Vec::<String>::new());
    assert_eq!(target(&inv, "eni-0v4").address_limit, Some(all_v4()));
    assert_eq!(target(&inv, "eni-0dual").address_limit, None);
    assert_eq!(target(&inv, "eni-0native").address_limit, Some(all_v6()));
    for id in ["eni-0dual", "eni-0native"] {
        let smb = find(&f, id, "EG002");
        assert_eq!(smb.message, "tcp/445 is allowed to 100% of public IPv6");
        assert_eq!(smb.evidence[0].name, "sg-0smb6 egress #1");
        assert_eq!(smb.evidence[0].destination, "::/0");
    }
    // The lone group's own view has no address limit: it still shows the IPv6 rule.
    let (_, f) = scan(
        vec![sgs(vec![sg(
            "sg-0lone6",
            json!([cidr_perm("tcp", Some((445, 445)), &["::/0"])]),
        )])],
        &["EG002"],
    );
    assert_eq!(
        find(&f, "sg-0lone6", "EG002").message,
        "tcp/445 is allowed to 100% of public IPv6"
    );
}

#[test]
fn an_ipv6_only_interface_sends_no_ipv4() {
    let mut native = eni_with(
        "eni-0only6",
        "subnet-0f",
        &["sg-0open"],
        None,
        &["2600:1f18:aaaa:bb01::10"],
    );
    native["Ipv6Native"] = json!(true);
    let (inv, f) = scan(
        vec![
            sgs(vec![sg(
                "sg-0open",
                json!([cidr_perm("-1", None, &["0.0.0.0/0", "::/0"])]),
            )]),
            json!({"NetworkInterfaces": [native]}),
        ],
        &["EG001"],
    );
    let out = eval_target(target(&inv, "eni-0only6"));
    assert!(!out.allowed.contains(6, 445, v4("8.8.8.8".parse().unwrap())));
    assert!(out
        .allowed
        .contains(6, 445, v6("2606:4700::1".parse().unwrap())));
    for fi in f.iter().filter(|x| x.resource_id == "eni-0only6") {
        assert!(
            !fi.message.contains("IPv4"),
            "an IPv6-only interface has no IPv4 finding: {}",
            fi.message
        );
    }
    assert_eq!(
        find(&f, "eni-0only6", "EG001").message,
        "tcp is allowed to 100% of public IPv6; udp is allowed to 100% of public IPv6"
    );
}

#[test]
fn address_families_merge_across_listings_and_instances() {
    use egress_audit::model::space::all_v4;
    let open = sgs(vec![sg(
        "sg-0open",
        json!([cidr_perm("-1", None, &["0.0.0.0/0", "::/0"])]),
    )]);
    // describe-instances prints the interface without its IPv6 addresses here; the
    // describe-network-interfaces listing of the same interface has one: dual stack.
    let reservations = json!({"Reservations": [{"OwnerId": ACCT, "ReservationId": "r-0a", "Instances": [
        {"InstanceId": "i-0dual", "State": {"Code": 16, "Name": "running"},
         "Placement": {"AvailabilityZone": "eu-west-1a"}, "PrivateIpAddress": "10.0.1.7",
         "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0m", "SubnetId": "subnet-0f", "VpcId": "vpc-0aaa",
            "PrivateIpAddress": "10.0.1.7", "Groups": [{"GroupId": "sg-0open", "GroupName": "open"}]}]},
        // Instances whose interfaces are not listed stand in for them, with their own fields.
        {"InstanceId": "i-0v6", "State": {"Code": 16, "Name": "running"}, "SubnetId": "subnet-0f",
         "VpcId": "vpc-0aaa", "PrivateIpAddress": "10.0.1.8", "Ipv6Address": "2600:1f18:aaaa:bb01::8",
         "SecurityGroups": [{"GroupId": "sg-0open", "GroupName": "open"}], "NetworkInterfaces": []},
        {"InstanceId": "i-0v4", "State": {"Code": 16, "Name": "running"}, "SubnetId": "subnet-0f",
         "VpcId": "vpc-0aaa", "PrivateIpAddress": "10.0.1.9",
         "SecurityGroups": [{"GroupId": "sg-0open", "GroupName": "open"}], "NetworkInterfaces": []}
    ]}]});
    let (inv, _) = scan(
        vec![
            open,
            reservations,
            json!({"NetworkInterfaces": [eni_with("eni-0m", "subnet-0f", &["sg-0open"], Some("10.0.1.7"), &["2600:1f18:aaaa:bb01::7"])]}),
        ],
        inputs::EVERY,
    );
    assert_eq!(target(&inv, "eni-0m").address_limit, None);
    assert_eq!(target(&inv, "i-0v6").address_limit, None);
    assert_eq!(target(&inv, "i-0v4").address_limit, Some(all_v4()));
    assert_eq!(target(&inv, "i-0v4").resource_kind, "instance");
    assert_eq!(
        inv.targets.len(),
        3,
        "{:?}",
        inv.targets
            .iter()
            .map(|t| &t.resource_id)
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_instance_does_not_stand_in_for_a_listed_interface() {
    // describe-instances without interfaces (an older or trimmed export) and the interface
    // listed by describe-network-interfaces: one target, the interface.
    let (inv, _) = scan(
        vec![
            sgs(vec![allow_all_sg("sg-0open")]),
            json!({"Reservations": [{"OwnerId": ACCT, "Instances": [
            {"InstanceId": "i-0x", "State": {"Name": "running"}, "SubnetId": "subnet-0f", "VpcId": "vpc-0aaa",
             "SecurityGroups": [{"GroupId": "sg-0open", "GroupName": "open"}],
             "Tags": [{"Key": "Name", "Value": "x"}]}]}]}),
            json!({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0x", "SubnetId": "subnet-0f", "VpcId": "vpc-0aaa",
            "Attachment": {"InstanceId": "i-0x", "Status": "attached", "DeviceIndex": 0},
            "PrivateIpAddress": "10.0.1.10", "Groups": [{"GroupId": "sg-0open", "GroupName": "open"}]}]}),
        ],
        inputs::EVERY,
    );
    let ids: Vec<&str> = inv.targets.iter().map(|t| t.resource_id.as_str()).collect();
    assert_eq!(ids, vec!["eni-0x"]);
    assert_eq!(target(&inv, "eni-0x").name.as_deref(), Some("x (i-0x)"));
}

#[test]
fn routes_count_only_for_the_interface_address_families() {
    let rtb = json!({"RouteTables": [{"RouteTableId": "rtb-0six", "VpcId": "vpc-0aaa", "OwnerId": ACCT,
    "Associations": [{"Main": false, "RouteTableAssociationId": "rtbassoc-1", "RouteTableId": "rtb-0six",
                      "SubnetId": "subnet-0f", "AssociationState": {"State": "associated"}}],
    "Routes": [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
        {"DestinationIpv6CidrBlock": "2600:1f18:aaaa:bb00::/56", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
        {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-0abc", "Origin": "CreateRoute", "State": "active"}
    ]}]});
    let (inv, f) = scan(
        vec![
            sgs(vec![sg(
                "sg-0open",
                json!([cidr_perm("-1", None, &["0.0.0.0/0", "::/0"])]),
            )]),
            json!({"NetworkInterfaces": [
                eni_with("eni-0v4", "subnet-0f", &["sg-0open"], Some("10.0.1.5"), &[]),
                eni_with("eni-0dual", "subnet-0f", &["sg-0open"], Some("10.0.1.6"), &["2600:1f18:aaaa:bb01::6"]),
            ]}),
            rtb,
        ],
        &["EG002"],
    );
    let v4only = target(&inv, "eni-0v4");
    assert_eq!(v4only.route.internet_path, Some(false));
    assert_eq!(
        v4only.route.reason.as_deref(),
        Some("rtb-0six has no 0.0.0.0/0 route to an internet, NAT, transit or virtual private gateway \
              for this IPv4-only interface (its route ::/0 → eigw-0abc is for the other address family)")
    );
    let smb = find(&f, "eni-0v4", "EG002");
    assert_eq!(smb.severity, Severity::High);
    assert!(smb.notes[0].starts_with("no internet path"), "{smb:#?}");
    let dual = target(&inv, "eni-0dual");
    assert_eq!(dual.route.internet_path, Some(true));
    assert_eq!(
        dual.route.reason.as_deref(),
        Some("route ::/0 → eigw-0abc (rtb-0six)")
    );
    assert_eq!(find(&f, "eni-0dual", "EG002").severity, Severity::High);
}

#[test]
fn a_single_interface_without_groups_takes_the_instance_groups() {
    let (inv, f) = scan(
        vec![
            sgs(vec![allow_all_sg("sg-0open")]),
            json!({"Reservations": [{"OwnerId": ACCT, "Instances": [
                {"InstanceId": "i-0one", "State": {"Name": "running"},
                 "SecurityGroups": [{"GroupId": "sg-0open", "GroupName": "open"}],
                 "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0one", "SubnetId": "subnet-0f",
                                        "VpcId": "vpc-0aaa", "PrivateIpAddress": "10.0.1.4"}]},
                // Two interfaces: the instance's groups are their union, not each one's.
                {"InstanceId": "i-0two", "State": {"Name": "running"},
                 "SecurityGroups": [{"GroupId": "sg-0open", "GroupName": "open"}],
                 "NetworkInterfaces": [
                    {"NetworkInterfaceId": "eni-0two-a", "SubnetId": "subnet-0f", "VpcId": "vpc-0aaa",
                     "PrivateIpAddress": "10.0.1.5"},
                    {"NetworkInterfaceId": "eni-0two-b", "SubnetId": "subnet-0f", "VpcId": "vpc-0aaa",
                     "PrivateIpAddress": "10.0.1.6", "Groups": [{"GroupId": "sg-0open", "GroupName": "open"}]}]}
            ]}]}),
        ],
        &["EG001"],
    );
    assert!(ids(&f, "eni-0one").contains(&"EG001".to_string()));
    assert_eq!(
        target(&inv, "eni-0one").chains[0].layers[0].resource,
        "sg-0open"
    );
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "not-evaluated" && w.source == "eni-0two-a"));
    assert!(ids(&f, "eni-0two-b").contains(&"EG001".to_string()));
}

#[test]
fn interfaces_carry_their_identity() {
    // The instance's interface, listed by describe-instances with its public association, and an
    // instance whose interfaces are not listed: it stands in for them with its own addresses.
    let reservations = json!({"Reservations": [{"OwnerId": ACCT, "Instances": [{
        "InstanceId": "i-0web", "State": {"Name": "running"},
        "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0w", "SubnetId": "subnet-0w", "VpcId": "vpc-0aaa",
            "Groups": [{"GroupId": "sg-0open", "GroupName": "open"}],
            "Attachment": {"DeviceIndex": 0, "Status": "attached"},
            "PrivateIpAddress": "10.0.1.5",
            "Association": {"PublicIp": "198.51.100.7"},
            "PrivateIpAddresses": [
                {"PrivateIpAddress": "10.0.1.5", "Primary": true, "Association": {"PublicIp": "198.51.100.7"}},
                {"PrivateIpAddress": "10.0.1.6", "Primary": false}],
            "Ipv6Addresses": [{"Ipv6Address": "2600:1f18:aaaa:bb01::5"}]}]
    }, {
        "InstanceId": "i-0bare", "State": {"Name": "running"}, "SubnetId": "subnet-0w", "VpcId": "vpc-0aaa",
        "PrivateIpAddress": "10.0.1.9", "PublicIpAddress": "198.51.100.9",
        "SecurityGroups": [{"GroupId": "sg-0open", "GroupName": "open"}]
    }]}]});
    let (inv, _) = scan(
        vec![sgs(vec![allow_all_sg("sg-0open")]), reservations],
        inputs::EVERY,
    );
    let t = target(&inv, "eni-0w");
    assert_eq!(t.identity.instance_ids, strs(&["i-0web"]));
    assert_eq!(t.identity.interface_ids, strs(&["eni-0w"]));
    let addrs: Vec<String> = t.identity.addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        addrs,
        strs(&[
            "10.0.1.5",
            "198.51.100.7",
            "10.0.1.6",
            "2600:1f18:aaaa:bb01::5"
        ])
    );
    assert_eq!(t.identity.network.as_deref(), Some("vpc-0aaa"));
    let bare = target(&inv, "i-0bare");
    assert_eq!(bare.identity.instance_ids, strs(&["i-0bare"]));
    assert!(bare.identity.interface_ids.is_empty());
    let addrs: Vec<String> = bare
        .identity
        .addresses
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(addrs, strs(&["10.0.1.9", "198.51.100.9"]));
}

#[test]
fn a_malformed_interface_address_is_named() {
    let bad = json!({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0bad", "SubnetId": "subnet-0w",
        "VpcId": "vpc-0aaa", "Groups": [{"GroupId": "sg-0open"}], "PrivateIpAddress": "10.0.1.x"}]});
    let err = load(vec![sgs(vec![allow_all_sg("sg-0open")]), bad])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eni-0bad") && err.contains("PrivateIpAddress"),
        "{err}"
    );
}

/// Every AWS example and fixture folder read with listings in slices of `slice` items: the report
/// as JSON (findings, warnings, unread scopes) and how many files were split into several slices.
fn sliced_reading(dir: &Path, slice: usize) -> (String, usize) {
    let mut loader = Loader::default();
    loader.slice_items = slice;
    let mut split = 0;
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("file");
            split += usize::from(
                egress_audit::normalize::chunked::Listing::split(&text, slice).is_some(),
            );
        }
    }
    loader.add_path(dir).unwrap_or_else(|e| panic!("{e}"));
    let inv = loader.build(&Default::default());
    let findings = inputs::check(&inv, inputs::EVERY);
    let report = serde_json::json!({
        "findings": findings,
        "warnings": inv.warnings,
        "not_scanned": inv.not_scanned,
        "targets": inv.targets.iter().map(|t| &t.resource_id).collect::<Vec<_>>(),
    });
    (report.to_string(), split)
}

/// A large listing is read a slice of items at a time (`normalize::chunked`); what comes out
/// must be what reading it whole gives, for every AWS example and fixture, in slices of one item.
#[test]
fn listings_read_in_slices_give_what_whole_files_give() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = Vec::new();
    let mut todo = vec![root.join("examples/aws"), root.join("tests/fixtures/aws")];
    while let Some(dir) = todo.pop() {
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("folder")
            .map(|e| e.expect("entry").path())
            .collect();
        if entries
            .iter()
            .any(|p| p.extension().is_some_and(|x| x == "json"))
        {
            dirs.push(dir);
        }
        todo.extend(entries.into_iter().filter(|p| p.is_dir()));
    }
    let mut split = 0;
    for dir in &dirs {
        let (whole, _) = sliced_reading(dir, usize::MAX);
        let (sliced, n) = sliced_reading(dir, 1);
        assert_eq!(whole, sliced, "{}", dir.display());
        split += n;
    }
    assert!(
        split >= 5,
        "only {split} files were read in slices: the test proves little"
    );
}

/// In slices, an error still names the item's position in the whole file, and a listing with a
/// `NextToken` is reported truncated once.
#[test]
fn sliced_listings_name_whole_file_positions_and_warn_once() {
    let groups: Vec<Value> = (0..5)
        .map(|i| {
            let mut g = json!({
                "GroupId": format!("sg-{i:017x}"), "GroupName": format!("g{i}"), "OwnerId": ACCT,
                "VpcId": "vpc-1", "IpPermissions": [],
                "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
            });
            if i == 3 {
                g.as_object_mut().unwrap().remove("GroupId");
            }
            g
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("sgs.json");
    std::fs::write(&bad, json!({"SecurityGroups": groups}).to_string()).unwrap();
    let mut loader = Loader::default();
    loader.slice_items = 2;
    let err = loader
        .add_path(&bad)
        .expect_err("item 3 has no GroupId")
        .to_string();
    assert!(err.contains("SecurityGroups[3]"), "{err}");

    let good: Vec<Value> = groups.into_iter().take(3).collect();
    std::fs::write(
        &bad,
        json!({"SecurityGroups": good, "NextToken": "abc"}).to_string(),
    )
    .unwrap();
    let mut loader = Loader::default();
    loader.slice_items = 1;
    loader.add_path(&bad).unwrap_or_else(|e| panic!("{e}"));
    let inv = loader.build(&Default::default());
    let truncated = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "truncated-listing")
        .count();
    assert_eq!(truncated, 1, "{:#?}", inv.warnings);

    // Once per listing, not once per file: two listings in one document are both truncated.
    let both = json!({"SecurityGroups": [], "NetworkAcls": [], "NextToken": "abc"});
    std::fs::write(&bad, both.to_string()).unwrap();
    let mut loader = Loader::default();
    loader.add_path(&bad).unwrap_or_else(|e| panic!("{e}"));
    let inv = loader.build(&Default::default());
    let truncated = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "truncated-listing")
        .count();
    assert_eq!(truncated, 2, "{:#?}", inv.warnings);
}
