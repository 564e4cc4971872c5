//! Security groups on many interfaces: each group's rules are made once and shared by every
//! interface that has it, and an interface with several groups gets one list of all their rules,
//! in the order it lists them. Sharing must change no verdict: each interface is judged on its
//! own groups, as if it alone had them.

use egress_audit::eval::eval_target;
use egress_audit::model::{Finding, LayerKind, Rules, Target};
use egress_audit::normalize::Inventory;
use serde_json::{json, Value};

use crate::inputs::{self, scan};

const ACCT: &str = "111122223333";

fn group(id: &str, egress: Value) -> Value {
    json!({"GroupId": id, "GroupName": format!("{id}-name"), "OwnerId": ACCT, "VpcId": "vpc-0aaa",
           "IpPermissions": [], "IpPermissionsEgress": egress})
}

fn tcp(port: i64, cidr: &str, description: &str) -> Value {
    json!({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "Ipv6Ranges": [],
           "PrefixListIds": [], "UserIdGroupPairs": [],
           "IpRanges": [{"CidrIp": cidr, "Description": description}]})
}

fn interface(id: &str, groups: &[&str]) -> Value {
    let groups: Vec<Value> = groups.iter().map(|g| json!({"GroupId": g})).collect();
    json!({"NetworkInterfaceId": id, "SubnetId": "subnet-0a", "VpcId": "vpc-0aaa",
           "OwnerId": ACCT, "AvailabilityZone": "eu-west-1a", "Groups": groups,
           "InterfaceType": "interface", "PrivateIpAddress": "10.0.0.5"})
}

/// web: https and SMB out; db: MySQL inside, telnet out; any: everything out. Interfaces: two
/// with web alone, two with web and db (one the other way round), one with web, db again, one
/// with web and a group that is not in the input, one with web and any.
fn estate() -> (Inventory, Vec<Finding>) {
    let groups = json!({"SecurityGroups": [
        group("sg-0web", json!([tcp(443, "0.0.0.0/0", "https"), tcp(445, "0.0.0.0/0", "smb")])),
        group("sg-0db", json!([tcp(3306, "10.0.0.0/8", "mysql"), tcp(23, "0.0.0.0/0", "telnet")])),
        group("sg-0any", json!([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])),
    ]});
    let interfaces = json!({"NetworkInterfaces": [
        interface("eni-0a", &["sg-0web"]),
        interface("eni-0b", &["sg-0web"]),
        interface("eni-0c", &["sg-0web", "sg-0db"]),
        interface("eni-0d", &["sg-0db", "sg-0web"]),
        interface("eni-0e", &["sg-0web", "sg-0db"]),
        interface("eni-0f", &["sg-0web", "sg-0gone"]),
        interface("eni-0g", &["sg-0web", "sg-0any"]),
    ]});
    let acl = json!({"NetworkAcls": [{"NetworkAclId": "acl-0a", "VpcId": "vpc-0aaa",
        "IsDefault": true, "OwnerId": ACCT,
        "Associations": [{"SubnetId": "subnet-0a"}],
        "Entries": [{"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1",
                     "RuleAction": "allow", "RuleNumber": 100}]}]});
    scan(vec![groups, interfaces, acl], inputs::EVERY)
}

fn target<'a>(inv: &'a Inventory, id: &str) -> &'a Target {
    inv.targets
        .iter()
        .find(|t| t.resource_id == id)
        .unwrap_or_else(|| panic!("no target {id}"))
}

/// The security-group layer's rules.
fn sg_rules<'a>(inv: &'a Inventory, id: &str) -> &'a Rules {
    let layer = &target(inv, id).chains[0].layers[0];
    assert_eq!(layer.kind, LayerKind::SecurityGroup);
    assert!(
        layer.unordered,
        "a union of allows: order carries no meaning"
    );
    &layer.rules
}

