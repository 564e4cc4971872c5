//! Observed traffic (CHECKS.md §5) downstream of a flow profile: attribution to targets and rules,
//! the per-target classes, observed findings, EG014 / EG015 with and without full coverage, deny
//! rules with hits, a logged-rule disagreement, and verified proposals. The exports are the
//! bundled real-shaped examples; the profiles are built by hand (the readers are tested with the
//! readers), and the targets' identities are set here where the normalizers do not fill them yet.

use egress_audit::checks::Catalog;
use egress_audit::config::Config;
use egress_audit::flows::{analyze, Analysis, Status};
use egress_audit::model::space::{parse_addrs, parse_proto, AddrSet, PortSet};
use egress_audit::model::RuleText;
use egress_audit::model::{
    Action, Chain, Finding, Identity, Layer, LayerKind, ObservedSource, Rule, Target, TrafficSet,
};
use egress_audit::normalize::{Inventory, Loader, Options};
use egress_audit::propose::{propose, Options as ProposeOptions, Proposal};
use egress_audit_flows::{CoverageHole, Disposition, FlowKey, FlowProfile, FlowStats};
use egress_audit_snapshot::Provider;
use std::net::IpAddr;
use std::path::Path;

/// 2026-11-30T00:00:00Z, the newest record of every profile here.
const END: i64 = 1_795_996_800;
const DAY: i64 = 86_400;
/// The window start of the default 90 days.
const START: i64 = END - 90 * DAY;

const WEB_ENI: &str = "eni-0a9c1e3f5b7d9a601";
const WEB_I: &str = "i-0a5c7e9b1d3f5a701";
const JUMP_ENI: &str = "eni-0b0d2f4a6c8e0b702";
const DEFAULT_SG: &str = "sg-0a7b9c1d3e5f7a901";
const WEB_SG: &str = "sg-0c2e4a6b8d0f2c403";
const JUMP_SG: &str = "sg-0d3f5b7c9e1a3d504";

/// examples/aws/default-open, with the identities the AWS normalizer will fill.
fn aws_default_open() -> Inventory {
    let mut loader = Loader::default();
    loader
        .add_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws/default-open"))
        .unwrap();
    let mut inv = loader.build(&Options::default());
    for t in &mut inv.targets {
        t.identity = match t.resource_id.as_str() {
            WEB_ENI => identity(WEB_ENI, WEB_I, "10.20.1.37"),
            JUMP_ENI => identity(JUMP_ENI, "i-0b6d8f0c2e4a6b802", "172.31.7.212"),
            _ => Identity::default(),
        };
    }
    inv
}

fn identity(eni: &str, instance: &str, addr: &str) -> Identity {
    Identity {
        interface_ids: vec![eni.into()],
        instance_ids: vec![instance.into()],
        addresses: vec![addr.parse().unwrap()],
        network: None,
    }
}

/// One record of a hand-built profile.
struct Rec<'a> {
    eni: &'a str,
    src: &'a str,
    dst: &'a str,
    proto: u8,
    port: u16,
    disposition: Disposition,
    flows: u64,
    bytes: u64,
    first: i64,
    last: i64,
    logged: Option<&'a str>,
}

fn rec<'a>(eni: &'a str, dst: &'a str, proto: u8, port: u16, flows: u64) -> Rec<'a> {
    Rec {
        eni,
        src: "10.20.1.37",
        dst,
        proto,
        port,
        disposition: Disposition::Accepted,
        flows,
        bytes: flows * 1500,
        first: START + DAY,
        last: END - DAY,
        logged: None,
    }
}

/// A profile of `recs`, where each interface in `covered` has records from `from` to END.
fn profile(recs: &[Rec], covered: &[(&str, i64)]) -> FlowProfile {
    let mut p = FlowProfile::default();
    for r in recs {
        let key = FlowKey {
            interface_id: Some(r.eni.into()),
            instance_id: None,
            src: r.src.parse().unwrap(),
            dst: r.dst.parse::<IpAddr>().unwrap(),
            protocol: r.proto,
            dst_port: r.port,
            disposition: r.disposition,
            logged_rule: r.logged.map(str::to_string),
        };
        p.flows.insert(
            key,
            FlowStats {
                flows: r.flows,
                packets: r.flows * 3,
                bytes: r.bytes,
                first_seen: r.first,
                last_seen: r.last,
            },
        );
        p.records += r.flows;
    }
    for (id, from) in covered {
        p.covered.insert(id.to_string(), (*from, END));
    }
    p.oldest = Some(START);
    p.newest = Some(END);
    p
}

