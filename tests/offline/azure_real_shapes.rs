//! Azure normalizer on real-shaped exports: `az network … list` (flattened) and ARM REST
//! `{"value": [...], "nextLink"}` pages of the same estate must give the same, exact findings.
//! Plus the NIC address limit in both shapes, duplicate priorities, forced tunnelling, partial
//! data, null optional fields, and a no-panic mutation sweep over every Azure input we ship.

use egress_audit::checks::run;
use egress_audit::config::Config;
use egress_audit::model::space::all_v4;
use egress_audit::model::{Finding, Target};
use egress_audit::normalize::azure::ServiceTags;
use egress_audit::normalize::{DocContext, Inventory, Loader, Options};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

use crate::azure;
use crate::inputs;
use azure::{evidence, find, load_docs, pairs, short};
use inputs::check as findings;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/azure").join(name)
}

fn load_path(path: &Path, tags: Option<ServiceTags>) -> Inventory {
    let mut loader = Loader::default();
    loader.add_path(path).unwrap();
    loader.build(&Options {
        azure_service_tags: tags,
    })
}

fn target<'a>(inv: &'a Inventory, name: &str) -> &'a Target {
    inv.targets
        .iter()
        .find(|t| short(&t.resource_id) == name)
        .unwrap_or_else(|| panic!("no target {name}"))
}

/// Everything a user sees of a finding.
fn summary(f: &[Finding]) -> Vec<String> {
    let mut v: Vec<String> = f
        .iter()
        .map(|f| {
            format!(
                "{} {} {:?} {} {} {:?}",
                f.check_id,
                f.resource_id,
                f.severity,
                f.message,
                serde_json::to_string(&f.evidence).unwrap(),
                f.notes
            )
        })
        .collect();
    v.sort();
    v
}

const WIDE_OPEN: &[&str] = &[
    "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
];

fn expected_pairs() -> Vec<String> {
    let mut v = Vec::new();
    // No NSG anywhere: the dev NIC (subnet from `vnet subnet list`), the orphan NIC behind the
    // firewall route, the NIC whose traffic is force-tunnelled.
    for nic in ["nic-dev", "nic-orphan", "nic-forced"] {
        v.extend(WIDE_OPEN.iter().map(|c| format!("{c} {nic}")));
    }
    v.extend(
        [
            "EG007 nic-web",
            "EG008 nic-web",
            "EG009 nic-web",
            "EG009 nic-web",
            "EG002 nsg-legacy",
            "EG009 nsg-legacy",
            "EG011 nsg-legacy",
        ]
        .map(String::from),
    );
    v.sort();
    v
}

#[test]
fn cli_export_gives_exact_findings_and_evidence() {
    let inv = load_path(&fixture("real-cli"), None);
    let f = findings(
        &inv,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG011", "EG013",
        ],
    );
    assert_eq!(pairs(&f), expected_pairs());

    // nsg-web: the inbound rule at the same priority 100 is ignored; the three destination port
    // ranges are one rule; Icmp is ICMPv4 and ICMPv6; the dual-stack NIC is judged in IPv6 too.
    let doh = find(&f, "EG008", "nic-web");
    assert_eq!(
        evidence(doh),
        ["nsg-web/allow-web-out allow tcp 80,443,8000-8100 Internet"]
    );
    let ping = find(&f, "EG007", "nic-web");
    assert_eq!(
        ping.message,
        "icmp echo (icmp/8:0) is allowed to 100% of public IPv4; icmpv6 echo (icmpv6/128:0) is allowed to 100% of public IPv6"
    );
    assert_eq!(
        evidence(ping),
        ["nsg-web/allow-ping allow icmp all Internet"]
    );
    let mut broad: Vec<String> = f
        .iter()
        .filter(|x| x.check_id == "EG009" && short(&x.resource_id) == "nic-web")
        .flat_map(evidence)
        .collect();
    broad.sort();
    assert_eq!(
        broad,
        [
            "nsg-web/allow-ntp allow udp 123 *",
            "nsg-web/allow-web-out allow tcp 80,443,8000-8100 Internet"
        ]
    );
    // The SMTP rule's source is an ASG nic-web is not in, so tcp/25 stays denied for it.
    assert!(!f
        .iter()
        .any(|x| short(&x.resource_id) == "nic-web" && x.check_id == "EG013"));

    // nsg-legacy (on no NIC or subnet): equal priorities, the listed order decides.
    let smb = find(&f, "EG002", "nsg-legacy");
    assert_eq!(
        evidence(smb),
        ["nsg-legacy/allow-smb allow tcp 445 Internet"]
    );
    let shadow = find(&f, "EG011", "nsg-legacy");
    assert_eq!(
        evidence(shadow),
        [
            "nsg-legacy/deny-smb deny tcp 445 Internet",
            "nsg-legacy/allow-smb allow tcp 445 Internet"
        ]
    );

    // Unfiltered NICs: Azure allows everything without an NSG, so there is no rule to name.
    let open = find(&f, "EG001", "nic-dev");
    assert_eq!(
        open.message,
        "tcp is allowed to 100% of public IPv4; udp is allowed to 100% of public IPv4"
    );
    assert!(open.notes.is_empty(), "{:?}", open.notes);
    assert_eq!(
        find(&f, "EG001", "nic-orphan").notes,
        ["egress passes an appliance: route 0.0.0.0/0 → VirtualAppliance 10.1.255.4 (rt-fw, Azure Firewall afw-hub)"]
    );
    let forced = find(&f, "EG002", "nic-forced");
    assert_eq!(
        forced.severity,
        egress_audit::model::Severity::High,
        "forced tunnelling keeps the severity: on-premises is not in the inputs"
    );
    assert_eq!(
        forced.notes,
        ["egress passes an appliance: route 0.0.0.0/0 → VirtualNetworkGateway (rt-forced, forced tunnelling to on-premises)"]
    );

    // Only the expected warnings: five unresolved service tags, one duplicate priority, and the
    // private endpoint's NIC that is not a target.
    let mut warnings: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.kind, w.message))
        .collect();
    warnings.sort();
    assert_eq!(warnings.len(), 7, "{warnings:#?}");
    assert!(warnings[0].starts_with(
        "duplicate-priority NSG nsg-legacy: outbound rules allow-smb, deny-smb share priority 500"
    ));
    assert_eq!(
        warnings[1],
        "not-evaluated NIC pe-stprod.nic.4b7c1d2e-aaaa-bbbb-cccc-0123456789ab belongs to private \
         endpoint pe-stprod: a private endpoint only receives traffic, so it has no egress to audit"
    );
    let unresolved: Vec<&str> = warnings[2..]
        .iter()
        .map(|w| w.split('`').nth(1).unwrap())
        .collect();
    assert_eq!(
        unresolved,
        [
            "AzureCloud.eastus",
            "Storage.WestEurope",
            "AzureCloud.eastus",
            "GatewayManager",
            "Storage.WestEurope"
        ]
    );
}

