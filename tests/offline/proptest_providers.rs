//! The engine against an independent reference. For each provider, proptest generates small random
//! rule sets in the provider's own export shape; the engine loads them through the normal loader and
//! evaluates the target; a brute-force evaluator written straight from the provider's documented
//! semantics decides sampled packets one by one. They must agree on every packet.

use egress_audit::eval::eval_target;
use egress_audit::model::space::{v4, ICMP, TCP, UDP};
use egress_audit::model::Target;
use egress_audit::normalize::{DocContext, Loader, Options};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::Ipv4Addr;

const CIDRS: &[&str] = &[
    "0.0.0.0/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "8.8.8.0/24",
    "8.8.8.8/32",
    "1.0.0.0/8",
    "10.0.0.0/8",
    "200.0.0.0/6",
    "203.0.113.0/24",
];
const PORT_EDGES: &[u16] = &[
    0, 1, 21, 22, 23, 52, 53, 54, 443, 444, 445, 446, 999, 1000, 3389, 65535,
];
const ADDRS: &[&str] = &[
    "8.8.8.8",
    "8.8.8.9",
    "8.8.9.1",
    "1.2.3.4",
    "10.1.1.1",
    "127.0.0.1",
    "200.1.1.1",
    "203.0.113.5",
    "255.255.255.254",
    "128.0.0.0",
    "127.255.255.255",
];

#[derive(Clone, Copy, Debug)]
struct Packet {
    proto: u8,
    /// tcp/udp port; for icmp `type * 256 + code`.
    port: u32,
    addr: Ipv4Addr,
}

fn in_cidr(addr: Ipv4Addr, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap();
    let net: Ipv4Addr = net.parse().unwrap();
    let len: u32 = len.parse().unwrap();
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(addr) & mask == u32::from(net) & mask
}

fn packets() -> impl Strategy<Value = Vec<Packet>> {
    let proto = prop_oneof![
        Just(TCP),
        Just(UDP),
        Just(ICMP),
        Just(253u8),
        Just(TCP),
        Just(UDP)
    ];
    let port = prop_oneof![
        prop::sample::select(PORT_EDGES.to_vec()).prop_map(u32::from),
        0u32..=65535
    ];
    let addr = prop_oneof![
        prop::sample::select(ADDRS.to_vec()).prop_map(|a| a.parse::<Ipv4Addr>().unwrap()),
        any::<u32>().prop_map(Ipv4Addr::from)
    ];
    prop::collection::vec(
        (proto, port, addr).prop_map(|(proto, port, addr)| Packet {
            proto,
            // icmp packets: echo request (8/0) or destination unreachable (3/4)
            port: if proto == ICMP {
                if port % 2 == 0 {
                    8 * 256
                } else {
                    3 * 256 + 4
                }
            } else {
                port
            },
            addr,
        }),
        40,
    )
}

/// A port range drawn from the edges, so boundaries get exercised.
fn port_range() -> impl Strategy<Value = (u16, u16)> {
    (
        prop::sample::select(PORT_EDGES.to_vec()),
        prop::sample::select(PORT_EDGES.to_vec()),
    )
        .prop_map(|(a, b)| (a.min(b), a.max(b)))
}

fn load(docs: Vec<Value>) -> Vec<Target> {
    let mut loader = Loader::default();
    for (i, d) in docs.into_iter().enumerate() {
        let ctx = DocContext {
            source: format!("generated#{i}"),
            ..Default::default()
        };
        loader.add_value(d, &ctx).expect("generated export loads");
    }
    loader.build(&Options::default()).targets
}

fn engine_allows(t: &Target, p: &Packet) -> bool {
    eval_target(t).allowed.contains(p.proto, p.port, v4(p.addr))
}

// ---------------------------------------------------------------- AWS

#[derive(Clone, Debug)]
struct AwsPerm {
    proto: &'static str,
    ports: (u16, u16),
    cidr: &'static str,
}

#[derive(Clone, Debug)]
struct AclEntry {
    number: u32,
    proto: &'static str,
    ports: (u16, u16),
    cidr: &'static str,
    allow: bool,
}

fn aws_proto_matches(proto: &str, p: u8) -> bool {
    match proto {
        "-1" => true,
        "tcp" | "6" => p == TCP,
        "udp" | "17" => p == UDP,
        "icmp" | "1" => p == ICMP,
        _ => unreachable!(),
    }
}

fn aws_sg_allows(perms: &[AwsPerm], p: &Packet) -> bool {
    perms.iter().any(|r| {
        aws_proto_matches(r.proto, p.proto)
            && in_cidr(p.addr, r.cidr)
            && match p.proto {
                TCP | UDP if r.proto != "-1" => {
                    (r.ports.0 as u32..=r.ports.1 as u32).contains(&p.port)
                }
                _ => true, // "-1" ignores ports; icmp rules here are all types (-1)
            }
    })
}

