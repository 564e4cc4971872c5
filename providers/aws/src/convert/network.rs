//! `describe-subnets`, `describe-vpcs`, `describe-route-tables`.

use super::{tag, Obj};
use aws_sdk_ec2::types::{
    Route, RouteTable, RouteTableAssociation, Subnet, SubnetIpv6CidrBlockAssociation, Vpc,
    VpcCidrBlockAssociation, VpcCidrBlockState, VpcIpv6CidrBlockAssociation,
};
use serde_json::Value;

pub fn subnet(s: &Subnet) -> Value {
    Obj::new()
        .s("SubnetId", &s.subnet_id)
        .s("SubnetArn", &s.subnet_arn)
        .s("VpcId", &s.vpc_id)
        .s("OwnerId", &s.owner_id)
        .s("CidrBlock", &s.cidr_block)
        .s("AvailabilityZone", &s.availability_zone)
        .s("AvailabilityZoneId", &s.availability_zone_id)
        .i("AvailableIpAddressCount", s.available_ip_address_count)
        .b("DefaultForAz", s.default_for_az)
        .b("MapPublicIpOnLaunch", s.map_public_ip_on_launch)
        .b(
            "AssignIpv6AddressOnCreation",
            s.assign_ipv6_address_on_creation,
        )
        .b("Ipv6Native", s.ipv6_native)
        .e("State", &s.state)
        .list(
            "Ipv6CidrBlockAssociationSet",
            &s.ipv6_cidr_block_association_set,
            subnet_ipv6,
        )
        .s("OutpostArn", &s.outpost_arn)
        .list("Tags", &s.tags, tag)
        .done()
}

fn subnet_ipv6(a: &SubnetIpv6CidrBlockAssociation) -> Value {
    let state = a.ipv6_cidr_block_state.as_ref().map(|st| {
        Obj::new()
            .e("State", &st.state)
            .s("StatusMessage", &st.status_message)
            .done()
    });
    Obj::new()
        .s("AssociationId", &a.association_id)
        .s("Ipv6CidrBlock", &a.ipv6_cidr_block)
        .obj("Ipv6CidrBlockState", state)
        .done()
}

pub fn vpc(v: &Vpc) -> Value {
    Obj::new()
        .s("VpcId", &v.vpc_id)
        .s("OwnerId", &v.owner_id)
        .s("CidrBlock", &v.cidr_block)
        .s("DhcpOptionsId", &v.dhcp_options_id)
        .e("State", &v.state)
        .e("InstanceTenancy", &v.instance_tenancy)
        .b("IsDefault", v.is_default)
        .list(
            "CidrBlockAssociationSet",
            &v.cidr_block_association_set,
            vpc_cidr,
        )
        .list(
            "Ipv6CidrBlockAssociationSet",
            &v.ipv6_cidr_block_association_set,
            vpc_ipv6,
        )
        .list("Tags", &v.tags, tag)
        .done()
}

fn cidr_state(st: &VpcCidrBlockState) -> Value {
    Obj::new()
        .e("State", &st.state)
        .s("StatusMessage", &st.status_message)
        .done()
}

fn vpc_cidr(a: &VpcCidrBlockAssociation) -> Value {
    Obj::new()
        .s("AssociationId", &a.association_id)
        .s("CidrBlock", &a.cidr_block)
        .obj(
            "CidrBlockState",
            a.cidr_block_state.as_ref().map(cidr_state),
        )
        .done()
}

fn vpc_ipv6(a: &VpcIpv6CidrBlockAssociation) -> Value {
    Obj::new()
        .s("AssociationId", &a.association_id)
        .s("Ipv6CidrBlock", &a.ipv6_cidr_block)
        .obj(
            "Ipv6CidrBlockState",
            a.ipv6_cidr_block_state.as_ref().map(cidr_state),
        )
        .s("NetworkBorderGroup", &a.network_border_group)
        .s("Ipv6Pool", &a.ipv6_pool)
        .done()
}

pub fn route_table(t: &RouteTable) -> Value {
    Obj::new()
        .s("RouteTableId", &t.route_table_id)
        .s("VpcId", &t.vpc_id)
        .s("OwnerId", &t.owner_id)
        .list_always("Routes", &t.routes, route)
        .list_always("Associations", &t.associations, rt_association)
        .list("PropagatingVgws", &t.propagating_vgws, |g| {
            Obj::new().s("GatewayId", &g.gateway_id).done()
        })
        .list("Tags", &t.tags, tag)
        .done()
}

fn route(r: &Route) -> Value {
    Obj::new()
        .s("DestinationCidrBlock", &r.destination_cidr_block)
        .s("DestinationIpv6CidrBlock", &r.destination_ipv6_cidr_block)
        .s("DestinationPrefixListId", &r.destination_prefix_list_id)
        // Gateway endpoints (`vpce-…`) appear here too, as in the CLI; there is no VpcEndpointId.
        .s("GatewayId", &r.gateway_id)
        .s(
            "EgressOnlyInternetGatewayId",
            &r.egress_only_internet_gateway_id,
        )
        .s("NatGatewayId", &r.nat_gateway_id)
        .s("TransitGatewayId", &r.transit_gateway_id)
        .s("InstanceId", &r.instance_id)
        .s("InstanceOwnerId", &r.instance_owner_id)
        .s("LocalGatewayId", &r.local_gateway_id)
        .s("CarrierGatewayId", &r.carrier_gateway_id)
        .s("NetworkInterfaceId", &r.network_interface_id)
        .s("VpcPeeringConnectionId", &r.vpc_peering_connection_id)
        .s("CoreNetworkArn", &r.core_network_arn)
        .e("Origin", &r.origin)
        .e("State", &r.state)
        .done()
}

fn rt_association(a: &RouteTableAssociation) -> Value {
    let state = a.association_state.as_ref().map(|st| {
        Obj::new()
            .e("State", &st.state)
            .s("StatusMessage", &st.status_message)
            .done()
    });
    Obj::new()
        .b("Main", a.main)
        .s("RouteTableAssociationId", &a.route_table_association_id)
        .s("RouteTableId", &a.route_table_id)
        .s("SubnetId", &a.subnet_id)
        .s("GatewayId", &a.gateway_id)
        .obj("AssociationState", state)
        .done()
}