fn config(text: &str) -> Config {
    Config::parse(text, Path::new("egress-audit.toml")).unwrap()
}

fn run(inv: &Inventory, p: &FlowProfile, cfg: &Config) -> Analysis {
    let catalog = Catalog::load(&[]).unwrap();
    analyze(inv, p, &catalog, cfg, 90).unwrap()
}

fn ids(f: &[Finding], check: &str) -> Vec<String> {
    let mut v: Vec<String> = f
        .iter()
        .filter(|x| x.check_id == check)
        .map(|x| match &x.rule {
            Some(r) => format!("{} {r}", x.resource_id),
            None => x.resource_id.to_string(),
        })
        .collect();
    v.sort();
    v
}

fn warnings(a: &Analysis, kind: &str) -> Vec<String> {
    a.warnings
        .iter()
        .filter(|w| w.kind == kind)
        .map(|w| w.message.clone())
        .collect()
}

#[test]
fn accepted_flows_are_attributed_to_their_interface_and_every_allowing_permission() {
    let inv = aws_default_open();
    let mut stranger = rec("eni-0fffffffffffffff0", "52.94.8.12", 6, 443, 4);
    stranger.src = "10.99.0.1";
    let p = profile(
        &[
            rec(WEB_ENI, "52.94.8.12", 6, 443, 10),
            // Private destination: not egress to the internet, not attributed.
            rec(WEB_ENI, "10.20.1.5", 6, 5432, 7),
            stranger,
        ],
        &[],
    );
    let a = run(&inv, &p, &Config::default());
    assert_eq!(a.observed.len(), 1);
    assert_eq!(a.observed[0].key.dst.to_string(), "52.94.8.12");
    assert_eq!(inv.targets[a.observed[0].target].resource_id, WEB_ENI);
    let mut hits: Vec<(String, u64)> = a
        .hits
        .iter()
        .map(|(k, h)| (k.name.clone(), h.flows))
        .collect();
    hits.sort();
    // Both security groups allow all egress: each permission gets the hit; the NACL's first
    // matching rule gets it too.
    assert_eq!(
        hits,
        vec![
            ("acl-0a2b4c6d8e0f2a401 rule 100".to_string(), 10),
            (format!("{DEFAULT_SG} egress #1"), 10),
            (format!("{WEB_SG} egress #1"), 10),
        ]
    );
    assert_eq!((a.unattributed_keys, a.unattributed_flows), (1, 4));
    assert_eq!(
        warnings(&a, "flows-unattributed"),
        vec![
            "1 distinct flows (4 records) to public addresses match no target by interface id, \
              instance id or address, so they were not judged: eni-0fffffffffffffff0 (10.99.0.1)"
                .to_string()
        ]
    );
    assert_eq!(a.classes.len(), 1);
    assert_eq!(a.classes[0].traffic, "tcp/443 to 52.94.8.12/32");
    assert_eq!(a.classes[0].status, Status::Ambiguous);
}

#[test]
fn an_interface_unknown_to_the_log_is_found_by_its_private_address() {
    let inv = aws_default_open();
    let mut r = rec("eni-not-in-inventory", "52.94.8.12", 6, 443, 2);
    r.src = "172.31.7.212";
    let a = run(&inv, &profile(&[r], &[]), &Config::default());
    assert_eq!(a.unattributed_keys, 0);
    assert_eq!(inv.targets[a.observed[0].target].resource_id, JUMP_ENI);
}