#[test]
fn rest_pages_give_the_cli_findings() {
    let cli = load_path(&fixture("real-cli"), None);
    let rest = load_path(&fixture("real-rest"), None);
    let (fc, fr) = (
        findings(
            &cli,
            &[
                "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
                "EG011", "EG013",
            ],
        ),
        findings(
            &rest,
            &[
                "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
                "EG011", "EG013",
            ],
        ),
    );
    assert_eq!(pairs(&fr), expected_pairs());
    assert_eq!(summary(&fc), summary(&fr));
    // The same warnings, plus: the first NSG page says there are more.
    let msgs = |inv: &Inventory| {
        let mut v: Vec<String> = inv.warnings.iter().map(|w| w.message.clone()).collect();
        v.sort();
        v
    };
    let mut rest_msgs = msgs(&rest);
    let paged = rest_msgs
        .iter()
        .position(|m| m.contains("`nextLink`"))
        .expect("the first page warns");
    rest_msgs.remove(paged);
    assert_eq!(msgs(&cli), rest_msgs);
    // Targets agree too: routes and address limits.
    for inv in [&cli, &rest] {
        let mut names: Vec<&str> = inv.targets.iter().map(|t| short(&t.resource_id)).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "nic-app",
                "nic-app-v6",
                "nic-dev",
                "nic-forced",
                "nic-orphan",
                "nic-sealed",
                "nic-web",
                "nsg-legacy",
            ]
        );
    }
    for name in [
        "nic-web",
        "nic-app",
        "nic-app-v6",
        "nic-forced",
        "nic-orphan",
    ] {
        let (a, b) = (target(&cli, name), target(&rest, name));
        assert_eq!(a.route, b.route, "{name}");
        assert_eq!(a.address_limit, b.address_limit, "{name}");
        assert_eq!(a.chains.len(), b.chains.len(), "{name}");
    }
}