fn aws_nacl_allows(entries: &[AclEntry], p: &Packet) -> bool {
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|e| e.number);
    for e in &sorted {
        let port_ok = match p.proto {
            TCP | UDP if e.proto != "-1" => (e.ports.0 as u32..=e.ports.1 as u32).contains(&p.port),
            _ => true,
        };
        if aws_proto_matches(e.proto, p.proto) && in_cidr(p.addr, e.cidr) && port_ok {
            return e.allow;
        }
    }
    false // the final `*` entry
}

fn aws_perm() -> impl Strategy<Value = AwsPerm> {
    (
        prop::sample::select(vec!["-1", "tcp", "udp", "6", "17", "icmp"]),
        port_range(),
        prop::sample::select(CIDRS.to_vec()),
    )
        .prop_map(|(proto, ports, cidr)| AwsPerm { proto, ports, cidr })
}

fn acl_entries() -> impl Strategy<Value = Vec<AclEntry>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["-1", "6", "17", "1"]),
            port_range(),
            prop::sample::select(CIDRS.to_vec()),
            any::<bool>(),
        ),
        0..6,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (proto, ports, cidr, allow))| AclEntry {
                number: 100 * (i as u32 + 1) * if i % 2 == 0 { 1 } else { 3 },
                proto,
                ports,
                cidr,
                allow,
            })
            .collect()
    })
}

fn aws_docs(perms: &[AwsPerm], entries: &[AclEntry]) -> Vec<Value> {
    let perm_json: Vec<Value> = perms
        .iter()
        .map(|r| {
            let mut v = json!({"IpProtocol": r.proto, "IpRanges": [{"CidrIp": r.cidr}],
                               "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []});
            if r.proto == "icmp" {
                v["FromPort"] = json!(-1);
                v["ToPort"] = json!(-1);
            } else if r.proto != "-1" {
                v["FromPort"] = json!(r.ports.0);
                v["ToPort"] = json!(r.ports.1);
            }
            v
        })
        .collect();
    let mut acl: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({"RuleNumber": e.number, "Protocol": e.proto, "Egress": true,
                               "CidrBlock": e.cidr, "RuleAction": if e.allow {"allow"} else {"deny"}});
            if e.proto == "6" || e.proto == "17" {
                v["PortRange"] = json!({"From": e.ports.0, "To": e.ports.1});
            }
            if e.proto == "1" {
                v["IcmpTypeCode"] = json!({"Type": -1, "Code": -1});
            }
            v
        })
        .collect();
    // An ingress entry that must not matter, and the `*` entry as the CLI prints it.
    acl.push(json!({"RuleNumber": 50, "Protocol": "-1", "Egress": false, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}));
    acl.push(json!({"RuleNumber": 32767, "Protocol": "-1", "Egress": true, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}));
    vec![
        json!({"SecurityGroups": [{"GroupId": "sg-0a1", "GroupName": "g", "VpcId": "vpc-1",
               "OwnerId": "111122223333", "Description": "d", "IpPermissions": [],
               "IpPermissionsEgress": perm_json}]}),
        json!({"NetworkAcls": [{"NetworkAclId": "acl-0a1", "VpcId": "vpc-1", "IsDefault": false,
               "OwnerId": "111122223333", "Entries": acl,
               "Associations": [{"NetworkAclAssociationId": "aclassoc-1", "NetworkAclId": "acl-0a1", "SubnetId": "subnet-1"}]}]}),
        json!({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0a1", "SubnetId": "subnet-1",
               "VpcId": "vpc-1", "OwnerId": "111122223333", "PrivateIpAddress": "10.0.0.5",
               "Groups": [{"GroupId": "sg-0a1", "GroupName": "g"}], "TagSet": []}]}),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn aws_engine_matches_brute_force(
        perms in prop::collection::vec(aws_perm(), 0..5),
        entries in acl_entries(),
        pkts in packets(),
    ) {
        let targets = load(aws_docs(&perms, &entries));
        let eni = targets.iter().find(|t| t.resource_id == "eni-0a1").expect("an ENI target");
        for p in &pkts {
            let want = aws_sg_allows(&perms, p) && aws_nacl_allows(&entries, p);
            prop_assert_eq!(engine_allows(eni, p), want, "packet {:?}", p);
        }
    }
}

// ---------------------------------------------------------------- Azure

#[derive(Clone, Debug)]
struct NsgRule {
    priority: u32,
    outbound: bool,
    allow: bool,
    proto: &'static str,
    ports: Option<(u16, u16)>,
    dest: &'static str,
}

fn is_public4(a: Ipv4Addr) -> bool {
    const SPECIAL: &[&str] = &[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ];
    !SPECIAL.iter().any(|c| in_cidr(a, c))
}

