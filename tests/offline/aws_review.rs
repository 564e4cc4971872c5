//! AWS review: real-shaped exports (`aws ec2 describe-* --output json`) of the cases a reviewer
//! probed, with exact outcomes derived from docs/SEMANTICS.md and the EC2 API reference.
//! Fixtures: tests/fixtures/aws/review/{protocols,attached,prefix-lists,sg-rules}.

use egress_audit::model::{Finding, Warning};
use egress_audit::normalize::{Inventory, Loader};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

use crate::inputs;
use inputs::{scan, scan_paths};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scan_dir(name: &str, ids: &[&str]) -> (Inventory, Vec<Finding>) {
    scan_paths(&[root().join("tests/fixtures/aws/review").join(name)], ids)
}

/// The check ids that fired on a resource.
fn ids(f: &[Finding], resource: &str) -> BTreeSet<String> {
    f.iter()
        .filter(|x| x.resource_id == resource)
        .map(|x| x.check_id.to_string())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn find<'a>(f: &'a [Finding], resource: &str, id: &str) -> &'a Finding {
    let hits: Vec<&Finding> = f
        .iter()
        .filter(|x| x.resource_id == resource && x.check_id == id)
        .collect();
    assert_eq!(hits.len(), 1, "{id} on {resource}: {hits:#?}");
    hits[0]
}

/// (rule, action, protocol, ports, destination) of a finding's evidence.
fn evidence(f: &Finding) -> Vec<(String, String, String, String, String)> {
    f.evidence
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.action.to_string(),
                e.protocol.to_string(),
                e.ports.to_string(),
                e.destination.to_string(),
            )
        })
        .collect()
}

fn ev(
    rule: &str,
    action: &str,
    proto: &str,
    ports: &str,
    dest: &str,
) -> (String, String, String, String, String) {
    (
        rule.into(),
        action.into(),
        proto.into(),
        ports.into(),
        dest.into(),
    )
}

fn target_ids(inv: &Inventory) -> BTreeSet<String> {
    inv.targets
        .iter()
        .map(|t| t.resource_id.to_string())
        .collect()
}

fn warnings_of<'a>(inv: &'a Inventory, kind: &str) -> Vec<&'a Warning> {
    inv.warnings.iter().filter(|w| w.kind == kind).collect()
}

// ---------- security-group protocols and destinations ----------

const ALL_OPEN_V4: &[&str] = &[
    "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
];
const ALL_TCP: &[&str] = &[
    "EG001", "EG002", "EG003", "EG004", "EG006", "EG008", "EG013",
];