#[test]
fn targets_carry_routes_address_limits_and_chains() {
    for shape in ["real-cli", "real-rest"] {
        let inv = load_path(&fixture(shape), None);
        // Dual-stack NIC: not limited. IPv4-only NIC: limited. IPv6 configuration without an
        // address yet (`privateIPAddressVersion: IPv6`): not limited.
        assert_eq!(target(&inv, "nic-web").address_limit, None, "{shape}");
        assert_eq!(
            target(&inv, "nic-app").address_limit,
            Some(all_v4()),
            "{shape}"
        );
        assert_eq!(target(&inv, "nic-app-v6").address_limit, None, "{shape}");
        // NIC NSG then subnet NSG.
        let app = target(&inv, "nic-app");
        let layers: Vec<&str> = app
            .chains
            .iter()
            .map(|c| short(&c.layers[0].resource))
            .collect();
        assert_eq!(layers, ["nsg-nic-app", "nsg-app"], "{shape}");
        // Outbound rules only (inbound ones at the same priority are ignored), defaults last.
        let names: Vec<(&str, Option<i64>, bool)> = app.chains[1].layers[0]
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.priority, r.synthetic))
            .collect();
        assert_eq!(
            names,
            [
                ("nsg-app/allow-paas-443", Some(100), false),
                ("nsg-app/allow-vnet", Some(200), false),
                ("nsg-app/deny-internet", Some(300), false),
                ("nsg-app/AllowVnetOutBound", Some(65000), true),
                ("nsg-app/AllowInternetOutBound", Some(65001), true),
                ("nsg-app/DenyAllOutBound", Some(65500), true),
            ],
            "{shape}"
        );
        assert!(target(&inv, "nic-dev").chains.is_empty(), "{shape}");

        let web = &target(&inv, "nic-web").route;
        assert_eq!(web.internet_path, Some(true), "{shape}");
        assert_eq!(
            web.reason.as_deref(),
            Some("route table rt-web route default-internet sends 0.0.0.0/0 to Internet")
        );
        let fw = &target(&inv, "nic-orphan").route;
        assert_eq!(fw.internet_path, None);
        assert_eq!(
            fw.appliance.as_deref(),
            Some("route 0.0.0.0/0 → VirtualAppliance 10.1.255.4 (rt-fw, Azure Firewall afw-hub)")
        );
        let forced = &target(&inv, "nic-forced").route;
        assert_eq!(
            forced.internet_path, None,
            "on-premises is not in the inputs"
        );
        assert!(forced
            .reason
            .as_deref()
            .unwrap()
            .contains("forced tunnelling"));
        // 0.0.0.0/1 → None and 128.0.0.0/1 → VnetLocal: no internet path at all.
        let pe = &target(&inv, "nic-sealed").route;
        assert_eq!(pe.internet_path, Some(false), "{shape}");
        assert_eq!(
            pe.reason.as_deref(),
            Some(
                "route table rt-blackhole route low-half sends 0.0.0.0/1 to None (dropped); \
                 route table rt-blackhole route high-half sends 128.0.0.0/1 to VnetLocal \
                 (kept inside the virtual network)"
            )
        );
    }
}

#[test]
fn region_suffixed_service_tags_resolve_from_a_tags_file() {
    let tags = ServiceTags::load(&root().join("examples/azure/service-tags.sample.json")).unwrap();
    let inv = load_path(&fixture("real-cli"), Some(tags));
    let mut unresolved: Vec<&str> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "unresolved-destination")
        .map(|w| w.message.split('`').nth(1).unwrap())
        .collect();
    unresolved.sort();
    // Storage.WestEurope is in the sample file; the other two are not.
    assert_eq!(
        unresolved,
        ["AzureCloud.eastus", "AzureCloud.eastus", "GatewayManager"]
    );
    let rule = target(&inv, "nic-web").chains[0].layers[0]
        .rules
        .iter()
        .find(|r| r.name == "nsg-web/allow-storage")
        .unwrap();
    assert!(rule.unresolved.is_empty());
}

// ------------------------------------------------------------ NIC address limit, both shapes

const SUB: &str = "00000000-0000-0000-0000-000000000001";

fn rid(typ: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/{typ}/{name}")
}

fn subnet_ref() -> Value {
    json!({"id": format!("{}/subnets/app", rid("virtualNetworks", "vnet"))})
}

/// A NIC in the CLI shape with the given (address, version) configurations.
fn cli_nic(name: &str, configs: &[(Option<&str>, Option<&str>)]) -> Value {
    let configs: Vec<Value> = configs
        .iter()
        .enumerate()
        .map(|(i, (ip, ver))| {
            let mut c = json!({"name": format!("ipconfig{i}"), "primary": i == 0,
                               "subnet": subnet_ref()});
            if let Some(ip) = ip {
                c["privateIPAddress"] = json!(ip);
            }
            if let Some(v) = ver {
                c["privateIPAddressVersion"] = json!(v);
            }
            c
        })
        .collect();
    json!({"name": name, "id": rid("networkInterfaces", name),
           "type": "Microsoft.Network/networkInterfaces", "ipConfigurations": configs})
}

/// The same NIC in the REST shape.
fn rest_nic(name: &str, configs: &[(Option<&str>, Option<&str>)]) -> Value {
    let mut cli = cli_nic(name, configs);
    let confs: Vec<Value> = cli["ipConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut props = c.clone();
            props.as_object_mut().unwrap().remove("name");
            json!({"name": c["name"], "properties": props})
        })
        .collect();
    cli.as_object_mut().unwrap().remove("ipConfigurations");
    cli["properties"] = json!({"ipConfigurations": confs});
    cli
}

