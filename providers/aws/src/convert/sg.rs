//! `describe-security-groups`.

use super::{tag, Obj};
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, SecurityGroup, UserIdGroupPair,
};
use serde_json::Value;

pub fn security_group(g: &SecurityGroup) -> Value {
    Obj::new()
        .s("GroupId", &g.group_id)
        .s("GroupName", &g.group_name)
        .s("Description", &g.description)
        .s("VpcId", &g.vpc_id)
        .s("OwnerId", &g.owner_id)
        .s("SecurityGroupArn", &g.security_group_arn)
        .list_always("IpPermissions", &g.ip_permissions, permission)
        .list_always("IpPermissionsEgress", &g.ip_permissions_egress, permission)
        .list("Tags", &g.tags, tag)
        .done()
}

fn permission(p: &IpPermission) -> Value {
    Obj::new()
        .s("IpProtocol", &p.ip_protocol)
        .i("FromPort", p.from_port)
        .i("ToPort", p.to_port)
        .list_always("IpRanges", &p.ip_ranges, ip_range)
        .list_always("Ipv6Ranges", &p.ipv6_ranges, ipv6_range)
        .list_always("PrefixListIds", &p.prefix_list_ids, prefix_list_id)
        .list_always("UserIdGroupPairs", &p.user_id_group_pairs, group_pair)
        .done()
}

fn ip_range(r: &IpRange) -> Value {
    Obj::new()
        .s("CidrIp", &r.cidr_ip)
        .s("Description", &r.description)
        .done()
}

fn ipv6_range(r: &Ipv6Range) -> Value {
    Obj::new()
        .s("CidrIpv6", &r.cidr_ipv6)
        .s("Description", &r.description)
        .done()
}

fn prefix_list_id(p: &PrefixListId) -> Value {
    Obj::new()
        .s("PrefixListId", &p.prefix_list_id)
        .s("Description", &p.description)
        .done()
}

fn group_pair(p: &UserIdGroupPair) -> Value {
    Obj::new()
        .s("GroupId", &p.group_id)
        .s("GroupName", &p.group_name)
        .s("UserId", &p.user_id)
        .s("VpcId", &p.vpc_id)
        .s("VpcPeeringConnectionId", &p.vpc_peering_connection_id)
        .s("PeeringStatus", &p.peering_status)
        .s("Description", &p.description)
        .done()
}