#[test]
fn security_group_protocols_read_as_the_api_defines_them() {
    let (inv, f) = scan_dir(
        "protocols",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG013",
        ],
    );
    assert_eq!(inv.targets.len(), 11);
    // "-1" without FromPort/ToPort (as the CLI prints it): every protocol, every port.
    assert_eq!(ids(&f, "sg-0a00000000000a001"), set(ALL_OPEN_V4));
    // "tcp" 445-445: smb, and a single port to the whole internet (EG001 did not fire for tcp).
    assert_eq!(ids(&f, "sg-0a00000000000a002"), set(&["EG002", "EG009"]));
    assert_eq!(
        evidence(find(&f, "sg-0a00000000000a002", "EG002")),
        vec![ev(
            "sg-0a00000000000a002 egress #1 (file share)",
            "allow",
            "tcp",
            "445",
            "0.0.0.0/0"
        )]
    );
    // "6" is tcp; 198.51.100.0/24 is TEST-NET-2 (not public), 203.0.114.0/24 is public.
    assert_eq!(ids(&f, "sg-0a00000000000a003"), set(&["EG003"]));
    assert_eq!(
        evidence(find(&f, "sg-0a00000000000a003", "EG003")),
        vec![ev(
            "sg-0a00000000000a003 egress #2",
            "allow",
            "tcp",
            "23",
            "203.0.114.0/24"
        )]
    );
    // icmp FromPort 8 (type) ToPort -1 (any code): echo.
    assert_eq!(ids(&f, "sg-0a00000000000a004"), set(&["EG007"]));
    assert_eq!(
        evidence(find(&f, "sg-0a00000000000a004", "EG007")),
        vec![ev(
            "sg-0a00000000000a004 egress #1",
            "allow",
            "icmp",
            "type 8",
            "0.0.0.0/0"
        )]
    );
    // "1" type 0 code 0 (echo reply) is not echo; icmp (v4) to ::/0 is not icmpv6 echo.
    assert_eq!(ids(&f, "sg-0a00000000000a005"), set(&[]));
    // "58" type 128 to ::/0: icmpv6 echo.
    assert_eq!(ids(&f, "sg-0a00000000000a006"), set(&["EG007"]));
    let ping6 = find(&f, "sg-0a00000000000a006", "EG007");
    assert!(ping6.message.contains("icmpv6"), "{}", ping6.message);
    assert_eq!(
        evidence(ping6),
        vec![ev(
            "sg-0a00000000000a006 egress #1 (ping6)",
            "allow",
            "icmpv6",
            "type 128",
            "::/0"
        )]
    );
    // "50" (esp) with the -1 pair: no tcp, no udp, no icmp, not protocol 253.
    assert_eq!(ids(&f, "sg-0a00000000000a007"), set(&[]));
    // 0.0.0.0/1 + 128.0.0.0/1 in one permission is all of IPv4.
    assert_eq!(ids(&f, "sg-0a00000000000a008"), set(ALL_TCP));
    assert_eq!(
        evidence(find(&f, "sg-0a00000000000a008", "EG001")),
        vec![
            ev(
                "sg-0a00000000000a008 egress #1",
                "allow",
                "tcp",
                "0-65535",
                "0.0.0.0/1"
            ),
            ev(
                "sg-0a00000000000a008 egress #2",
                "allow",
                "tcp",
                "0-65535",
                "128.0.0.0/1"
            ),
        ]
    );
    // An empty IpPermissionsEgress allows nothing.
    assert_eq!(ids(&f, "sg-0a00000000000a009"), set(&[]));
    // One permission with IpRanges (private), Ipv6Ranges (::/0), a prefix list without entries
    // and a group pair: the union; only the IPv6 part is public, the prefix list is a warning.
    assert_eq!(ids(&f, "sg-0a00000000000a00a"), set(ALL_TCP));
    for x in f.iter().filter(|x| x.resource_id == "sg-0a00000000000a00a") {
        assert!(
            x.message.contains("IPv6") && !x.message.contains("IPv4"),
            "{}",
            x.message
        );
        assert!(x
            .evidence
            .iter()
            .all(|e| e.name == "sg-0a00000000000a00a egress #2 (v6 anywhere)"));
    }
    let unresolved = warnings_of(&inv, "unresolved-destination");
    assert_eq!(unresolved.len(), 1, "{unresolved:#?}");
    assert_eq!(unresolved[0].source, "sg-0a00000000000a00a");
    assert!(unresolved[0].message.contains("pl-0b00000000000b001"));
    // udp/53 to one public resolver.
    assert_eq!(ids(&f, "sg-0a00000000000a00b"), set(&["EG006"]));
}

// ---------- interfaces, their groups and network ACLs ----------

#[test]
fn two_halves_in_two_groups_on_one_interface_are_unrestricted() {
    let (inv, f) = scan_dir(
        "attached",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG006", "EG008", "EG013",
        ],
    );
    // The interface is listed by describe-instances and describe-network-interfaces: one target.
    let e001: Vec<_> = inv
        .targets
        .iter()
        .filter(|t| t.resource_id == "eni-0c00000000000e001")
        .collect();
    assert_eq!(e001.len(), 1);
    assert_eq!(e001[0].resource_kind, "network-interface");
    assert_eq!(e001[0].name.as_deref(), Some("split (i-0c00000000000d001)"));
    assert_eq!(ids(&f, "eni-0c00000000000e001"), set(ALL_TCP));
    assert_eq!(
        evidence(find(&f, "eni-0c00000000000e001", "EG001")),
        vec![
            ev(
                "sg-0c00000000000c001 egress #1",
                "allow",
                "tcp",
                "0-65535",
                "0.0.0.0/1"
            ),
            ev(
                "sg-0c00000000000c002 egress #1",
                "allow",
                "tcp",
                "0-65535",
                "128.0.0.0/1"
            ),
            ev(
                "acl-0c00000000000a001 rule 100",
                "allow",
                "all",
                "all",
                "0.0.0.0/0"
            ),
        ]
    );
    // Groups on interfaces and ACLs of their subnets are not evaluated again on their own.
    assert_eq!(
        target_ids(&inv),
        set(&[
            "eni-0c00000000000e001",
            "eni-0c00000000000e002",
            "eni-0c00000000000e003",
            "acl-0c00000000000a003",
            "acl-0c00000000000a004",
        ])
    );
    assert!(inv.warnings.is_empty(), "{:#?}", inv.warnings);
}