#[test]
fn an_accepted_smb_flow_is_an_observed_eg002_with_its_numbers() {
    let inv = aws_default_open();
    let mut smb = rec(WEB_ENI, "52.1.2.3", 6, 445, 3);
    smb.bytes = 4500;
    smb.first = END - 10 * DAY;
    smb.last = END - 2 * DAY;
    let a = run(&inv, &profile(&[smb], &[]), &Config::default());
    let f: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.check_id == "EG002")
        .collect();
    assert_eq!(f.len(), 1);
    let f = f[0];
    assert_eq!(f.resource_id, WEB_ENI);
    assert!(f.observed);
    assert_eq!(f.source, Some(ObservedSource::Flows));
    assert_eq!(
        f.message,
        "tcp/445 to 52.1.2.3/32 was observed leaving: 3 accepted flow(s), 4500 bytes, first \
         2026-11-20T00:00:00Z, last 2026-11-28T00:00:00Z (flow logs)"
    );
    assert_eq!(
        f.evidence[0].name,
        "flow logs: 3 flow(s), 4500 bytes, 2026-11-20T00:00:00Z – 2026-11-28T00:00:00Z"
    );
    assert_eq!(f.evidence[0].action, "accepted");
    assert_eq!(f.evidence[0].ports, "445");
    let deciders: Vec<&str> = f.evidence[1..].iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        deciders,
        vec![
            "acl-0a2b4c6d8e0f2a401 rule 100",
            "sg-0a7b9c1d3e5f7a901 egress #1",
            "sg-0c2e4a6b8d0f2c403 egress #1"
        ]
    );
    assert!(f.fingerprint().ends_with("|flows"), "{}", f.fingerprint());
    assert_eq!(a.classes[0].status, Status::Unauthorized);
    assert_eq!(a.classes[0].checks, vec!["EG002".to_string()]);
    // A flow that ended before the window counts for nothing.
    let mut old = rec(WEB_ENI, "52.1.2.3", 6, 445, 3);
    old.first = START - 20 * DAY;
    old.last = START - 10 * DAY;
    let a = run(&inv, &profile(&[old], &[]), &Config::default());
    assert!(a.findings.iter().all(|f| f.check_id != "EG002"));
}

#[test]
fn dns_to_an_approved_resolver_is_not_unauthorized() {
    let inv = aws_default_open();
    let p = profile(
        &[
            rec(WEB_ENI, "8.8.8.8", 17, 53, 5),
            rec(WEB_ENI, "9.9.9.9", 17, 53, 5),
        ],
        &[],
    );
    let cfg = config("dns_resolvers = [\"8.8.8.8\"]\n");
    let a = run(&inv, &p, &cfg);
    let status: Vec<(String, Status)> = a
        .classes
        .iter()
        .map(|c| (c.traffic.clone(), c.status))
        .collect();
    assert_eq!(
        status,
        vec![
            ("udp/53 to 9.9.9.9/32".to_string(), Status::Unauthorized),
            ("udp/53 to 8.8.8.8/32".to_string(), Status::Ambiguous),
        ]
    );
    assert_eq!(ids(&a.findings, "EG006"), vec![WEB_ENI.to_string()]);
}

