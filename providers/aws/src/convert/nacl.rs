//! `describe-network-acls`.

use super::{tag, Obj};
use aws_sdk_ec2::types::{NetworkAcl, NetworkAclAssociation, NetworkAclEntry};
use serde_json::Value;

pub fn network_acl(a: &NetworkAcl) -> Value {
    Obj::new()
        .s("NetworkAclId", &a.network_acl_id)
        .s("VpcId", &a.vpc_id)
        .s("OwnerId", &a.owner_id)
        .b("IsDefault", a.is_default)
        .list_always("Entries", &a.entries, entry)
        .list_always("Associations", &a.associations, association)
        .list("Tags", &a.tags, tag)
        .done()
}

fn entry(e: &NetworkAclEntry) -> Value {
    let port_range = e
        .port_range
        .as_ref()
        .map(|p| Obj::new().i("From", p.from).i("To", p.to).done());
    let icmp = e
        .icmp_type_code
        .as_ref()
        .map(|c| Obj::new().i("Code", c.code).i("Type", c.r#type).done());
    Obj::new()
        .i("RuleNumber", e.rule_number)
        .s("Protocol", &e.protocol)
        .e("RuleAction", &e.rule_action)
        .b("Egress", e.egress)
        .s("CidrBlock", &e.cidr_block)
        .s("Ipv6CidrBlock", &e.ipv6_cidr_block)
        .obj("PortRange", port_range)
        .obj("IcmpTypeCode", icmp)
        .done()
}

fn association(a: &NetworkAclAssociation) -> Value {
    Obj::new()
        .s("NetworkAclAssociationId", &a.network_acl_association_id)
        .s("NetworkAclId", &a.network_acl_id)
        .s("SubnetId", &a.subnet_id)
        .done()
}
