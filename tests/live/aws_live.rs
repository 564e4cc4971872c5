//! `scan aws` / `collect aws` against a real emulator: a moto server seeded with the real SDK in
//! two regions, read through `AWS_ENDPOINT_URL` by the egress-audit binary.
//!
//! Run: `cargo test --features aws --test live aws_live::` (needs `moto_server` or `python3 -m moto.server`;
//! the setup pip-installs `moto[server]` when neither is there).
#![cfg(feature = "aws")]

use crate::fault_proxy;
use crate::moto;

use ec2::types::{
    AddPrefixListEntry, Filter, InstanceType, IpPermission, IpRange, PortRange, PrefixListId,
    RuleAction,
};
use egress_audit_aws::sdk::ec2;
use fault_proxy::{FaultProxy, Faults};
use moto::Moto;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};

const R1: &str = "us-east-1";
const R2: &str = "eu-west-1";
/// Extra groups in R2, so the listing is long.
const BULK_GROUPS: usize = 40;
/// moto 5 returns every security group in one page whatever MaxResults says, so a proxy serves
/// them in pages of this size, with NextToken, and the collector must follow it.
const SG_PAGE: usize = 10;

/// What the seeding made, by role.
#[derive(Debug, Default)]
struct World {
    eni_open: String,
    eni_nacl: String,
    eni_telnet: String,
    sg_open: String,
    sg_smb: String,
    sg_halves: String,
    sg_telnet: String,
    sg_prefix: String,
    nacl_custom: String,
    subnet_nacl: String,
    prefix_list: String,
    rtb_igw: String,
    igw: String,
    r2_group_count: usize,
    /// The AWS-managed S3 prefix list of region 1, named by a rule.
    aws_s3_list: String,
    /// ENI → the instance it is attached to (a target may be named by either).
    instance_of: BTreeMap<String, String>,
}

fn cidr(c: &str) -> IpRange {
    IpRange::builder().cidr_ip(c).build()
}

fn egress(proto: &str, from: i32, to: i32, cidrs: &[&str]) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(proto);
    if proto != "-1" {
        p = p.from_port(from).to_port(to);
    }
    for c in cidrs {
        p = p.ip_ranges(cidr(c));
    }
    p.build()
}

async fn group(c: &ec2::Client, vpc: &str, name: &str, rules: Vec<IpPermission>) -> String {
    let id = c
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc)
        .send()
        .await
        .expect("create_security_group")
        .group_id
        .expect("group id");
    if rules.is_empty() {
        return id; // keeps the default "all traffic to 0.0.0.0/0" egress rule
    }
    c.revoke_security_group_egress()
        .group_id(&id)
        .ip_permissions(egress("-1", 0, 0, &["0.0.0.0/0"]))
        .send()
        .await
        .expect("revoke default egress");
    let mut req = c.authorize_security_group_egress().group_id(&id);
    for r in rules {
        req = req.ip_permissions(r);
    }
    req.send().await.expect("authorize egress");
    id
}

async fn vpc_with_subnets(
    c: &ec2::Client,
    cidr: &str,
    subnets: &[(&str, &str)],
) -> (String, Vec<String>) {
    let vpc = c
        .create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .expect("create_vpc")
        .vpc
        .and_then(|v| v.vpc_id)
        .expect("vpc id");
    let mut ids = Vec::new();
    for (block, az) in subnets {
        let s = c
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(*block)
            .availability_zone(*az)
            .send()
            .await
            .expect("create_subnet")
            .subnet
            .and_then(|s| s.subnet_id)
            .expect("subnet id");
        ids.push(s);
    }
    (vpc, ids)
}

async fn image(c: &ec2::Client) -> String {
    c.describe_images()
        .owners("amazon")
        .send()
        .await
        .expect("describe_images")
        .images
        .unwrap_or_default()
        .into_iter()
        .find_map(|i| i.image_id)
        .expect("moto ships Amazon images")
}