fn vnet() -> Value {
    json!([{"name": "vnet", "id": rid("virtualNetworks", "vnet"),
            "type": "Microsoft.Network/virtualNetworks",
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "app", "id": subnet_ref()["id"]}]}])
}

/// One IP configuration: (privateIPAddress, privateIPAddressVersion).
type IpConfig = (Option<&'static str>, Option<&'static str>);

#[test]
fn nic_address_limit_in_both_shapes() {
    let cases: &[(&str, &[IpConfig], bool)] = &[
        ("v4-addr", &[(Some("10.0.0.4"), None)], true),
        ("v4-both", &[(Some("10.0.0.4"), Some("IPv4"))], true),
        ("v4-version-only", &[(None, Some("IPv4"))], true),
        (
            "dual",
            &[
                (Some("10.0.0.4"), Some("IPv4")),
                (Some("fd00::4"), Some("IPv6")),
            ],
            false,
        ),
        (
            "v6-version-no-addr",
            &[(Some("10.0.0.4"), Some("IPv4")), (None, Some("IPv6"))],
            false,
        ),
        (
            "v6-lower-case",
            &[(Some("10.0.0.4"), None), (None, Some("ipv6"))],
            false,
        ),
        (
            "v6-addr-no-version",
            &[(Some("10.0.0.4"), None), (Some("fd00::5"), None)],
            false,
        ),
        // Nothing says which version: not limited (the limit may only remove findings).
        ("unknown", &[(None, None)], false),
        (
            "v4-and-unknown",
            &[(Some("10.0.0.4"), None), (None, None)],
            false,
        ),
        ("no-configs", &[], false),
    ];
    for (name, configs, limited) in cases {
        for (shape, nic) in [
            ("cli", json!([cli_nic(name, configs)])),
            ("rest", json!({"value": [rest_nic(name, configs)]})),
        ] {
            let inv = load_docs(vec![vnet(), nic]);
            let t = target(&inv, name);
            let want = limited.then(all_v4);
            assert_eq!(t.address_limit, want, "{name} ({shape})");
        }
    }
}

#[test]
fn ipv6_config_without_an_address_keeps_ipv6_findings() {
    // Deny 0.0.0.0/0 denies IPv4 only; the default AllowInternetOutBound lets IPv6 out, and a NIC
    // with an IPv6 configuration (address not shown) can send it.
    let nsg = json!({"value": [{"name": "nsg", "id": rid("networkSecurityGroups", "nsg"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "properties": {"securityRules": [{"name": "deny-v4", "properties": {
            "priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "*",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "0.0.0.0/0",
            "destinationPortRange": "*"}}]}}]});
    let mut v6 = rest_nic("nic-v6", &[(Some("10.0.0.4"), None), (None, Some("IPv6"))]);
    v6["properties"]["networkSecurityGroup"] = json!({"id": rid("networkSecurityGroups", "nsg")});
    let mut v4 = rest_nic("nic-v4", &[(Some("10.0.0.5"), Some("IPv4"))]);
    v4["properties"]["networkSecurityGroup"] = json!({"id": rid("networkSecurityGroups", "nsg")});
    let inv = load_docs(vec![vnet(), nsg, json!({"value": [v6, v4]})]);
    let f = findings(&inv, &["EG002"]);
    assert_eq!(
        find(&f, "EG002", "nic-v6").message,
        "tcp/445 is allowed to 100% of public IPv6"
    );
    assert!(
        !f.iter().any(|x| short(&x.resource_id) == "nic-v4"),
        "{:#?}",
        pairs(&f)
    );
}

// ------------------------------------------------------------ semantics

fn rule(name: &str, priority: i64, access: &str, dst: &str, ports: &str) -> Value {
    json!({"name": name, "priority": priority, "access": access, "protocol": "Tcp",
           "direction": "Outbound", "sourceAddressPrefix": "*", "destinationAddressPrefix": dst,
           "destinationPortRange": ports})
}

fn nsg(name: &str, rules: Vec<Value>) -> Value {
    json!({"name": name, "id": rid("networkSecurityGroups", name),
           "type": "Microsoft.Network/networkSecurityGroups", "securityRules": rules})
}

#[test]
fn duplicate_priorities_are_deterministic_and_warned() {
    let run_once = |rules: Vec<Value>| {
        let inv = load_docs(vec![json!([nsg("nsg-dup", rules)])]);
        let f = findings(&inv, &["EG002", "EG006"]);
        (pairs(&f), inv.warnings)
    };
    let deny_first = vec![
        rule("deny-smb", 300, "Deny", "Internet", "445"),
        rule("allow-smb", 300, "Allow", "Internet", "445"),
        rule("deny-all", 400, "Deny", "*", "*"),
    ];
    let (a, wa) = run_once(deny_first.clone());
    let (b, _) = run_once(deny_first);
    assert_eq!(a, b, "the same input gives the same result");
    assert!(a.iter().all(|p| !p.starts_with("EG002")), "{a:?}");
    assert_eq!(wa.len(), 1, "{wa:?}");
    assert_eq!(wa[0].kind, "duplicate-priority");
    assert_eq!(wa[0].source, rid("networkSecurityGroups", "nsg-dup"));
    assert!(wa[0]
        .message
        .contains("outbound rules deny-smb, allow-smb share priority 300"));
    // Three rules at one priority are one warning naming all three.
    let (_, w3) = run_once(vec![
        rule("a", 100, "Allow", "Internet", "80"),
        rule("b", 100, "Allow", "Internet", "81"),
        rule("c", 100, "Deny", "Internet", "82"),
    ]);
    assert_eq!(w3.len(), 1);
    assert!(w3[0].message.contains("rules a, b, c share priority 100"));
    // A listed rule that claims a default rule's priority is evaluated before the default.
    let inv = load_docs(vec![json!([nsg(
        "nsg-65001",
        vec![rule("deny-at-65001", 65001, "Deny", "*", "*")]
    )])]);
    let layer = &inv.targets[0].chains[0].layers[0];
    let order: Vec<&str> = layer.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "nsg-65001/AllowVnetOutBound",
            "nsg-65001/deny-at-65001",
            "nsg-65001/AllowInternetOutBound",
            "nsg-65001/DenyAllOutBound"
        ]
    );
    // tcp is denied from 65001 on; udp still leaves by AllowInternetOutBound.
    let f = pairs(&findings(&inv, &["EG002", "EG006"]));
    assert!(!f.contains(&"EG002 nsg-65001".to_string()), "{f:?}");
    assert!(f.contains(&"EG006 nsg-65001".to_string()), "{f:?}");
}