#[test]
fn an_acl_without_ipv6_entries_denies_ipv6_through_its_star_entry() {
    let (_, f) = scan_dir(
        "attached",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    // Dual-stack interface, its group allows all to 0.0.0.0/0 and ::/0; its ACL allows only IPv4
    // (rule 100) and ends with both `*` entries: no IPv6 traffic leaves.
    assert_eq!(ids(&f, "eni-0c00000000000e002"), set(ALL_OPEN_V4));
    for x in f
        .iter()
        .filter(|x| x.resource_id == "eni-0c00000000000e002")
    {
        assert!(!x.message.contains("IPv6"), "{}", x.message);
        assert!(!x.message.contains("icmpv6"), "{}", x.message);
        assert!(x.evidence.iter().all(|e| e.destination == "0.0.0.0/0"));
    }
}

#[test]
fn all_tcp_but_smb_through_an_acl_is_unrestricted_without_smb() {
    let (_, f) = scan_dir(
        "attached",
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    let acl = "acl-0c00000000000a003";
    assert_eq!(
        ids(&f, acl),
        set(&["EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"])
    );
    assert_eq!(
        evidence(find(&f, acl, "EG001")),
        vec![ev(
            "acl-0c00000000000a003 rule 200",
            "allow",
            "all",
            "all",
            "0.0.0.0/0"
        )]
    );
}

#[test]
fn a_deny_after_an_allow_of_the_same_traffic_is_shadowed() {
    let (_, f) = scan_dir(
        "attached",
        &["EG006", "EG007", "EG008", "EG009", "EG011", "EG012"],
    );
    // Lone ACL: rule 100 allows tcp/443, rule 200 denies it.
    let lone = find(&f, "acl-0c00000000000a004", "EG011");
    assert_eq!(lone.rule.as_deref(), Some("acl-0c00000000000a004 rule 200"));
    assert_eq!(
        evidence(lone),
        vec![
            ev(
                "acl-0c00000000000a004 rule 200",
                "deny",
                "tcp",
                "443",
                "0.0.0.0/0"
            ),
            ev(
                "acl-0c00000000000a004 rule 100",
                "allow",
                "tcp",
                "443",
                "0.0.0.0/0"
            ),
        ]
    );
    assert_eq!(
        ids(&f, "acl-0c00000000000a004"),
        set(&["EG006", "EG007", "EG008", "EG009", "EG011"])
    );
    // The same ACL on a subnet: reported against the ACL, as seen for the interface.
    let attached = find(&f, "acl-0c00000000000a005", "EG011");
    assert_eq!(attached.resource_kind, "network-acl");
    assert!(
        attached.message.contains("eni-0c00000000000e003"),
        "{}",
        attached.message
    );
    assert!(!f.iter().any(|x| x.check_id == "EG012"));
}

// ---------- managed prefix lists ----------

#[test]
fn prefix_lists_resolve_from_their_entries_and_never_by_guessing() {
    let (inv, f) = scan_dir("prefix-lists", &["EG009"]);
    // S3's AWS-managed list, entries saved with their id: public addresses, one port.
    assert_eq!(ids(&f, "sg-0d00000000000c001"), set(&["EG009"]));
    assert_eq!(
        evidence(find(&f, "sg-0d00000000000c001", "EG009")),
        vec![ev(
            "sg-0d00000000000c001 egress #1 (S3)",
            "allow",
            "tcp",
            "443",
            "pl-6fa54006"
        )]
    );
    // smb to a customer list and telnet to DynamoDB's list, entries not exported: no finding,
    // a warning each.
    assert_eq!(ids(&f, "sg-0d00000000000c002"), set(&[]));
    assert_eq!(ids(&f, "sg-0d00000000000c003"), set(&[]));
    let w = warnings_of(&inv, "unresolved-destination");
    let named: BTreeSet<(String, bool, bool)> = w
        .iter()
        .map(|w| {
            (
                w.source.clone(),
                w.message.contains("pl-0d00000000000b002"),
                w.message.contains("pl-66a5400f"),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("sg-0d00000000000c002".to_string(), true, false),
            ("sg-0d00000000000c003".to_string(), false, true),
        ]
        .into_iter()
        .collect()
    );
}

// ---------- describe-security-groups with describe-security-group-rules ----------

#[test]
fn a_group_in_both_listings_counts_once_and_rules_make_up_the_others() {
    let (inv, f) = scan_dir(
        "sg-rules",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG013",
        ],
    );
    assert_eq!(
        target_ids(&inv),
        set(&["sg-0e00000000000c001", "sg-0e00000000000c002"])
    );
    // Listed by both: the describe-security-groups permission, once.
    assert_eq!(ids(&f, "sg-0e00000000000c001"), set(&["EG002", "EG009"]));
    assert_eq!(
        evidence(find(&f, "sg-0e00000000000c001", "EG002")),
        vec![ev(
            "sg-0e00000000000c001 egress #1",
            "allow",
            "tcp",
            "445",
            "0.0.0.0/0"
        )]
    );
    // Only in describe-security-group-rules: its egress rules by sgr id; the ingress rule (tcp/22)
    // and the group reference add nothing public.
    let g2 = "sg-0e00000000000c002";
    assert_eq!(ids(&f, g2), set(ALL_OPEN_V4));
    for x in f
        .iter()
        .filter(|x| x.resource_id == g2 && x.check_id != "EG007")
    {
        assert!(!x.message.contains("IPv4"), "{}", x.message);
    }
    assert_eq!(
        evidence(find(&f, g2, "EG007")),
        vec![
            ev(
                "sg-0e00000000000c002 egress sgr-0e00000000000a002 (v6 anywhere)",
                "allow",
                "all",
                "all",
                "::/0"
            ),
            ev(
                "sg-0e00000000000c002 egress sgr-0e00000000000a003",
                "allow",
                "icmp",
                "type 8",
                "0.0.0.0/0"
            ),
        ]
    );
    let w = warnings_of(&inv, "unresolved-destination");
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("sgr-0e00000000000a006"));
    assert!(w[0].message.contains("pl-0e00000000000b001"));
}

// ---------- trimmed and odd-shaped exports ----------

fn open_sg(id: &str) -> Value {
    json!({"GroupId": id, "GroupName": id, "OwnerId": "111122223333", "VpcId": "vpc-0a",
           "IpPermissions": [],
           "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                    "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]})
}