#[test]
fn unused_rules_are_judged_only_with_full_coverage() {
    let inv = aws_default_open();
    let recs = [rec(WEB_ENI, "52.94.8.12", 6, 443, 10)];
    // Both interfaces logged for the whole window; the jump host sent nothing.
    let full = profile(&recs, &[(WEB_ENI, START), (JUMP_ENI, START - DAY)]);
    let a = run(&inv, &full, &Config::default());
    assert_eq!(
        ids(&a.findings, "EG014"),
        vec![
            "acl-0b3c5d7e9f1a3b502 acl-0b3c5d7e9f1a3b502 rule 100".to_string(),
            format!("{WEB_SG} {WEB_SG} egress #2"),
            format!("{JUMP_SG} {JUMP_SG} egress #1"),
        ]
    );
    let unused = a
        .findings
        .iter()
        .find(|f| f.rule.as_deref() == Some(&format!("{JUMP_SG} egress #1")))
        .unwrap();
    assert_eq!(unused.resource_kind, "security-group");
    assert_eq!(unused.source, Some(ObservedSource::Flows));
    assert_eq!(
        unused.message,
        "allow rule sg-0d3f5b7c9e1a3d504 egress #1 decided no accepted egress flow in the 90-day \
         window 2026-09-01T00:00:00Z – 2026-11-30T00:00:00Z; flow logs cover all 1 target(s) it applies to"
    );
    // The default group of the default VPC is attached to nothing: no log can cover it.
    assert_eq!(
        warnings(&a, "flows-not-judged"),
        vec![
            "rule sg-0b8c0d2e4f6a8b902 egress #1 was not judged for unused-rule / \
              unused-attributes: sg-0b8c0d2e4f6a8b902 has no interface or instance id that flow \
              logs could name"
                .to_string()
        ]
    );

    // The jump host's logs start 10 days into the window: its rules are not judged.
    let late = profile(&recs, &[(WEB_ENI, START), (JUMP_ENI, START + 10 * DAY)]);
    let a = run(&inv, &late, &Config::default());
    assert_eq!(
        ids(&a.findings, "EG014"),
        vec![format!("{WEB_SG} {WEB_SG} egress #2")]
    );
    let why = warnings(&a, "flows-not-judged");
    assert!(why.contains(
        &"rule sg-0d3f5b7c9e1a3d504 egress #1 was not judged for unused-rule / unused-attributes: \
          flow logs for eni-0b0d2f4a6c8e0b702 start 2026-09-11T00:00:00Z, after the window start \
          2026-09-01T00:00:00Z (90 days)"
            .to_string()
    ), "{why:#?}");

    // A SKIPDATA gap on the web interface: nothing of its groups is judged.
    let mut gap = profile(&recs, &[(WEB_ENI, START), (JUMP_ENI, START)]);
    gap.holes.push(CoverageHole {
        interface_id: Some(WEB_ENI.into()),
        from: END - 30 * DAY,
        to: END - 29 * DAY,
        reason: "SKIPDATA".into(),
    });
    let a = run(&inv, &gap, &Config::default());
    assert_eq!(
        ids(&a.findings, "EG014"),
        vec![
            "acl-0b3c5d7e9f1a3b502 acl-0b3c5d7e9f1a3b502 rule 100".to_string(),
            format!("{JUMP_SG} {JUMP_SG} egress #1"),
        ]
    );
    assert!(warnings(&a, "flows-not-judged").contains(
        &"rule sg-0c2e4a6b8d0f2c403 egress #2 was not judged for unused-rule / unused-attributes: \
          flow logs have a gap for eni-0a9c1e3f5b7d9a601 from 2026-10-31T00:00:00Z to \
          2026-11-01T00:00:00Z (SKIPDATA)"
            .to_string()
    ));
    // Disabled checks are not judged at all.
    let a = run(&inv, &full, &config("disabled = [\"EG014\", \"EG015\"]\n"));
    assert!(ids(&a.findings, "EG014").is_empty());
    assert!(warnings(&a, "flows-not-judged").is_empty());
}

// ---- hand-built Azure NIC: an NSG rule with several elements, logged rule names ----

const NSG: &str = "/subscriptions/0000/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/nsg-web";
const NIC: &str = "/subscriptions/0000/resourceGroups/rg-web/providers/Microsoft.Network/networkInterfaces/web-nic";

fn nsg_rule(
    name: &str,
    prio: i64,
    action: Action,
    proto: &str,
    ports: &str,
    dest: &str,
    synthetic: bool,
) -> Rule {
    let addrs = dest
        .split(',')
        .map(|d| match d.trim() {
            "Internet" => egress_audit::model::space::public().clone(),
            d => parse_addrs(d).unwrap(),
        })
        .fold(AddrSet::empty(), |a, b| a.union(&b));
    let ports_set = (ports != "all").then(|| PortSet::parse_ports(ports).unwrap());
    Rule {
        written: RuleText::new(
            format!("nsg-web/{name}").into(),
            action,
            Some(prio),
            proto.into(),
            ports.into(),
            dest.into(),
        ),
        resource: NSG.into(),
        action,
        traffic: TrafficSet::rule(parse_proto(proto).unwrap(), ports_set.as_ref(), &addrs).into(),
        unresolved: vec![],
        synthetic,
    }
}