#[test]
fn nic_in_an_unknown_subnet_is_evaluated_with_a_partial_data_warning() {
    let nsgs = json!([nsg(
        "nsg-nic",
        vec![rule("allow-smb", 100, "Allow", "Internet", "445")]
    )]);
    let mut n = cli_nic("nic-x", &[(Some("10.0.0.4"), Some("IPv4"))]);
    n["networkSecurityGroup"] = json!({"id": rid("networkSecurityGroups", "nsg-nic")});
    // No vnet / subnet listing: the subnet's NSG is unknown.
    let inv = load_docs(vec![nsgs, json!([n])]);
    let partial: Vec<_> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "partial-data")
        .collect();
    assert_eq!(partial.len(), 1, "{:?}", inv.warnings);
    assert!(partial[0].message.contains("NIC nic-x: subnet app"));
    assert_eq!(target(&inv, "nic-x").chains.len(), 1);
    assert!(pairs(&findings(&inv, &["EG002"])).contains(&"EG002 nic-x".to_string()));

    // The subnet is known and names an NSG that is not in the inputs: the NIC is not evaluated.
    let mut n = cli_nic("nic-y", &[(Some("10.0.0.4"), None)]);
    n["networkSecurityGroup"] = json!({"id": rid("networkSecurityGroups", "nsg-nic")});
    let vnet = json!([{"name": "vnet", "id": rid("virtualNetworks", "vnet"),
        "type": "Microsoft.Network/virtualNetworks",
        "subnets": [{"name": "app", "id": subnet_ref()["id"],
                     "networkSecurityGroup": {"id": rid("networkSecurityGroups", "nsg-gone")}}]}]);
    let inv = load_docs(vec![
        json!([nsg(
            "nsg-nic",
            vec![rule("allow-smb", 100, "Allow", "Internet", "445")]
        )]),
        json!([n]),
        vnet,
    ]);
    assert!(inv.targets.iter().all(|t| short(&t.resource_id) != "nic-y"));
    assert!(inv.warnings.iter().any(|w| w.kind == "partial-data"
        && w.message
            .contains("NIC nic-y: its NSG nsg-gone is not in the inputs")));
}