#[test]
fn a_group_listed_without_its_egress_field_is_unknown_not_closed() {
    // `--query 'SecurityGroups[].{GroupId:GroupId,GroupName:GroupName}'`-style listing.
    let trimmed = json!({"SecurityGroups": [{"GroupId": "sg-0trim", "GroupName": "trim"}]});
    let (inv, f) = scan(vec![trimmed.clone()], &["EG001", "EG003", "EG009"]);
    assert!(inv.targets.is_empty());
    assert!(f.is_empty());
    let w = warnings_of(&inv, "not-evaluated");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].source, "sg-0trim");
    assert!(w[0].message.contains("IpPermissionsEgress"));

    // On an interface beside an open group: evaluated with the open group, and said so.
    let eni = json!({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0a", "SubnetId": "subnet-0a",
        "VpcId": "vpc-0a", "PrivateIpAddress": "10.0.0.5", "InterfaceType": "interface",
        "Groups": [{"GroupId": "sg-0trim", "GroupName": "trim"}, {"GroupId": "sg-0open", "GroupName": "open"}]}]});
    let (inv, f) = scan(
        vec![
            trimmed.clone(),
            json!({"SecurityGroups": [open_sg("sg-0open")]}),
            eni.clone(),
        ],
        &["EG001", "EG003", "EG009"],
    );
    assert!(ids(&f, "eni-0a").contains("EG001"));
    assert!(warnings_of(&inv, "partial-data")
        .iter()
        .any(|w| w.source == "eni-0a" && w.message.contains("sg-0trim")));

    // describe-security-group-rules supplies its rules: evaluated, no warning about it.
    let rules = json!({"SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-0a", "GroupId": "sg-0trim",
        "GroupOwnerId": "111122223333", "IsEgress": true, "IpProtocol": "tcp", "FromPort": 23,
        "ToPort": 23, "CidrIpv4": "0.0.0.0/0"}]});
    let (inv, f) = scan(vec![trimmed, rules], &["EG001", "EG003", "EG009"]);
    assert_eq!(target_ids(&inv), set(&["sg-0trim"]));
    assert_eq!(ids(&f, "sg-0trim"), set(&["EG003", "EG009"]));
    assert!(inv.warnings.is_empty(), "{:#?}", inv.warnings);
    assert_eq!(inv.targets[0].name.as_deref(), Some("trim"));
}