fn azure_nic() -> Inventory {
    let mut t = Target::new(Provider::Azure, NIC, "nic");
    t.account = Some("0000".into());
    t.chains = vec![Chain {
        layers: vec![Layer {
            kind: LayerKind::Nsg,
            resource: NSG.into(),
            rules: vec![
                nsg_rule(
                    "deny-smb",
                    100,
                    Action::Deny,
                    "tcp",
                    "445",
                    "Internet",
                    false,
                ),
                nsg_rule(
                    "allow-web",
                    200,
                    Action::Allow,
                    "tcp",
                    "80,443",
                    "52.94.8.0/24, 52.95.0.0/16",
                    false,
                ),
                nsg_rule(
                    "AllowVnetOutBound",
                    65000,
                    Action::Allow,
                    "all",
                    "all",
                    "10.0.0.0/8",
                    true,
                ),
                nsg_rule(
                    "AllowInternetOutBound",
                    65001,
                    Action::Allow,
                    "all",
                    "all",
                    "Internet",
                    true,
                ),
                nsg_rule(
                    "DenyAllOutBound",
                    65500,
                    Action::Deny,
                    "all",
                    "all",
                    "0.0.0.0/0",
                    true,
                ),
            ]
            .into(),
            no_match: Action::Deny,
            unordered: false,
        }],
    }];
    t.address_limit = Some(egress_audit::model::space::all_v4());
    t.identity = Identity {
        interface_ids: vec![NIC.to_ascii_uppercase()],
        ..Default::default()
    };
    Inventory {
        targets: vec![t],
        warnings: vec![],
        not_scanned: vec![],
        ..Default::default()
    }
}

#[test]
fn unused_elements_of_a_used_rule_logged_rule_disagreement_and_deny_hits() {
    let inv = azure_nic();
    let nic = NIC; // the log writes the id in lower case; the index ignores case
    let mut agree = rec(nic, "52.94.8.12", 6, 443, 6);
    agree.logged = Some("UserRule_allow-web");
    let mut disagree = rec(nic, "52.94.8.13", 6, 443, 2);
    disagree.logged = Some("UserRule_allow-legacy");
    let mut blocked = rec(nic, "52.1.2.3", 6, 445, 4);
    blocked.disposition = Disposition::Denied;
    blocked.logged = Some("UserRule_deny-smb");
    let p = profile(&[agree, disagree, blocked], &[(nic, START)]);
    let a = run(&inv, &p, &Config::default());
    assert_eq!(
        ids(&a.findings, "EG015"),
        vec![format!("{NSG} nsg-web/allow-web")]
    );
    let f = a.findings.iter().find(|f| f.check_id == "EG015").unwrap();
    assert_eq!(
        f.message,
        "allow rule nsg-web/allow-web is used (8 flows), but destination 52.95.0.0/16, tcp/80 saw \
         no accepted egress flow in the 90-day window 2026-09-01T00:00:00Z – 2026-11-30T00:00:00Z"
    );
    // The provider's defaults are never EG014, even unused.
    assert!(ids(&a.findings, "EG014").is_empty());
    assert_eq!(
        warnings(&a, "flows-rule-disagreement"),
        vec![format!(
            "the flow log names rule UserRule_allow-legacy for 2 flow(s) from {NIC}, the engine \
             decides them by nsg-web/allow-web: the inventory or the model is stale"
        )]
    );
    assert_eq!(
        warnings(&a, "deny-rule-hits"),
        vec![format!(
            "deny rule nsg-web/deny-smb blocked 4 attempt(s) between 2026-09-02T00:00:00Z and \
             2026-11-29T00:00:00Z (tcp/445 to 52.1.2.3/32 from {NIC}): worth a look"
        )]
    );
    // Denied records are attempts, not egress: no observed EG002.
    assert!(ids(&a.findings, "EG002").is_empty());
}

#[test]
fn authorized_entries_need_a_public_destination() {
    let err = Config::parse(
        "[[authorized]]\ntraffic = \"tcp/443 to 198.18.0.0/15\"\n",
        Path::new("e.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(
            "e.toml:2:11: [[authorized]] entry 1 (traffic \"tcp/443 to 198.18.0.0/15\") names no public address"
        ),
        "{err}"
    );
    let cfg = config(
        "window_days = 30\n[[authorized]]\ntraffic = \"tcp/443 to 52.94.0.0/16\"\ntargets = { tags = [\"storefront\"] }\n",
    );
    assert_eq!(cfg.window_days, Some(30));
    assert_eq!(egress_audit::flows::window_days(&cfg, None), 30);
    assert_eq!(egress_audit::flows::window_days(&cfg, Some(7)), 7);
}