#[test]
fn routes_split_by_longest_prefix_and_forced_tunnelling() {
    let route = |name: &str, prefix: &str, hop: &str| json!({"name": name, "properties": {"addressPrefix": prefix, "nextHopType": hop}});
    let scan = |routes: Vec<Value>| {
        let table = json!({"value": [{"name": "rt", "id": rid("routeTables", "rt"),
            "type": "Microsoft.Network/routeTables",
            "properties": {"disableBgpRoutePropagation": false, "routes": routes}}]});
        let vnet = json!({"value": [{"name": "vnet", "id": rid("virtualNetworks", "vnet"),
            "type": "Microsoft.Network/virtualNetworks",
            "properties": {"subnets": [{"name": "app", "id": subnet_ref()["id"],
                "properties": {"routeTable": {"id": rid("routeTables", "rt")}}}]}}]});
        let inv = load_docs(vec![
            table,
            vnet,
            json!([cli_nic("nic", &[(Some("10.0.0.4"), None)])]),
        ]);
        target(&inv, "nic").route.clone()
    };
    // Forced tunnelling: unknown, with a reason and an appliance-like note.
    let r = scan(vec![route("forced", "0.0.0.0/0", "VirtualNetworkGateway")]);
    assert_eq!(r.internet_path, None);
    assert_eq!(
        r.reason.as_deref(),
        Some(
            "route table rt route forced sends 0.0.0.0/0 to VirtualNetworkGateway: forced \
             tunnelling, internet-bound traffic goes to on-premises through the virtual network \
             gateway, whose egress controls are not in the inputs"
        )
    );
    assert_eq!(
        r.appliance.as_deref(),
        Some("route 0.0.0.0/0 → VirtualNetworkGateway (rt, forced tunnelling to on-premises)")
    );
    // A more specific route to Internet wins for its part: there is a direct path.
    let r = scan(vec![
        route("forced", "0.0.0.0/0", "VirtualNetworkGateway"),
        route("saas", "52.0.0.0/8", "Internet"),
    ]);
    assert_eq!(r.internet_path, Some(true));
    assert_eq!(
        r.reason.as_deref(),
        Some("route table rt route saas sends 52.0.0.0/8 to Internet")
    );
    // The gateway takes one half, the other half is dropped: the gateway decides (most traffic
    // is not dropped, and where it goes is not known).
    let r = scan(vec![
        route("low", "0.0.0.0/1", "VirtualNetworkGateway"),
        route("high", "128.0.0.0/1", "None"),
    ]);
    assert_eq!(r.internet_path, None);
    assert!(r
        .appliance
        .unwrap()
        .starts_with("route 0.0.0.0/1 → VirtualNetworkGateway"));
    // A /1 left to the system route: a direct path for that half.
    let r = scan(vec![route("low", "0.0.0.0/1", "None")]);
    assert_eq!(r.internet_path, Some(true));
    // A /0 to None with a more specific drop inside it: no path.
    let r = scan(vec![
        route("none", "0.0.0.0/0", "None"),
        route("vnet", "20.0.0.0/8", "VnetLocal"),
    ]);
    assert_eq!(r.internet_path, Some(false));
}

#[test]
fn null_optional_fields_never_fail_a_page() {
    let nsgs = json!({"value": [{"name": "nsg-null", "id": rid("networkSecurityGroups", "nsg-null"),
        "type": "Microsoft.Network/networkSecurityGroups", "etag": null, "location": null,
        "tags": null, "properties": {"securityRules": null, "defaultSecurityRules": null,
        "subnets": null, "networkInterfaces": null, "provisioningState": null,
        "resourceGuid": null}}]});
    let nics = json!({"value": [{"name": "nic-null", "id": rid("networkInterfaces", "nic-null"),
        "type": "Microsoft.Network/networkInterfaces", "tags": null, "location": null,
        "properties": {"networkSecurityGroup": null, "virtualMachine": null, "macAddress": null,
            "enableAcceleratedNetworking": null, "ipConfigurations": [{"name": "ipconfig1",
            "properties": {"privateIPAddress": null, "privateIPAddressVersion": null,
                "publicIPAddress": null, "subnet": null, "primary": null,
                "applicationSecurityGroups": null, "loadBalancerBackendAddressPools": null}}]}}]});
    let vnets = json!([{"name": "vnet-null", "id": rid("virtualNetworks", "vnet-null"),
        "type": "Microsoft.Network/virtualNetworks", "subnets": null, "addressSpace": null}]);
    let tables = json!([{"name": "rt-null", "id": rid("routeTables", "rt-null"),
        "type": "Microsoft.Network/routeTables", "routes": null, "subnets": null,
        "disableBgpRoutePropagation": null}]);
    let fws = json!([{"name": "afw-null", "id": rid("azureFirewalls", "afw-null"),
        "type": "Microsoft.Network/azureFirewalls", "ipConfigurations": null,
        "hubIPAddresses": null}]);
    let inv = load_docs(vec![nsgs, nics, vnets, tables, fws]);
    let mut names: Vec<&str> = inv.targets.iter().map(|t| short(&t.resource_id)).collect();
    names.sort();
    assert_eq!(names, ["nic-null", "nsg-null"]);
    // The NSG with only its defaults is wide open; the NIC (no NSG) too, IPv6 included since
    // nothing says its configuration is IPv4.
    let f = findings(&inv, &["EG001"]);
    assert!(pairs(&f).contains(&"EG001 nsg-null".to_string()));
    assert_eq!(target(&inv, "nic-null").address_limit, None);
}

// ------------------------------------------------------------ no panics on damaged inputs