#[test]
fn an_acl_listed_without_its_entries_is_unknown_not_deny_all() {
    let acl = json!({"NetworkAcls": [{"NetworkAclId": "acl-0trim", "VpcId": "vpc-0a", "IsDefault": true,
        "Associations": [{"NetworkAclAssociationId": "aclassoc-0a", "NetworkAclId": "acl-0trim",
                          "SubnetId": "subnet-0a"}]}]});
    let eni = json!({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0a", "SubnetId": "subnet-0a",
        "VpcId": "vpc-0a", "PrivateIpAddress": "10.0.0.5", "InterfaceType": "interface",
        "Groups": [{"GroupId": "sg-0open", "GroupName": "open"}]}]});
    let (inv, f) = scan(
        vec![
            acl.clone(),
            json!({"SecurityGroups": [open_sg("sg-0open")]}),
            eni,
        ],
        &["EG001"],
    );
    // Only the group decides: the ACL's rules are unknown, not "deny everything".
    assert_eq!(target_ids(&inv), set(&["eni-0a"]));
    assert_eq!(inv.targets[0].chains.len(), 1);
    assert!(ids(&f, "eni-0a").contains("EG001"));
    assert!(warnings_of(&inv, "not-evaluated")
        .iter()
        .any(|w| w.source == "acl-0trim" && w.message.contains("Entries")));
    assert!(warnings_of(&inv, "partial-data")
        .iter()
        .any(|w| w.source == "subnet-0a" && w.message.contains("acl-0trim")));
    // On its own: no target, a warning.
    let (inv, f) = scan(vec![acl], &["EG001"]);
    assert!(inv.targets.is_empty() && f.is_empty());
    assert_eq!(warnings_of(&inv, "not-evaluated").len(), 1);
    // `"Entries": []` is a real (if odd) listing: only the `*` entry, everything denied.
    let empty = json!({"NetworkAcls": [{"NetworkAclId": "acl-0none", "VpcId": "vpc-0a",
        "IsDefault": false, "Associations": [], "Entries": []}]});
    let (inv, f) = scan(vec![empty], &["EG001"]);
    assert_eq!(target_ids(&inv), set(&["acl-0none"]));
    assert!(f.is_empty() && inv.warnings.is_empty());
}

#[test]
fn one_object_of_a_listing_reads_as_a_listing_of_one() {
    // `aws ec2 describe-network-acls --network-acl-ids acl-… --query 'NetworkAcls[0]'`: its own
    // `Entries` are the ACL's, not prefix-list entries.
    let acls: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("tests/fixtures/aws/review/attached/network-acls.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let one = acls["NetworkAcls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["NetworkAclId"] == "acl-0c00000000000a003")
        .unwrap()
        .clone();
    let (inv, f) = scan(vec![one, open_sg("sg-0one")], &["EG001", "EG002"]);
    assert_eq!(target_ids(&inv), set(&["acl-0c00000000000a003", "sg-0one"]));
    assert!(ids(&f, "acl-0c00000000000a003").contains("EG001"));
    assert!(!ids(&f, "acl-0c00000000000a003").contains("EG002"));
    assert!(ids(&f, "sg-0one").contains("EG001"));
}

#[test]
fn a_page_of_a_longer_listing_is_read_and_said_to_be_partial() {
    let mut sgs = json!({"SecurityGroups": [open_sg("sg-0page")]});
    sgs["NextToken"] = json!("eyJOZXh0VG9rZW4iOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAxfQ==");
    let (inv, f) = scan(vec![sgs], &["EG001"]);
    assert!(ids(&f, "sg-0page").contains("EG001"));
    let w = warnings_of(&inv, "truncated-listing");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].source, "doc-0.json");
    assert!(w[0].message.contains("NextToken"));
    assert_eq!(
        inv.not_scanned.len(),
        1,
        "the other pages make the scan partial"
    );
}