fn nsg_allows(rules: &[NsgRule], p: &Packet) -> bool {
    let mut sorted: Vec<&NsgRule> = rules.iter().filter(|r| r.outbound).collect();
    sorted.sort_by_key(|r| r.priority);
    for r in sorted {
        let proto_ok = match r.proto {
            "*" => true,
            "Tcp" => p.proto == TCP,
            "Udp" => p.proto == UDP,
            "Icmp" => p.proto == ICMP,
            _ => unreachable!(),
        };
        let port_ok = match (r.ports, p.proto) {
            // A range of every port restricts nothing, like `*`.
            (None, _) | (Some((0, 65535)), _) => true,
            (Some((lo, hi)), TCP | UDP) => (lo as u32..=hi as u32).contains(&p.port),
            // Port-restricted rules only match protocols that have ports.
            (Some(_), _) => false,
        };
        let dest_ok = match r.dest {
            "*" => true,
            "Internet" => is_public4(p.addr),
            c => in_cidr(p.addr, c),
        };
        if proto_ok && port_ok && dest_ok {
            return r.allow;
        }
    }
    // AllowVnetOutBound (internal only), AllowInternetOutBound, DenyAllOutBound.
    is_public4(p.addr)
}

fn nsg_rules() -> impl Strategy<Value = Vec<NsgRule>> {
    prop::collection::vec(
        (
            any::<bool>(),
            prop::bool::weighted(0.85),
            any::<bool>(),
            prop::sample::select(vec!["*", "Tcp", "Udp", "Icmp"]),
            prop::option::of(port_range()),
            prop::sample::select(vec![
                "*",
                "Internet",
                "0.0.0.0/0",
                "0.0.0.0/1",
                "128.0.0.0/1",
                "8.8.8.0/24",
                "10.0.0.0/8",
            ]),
        ),
        0..6,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (_, outbound, allow, proto, ports, dest))| NsgRule {
                priority: 100 + 7 * ((i as u32 * 37) % 11) + i as u32,
                outbound,
                allow,
                proto,
                // The portal forces `*` ports for Icmp; keep generated rules to what Azure accepts.
                ports: if proto == "Icmp" { None } else { ports },
                dest,
            })
            .collect()
    })
}

fn nsg_json(name: &str, rules: &[NsgRule]) -> Value {
    let id = format!("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}");
    let sec: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({"name": format!("r{i}"), "id": format!("{id}/securityRules/r{i}"),
                   "priority": r.priority, "direction": if r.outbound {"Outbound"} else {"Inbound"},
                   "access": if r.allow {"Allow"} else {"Deny"}, "protocol": r.proto,
                   "sourceAddressPrefix": "*", "sourcePortRange": "*",
                   "destinationAddressPrefix": r.dest,
                   "destinationPortRange": match r.ports { None => "*".to_string(), Some((a, b)) if a == b => a.to_string(), Some((a, b)) => format!("{a}-{b}") },
                   "provisioningState": "Succeeded", "type": "Microsoft.Network/networkSecurityGroups/securityRules"})
        })
        .collect();
    json!({"id": id, "name": name, "location": "westeurope", "resourceGroup": "rg",
           "type": "Microsoft.Network/networkSecurityGroups", "securityRules": sec})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn azure_engine_matches_brute_force(
        nic_rules in nsg_rules(),
        subnet_rules in nsg_rules(),
        pkts in packets(),
    ) {
        let sub = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/app";
        let docs = vec![
            json!([nsg_json("nsg-nic", &nic_rules), nsg_json("nsg-subnet", &subnet_rules)]),
            json!([{"id": sub, "name": "app", "addressPrefix": "10.0.1.0/24", "resourceGroup": "rg",
                    "type": "Microsoft.Network/virtualNetworks/subnets",
                    "networkSecurityGroup": {"id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-subnet", "resourceGroup": "rg"}}]),
            json!([{"id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/vm1-nic",
                    "name": "vm1-nic", "location": "westeurope", "resourceGroup": "rg",
                    "type": "Microsoft.Network/networkInterfaces",
                    "networkSecurityGroup": {"id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-nic", "resourceGroup": "rg"},
                    "ipConfigurations": [{"name": "ipconfig1", "privateIPAddress": "10.0.1.4", "subnet": {"id": sub, "resourceGroup": "rg"}}]}]),
        ];
        let targets = load(docs);
        let nic = targets.iter().find(|t| t.resource_id.ends_with("vm1-nic")).expect("a NIC target");
        for p in pkts.iter().filter(|p| is_public4(p.addr)) {
            let want = nsg_allows(&nic_rules, p) && nsg_allows(&subnet_rules, p);
            prop_assert_eq!(engine_allows(nic, p), want, "packet {:?}", p);
        }
    }
}