fn names(rules: &Rules) -> Vec<&str> {
    rules.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn one_group_on_many_interfaces_is_one_list() {
    let (inv, _) = estate();
    let a = sg_rules(&inv, "eni-0a");
    assert!(Rules::ptr_eq(a, sg_rules(&inv, "eni-0b")));
    // A group that is not in the input adds no rule: the interface holds web's own list.
    assert!(Rules::ptr_eq(a, sg_rules(&inv, "eni-0f")));
    assert_eq!(
        names(a),
        ["sg-0web egress #1 (https)", "sg-0web egress #2 (smb)"]
    );
    // The same groups in the same order: one union, made once.
    let c = sg_rules(&inv, "eni-0c");
    assert!(Rules::ptr_eq(c, sg_rules(&inv, "eni-0e")));
    assert!(!Rules::ptr_eq(c, sg_rules(&inv, "eni-0d")));
    assert!(!Rules::ptr_eq(a, c));
    // Printed as the list of rules it holds.
    assert_eq!(format!("{a:?}"), format!("{:?}", a.to_vec()));
}

#[test]
fn several_groups_are_one_layer_in_the_listed_order() {
    let (inv, _) = estate();
    let web = ["sg-0web egress #1 (https)", "sg-0web egress #2 (smb)"];
    let db = ["sg-0db egress #1 (mysql)", "sg-0db egress #2 (telnet)"];
    assert_eq!(names(sg_rules(&inv, "eni-0c")), [web, db].concat());
    assert_eq!(names(sg_rules(&inv, "eni-0d")), [db, web].concat());
    for (eni, layer) in [("eni-0c", "sg-0web,sg-0db"), ("eni-0d", "sg-0db,sg-0web")] {
        let t = target(&inv, eni);
        assert_eq!(t.chains.len(), 2, "the groups, then the network ACL");
        assert_eq!(t.chains[0].layers.len(), 1);
        assert_eq!(t.chains[0].layers[0].resource, layer);
    }
    // Equal lists, whether shared or not; the order differs, and so do the lists.
    assert_eq!(sg_rules(&inv, "eni-0c"), sg_rules(&inv, "eni-0e"));
    assert_ne!(sg_rules(&inv, "eni-0c"), sg_rules(&inv, "eni-0d"));
    // The union is what both groups allow, whichever order.
    let c = eval_target(target(&inv, "eni-0c")).allowed;
    let d = eval_target(target(&inv, "eni-0d")).allowed;
    assert_eq!(c, d);
    let gone = inv
        .warnings
        .iter()
        .filter(|w| w.source == "eni-0f" && w.message.contains("sg-0gone"))
        .count();
    assert_eq!(gone, 1, "{:#?}", inv.warnings);
}

/// Every finding of the estate with the rules its evidence names, as the normalizer gave them
/// when each interface had its own copy of its groups' rules (before they were shared).
#[test]
fn sharing_changes_no_finding() {
    let (_, f) = estate();
    let mut got: Vec<String> = f
        .iter()
        .map(|x| {
            let rules: Vec<&str> = x.evidence.iter().map(|e| e.name.as_str()).collect();
            format!("{} {} {}", x.resource_id, x.check_id, rules.join(" | "))
        })
        .collect();
    got.sort();
    let (smb, https) = ("sg-0web egress #2 (smb)", "sg-0web egress #1 (https)");
    let (telnet, any, acl) = (
        "sg-0db egress #2 (telnet)",
        "sg-0any egress #1",
        "acl-0a rule 100",
    );
    let mut want: Vec<String> = Vec::new();
    for eni in ["eni-0a", "eni-0b", "eni-0f"] {
        want.push(format!("{eni} EG002 {smb} | {acl}"));
        want.push(format!("{eni} EG008 {https} | {acl}"));
        want.push(format!("{eni} EG009 {https} | {smb} | {acl}"));
    }
    for eni in ["eni-0c", "eni-0d", "eni-0e"] {
        want.push(format!("{eni} EG002 {smb} | {acl}"));
        want.push(format!("{eni} EG003 {telnet} | {acl}"));
        want.push(format!("{eni} EG008 {https} | {acl}"));
    }
    // Evidence follows the layer's order: the groups as the interface lists them.
    want.push(format!("eni-0c EG009 {https} | {smb} | {telnet} | {acl}"));
    want.push(format!("eni-0e EG009 {https} | {smb} | {telnet} | {acl}"));
    want.push(format!("eni-0d EG009 {telnet} | {https} | {smb} | {acl}"));
    want.push(format!("eni-0g EG001 {https} | {smb} | {any} | {acl}"));
    want.push(format!("eni-0g EG002 {smb} | {any} | {acl}"));
    want.push(format!("eni-0g EG008 {https} | {any} | {acl}"));
    for check in ["EG003", "EG004", "EG005", "EG006", "EG007", "EG013"] {
        want.push(format!("eni-0g {check} {any} | {acl}"));
    }
    want.sort();
    assert_eq!(got, want);
}