#[test]
fn concatenated_exports_are_an_input_error_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("egress-audit-aws-review-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two-exports.json");
    let one = serde_json::to_string_pretty(&json!({"SecurityGroups": [open_sg("sg-0a")]})).unwrap();
    std::fs::write(&path, format!("{one}\n{one}\n")).unwrap();
    let mut loader = Loader::default();
    let err = loader.add_path(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(err.source_name, path.display().to_string());
    assert!(
        err.problem.to_string().contains("not valid JSON"),
        "{}",
        err.problem
    );
    assert!(
        err.problem.to_string().contains("several JSON documents"),
        "{}",
        err.problem.to_string()
    );
}

#[test]
fn values_in_other_case_read_the_same() {
    // Protocol names and actions as some tools print them.
    let acl = json!({"NetworkAcls": [{"NetworkAclId": "acl-0case", "VpcId": "vpc-0a", "IsDefault": false,
        "Associations": [], "Entries": [
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "TCP", "PortRange": {"From": 445, "To": 445},
             "RuleAction": "DENY", "RuleNumber": 100},
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "Allow", "RuleNumber": 200},
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767}]}]});
    let (_, f) = scan(vec![acl], &["EG001", "EG002"]);
    let got = ids(&f, "acl-0case");
    assert!(got.contains("EG001") && !got.contains("EG002"), "{got:?}");
}

#[test]
fn an_icmp_acl_entry_reads_its_type_and_code_never_its_port_range() {
    // AWS ignores ports for icmp/icmpv6; a `PortRange` printed on such an entry (as tools that
    // always send one leave it) is not a type and code.
    let acl = |entry: Value| {
        json!({"NetworkAcls": [{"NetworkAclId": "acl-0icmp", "VpcId": "vpc-0a", "IsDefault": false,
            "Associations": [], "Entries": [entry,
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767}]}]})
    };
    let base = json!({"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "1",
                      "RuleAction": "allow", "RuleNumber": 100});
    // Both: the type and code decide (echo reply only).
    let mut e = base.clone();
    e["PortRange"] = json!({"From": 8, "To": 8});
    e["IcmpTypeCode"] = json!({"Code": 0, "Type": 0});
    let (_, f) = scan(vec![acl(e)], &["EG007"]);
    assert!(!ids(&f, "acl-0icmp").contains("EG007"));
    // A port range only: every icmp type, echo included.
    let mut e = base.clone();
    e["PortRange"] = json!({"From": 0, "To": 0});
    let (_, f) = scan(vec![acl(e)], &["EG007"]);
    assert_eq!(ids(&f, "acl-0icmp"), set(&["EG007"]));
    // A full port range is no error.
    let mut e = base;
    e["PortRange"] = json!({"From": 0, "To": 65535});
    let (_, f) = scan(vec![acl(e)], &["EG007"]);
    assert_eq!(
        evidence(find(&f, "acl-0icmp", "EG007")),
        vec![ev(
            "acl-0icmp rule 100",
            "allow",
            "icmp",
            "all",
            "0.0.0.0/0"
        )]
    );
}

#[test]
fn both_prefix_list_listings_of_one_list_keep_its_cidrs() {
    // describe-prefix-lists prints the AWS-managed lists with their CIDRs; describe-managed-prefix-lists
    // prints the same ids without them. Whichever file comes last, the CIDRs stay.
    let old_api = json!({"PrefixLists": [{"PrefixListId": "pl-6fa54006",
        "PrefixListName": "com.amazonaws.eu-west-1.s3", "Cidrs": ["52.218.0.0/17", "3.5.64.0/21"]}]});
    let managed = json!({"PrefixLists": [{"PrefixListId": "pl-6fa54006", "AddressFamily": "IPv4",
        "State": "create-complete", "PrefixListArn": "arn:aws:ec2:eu-west-1:aws:prefix-list/pl-6fa54006",
        "PrefixListName": "com.amazonaws.eu-west-1.s3", "Tags": [], "OwnerId": "AWS"}]});
    let sg = json!({"SecurityGroups": [{"GroupId": "sg-0s3", "GroupName": "s3", "OwnerId": "111122223333",
        "IpPermissions": [],
        "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [],
            "Ipv6Ranges": [], "PrefixListIds": [{"PrefixListId": "pl-6fa54006"}], "UserIdGroupPairs": []}]}]});
    for docs in [
        vec![old_api.clone(), managed.clone(), sg.clone()],
        vec![managed, old_api, sg],
    ] {
        let (inv, f) = scan(docs, &["EG002"]);
        assert!(inv.warnings.is_empty(), "{:#?}", inv.warnings);
        assert!(ids(&f, "sg-0s3").contains("EG002"), "{f:#?}");
    }
}