// ---- proposals ----

const AUTHORIZED: &str = "[[authorized]]\ntraffic = \"tcp/443 to 52.94.0.0/16\"\n";

fn aws_proposals(include_ambiguous: bool) -> (Analysis, Vec<Proposal>) {
    let inv = aws_default_open();
    let p = profile(
        &[
            rec(WEB_ENI, "52.94.8.12", 6, 443, 10),
            rec(WEB_ENI, "52.94.8.40", 6, 443, 5),
            rec(WEB_ENI, "52.1.2.3", 6, 445, 3),
            rec(WEB_ENI, "129.6.15.28", 17, 123, 2),
        ],
        &[(WEB_ENI, START)],
    );
    let cfg = config(AUTHORIZED);
    let catalog = Catalog::load(&[]).unwrap();
    let a = analyze(&inv, &p, &catalog, &cfg, 90).unwrap();
    let props = propose(
        &inv,
        &a,
        &p,
        &catalog,
        &cfg,
        ProposeOptions { include_ambiguous },
    )
    .unwrap();
    (a, props)
}

#[test]
fn aws_proposal_allows_the_authorized_classes_and_lists_what_it_blocks() {
    let (_, props) = aws_proposals(false);
    let units: Vec<&str> = props.iter().map(|p| p.resource.as_str()).collect();
    assert_eq!(units, vec![DEFAULT_SG, WEB_SG]);
    for p in &props {
        assert!(p.verified, "{}: {:?}", p.resource, p.problems);
        assert_eq!(p.allow, vec!["tcp/443 to 52.94.8.0/24"]);
        let blocked: Vec<(&str, Status)> = p
            .blocks
            .iter()
            .map(|c| (c.traffic.as_str(), c.status))
            .collect();
        assert_eq!(
            blocked,
            vec![
                ("tcp/445 to 52.1.2.3/32", Status::Unauthorized),
                ("udp/123 to 129.6.15.28/32", Status::Ambiguous),
            ]
        );
    }
    let web = &props[1];
    assert_eq!(
        web.removes,
        vec![format!("{WEB_SG} egress #1"), format!("{WEB_SG} egress #2")]
    );
    let authorize = web
        .rendered
        .cli
        .lines()
        .find(|l| l.contains("authorize"))
        .unwrap();
    assert!(authorize.starts_with(
        "aws ec2 authorize-security-group-egress --region us-east-1 --group-id sg-0c2e4a6b8d0f2c403 \
         --ip-permissions '[{\"FromPort\":443,\"IpProtocol\":\"tcp\",\"IpRanges\":[{\"CidrIp\":\"52.94.8.0/24\",\
         \"Description\":\"egress-audit: observed egress\"}],\"Ipv6Ranges\":[],\"ToPort\":443},"
    ), "{authorize}");
    assert!(web.rendered.cli.contains(
        "aws ec2 revoke-security-group-egress --region us-east-1 --group-id sg-0c2e4a6b8d0f2c403 \
         --ip-permissions '[{\"IpProtocol\":\"-1\",\"IpRanges\":[{\"CidrIp\":\"0.0.0.0/0\"}]},\
         {\"IpProtocol\":\"-1\",\"Ipv6Ranges\":[{\"CidrIpv6\":\"::/0\"}]}]'"
    ), "{}", web.rendered.cli);
    assert!(web.rendered.terraform.contains(
        "resource \"aws_vpc_security_group_egress_rule\" \"sg_0c2e4a6b8d0f2c403_ea_1_1\" {\n  \
         security_group_id = \"sg-0c2e4a6b8d0f2c403\"\n  ip_protocol       = \"tcp\"\n  from_port         = 443\n  \
         to_port           = 443\n  cidr_ipv4         = \"52.94.8.0/24\"\n"
    ), "{}", web.rendered.terraform);
    // The private part of the replaced allow-all is kept (IPv4 only: the interface has no IPv6).
    assert!(
        web.keep.iter().any(|k| k.contains("10.0.0.0/8")),
        "{:?}",
        web.keep
    );
    assert!(web.keep.iter().all(|k| !k.contains("::")), "{:?}", web.keep);
}