/// One instance; returns its primary ENI and records which instance it belongs to.
async fn instance(w: &mut World, c: &ec2::Client, subnet: &str, groups: &[&str]) -> String {
    let mut req = c
        .run_instances()
        .image_id(image(c).await)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet);
    for g in groups {
        req = req.security_group_ids(*g);
    }
    let out = req.send().await.expect("run_instances");
    let inst = &out.instances()[0];
    let eni = inst.network_interfaces()[0]
        .network_interface_id
        .clone()
        .expect("eni id");
    let id = inst.instance_id.clone().expect("instance id");
    w.instance_of.insert(eni.clone(), id);
    eni
}

/// Seeds both regions, one call at a time (moto is not safe under parallel writes).
async fn seed(moto: &Moto) -> World {
    let mut w = World::default();

    // Region 1: a VPC with an internet gateway; subnet a1 routes to it, a2 has a custom NACL.
    let c = moto.ec2(R1);
    let (vpc, subnets) = vpc_with_subnets(
        &c,
        "10.0.0.0/16",
        &[("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")],
    )
    .await;
    let (a1, a2) = (subnets[0].clone(), subnets[1].clone());
    w.subnet_nacl = a2.clone();
    w.sg_open = group(&c, &vpc, "open-all", vec![]).await;
    w.sg_smb = group(
        &c,
        &vpc,
        "smb",
        vec![egress("tcp", 445, 445, &["0.0.0.0/0"])],
    )
    .await;
    w.sg_halves = group(
        &c,
        &vpc,
        "halves",
        vec![egress("tcp", 0, 65535, &["0.0.0.0/1", "128.0.0.0/1"])],
    )
    .await;
    // An AWS-managed list (moto ships them, owner "AWS"): its entries are read only because a
    // rule names it.
    w.aws_s3_list = c
        .describe_managed_prefix_lists()
        .filters(
            Filter::builder()
                .name("prefix-list-name")
                .values(format!("com.amazonaws.{R1}.s3"))
                .build(),
        )
        .send()
        .await
        .expect("describe prefix lists")
        .prefix_lists()
        .first()
        .and_then(|p| p.prefix_list_id.clone())
        .expect("moto's S3 prefix list");
    let to_s3 = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(&w.aws_s3_list)
                .build(),
        )
        .build();
    group(&c, &vpc, "s3-endpoint", vec![to_s3]).await;

    w.igw = c
        .create_internet_gateway()
        .send()
        .await
        .expect("create igw")
        .internet_gateway
        .and_then(|g| g.internet_gateway_id)
        .expect("igw id");
    c.attach_internet_gateway()
        .internet_gateway_id(&w.igw)
        .vpc_id(&vpc)
        .send()
        .await
        .expect("attach igw");
    w.rtb_igw = c
        .create_route_table()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("create route table")
        .route_table
        .and_then(|t| t.route_table_id)
        .expect("rtb id");
    c.create_route()
        .route_table_id(&w.rtb_igw)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&w.igw)
        .send()
        .await
        .expect("create route");
    for s in [&a1, &a2] {
        c.associate_route_table()
            .route_table_id(&w.rtb_igw)
            .subnet_id(s)
            .send()
            .await
            .expect("associate route table");
    }

    // A custom NACL: moto starts it with no entries at all; only tcp/443 out is allowed.
    w.nacl_custom = c
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("create nacl")
        .network_acl
        .and_then(|n| n.network_acl_id)
        .expect("nacl id");
    c.create_network_acl_entry()
        .network_acl_id(&w.nacl_custom)
        .rule_number(100)
        .protocol("6")
        .rule_action(RuleAction::Allow)
        .egress(true)
        .cidr_block("0.0.0.0/0")
        .port_range(PortRange::builder().from(443).to(443).build())
        .send()
        .await
        .expect("nacl entry");
    let current = c
        .describe_network_acls()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .values(&a2)
                .build(),
        )
        .send()
        .await
        .expect("describe nacl of a2");
    let assoc = current
        .network_acls()
        .iter()
        .flat_map(|n| n.associations())
        .find(|a| a.subnet_id.as_deref() == Some(a2.as_str()))
        .and_then(|a| a.network_acl_association_id.clone())
        .expect("a2's nacl association");
    c.replace_network_acl_association()
        .association_id(assoc)
        .network_acl_id(&w.nacl_custom)
        .send()
        .await
        .expect("replace nacl association");

    let (sg_open, sg_smb, sg_halves) = (w.sg_open.clone(), w.sg_smb.clone(), w.sg_halves.clone());
    w.eni_open = instance(&mut w, &c, &a1, &[&sg_open]).await;
    w.eni_nacl = instance(&mut w, &c, &a2, &[&sg_smb, &sg_halves]).await;

    // Region 2: no internet gateway; telnet out, and tcp/443 to a prefix list of DoH resolvers.
    let c = moto.ec2(R2);
    let (vpc, subnets) =
        vpc_with_subnets(&c, "10.1.0.0/16", &[("10.1.1.0/24", "eu-west-1a")]).await;
    w.prefix_list = c
        .create_managed_prefix_list()
        .prefix_list_name("doh-resolvers")
        .max_entries(10)
        .address_family("IPv4")
        .entries(
            AddPrefixListEntry::builder()
                .cidr("1.1.1.1/32")
                .description("cloudflare")
                .build(),
        )
        .entries(
            AddPrefixListEntry::builder()
                .cidr("8.8.8.8/32")
                .description("google")
                .build(),
        )
        .send()
        .await
        .expect("create prefix list")
        .prefix_list
        .and_then(|p| p.prefix_list_id)
        .expect("prefix list id");
    w.sg_telnet = group(
        &c,
        &vpc,
        "telnet",
        vec![egress("tcp", 23, 23, &["0.0.0.0/0"])],
    )
    .await;
    let to_list = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(&w.prefix_list)
                .build(),
        )
        .build();
    w.sg_prefix = group(&c, &vpc, "doh-via-prefix-list", vec![to_list]).await;
    for i in 0..BULK_GROUPS {
        group(
            &c,
            &vpc,
            &format!("bulk-{i:02}"),
            vec![egress("tcp", 443, 443, &["10.0.0.0/8"])],
        )
        .await;
    }
    let (sg_telnet, sg_prefix) = (w.sg_telnet.clone(), w.sg_prefix.clone());
    w.eni_telnet = instance(&mut w, &c, &subnets[0], &[&sg_telnet, &sg_prefix]).await;
    w.r2_group_count = c
        .describe_security_groups()
        .send()
        .await
        .expect("count groups")
        .security_groups()
        .len();
    w
}