#[test]
fn a_listing_without_rules_does_not_replace_one_with_them() {
    let full = json!({"SecurityGroups": [open_sg("sg-0both")]});
    let names = json!({"SecurityGroups": [{"GroupId": "sg-0both", "GroupName": "both"}]});
    let acl_full = json!({"NetworkAcls": [{"NetworkAclId": "acl-0both", "VpcId": "vpc-0a", "IsDefault": false,
        "Associations": [], "Entries": [
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100},
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767}]}]});
    let acl_names = json!({"NetworkAcls": [{"NetworkAclId": "acl-0both", "VpcId": "vpc-0a"}]});
    for docs in [
        vec![
            full.clone(),
            names.clone(),
            acl_full.clone(),
            acl_names.clone(),
        ],
        vec![names, full, acl_names, acl_full],
    ] {
        let (inv, f) = scan(docs, &["EG001"]);
        assert!(inv.warnings.is_empty(), "{:#?}", inv.warnings);
        assert!(ids(&f, "sg-0both").contains("EG001"));
        assert!(ids(&f, "acl-0both").contains("EG001"));
    }
}

#[test]
fn a_bare_interface_listing_without_interface_type_is_read() {
    // `--query NetworkInterfaces` from an output that prints no `InterfaceType`.
    let enis = json!([{"NetworkInterfaceId": "eni-0old", "SubnetId": "subnet-0a", "VpcId": "vpc-0a",
        "PrivateIpAddress": "10.0.0.5", "Groups": [{"GroupId": "sg-0open", "GroupName": "open"}]}]);
    let (inv, f) = scan(
        vec![json!({"SecurityGroups": [open_sg("sg-0open")]}), enis],
        &["EG001"],
    );
    assert_eq!(target_ids(&inv), set(&["eni-0old"]));
    assert!(ids(&f, "eni-0old").contains("EG001"));
}

#[test]
fn a_permission_without_any_destination_is_reported() {
    // `IPRanges` is not a field AWS prints: the permission names no destination it knows.
    let sg = json!({"SecurityGroups": [{"GroupId": "sg-0odd", "GroupName": "odd", "IpPermissions": [],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IPRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]});
    let (inv, f) = scan(vec![sg], inputs::EVERY);
    assert!(f.is_empty());
    let w = warnings_of(&inv, "unknown-field");
    assert_eq!(w.len(), 1, "{:#?}", inv.warnings);
    assert_eq!(w[0].source, "sg-0odd");
    assert!(w[0].message.contains("IpPermissionsEgress[0]"));
}

/// Echo is type 8 code 0 (RFC 792): a rule for exactly that (`FromPort 8`, `ToPort 0`, the form
/// the console writes) allows all of echo, not 1/256 of it.
#[test]
fn echo_with_code_zero_is_all_of_echo() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sg.json");
    std::fs::write(
        &file,
        r#"{"SecurityGroups": [{"GroupId": "sg-0e0000000000000a1", "GroupName": "ping", "VpcId": "vpc-1",
            "OwnerId": "111122223333", "IpPermissions": [],
            "IpPermissionsEgress": [{"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0,
              "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [],
              "UserIdGroupPairs": []}]}]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(["scan", "--format", "json", "--input"])
        .arg(&file)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let eg007: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check_id"] == "EG007")
        .collect();
    assert_eq!(eg007.len(), 1, "{report}");
    assert_eq!(
        eg007[0]["message"],
        "icmp echo (icmp/8:0) is allowed to 100% of public IPv4"
    );
}