/// xorshift64*: a seeded, dependency-free generator, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Picks a random node and damages it: a key deleted, a value of another type, a string made
/// a number or null, a list truncated or emptied, a number made a string.
fn mutate(v: &mut Value, rng: &mut Rng) {
    // Every node is equally likely, so deep fields (a route's `addressPrefix`) are hit as often
    // as top-level ones.
    let mut pointers = Vec::new();
    all_pointers(v, String::new(), &mut pointers);
    let pointer = pointers[rng.below(pointers.len())].clone();
    let node = v.pointer_mut(&pointer).expect("the chosen path exists");
    let replacement = [
        Value::Null,
        json!(7),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("x"),
        json!("*"),
        json!("::/0"),
        json!("10.0.0.0/33"),
        json!(true),
        json!([]),
        json!({}),
        json!([null]),
        json!({"id": 3}),
    ];
    match node {
        Value::Object(o) if !o.is_empty() && rng.below(2) == 0 => {
            let k = o.keys().nth(rng.below(o.len())).unwrap().clone();
            o.remove(&k);
        }
        Value::Array(a) if !a.is_empty() && rng.below(2) == 0 => {
            let keep = rng.below(a.len());
            a.truncate(keep);
        }
        Value::String(s) if rng.below(2) == 0 => {
            *node = match rng.below(3) {
                0 => json!(s.len()),
                1 => Value::Null,
                _ => json!(s.chars().rev().collect::<String>()),
            };
        }
        Value::Number(n) if rng.below(2) == 0 => *node = json!(n.to_string()),
        _ => *node = replacement[rng.below(replacement.len())].clone(),
    }
}

/// The JSON pointers of every node of `v`, the root (`""`) included.
fn all_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let step = k.replace('~', "~0").replace('/', "~1");
                all_pointers(x, format!("{at}/{step}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                all_pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

#[test]
fn damaged_azure_inputs_never_panic() {
    let mut files = Vec::new();
    json_files(&root().join("examples/azure"), &mut files);
    json_files(&root().join("tests/fixtures/azure"), &mut files);
    // The ARM replay pages of the live test are REST listings too.
    json_files(&root().join("tests/fixtures/azure-arm"), &mut files);
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    let originals: Vec<(PathBuf, Value)> = files
        .into_iter()
        .filter_map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).ok()?;
            Some((p, v))
        })
        .collect();
    let mut rng = Rng(0x5EED_0A2E_u64 ^ 0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0, 0);
    let catalog = inputs::catalog_of(inputs::EVERY).unwrap();
    let config = Config::default();
    let started = std::time::Instant::now();
    for (path, original) in &originals {
        for case in 0..64 {
            let mut v = original.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut v, &mut rng);
            }
            let doc = v.clone();
            let (catalog, config) = (&catalog, &config);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let mut loader = Loader::default();
                let ctx = DocContext {
                    source: "mutated.json".into(),
                    ..Default::default()
                };
                let added = loader.add_value(doc, &ctx).map_err(|e| e.to_string());
                let inv = loader.build(&Options::default());
                // Evaluate too: a damaged rule must not panic the engine either.
                let _ = run(&inv, catalog, config);
                added
            }));
            match outcome {
                Ok(Ok(())) => ok += 1,
                Ok(Err(e)) => {
                    if std::env::var("AZ_MUT_DUMP").is_ok() {
                        eprintln!("REFUSED {e}");
                    }
                    assert!(!e.is_empty());
                    err += 1
                }
                Err(_) => panic!(
                    "{} case {case} panicked on:\n{}",
                    path.display(),
                    serde_json::to_string(&v).unwrap()
                ),
            }
        }
    }
    eprintln!(
        "{} files × 64 mutated copies in {:?}: {ok} loaded, {err} refused",
        originals.len(),
        started.elapsed()
    );
    // The sweep exercised both outcomes.
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
}

#[test]
fn listings_of_other_arm_types_are_skipped_with_a_warning() {
    let pip = |name: &str| {
        json!({"name": name, "id": rid("publicIPAddresses", name), "location": "westeurope",
               "type": "Microsoft.Network/publicIPAddresses", "ipAddress": "20.1.2.3",
               "publicIPAddressVersion": "IPv4", "publicIPAllocationMethod": "Static"})
    };
    // `az network public-ip list` and its REST page: read, nothing taken, a warning each.
    let inv = load_docs(vec![
        json!([pip("pip-a"), pip("pip-b")]),
        json!({"value": [pip("pip-c")]}),
        // (A rule listing, `az network nsg rule list`, is read: see tests/offline/azure_review.rs.)
    ]);
    assert!(inv.targets.is_empty());
    let msgs: Vec<&str> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "skipped-input")
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(msgs.len(), 2, "{:?}", inv.warnings);
    assert!(
        msgs[0].starts_with("2 resource(s) of type Microsoft.Network/publicIPAddresses not read")
    );
    // Mixed into a listing this normalizer reads, such items are skipped and the rest is read.
    let inv = load_docs(vec![json!([
        nsg(
            "nsg-mixed",
            vec![rule("allow-smb", 100, "Allow", "Internet", "445")]
        ),
        pip("pip-d")
    ])]);
    assert_eq!(inv.targets.len(), 1);
    assert!(pairs(&findings(&inv, &["EG002"])).contains(&"EG002 nsg-mixed".to_string()));
    assert!(inv.warnings.iter().any(|w| w.kind == "skipped-input"));
    // Something that is not ARM at all is still refused.
    let mut loader = Loader::default();
    let err = loader
        .add_value(json!([{"foo": 1}]), &DocContext::default())
        .unwrap_err();
    assert!(err.to_string().contains("not a recognised export"), "{err}");
}