#[test]
fn include_ambiguous_allows_the_ambiguous_classes_too() {
    let (_, props) = aws_proposals(true);
    for p in &props {
        assert!(p.verified, "{:?}", p.problems);
        assert_eq!(
            p.allow,
            vec!["tcp/443 to 52.94.8.0/24", "udp/123 to 129.6.15.28/32"]
        );
        let blocked: Vec<&str> = p.blocks.iter().map(|c| c.traffic.as_str()).collect();
        assert_eq!(blocked, vec!["tcp/445 to 52.1.2.3/32"]);
    }
}

#[test]
fn azure_proposal_renders_nsg_rules_and_denies_the_rest_of_the_internet() {
    let inv = azure_nic();
    let p = profile(&[rec(NIC, "52.94.8.12", 6, 443, 6)], &[(NIC, START)]);
    let cfg = config(AUTHORIZED);
    let catalog = Catalog::load(&[]).unwrap();
    let a = analyze(&inv, &p, &catalog, &cfg, 90).unwrap();
    let props = propose(&inv, &a, &p, &catalog, &cfg, ProposeOptions::default()).unwrap();
    assert_eq!(props.len(), 1);
    let n = &props[0];
    assert!(n.verified, "{:?}", n.problems);
    assert_eq!(n.removes, vec!["nsg-web/allow-web"]);
    let cmds: Vec<&str> = n
        .rendered
        .cli
        .lines()
        .filter(|l| l.starts_with("az "))
        .collect();
    assert_eq!(
        cmds,
        vec![
            "az network nsg rule create --resource-group rg-web --nsg-name nsg-web --name ea-allow-1 \
             --priority 101 --direction Outbound --access Allow --protocol 'Tcp' --source-address-prefixes '*' \
             --source-port-ranges '*' --destination-address-prefixes 52.94.8.12/32 --destination-port-ranges '443'",
            "az network nsg rule create --resource-group rg-web --nsg-name nsg-web --name ea-deny-internet \
             --priority 4096 --direction Outbound --access Deny --protocol '*' --source-address-prefixes '*' \
             --source-port-ranges '*' --destination-address-prefixes Internet --destination-port-ranges '*'",
            "az network nsg rule delete --resource-group rg-web --nsg-name nsg-web --name 'allow-web'",
        ]
    );
}