fn run(args: &[&str], endpoint: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egress-audit"));
    cmd.args(args);
    moto::aws_env(&mut cmd, endpoint, R1);
    cmd.output().expect("running egress-audit")
}

async fn run_async(args: Vec<String>, endpoint: String) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, &endpoint)
    })
    .await
    .expect("join")
}

fn explain(out: &Output) -> String {
    format!(
        "exit {:?}\nstderr: {}\nstdout: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

fn docs<'a>(snap: &'a Value, region: &str, kind: &str) -> Vec<&'a Value> {
    snap["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .filter(|d| d["region"] == region && d["kind"] == kind)
        .map(|d| &d["data"])
        .collect()
}

fn one<'a>(snap: &'a Value, region: &str, kind: &str) -> &'a Value {
    let found = docs(snap, region, kind);
    assert_eq!(found.len(), 1, "one {kind} document in {region}");
    found[0]
}

fn by_id<'a>(items: &'a Value, key: &str, id: &str) -> &'a Value {
    items
        .as_array()
        .expect("a list")
        .iter()
        .find(|i| i[key] == id)
        .unwrap_or_else(|| panic!("{key} {id} in {items}"))
}

fn check_snapshot(snap: &Value, w: &World) {
    assert_eq!(snap["format"], "egress-audit-snapshot/1");
    assert_eq!(snap["not_scanned"], serde_json::json!([]));
    let account = "123456789012"; // moto's default account
    for d in snap["documents"].as_array().unwrap() {
        assert_eq!(d["provider"], "aws");
        assert_eq!(
            d["account"], account,
            "every document carries the STS account"
        );
    }
    for region in [R1, R2] {
        for kind in [
            "describe-security-groups",
            "describe-network-acls",
            "describe-network-interfaces",
            "describe-subnets",
            "describe-vpcs",
            "describe-route-tables",
            "describe-managed-prefix-lists",
        ] {
            one(snap, region, kind);
        }
    }

    // Security groups: the CLI's PascalCase shape, every group of the long listing.
    let sgs2 = &one(snap, R2, "describe-security-groups")["SecurityGroups"];
    assert_eq!(sgs2.as_array().unwrap().len(), w.r2_group_count);
    assert!(w.r2_group_count > BULK_GROUPS);
    let telnet = by_id(sgs2, "GroupId", &w.sg_telnet);
    assert_eq!(telnet["GroupName"], "telnet");
    assert_eq!(telnet["OwnerId"], account);
    assert!(telnet["VpcId"].as_str().unwrap().starts_with("vpc-"));
    assert_eq!(
        telnet["IpPermissionsEgress"],
        serde_json::json!([{"IpProtocol": "tcp", "FromPort": 23, "ToPort": 23,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [],
            "UserIdGroupPairs": []}])
    );
    let via_list = by_id(sgs2, "GroupId", &w.sg_prefix);
    assert_eq!(
        via_list["IpPermissionsEgress"][0]["PrefixListIds"],
        serde_json::json!([{"PrefixListId": w.prefix_list}])
    );
    let sgs1 = &one(snap, R1, "describe-security-groups")["SecurityGroups"];
    let open = by_id(sgs1, "GroupId", &w.sg_open);
    assert_eq!(open["IpPermissionsEgress"][0]["IpProtocol"], "-1");
    assert!(
        open["IpPermissionsEgress"][0].get("FromPort").is_none(),
        "None fields are left out"
    );
    let halves = by_id(sgs1, "GroupId", &w.sg_halves);
    assert_eq!(
        halves["IpPermissionsEgress"][0]["IpRanges"],
        serde_json::json!([{"CidrIp": "0.0.0.0/1"}, {"CidrIp": "128.0.0.0/1"}])
    );

    // The custom NACL holds exactly the entry we made (moto adds no defaults to it).
    let nacls = &one(snap, R1, "describe-network-acls")["NetworkAcls"];
    let custom = by_id(nacls, "NetworkAclId", &w.nacl_custom);
    assert_eq!(custom["IsDefault"], false);
    assert_eq!(
        custom["Entries"],
        serde_json::json!([{"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow",
            "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 443, "To": 443}}])
    );
    assert_eq!(
        custom["Associations"][0]["SubnetId"],
        w.subnet_nacl.as_str()
    );
    assert!(nacls
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["IsDefault"] == true
            && n["Entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["RuleNumber"] == 32767)));

    // ENIs: groups, subnet, attachment.
    let enis = &one(snap, R1, "describe-network-interfaces")["NetworkInterfaces"];
    let eni = by_id(enis, "NetworkInterfaceId", &w.eni_nacl);
    assert_eq!(eni["SubnetId"], w.subnet_nacl.as_str());
    let groups: BTreeSet<&str> = eni["Groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["GroupId"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from([w.sg_smb.as_str(), w.sg_halves.as_str()])
    );
    assert!(eni["Attachment"]["InstanceId"]
        .as_str()
        .unwrap()
        .starts_with("i-"));
    assert!(eni["PrivateIpAddress"]
        .as_str()
        .unwrap()
        .starts_with("10.0.2."));

    // Route tables: ours routes to the internet gateway; associations carry Main and SubnetId.
    let rts = &one(snap, R1, "describe-route-tables")["RouteTables"];
    let rt = by_id(rts, "RouteTableId", &w.rtb_igw);
    assert!(rt["Routes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["DestinationCidrBlock"] == "0.0.0.0/0" && r["GatewayId"] == w.igw.as_str()));
    assert!(rt["Associations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["SubnetId"] == w.subnet_nacl.as_str() && a["Main"] == false));
    assert!(rts.as_array().unwrap().iter().any(|t| t["Associations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["Main"] == true)));

    // Prefix lists: the customer-managed list and its entries, attributed to it.
    let pls = &one(snap, R2, "describe-managed-prefix-lists")["PrefixLists"];
    assert_eq!(
        by_id(pls, "PrefixListId", &w.prefix_list)["PrefixListName"],
        "doh-resolvers"
    );
    let entries = docs(snap, R2, "get-managed-prefix-list-entries");
    let ours = entries
        .iter()
        .find(|d| d["PrefixListId"] == w.prefix_list.as_str())
        .expect("entries of our prefix list");
    let cidrs: BTreeSet<&str> = ours["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Cidr"].as_str().unwrap())
        .collect();
    assert_eq!(cidrs, BTreeSet::from(["1.1.1.1/32", "8.8.8.8/32"]));
    assert_eq!(
        entries.len(),
        1,
        "AWS-managed lists no rule names are not read"
    );
    // Region 1 has no list of its own; the AWS-managed one a rule names is read.
    let r1_lists = &one(snap, R1, "describe-managed-prefix-lists")["PrefixLists"];
    assert_eq!(
        by_id(r1_lists, "PrefixListId", &w.aws_s3_list)["OwnerId"],
        "AWS"
    );
    let r1_entries = docs(snap, R1, "get-managed-prefix-list-entries");
    assert_eq!(r1_entries.len(), 1);
    assert_eq!(r1_entries[0]["PrefixListId"], w.aws_s3_list.as_str());
    assert!(r1_entries[0]["Entries"].is_array());

    let stats = &snap["stats"];
    assert!(stats["api_calls"].as_u64().unwrap() >= 2 * 7 + 2, "{stats}");
    assert_eq!(stats["throttles"], 0);
}

/// Whether a finding is about this ENI (named by the ENI or by its instance).
fn about(f: &Value, w: &World, eni: &str) -> bool {
    f["resource_id"] == eni
        || w.instance_of
            .get(eni)
            .is_some_and(|i| f["resource_id"] == *i)
}

/// Our ENI → the ids of the `checks` found for it.
fn findings_by_eni(
    report: &Value,
    w: &World,
    checks: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let findings = report["findings"].as_array().expect("findings");
    for f in findings
        .iter()
        .filter(|f| checks.contains(f["check_id"].as_str().unwrap()))
    {
        for eni in w.instance_of.keys().filter(|eni| about(f, w, eni)) {
            out.entry(eni.clone())
                .or_default()
                .insert(f["check_id"].as_str().unwrap().to_string());
        }
    }
    out
}

fn finding<'a>(report: &'a Value, w: &World, eni: &str, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| about(f, w, eni) && f["check_id"] == check)
        .unwrap_or_else(|| panic!("{check} on {eni}"))
}

/// Evidence names one port, written either way the provider data allows (`23` or `23-23`).
fn single_port(evidence: &Value, port: u16) -> bool {
    let ports = evidence["ports"].as_str().unwrap_or_default();
    [format!("{port}"), format!("{port}-{port}")].contains(&ports.to_string())
}

fn check_findings(report: &Value, w: &World) {
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let expected = BTreeMap::from([
        // Everything open, through a default NACL (100 allow all, then the `*` deny).
        (
            w.eni_open.clone(),
            set(&[
                "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
            ]),
        ),
        // The groups allow all tcp (two halves) and 445, but the custom NACL passes only tcp/443:
        // the implicit deny stops smb and the rest.
        (w.eni_nacl.clone(), set(&["EG008", "EG009"])),
        // Telnet out, and DoH via the prefix list's 1.1.1.1 / 8.8.8.8.
        (w.eni_telnet.clone(), set(&["EG003", "EG008", "EG009"])),
    ]);
    // Exactly these among the checks named here; the goldens hold the whole catalog.
    let named: BTreeSet<String> = expected.values().flatten().cloned().collect();
    let found = findings_by_eni(report, w, &named);
    for (eni, checks) in &expected {
        assert_eq!(
            found.get(eni),
            Some(checks),
            "findings for {eni}: {report:#}"
        );
    }

    let smb = finding(report, w, &w.eni_open, "EG002");
    assert_eq!(smb["severity"], "high");
    assert_eq!(smb["region"], R1);
    assert!(smb["evidence"].as_array().unwrap().iter().any(|e| e["rule"]
        .as_str()
        .unwrap()
        .contains(&w.sg_open)
        && e["action"] == "allow"));
    let doh = finding(report, w, &w.eni_nacl, "EG008");
    assert!(doh["evidence"].as_array().unwrap().iter().any(|e| e["rule"]
        .as_str()
        .unwrap()
        .contains(&w.nacl_custom)
        && single_port(e, 443)));
    // No internet gateway in region 2: findings keep their severity, with the reason as a note.
    let telnet = finding(report, w, &w.eni_telnet, "EG003");
    assert_eq!(telnet["severity"], "high");
    assert!(telnet["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("no internet path"));
    assert!(telnet["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["rule"].as_str().unwrap().contains(&w.sg_telnet) && single_port(e, 23)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_two_regions_and_scans_them() {
    let moto = Moto::start();
    let w = seed(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let snap_path = dir.path().join("snap.json");
    let snap_arg = snap_path.to_str().unwrap().to_string();

    let paging = FaultProxy::start(
        moto.port,
        Faults {
            sg_page_size: Some(SG_PAGE),
            ..Faults::default()
        },
    )
    .await;
    let out = run_async(
        [
            "collect", "aws", "--region", R1, "--region", R2, "--out", &snap_arg, "--quiet",
        ]
        .map(String::from)
        .to_vec(),
        paging.endpoint.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let snap: Value = serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    check_snapshot(&snap, &w);
    let pages = paging
        .seen()
        .iter()
        .filter(|s| s.action == "DescribeSecurityGroups" && s.region == R2)
        .count();
    assert_eq!(
        pages,
        w.r2_group_count.div_ceil(SG_PAGE),
        "one call per page"
    );

    // The live scan and a scan of the snapshot judge the same data the same way.
    let live = run_async(
        [
            "scan", "aws", "--region", R1, "--region", R2, "--format", "json", "--quiet",
        ]
        .map(String::from)
        .to_vec(),
        moto.endpoint.clone(),
    )
    .await;
    let offline = run_async(
        ["scan", "--input", &snap_arg, "--format", "json"]
            .map(String::from)
            .to_vec(),
        moto.endpoint.clone(),
    )
    .await;
    let live_report: Value =
        serde_json::from_slice(&live.stdout).unwrap_or_else(|e| panic!("{e}: {}", explain(&live)));
    let offline_report: Value = serde_json::from_slice(&offline.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", explain(&offline)));
    assert_eq!(live_report["findings"], offline_report["findings"]);
    assert_eq!(live.status.code(), offline.status.code());
    check_findings(&live_report, &w);
    assert_eq!(
        live.status.code(),
        Some(1),
        "high findings fail the default gate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_throttles_and_reports_a_denied_region_as_not_scanned() {
    let moto = Moto::start();
    for region in [R1, R2] {
        let c = moto.ec2(region);
        let (vpc, _) = vpc_with_subnets(&c, "10.2.0.0/16", &[]).await;
        group(
            &c,
            &vpc,
            "smb",
            vec![egress("tcp", 445, 445, &["0.0.0.0/0"])],
        )
        .await;
    }
    // Throttled twice and once (retried through), five times (past the 5 attempts: given up),
    // a 500 once, and every EC2 call of region 2 refused.
    let faults = Faults {
        throttle: [
            ("DescribeSecurityGroups".to_string(), 2),
            ("DescribeSubnets".to_string(), 1),
            ("DescribeRouteTables".to_string(), 5),
        ]
        .into(),
        fail_once: vec!["DescribeNetworkAcls".to_string()],
        deny_region: Some(R2.to_string()),
        ..Faults::default()
    };
    let proxy = FaultProxy::start(moto.port, faults).await;
    let dir = tempfile::tempdir().unwrap();
    let snap_path = dir.path().join("snap.json");
    let snap_arg = snap_path.to_str().unwrap().to_string();

    let out = run_async(
        [
            "collect", "aws", "--region", R1, "--region", R2, "--out", &snap_arg, "--quiet",
        ]
        .map(String::from)
        .to_vec(),
        proxy.endpoint.clone(),
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "a partial collection exits 3: {}",
        explain(&out)
    );
    let snap: Value = serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    let gaps = snap["not_scanned"].as_array().unwrap();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    // Region 2: one gap for the whole region, with AWS's code and message.
    assert_eq!(gaps[0]["region"], R2);
    assert_eq!(gaps[0]["scope"], "region");
    assert_eq!(gaps[0]["account"], "123456789012");
    assert!(gaps[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("UnauthorizedOperation: You are not authorized"));
    // Region 1: only the listing that stayed throttled past the retries.
    assert_eq!(gaps[1]["region"], R1);
    assert_eq!(gaps[1]["scope"], "DescribeRouteTables");
    assert!(gaps[1]["reason"]
        .as_str()
        .unwrap()
        .starts_with("RequestLimitExceeded"));
    // The rest of region 1 came through, after the retries.
    for kind in [
        "describe-security-groups",
        "describe-network-acls",
        "describe-subnets",
        "describe-network-interfaces",
        "describe-vpcs",
        "describe-managed-prefix-lists",
    ] {
        assert_eq!(docs(&snap, R1, kind).len(), 1, "{kind}");
    }
    assert!(docs(&snap, R1, "describe-route-tables").is_empty());
    assert!(docs(&snap, R2, "describe-security-groups").is_empty());
    let stats = &snap["stats"];
    assert_eq!(stats["throttles"], 2 + 1 + 5, "{stats}");
    // Every throttle but the last of the five, and the 500, were retried; refusals are not.
    assert_eq!(stats["retries"], 2 + 1 + 4 + 1, "{stats}");
    let seen = proxy.seen();
    let sg_calls: Vec<u16> = seen
        .iter()
        .filter(|s| s.action == "DescribeSecurityGroups" && s.region == R1)
        .map(|s| s.status)
        .collect();
    assert_eq!(sg_calls, vec![503, 503, 200]);
    assert_eq!(
        stats["api_calls"].as_u64().unwrap(),
        seen.len() as u64,
        "every call through the proxy is counted"
    );

    // The scan says it is partial: exit 3 unless --allow-partial (the gate is set above every
    // finding, so only partiality decides).
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "scan",
            "aws",
            "--region",
            R1,
            "--region",
            R2,
            "--format",
            "json",
            "--quiet",
            "--fail-on",
            "critical",
        ]
        .map(String::from)
        .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let partial = run_async(args(&[]), proxy.endpoint.clone()).await;
    assert_eq!(partial.status.code(), Some(3), "{}", explain(&partial));
    let report: Value = serde_json::from_slice(&partial.stdout).unwrap();
    assert_eq!(report["summary"]["partial"], true);
    assert_eq!(report["not_scanned"][0]["region"], R2);
    assert!(String::from_utf8_lossy(&partial.stderr).contains("partial"));
    let allowed = run_async(args(&["--allow-partial"]), proxy.endpoint.clone()).await;
    assert_eq!(allowed.status.code(), Some(0), "{}", explain(&allowed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_says_so_and_exits_2() {
    let moto = Moto::start();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egress-audit"));
    cmd.args(["scan", "aws", "--region", R1, "--format", "json", "--quiet"]);
    moto::aws_env(&mut cmd, &moto.endpoint, R1);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sts:GetCallerIdentity") && err.contains("credentials"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_scans_every_account_through_the_org_role_and_reports_a_refused_one() {
    use egress_audit_aws::sdk::organizations as org;
    let moto = Moto::start();
    let conf = org::Config::builder()
        .behavior_version(org::config::BehaviorVersion::latest())
        .region(org::config::Region::new(R1))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(org::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .http_client(egress_audit_aws::sdk::http_client())
        .build();
    let client = org::Client::from_conf(conf);
    client
        .create_organization()
        .feature_set(org::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create organization");
    let mut members = Vec::new();
    for name in ["workload", "locked"] {
        let id = client
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("create account")
            .create_account_status
            .and_then(|s| s.account_id)
            .expect("member account id");
        members.push(id);
    }
    let (member, locked) = (members[0].clone(), members[1].clone());
    // The audit role of the second account does not trust us.
    let proxy = FaultProxy::start(
        moto.port,
        Faults {
            deny_assume_into: Some(locked.clone()),
            ..Faults::default()
        },
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let snap_path = dir.path().join("snap.json");
    let snap_arg = snap_path.to_str().unwrap().to_string();
    let out = run_async(
        [
            "collect",
            "aws",
            "--org",
            "--org-role",
            "Audit",
            "--region",
            R1,
            "--out",
            &snap_arg,
            "--quiet",
        ]
        .map(String::from)
        .to_vec(),
        proxy.endpoint.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", explain(&out));
    let snap: Value = serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    let gaps = snap["not_scanned"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["account"], locked.as_str());
    assert_eq!(gaps[0]["scope"], "account");
    assert!(gaps[0].get("region").is_none());
    let reason = gaps[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "assuming arn:aws:iam::{locked}:role/Audit: AccessDenied: User is not authorized"
        )),
        "{reason}"
    );
    let accounts: BTreeSet<&str> = snap["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "describe-security-groups")
        .map(|d| d["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, BTreeSet::from(["123456789012", member.as_str()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_and_role_arn_pick_the_credentials_and_the_account() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        "[audit]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let snap_path = dir.path().join("snap.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egress-audit"));
    cmd.args([
        "collect",
        "aws",
        "--profile",
        "audit",
        "--role-arn",
        "arn:aws:iam::111122223333:role/EgressAudit",
        "--external-id",
        "x-1",
        "--region",
        R1,
        "--quiet",
        "--out",
        snap_path.to_str().unwrap(),
    ]);
    moto::aws_env(&mut cmd, &moto.endpoint, R1);
    // Only the profile has keys.
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let snap: Value = serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    let docs = snap["documents"].as_array().unwrap();
    assert_eq!(
        docs.len(),
        7,
        "seven listings, no prefix list entries: {snap:#}"
    );
    // moto acts in the assumed role's account, as AWS does.
    assert!(docs.iter().all(|d| d["account"] == "111122223333"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_region_reads_every_enabled_region() {
    let moto = Moto::start();
    let enabled: BTreeSet<String> = moto
        .ec2(R1)
        .describe_regions()
        .all_regions(false)
        .send()
        .await
        .expect("describe_regions")
        .regions()
        .iter()
        .filter_map(|r| r.region_name.clone())
        .collect();
    assert!(enabled.len() > 2 && enabled.contains(R2));
    let dir = tempfile::tempdir().unwrap();
    let snap_path = dir.path().join("snap.json");
    let out = run_async(
        [
            "collect",
            "aws",
            "--concurrency",
            "8",
            "--quiet",
            "--out",
            snap_path.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        moto.endpoint.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let snap: Value = serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    let read: BTreeSet<String> = snap["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "describe-security-groups")
        .map(|d| d["region"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(read, enabled);
}
