//! The converters print what the CLI prints: PascalCase, `None` left out, rule lists always there.

use super::*;
use aws_sdk_ec2::types::{
    IcmpTypeCode, IpPermission, IpRange, NetworkAcl, NetworkAclEntry, PortRange, Route, RouteState,
    RouteTable, RuleAction, SecurityGroup,
};
use serde_json::json;

#[test]
fn security_group_matches_the_cli_shape() {
    let g = SecurityGroup::builder()
        .group_id("sg-1")
        .group_name("web")
        .owner_id("111122223333")
        .ip_permissions_egress(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(445)
                .to_port(445)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description("smb")
                        .build(),
                )
                .build(),
        )
        .tags(Tag::builder().key("env").value("prod").build())
        .build();
    assert_eq!(
        security_group(&g),
        json!({
            "GroupId": "sg-1", "GroupName": "web", "OwnerId": "111122223333",
            "IpPermissions": [],
            "IpPermissionsEgress": [{
                "IpProtocol": "tcp", "FromPort": 445, "ToPort": 445,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "smb"}],
                "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []
            }],
            "Tags": [{"Key": "env", "Value": "prod"}]
        })
    );
}

#[test]
fn nacl_entries_keep_numbers_ranges_and_icmp() {
    let a = NetworkAcl::builder()
        .network_acl_id("acl-1")
        .is_default(false)
        .entries(
            NetworkAclEntry::builder()
                .rule_number(100)
                .protocol("1")
                .rule_action(RuleAction::Deny)
                .egress(true)
                .cidr_block("0.0.0.0/0")
                .icmp_type_code(IcmpTypeCode::builder().r#type(8).code(-1).build())
                .build(),
        )
        .entries(
            NetworkAclEntry::builder()
                .rule_number(110)
                .protocol("6")
                .rule_action(RuleAction::Allow)
                .egress(true)
                .ipv6_cidr_block("::/0")
                .port_range(PortRange::builder().from(443).to(443).build())
                .build(),
        )
        .build();
    assert_eq!(
        network_acl(&a),
        json!({
            "NetworkAclId": "acl-1", "IsDefault": false, "Associations": [],
            "Entries": [
                {"RuleNumber": 100, "Protocol": "1", "RuleAction": "deny", "Egress": true,
                 "CidrBlock": "0.0.0.0/0", "IcmpTypeCode": {"Type": 8, "Code": -1}},
                {"RuleNumber": 110, "Protocol": "6", "RuleAction": "allow", "Egress": true,
                 "Ipv6CidrBlock": "::/0", "PortRange": {"From": 443, "To": 443}}
            ]
        })
    );
}

#[test]
fn routes_print_their_targets_and_state() {
    let t = RouteTable::builder()
        .route_table_id("rtb-1")
        .routes(
            Route::builder()
                .destination_prefix_list_id("pl-1")
                .gateway_id("vpce-1")
                .state(RouteState::Active)
                .build(),
        )
        .build();
    assert_eq!(
        route_table(&t),
        json!({
            "RouteTableId": "rtb-1", "Associations": [],
            "Routes": [{"DestinationPrefixListId": "pl-1", "GatewayId": "vpce-1", "State": "active"}]
        })
    );
}