// ---------------------------------------------------------------- GCP

#[derive(Clone, Debug)]
struct FwRule {
    priority: u32,
    egress: bool,
    allow: bool,
    disabled: bool,
    proto: &'static str,
    ports: Option<(u16, u16)>,
    dest: &'static str,
    tag: Option<&'static str>,
}

fn gcp_allows(rules: &[FwRule], tags: &[&str], p: &Packet) -> bool {
    let matching: Vec<&FwRule> = rules
        .iter()
        .filter(|r| r.egress && !r.disabled)
        .filter(|r| r.tag.is_none_or(|t| tags.contains(&t)))
        .filter(|r| {
            let proto_ok = match r.proto {
                "all" => true,
                "tcp" | "6" => p.proto == TCP,
                "udp" => p.proto == UDP,
                "icmp" => p.proto == ICMP,
                _ => unreachable!(),
            };
            let port_ok = match (r.ports, p.proto) {
                (None, _) => true,
                (Some((lo, hi)), TCP | UDP) => (lo as u32..=hi as u32).contains(&p.port),
                (Some(_), _) => true, // ports only given with tcp/udp below
            };
            proto_ok && port_ok && in_cidr(p.addr, r.dest)
        })
        .collect();
    let Some(best) = matching.iter().map(|r| r.priority).min() else {
        return true; // implied allow egress 0.0.0.0/0
    };
    // At equal priority a deny wins.
    !matching.iter().any(|r| r.priority == best && !r.allow)
}

fn fw_rules() -> impl Strategy<Value = Vec<FwRule>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![100u32, 500, 1000, 1000, 2000, 65534]),
            prop::bool::weighted(0.85),
            any::<bool>(),
            prop::bool::weighted(0.15),
            prop::sample::select(vec!["all", "tcp", "udp", "icmp", "6"]),
            prop::option::of(port_range()),
            prop::sample::select(CIDRS.to_vec()),
            prop::option::of(prop::sample::select(vec!["web", "db"])),
        ),
        0..6,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(
                |(priority, egress, allow, disabled, proto, ports, dest, tag)| FwRule {
                    priority,
                    egress,
                    allow,
                    disabled,
                    proto,
                    ports: if proto == "tcp" || proto == "udp" || proto == "6" {
                        ports
                    } else {
                        None
                    },
                    dest,
                    tag,
                },
            )
            .collect()
    })
}

fn fw_json(rules: &[FwRule]) -> Value {
    let net = "https://www.googleapis.com/compute/v1/projects/my-proj/global/networks/net1";
    let items: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut l4 = json!({"IPProtocol": r.proto});
            if let Some((a, b)) = r.ports {
                l4["ports"] = json!([if a == b { a.to_string() } else { format!("{a}-{b}") }]);
            }
            let mut v = json!({"kind": "compute#firewall", "id": format!("{}", 1000 + i),
                "name": format!("fw-{i}"), "network": net, "priority": r.priority,
                "direction": if r.egress {"EGRESS"} else {"INGRESS"}, "disabled": r.disabled,
                "selfLink": format!("https://www.googleapis.com/compute/v1/projects/my-proj/global/firewalls/fw-{i}")});
            if r.egress {
                v["destinationRanges"] = json!([r.dest]);
            } else {
                v["sourceRanges"] = json!([r.dest]);
            }
            v[if r.allow { "allowed" } else { "denied" }] = json!([l4]);
            if let Some(t) = r.tag {
                v["targetTags"] = json!([t]);
            }
            v
        })
        .collect();
    Value::Array(items)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn gcp_engine_matches_brute_force(
        rules in fw_rules(),
        web in any::<bool>(),
        pkts in packets(),
    ) {
        let tags: Vec<&str> = if web { vec!["web"] } else { vec![] };
        let instance = json!([{"kind": "compute#instance", "id": "77", "name": "vm-1",
            "zone": "https://www.googleapis.com/compute/v1/projects/my-proj/zones/us-central1-a",
            "selfLink": "https://www.googleapis.com/compute/v1/projects/my-proj/zones/us-central1-a/instances/vm-1",
            "status": "RUNNING", "tags": {"items": tags},
            "networkInterfaces": [{"name": "nic0", "network": "https://www.googleapis.com/compute/v1/projects/my-proj/global/networks/net1", "networkIP": "10.128.0.2"}],
            "serviceAccounts": [{"email": "app@my-proj.iam.gserviceaccount.com", "scopes": []}]}]);
        let targets = load(vec![fw_json(&rules), instance]);
        let vm = targets.iter().find(|t| t.resource_id.contains("vm-1")).expect("an instance target");
        for p in &pkts {
            prop_assert_eq!(engine_allows(vm, p), gcp_allows(&rules, &tags, p), "packet {:?}", p);
        }
    }
}
