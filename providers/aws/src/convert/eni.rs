//! `describe-network-interfaces`.

use super::{tag, Obj};
use aws_sdk_ec2::types::{
    GroupIdentifier, NetworkInterface, NetworkInterfaceAssociation, NetworkInterfaceAttachment,
    NetworkInterfaceIpv6Address, NetworkInterfacePrivateIpAddress,
};
use serde_json::Value;

pub fn network_interface(n: &NetworkInterface) -> Value {
    Obj::new()
        .s("NetworkInterfaceId", &n.network_interface_id)
        .s("SubnetId", &n.subnet_id)
        .s("VpcId", &n.vpc_id)
        .s("AvailabilityZone", &n.availability_zone)
        .s("Description", &n.description)
        .e("InterfaceType", &n.interface_type)
        .e("Status", &n.status)
        .s("OwnerId", &n.owner_id)
        .s("RequesterId", &n.requester_id)
        .b("RequesterManaged", n.requester_managed)
        .b("SourceDestCheck", n.source_dest_check)
        .s("MacAddress", &n.mac_address)
        .s("PrivateDnsName", &n.private_dns_name)
        .s("PrivateIpAddress", &n.private_ip_address)
        .list_always("Groups", &n.groups, group)
        .obj("Attachment", n.attachment.as_ref().map(attachment))
        .obj("Association", n.association.as_ref().map(association))
        .list(
            "PrivateIpAddresses",
            &n.private_ip_addresses,
            private_address,
        )
        .list("Ipv6Addresses", &n.ipv6_addresses, ipv6_address)
        .s("Ipv6Address", &n.ipv6_address)
        .b("Ipv6Native", n.ipv6_native)
        .b("DenyAllIgwTraffic", n.deny_all_igw_traffic)
        .s("OutpostArn", &n.outpost_arn)
        .list("TagSet", &n.tag_set, tag)
        .done()
}

fn group(g: &GroupIdentifier) -> Value {
    Obj::new()
        .s("GroupId", &g.group_id)
        .s("GroupName", &g.group_name)
        .done()
}

fn attachment(a: &NetworkInterfaceAttachment) -> Value {
    Obj::new()
        .s("AttachmentId", &a.attachment_id)
        .s("InstanceId", &a.instance_id)
        .s("InstanceOwnerId", &a.instance_owner_id)
        .e("Status", &a.status)
        .i("DeviceIndex", a.device_index)
        .i("NetworkCardIndex", a.network_card_index)
        .b("DeleteOnTermination", a.delete_on_termination)
        .time("AttachTime", &a.attach_time)
        .done()
}

fn association(a: &NetworkInterfaceAssociation) -> Value {
    Obj::new()
        .s("PublicIp", &a.public_ip)
        .s("PublicDnsName", &a.public_dns_name)
        .s("IpOwnerId", &a.ip_owner_id)
        .s("AllocationId", &a.allocation_id)
        .s("AssociationId", &a.association_id)
        .s("CarrierIp", &a.carrier_ip)
        .s("CustomerOwnedIp", &a.customer_owned_ip)
        .done()
}

fn private_address(p: &NetworkInterfacePrivateIpAddress) -> Value {
    Obj::new()
        .s("PrivateIpAddress", &p.private_ip_address)
        .s("PrivateDnsName", &p.private_dns_name)
        .b("Primary", p.primary)
        .obj("Association", p.association.as_ref().map(association))
        .done()
}

fn ipv6_address(a: &NetworkInterfaceIpv6Address) -> Value {
    Obj::new()
        .s("Ipv6Address", &a.ipv6_address)
        .b("IsPrimaryIpv6", a.is_primary_ipv6)
        .done()
}