#[test]
fn a_proposal_the_engine_cannot_verify_says_so() {
    // A firewall policy above the network allows everything: replacing the VPC rules cannot
    // close egress, and the engine must say so rather than print commands.
    let mut t = Target::new(Provider::Gcp, "proj/zone/vm-1", "instance");
    t.account = Some("proj".into());
    let allow_all = Rule {
        written: RuleText::new(
            "org-policy/1000".into(),
            Action::Allow,
            Some(1000),
            "all".into(),
            "all".into(),
            "0.0.0.0/0".into(),
        ),
        resource: "org-policy".into(),
        action: Action::Allow,
        traffic: TrafficSet::everything().into(),
        unresolved: vec![],
        synthetic: false,
    };
    let implied = Rule {
        written: RuleText::new(
            "implied-allow-egress".into(),
            allow_all.action,
            Some(65535),
            allow_all.protocol.clone(),
            allow_all.ports.clone(),
            allow_all.destination.clone(),
        ),
        resource: "app-net".into(),
        synthetic: true,
        ..allow_all.clone()
    };
    t.chains = vec![Chain {
        layers: vec![
            Layer {
                kind: LayerKind::FirewallPolicy,
                resource: "org-policy".into(),
                rules: vec![allow_all].into(),
                no_match: Action::Next,
                unordered: false,
            },
            Layer {
                kind: LayerKind::VpcFirewall,
                resource: "app-net".into(),
                rules: Default::default(),
                no_match: Action::Next,
                unordered: false,
            },
            Layer {
                kind: LayerKind::VpcFirewall,
                resource: "app-net (implied rules)".into(),
                rules: vec![implied].into(),
                no_match: Action::Deny,
                unordered: false,
            },
        ],
    }];
    t.identity.instance_ids = vec!["vm-1".into()];
    let inv = Inventory {
        targets: vec![t],
        warnings: vec![],
        not_scanned: vec![],
        ..Default::default()
    };
    let mut r = rec("vm-1", "52.94.8.12", 6, 443, 1);
    r.eni = "nic0-unknown";
    r.src = "10.128.0.2";
    let mut p = profile(&[], &[]);
    p.flows.insert(
        FlowKey {
            interface_id: None,
            instance_id: Some("vm-1".into()),
            src: r.src.parse().unwrap(),
            dst: r.dst.parse().unwrap(),
            protocol: 6,
            dst_port: 443,
            disposition: Disposition::Accepted,
            logged_rule: None,
        },
        FlowStats {
            flows: 1,
            packets: 1,
            bytes: 100,
            first_seen: END - DAY,
            last_seen: END - DAY,
        },
    );
    let cfg = config(AUTHORIZED);
    let catalog = Catalog::load(&[]).unwrap();
    let a = analyze(&inv, &p, &catalog, &cfg, 90).unwrap();
    let props = propose(&inv, &a, &p, &catalog, &cfg, ProposeOptions::default()).unwrap();
    assert_eq!(props.len(), 1);
    let g = &props[0];
    assert!(!g.verified);
    assert!(
        g.problems.iter().any(|p| p
            .starts_with("EG001 unrestricted-egress still fires on proj/zone/vm-1")
            && p.contains("org-policy/1000")),
        "{:?}",
        g.problems
    );
    assert!(g
        .rendered
        .cli
        .contains("# NOT VERIFIED by the engine: do not apply"));
    // The GCP form: the allow at 1000 and the deny of public egress just above the implied rules.
    assert!(g.rendered.cli.contains(
        "gcloud compute firewall-rules create ea-app-net-allow-1 --project=proj --network=app-net \
         --direction=EGRESS --action=ALLOW --rules=tcp:443 --destination-ranges=52.94.8.12/32 --priority=1000"
    ), "{}", g.rendered.cli);
    assert!(g.rendered.cli.contains("gcloud compute firewall-rules create ea-app-net-deny-public-v4 --project=proj --network=app-net --direction=EGRESS --action=DENY --rules=all --destination-ranges=1.0.0.0/8,"));
    let text = egress_audit::propose::render::text(&props, &a);
    assert!(text.contains("NOT VERIFIED"));
    assert!(
        !text.contains("gcloud compute"),
        "unverified commands are not printed"
    );
}

/// The worked example of README-flows.md through the binary. Until the flow-log readers are
/// merged, `--flows` must stop with a clear error (exit 2) rather than scan without the logs; once
/// they are, the example must give the observed SMB finding and the unused jump-host rule.
#[test]
fn scan_with_the_example_flow_logs() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args([
            "scan",
            "--format",
            "json",
            "--input",
            "examples/aws/default-open",
            "--flows",
            "examples/aws/default-open/flows",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("flow-log reader not built in") {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(out.stdout.is_empty());
        return;
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect(&stderr);
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["check_id"] == "EG002"
        && f["resource_id"] == WEB_ENI
        && f["source"] == "flows"));
    assert!(findings
        .iter()
        .any(|f| f["check_id"] == "EG014" && f["rule"] == format!("{JUMP_SG} egress #1")));
}

#[test]
fn flow_folders_inside_an_input_folder_are_not_read_as_exports() {
    // examples/azure/defaults-only/flows holds a VNet flow-log blob (JSON): the exports walk must
    // leave it to --flows instead of failing on it.
    let mut loader = Loader::default();
    loader
        .add_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/azure/defaults-only"))
        .unwrap();
    let inv = loader.build(&Options::default());
    assert_eq!(inv.targets.len(), 2);
    assert!(
        inv.warnings.iter().all(|w| !w.source.contains("flows")),
        "{:?}",
        inv.warnings
    );
}