// ------------------------------------------------------------ fail closed (issue 12 §1)

use crate::fail_closed;

fn default_rule(name: &str, priority: i64, access: &str, dst: &str) -> Value {
    json!({"name": name, "priority": priority, "access": access, "protocol": "*",
           "direction": "Outbound", "sourceAddressPrefix": "*", "destinationAddressPrefix": dst,
           "destinationPortRange": "*"})
}

#[test]
fn default_rules_keep_their_fixed_priority_and_a_wrong_one_is_warned() {
    for p in [-1, 0, 65536] {
        let mut item = nsg("nsg-def", vec![]);
        item["defaultSecurityRules"] = json!([
            default_rule("AllowVnetOutBound", 65000, "Allow", "VirtualNetwork"),
            default_rule("AllowInternetOutBound", 65001, "Allow", "Internet"),
            default_rule("DenyAllOutBound", p, "Deny", "*"),
        ]);
        let inv = load_docs(vec![json!([item])]);
        let w: Vec<&str> = inv
            .warnings
            .iter()
            .filter(|w| w.kind == "invalid-priority")
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(w.len(), 1, "{p}: {:?}", inv.warnings);
        assert!(
            w[0].contains("nsg-def")
                && w[0].contains("DenyAllOutBound")
                && w[0].contains(&p.to_string()),
            "{}",
            w[0]
        );
        // DenyAllOutBound stays last: the internet is still reachable through 65001.
        assert!(pairs(&findings(&inv, &["EG001"])).contains(&"EG001 nsg-def".to_string()));
    }
}

#[test]
fn empty_or_unknown_source_prefixes_are_refused_or_warned() {
    let mut r = rule("allow-smb", 100, "Allow", "Internet", "445");
    r["sourceAddressPrefix"] = json!("");
    let mut loader = Loader::default();
    let ctx = DocContext {
        source: "nsgs.json".into(),
        ..Default::default()
    };
    let e = loader
        .add_value(json!([nsg("nsg-src", vec![r])]), &ctx)
        .expect_err("a rule without a source is refused")
        .to_string();
    assert!(
        e.starts_with("nsgs.json: ")
            && e.contains("allow-smb")
            && e.contains("sourceAddressPrefix"),
        "{e}"
    );
    let mut r = rule("allow-smb", 100, "Allow", "Internet", "445");
    r["sourceAddressPrefix"] = json!("not-a-cidr");
    let inv = load_docs(vec![json!([nsg("nsg-src", vec![r])])]);
    let w: Vec<&str> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "unresolved-source")
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(w.len(), 1, "{:?}", inv.warnings);
    assert!(
        w[0].contains("nsg-src rule allow-smb") && w[0].contains("`not-a-cidr`"),
        "{}",
        w[0]
    );
    // The rule is taken to apply: the finding stays.
    assert!(pairs(&findings(&inv, &["EG002"])).contains(&"EG002 nsg-src".to_string()));
}

#[test]
fn ipv4_mapped_ipv6_prefixes_are_refused() {
    let mut loader = Loader::default();
    let e = loader
        .add_value(
            json!([nsg(
                "nsg-map",
                vec![rule("deny", 100, "Deny", "::ffff:0.0.0.0/96", "*")]
            )]),
            &DocContext::default(),
        )
        .expect_err("refused")
        .to_string();
    assert!(e.contains("rule deny") && e.contains("IPv4-mapped"), "{e}");
}

#[test]
fn damaged_egress_fields_fail_closed() {
    let dirs = [
        root().join("examples/azure"),
        root().join("tests/fixtures/azure"),
        root().join("tests/fixtures/azure-arm"),
    ];
    let scenarios = fail_closed::scenarios(&dirs);
    let rounds = std::env::var("FAIL_CLOSED_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let tally = fail_closed::sweep(
        fail_closed::Provider::Azure,
        &scenarios,
        rounds,
        0x00A2_FA11_C105_ED00,
    );
    eprintln!("Azure fail-closed sweep: {tally}");
    assert!(
        tally.defects.is_empty(),
        "{tally}:\n{}",
        tally.defects.join("\n")
    );
    assert!(tally.tried > 300 && tally.refused > 50, "{tally}");
}
