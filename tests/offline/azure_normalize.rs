//! Azure normalizer: CLI and REST listings → targets → the real check catalog.

use egress_audit::checks::run;
use egress_audit::config::Config;
use egress_audit::model::{Finding, Severity};
use egress_audit::normalize::azure::ServiceTags;
use egress_audit::normalize::{DocContext, Inventory, Loader, Options};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const SUB: &str = "00000000-0000-0000-0000-000000000001";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> PathBuf {
    root().join("examples/azure").join(name)
}

fn sample_tags() -> ServiceTags {
    ServiceTags::load(&root().join("examples/azure/service-tags.sample.json")).unwrap()
}

fn id(rg: &str, typ: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/{typ}/{name}")
}

fn nsg_id(name: &str) -> String {
    id("rg-test", "networkSecurityGroups", name)
}

fn subnet_id(name: &str) -> String {
    format!(
        "{}/subnets/{name}",
        id("rg-test", "virtualNetworks", "vnet-test")
    )
}

/// An outbound rule in the CLI's flattened shape; `dst` and `ports` may be one string or a list.
fn rule(name: &str, priority: i64, access: &str, proto: &str, dst: Value, ports: Value) -> Value {
    let mut r = json!({
        "name": name, "priority": priority, "access": access, "protocol": proto,
        "direction": "Outbound", "sourceAddressPrefix": "*", "sourcePortRange": "*",
        "destinationAddressPrefixes": [], "destinationPortRanges": [],
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
    });
    match dst {
        Value::Array(_) => r["destinationAddressPrefixes"] = dst,
        _ => r["destinationAddressPrefix"] = dst,
    }
    match ports {
        Value::Array(_) => r["destinationPortRanges"] = ports,
        _ => r["destinationPortRange"] = ports,
    }
    r
}

/// An NSG in the CLI shape, without `defaultSecurityRules` (the normalizer must add them).
fn nsg(name: &str, rules: Vec<Value>) -> Value {
    json!({
        "name": name, "id": nsg_id(name), "location": "westeurope",
        "type": "Microsoft.Network/networkSecurityGroups", "securityRules": rules,
    })
}

fn nic(name: &str, ip: &str, subnet: &str, nsg: Option<&str>, asgs: &[&str]) -> Value {
    let asgs: Vec<Value> = asgs
        .iter()
        .map(|a| json!({"id": id("rg-test", "applicationSecurityGroups", a)}))
        .collect();
    let mut n = json!({
        "name": name, "id": id("rg-test", "networkInterfaces", name), "location": "westeurope",
        "type": "Microsoft.Network/networkInterfaces", "tags": {"role": "test"},
        "ipConfigurations": [{"name": "ipconfig1", "primary": true, "privateIPAddress": ip,
            "subnet": {"id": subnet_id(subnet)}, "applicationSecurityGroups": asgs}],
    });
    if let Some(s) = nsg {
        n["networkSecurityGroup"] = json!({"id": nsg_id(s)});
    }
    n
}

/// One virtual network `vnet-test` with (subnet, nsg, route table) entries.
fn vnet(subnets: &[(&str, Option<&str>, Option<&str>)]) -> Value {
    let subnets: Vec<Value> = subnets
        .iter()
        .map(|(s, n, rt)| {
            let mut v = json!({"name": s, "id": subnet_id(s), "addressPrefix": "10.0.0.0/24"});
            if let Some(n) = n {
                v["networkSecurityGroup"] = json!({"id": nsg_id(n)});
            }
            if let Some(rt) = rt {
                v["routeTable"] = json!({"id": id("rg-test", "routeTables", rt)});
            }
            v
        })
        .collect();
    json!([{"name": "vnet-test", "id": id("rg-test", "virtualNetworks", "vnet-test"),
        "type": "Microsoft.Network/virtualNetworks",
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": subnets}])
}

struct Scan {
    inv_targets: Vec<(String, egress_audit::model::RouteInfo, usize, Vec<String>)>,
    warnings: Vec<egress_audit::model::Warning>,
    findings: Vec<Finding>,
}

fn scan_inventory(inv: Inventory, ids: &[&str]) -> Scan {
    let catalog = crate::inputs::catalog_of(ids).unwrap();
    let findings = run(&inv, &catalog, &Config::default()).unwrap();
    Scan {
        inv_targets: inv
            .targets
            .iter()
            .map(|t| {
                (
                    t.resource_id.to_string(),
                    t.route.clone(),
                    t.chains.len(),
                    t.selectors.clone(),
                )
            })
            .collect(),
        warnings: inv.warnings,
        findings,
    }
}

fn scan_docs(docs: Vec<Value>, tags: Option<ServiceTags>, ids: &[&str]) -> Scan {
    let mut loader = Loader::default();
    for (i, d) in docs.into_iter().enumerate() {
        let ctx = DocContext {
            source: format!("doc{i}.json"),
            ..Default::default()
        };
        loader.add_value(d, &ctx).unwrap();
    }
    scan_inventory(
        loader.build(&Options {
            azure_service_tags: tags,
        }),
        ids,
    )
}

fn scan_path(path: &Path, tags: Option<ServiceTags>, ids: &[&str]) -> Scan {
    let mut loader = Loader::default();
    loader.add_path(path).unwrap();
    scan_inventory(
        loader.build(&Options {
            azure_service_tags: tags,
        }),
        ids,
    )
}

impl Scan {
    /// Check ids reported for the resource whose id ends with `/name`.
    fn ids(&self, name: &str) -> BTreeSet<String> {
        self.on(name).map(|f| f.check_id.to_string()).collect()
    }
    fn on<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        let suffix = format!("/{name}");
        self.findings
            .iter()
            .filter(move |f| f.resource_id.ends_with(&suffix) || f.resource_id == name)
    }
    fn finding<'a>(&'a self, name: &'a str, check: &str) -> &'a Finding {
        self.on(name)
            .find(|f| f.check_id == check)
            .unwrap_or_else(|| panic!("no {check} on {name}: {:#?}", self.findings))
    }
    fn target(&self, name: &str) -> &(String, egress_audit::model::RouteInfo, usize, Vec<String>) {
        self.inv_targets
            .iter()
            .find(|t| t.0.ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("no target {name}"))
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// What a target with Azure's defaults only (every protocol to the internet) is reported for.
const WIDE_OPEN: &[&str] = &[
    "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
];

#[test]
fn defaults_only_example_reports_every_nic_with_the_default_rule_as_evidence() {
    let s = scan_path(
        &example("defaults-only"),
        None,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    for nic in ["vm-web-01-nic", "vm-web-02-nic"] {
        assert_eq!(s.ids(nic), set(WIDE_OPEN), "{nic}");
        let f = s.finding(nic, "EG001");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.resource_kind, "nic");
        assert_eq!(f.account.as_deref(), Some(SUB));
        assert_eq!(f.region.as_deref(), Some("westeurope"));
        let e = &f.evidence[0];
        assert_eq!(e.name, "nsg-web-prod-weu/AllowInternetOutBound");
        assert_eq!(e.priority, Some(65001));
        assert_eq!(e.destination, "Internet");
        // The subnet is known to have no route table: the system route goes to the internet.
        let (_, route, chains, _) = s.target(nic);
        assert_eq!(route.internet_path, Some(true));
        assert_eq!(*chains, 1);
    }
    // The NSG sits on NICs, so it is judged through them, not on its own.
    assert!(s.ids("nsg-web-prod-weu").is_empty());
    assert!(s.warnings.is_empty(), "{:#?}", s.warnings);
}

#[test]
fn default_rules_apply_when_the_input_omits_them() {
    let s = scan_docs(
        vec![json!([nsg("nsg-empty", vec![])])],
        None,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(s.ids("nsg-empty"), set(WIDE_OPEN));
    let f = s.finding("nsg-empty", "EG001");
    assert_eq!(f.resource_kind, "nsg");
    assert_eq!(f.evidence.len(), 1);
    assert_eq!(f.evidence[0].name, "nsg-empty/AllowInternetOutBound");
    assert_eq!(f.evidence[0].priority, Some(65001));
    assert_eq!(f.evidence[0].action, "allow");

    // A deny of `Internet` above the defaults closes everything; AllowVnetOutBound is internal.
    let closed = nsg(
        "nsg-closed",
        vec![rule(
            "Deny-Internet",
            4096,
            "Deny",
            "*",
            json!("Internet"),
            json!("*"),
        )],
    );
    let s = scan_docs(
        vec![json!([closed])],
        None,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert!(s.findings.is_empty(), "{:#?}", s.findings);
}

#[test]
fn nic_nsg_and_subnet_nsg_must_both_allow() {
    let allow_smb = nsg(
        "nsg-allow-smb",
        vec![rule(
            "Allow-SMB",
            100,
            "Allow",
            "Tcp",
            json!("Internet"),
            json!("445"),
        )],
    );
    let deny_smb = nsg(
        "nsg-deny-smb",
        vec![rule(
            "Deny-SMB",
            100,
            "Deny",
            "Tcp",
            json!("Internet"),
            json!("445"),
        )],
    );
    // NIC NSG allows 445, subnet NSG denies it, and the other way round.
    for (on_nic, on_subnet) in [
        ("nsg-allow-smb", "nsg-deny-smb"),
        ("nsg-deny-smb", "nsg-allow-smb"),
    ] {
        let s = scan_docs(
            vec![
                json!([allow_smb.clone(), deny_smb.clone()]),
                json!([nic("nic-a", "10.0.0.4", "snet-a", Some(on_nic), &[])]),
                vnet(&[("snet-a", Some(on_subnet), None)]),
            ],
            None,
            &["EG001", "EG002", "EG003"],
        );
        let ids = s.ids("nic-a");
        assert!(!ids.contains("EG002"), "{on_nic} then {on_subnet}: {ids:?}");
        // Everything but 445 is still open through both NSGs' defaults.
        assert!(ids.contains("EG001") && ids.contains("EG003"), "{ids:?}");
        assert_eq!(s.target("nic-a").2, 2, "two chains: NIC NSG and subnet NSG");
    }
    // Both NSGs sit on the NIC, so neither is a target of its own.
    let s = scan_docs(
        vec![
            json!([allow_smb, deny_smb]),
            json!([nic(
                "nic-a",
                "10.0.0.4",
                "snet-a",
                Some("nsg-allow-smb"),
                &[]
            )]),
            vnet(&[("snet-a", None, None)]),
        ],
        None,
        &["EG001", "EG002", "EG003"],
    );
    assert!(s.ids("nic-a").contains("EG002"));
    assert!(s.ids("nsg-allow-smb").is_empty());
    // The unused NSG is still judged on its own rather than dropped.
    assert!(s.ids("nsg-deny-smb").contains("EG001"));
}

#[test]
fn nic_without_any_nsg_is_unfiltered() {
    let s = scan_docs(
        vec![
            json!([nic("nic-bare", "10.0.0.4", "snet-a", None, &[])]),
            vnet(&[("snet-a", None, None)]),
        ],
        None,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(s.target("nic-bare").2, 0);
    assert_eq!(s.ids("nic-bare"), set(WIDE_OPEN));
    // Nothing filters it, and the evidence says so rather than being empty.
    let ev = &s.finding("nic-bare", "EG001").evidence;
    assert_eq!(ev.len(), 1);
    assert!(ev[0].name.contains("no filter"), "{ev:?}");
}

#[test]
fn rules_are_evaluated_by_priority_not_input_order() {
    // Listed allow-first, but the deny has the lower priority number.
    let n = nsg(
        "nsg-order",
        vec![
            rule("Allow-All", 200, "Allow", "*", json!("*"), json!("*")),
            rule("Deny-SMB", 100, "Deny", "Tcp", json!("*"), json!("445")),
        ],
    );
    let s = scan_docs(vec![json!([n])], None, &["EG001", "EG002", "EG011"]);
    let ids = s.ids("nsg-order");
    assert!(!ids.contains("EG002") && !ids.contains("EG011"), "{ids:?}");
    assert!(ids.contains("EG001"));

    // Swapped priorities: the allow decides first, the deny never blocks.
    let n = nsg(
        "nsg-order",
        vec![
            rule("Allow-All", 100, "Allow", "*", json!("*"), json!("*")),
            rule("Deny-SMB", 200, "Deny", "Tcp", json!("*"), json!("445")),
        ],
    );
    let s = scan_docs(vec![json!([n])], None, &["EG001", "EG002", "EG011"]);
    let ids = s.ids("nsg-order");
    assert!(ids.contains("EG002") && ids.contains("EG011"), "{ids:?}");
    let f = s.finding("nsg-order", "EG011");
    assert_eq!(f.rule.as_deref(), Some("nsg-order/Deny-SMB"));
    assert_eq!(f.evidence[1].name, "nsg-order/Allow-All");
    assert_eq!(f.evidence[1].priority, Some(100));
}

#[test]
fn shadowed_deny_example() {
    let s = scan_path(
        &example("shadowed-deny"),
        None,
        &[
            "EG001", "EG004", "EG005", "EG006", "EG007", "EG008", "EG011", "EG013",
        ],
    );
    let f = s.finding("nsg-app-nic", "EG011");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.resource_kind, "nsg");
    assert_eq!(
        f.resource_id,
        id("rg-app-prod-weu", "networkSecurityGroups", "nsg-app-nic")
    );
    assert_eq!(f.rule.as_deref(), Some("nsg-app-nic/Deny-SMB-Out"));
    assert_eq!(f.evidence[0].priority, Some(200));
    assert_eq!(f.evidence[1].name, "nsg-app-nic/Allow-Internet-Out");
    // The subnet NSG blocks SMB (445, 139) and telnet for the NIC, whatever the NIC NSG says.
    assert_eq!(
        s.ids("vm-app-01-nic"),
        set(&["EG001", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"])
    );
    assert_eq!(s.target("vm-app-01-nic").3, vec!["asg-app".to_string()]);
    // The data subnet denies the internet below its narrow allows.
    assert!(s.ids("vm-sql-01-nic").is_empty());
    // No finding was guessed for the service tags; each is a warning naming NSG, rule and tag.
    let w: Vec<_> = s
        .warnings
        .iter()
        .filter(|w| w.kind == "unresolved-destination")
        .collect();
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(w.iter().any(|w| w.message.contains("nsg-app-nic")
        && w.message.contains("Allow-Storage-Out")
        && w.message.contains("`Storage`")));
    assert!(w
        .iter()
        .any(|w| w.message.contains("nsg-data-subnet") && w.message.contains("AzureMonitor")));
}

#[test]
fn service_tags_resolve_from_a_tags_file_and_warn_without_one() {
    let n = |tag: &str| {
        nsg(
            "nsg-tags",
            vec![
                rule(
                    "Allow-Storage-SSH",
                    100,
                    "Allow",
                    "Tcp",
                    json!(tag),
                    json!("22"),
                ),
                rule(
                    "Deny-Internet",
                    4000,
                    "Deny",
                    "*",
                    json!("Internet"),
                    json!("*"),
                ),
            ],
        )
    };
    let s = scan_docs(vec![json!([n("Storage")])], None, &["EG009", "EG013"]);
    assert!(s.findings.is_empty(), "{:#?}", s.findings);
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].kind, "unresolved-destination");
    assert!(s.warnings[0].message.contains("Allow-Storage-SSH"));

    // The global tag is wide enough (more than a /16 of public IPv4) for EG009 too.
    for (tag, ids) in [
        ("Storage", set(&["EG009", "EG013"])),
        ("storage.westeurope", set(&["EG013"])),
    ] {
        let s = scan_docs(
            vec![json!([n(tag)])],
            Some(sample_tags()),
            &["EG009", "EG013"],
        );
        assert_eq!(s.ids("nsg-tags"), ids, "{tag}");
        let e = &s.finding("nsg-tags", "EG013").evidence[0];
        assert_eq!(e.destination, tag);
        assert!(s.warnings.is_empty(), "{:#?}", s.warnings);
    }
    // A tag the file does not hold still warns.
    let s = scan_docs(
        vec![json!([n("Sql.EastUS")])],
        Some(sample_tags()),
        &["EG009", "EG013"],
    );
    assert!(s.findings.is_empty());
    assert!(s.warnings[0]
        .message
        .contains("not in the service-tags file"));
}

#[test]
fn a_service_tags_file_among_the_inputs_is_used() {
    let s = scan_path(&example("."), None, crate::inputs::EVERY);
    assert!(
        !s.warnings
            .iter()
            .any(|w| w.message.contains("`Storage`") || w.message.contains("AzureMonitor")),
        "{:#?}",
        s.warnings
    );
}

#[test]
fn split_halves_are_everything() {
    let n = nsg(
        "nsg-halves",
        vec![
            rule(
                "Allow-Halves",
                100,
                "Allow",
                "Tcp",
                json!(["0.0.0.0/1", "128.0.0.0/1"]),
                json!("*"),
            ),
            rule(
                "Deny-Internet",
                200,
                "Deny",
                "*",
                json!("Internet"),
                json!("*"),
            ),
        ],
    );
    let s = scan_docs(vec![json!([n])], None, &["EG001", "EG002", "EG007"]);
    let ids = s.ids("nsg-halves");
    assert!(ids.contains("EG001") && ids.contains("EG002"), "{ids:?}");
    assert!(!ids.contains("EG007"), "tcp only: {ids:?}");
}

#[test]
fn port_ranges_union_and_cover() {
    let n = |ports: Value| {
        nsg(
            "nsg-ports",
            vec![
                rule("Allow-Range", 100, "Allow", "Tcp", json!("Internet"), ports),
                rule(
                    "Deny-Internet",
                    200,
                    "Deny",
                    "*",
                    json!("Internet"),
                    json!("*"),
                ),
            ],
        )
    };
    let s = scan_docs(
        vec![json!([n(json!("400-500"))])],
        None,
        &["EG002", "EG003", "EG004", "EG009"],
    );
    assert!(s.ids("nsg-ports").contains("EG002"));
    assert_eq!(s.finding("nsg-ports", "EG002").evidence[0].ports, "400-500");
    let s = scan_docs(
        vec![json!([n(json!(["80", "443"]))])],
        None,
        &["EG002", "EG003", "EG004", "EG009"],
    );
    assert!(s.ids("nsg-ports").contains("EG009"));
    assert!(!s.ids("nsg-ports").contains("EG002"));
    let s = scan_docs(
        vec![json!([n(json!(["80", "20-23"]))])],
        None,
        &["EG002", "EG003", "EG004", "EG009"],
    );
    let ids = s.ids("nsg-ports");
    assert!(ids.contains("EG003") && ids.contains("EG004"), "{ids:?}");
}

#[test]
fn protocols_star_any_icmp_esp() {
    let n = |proto: &str, ports: &str| {
        nsg(
            "nsg-proto",
            vec![
                rule(
                    "Allow-P",
                    100,
                    "Allow",
                    proto,
                    json!("Internet"),
                    json!(ports),
                ),
                rule(
                    "Deny-Internet",
                    200,
                    "Deny",
                    "*",
                    json!("Internet"),
                    json!("*"),
                ),
            ],
        )
    };
    let star = scan_docs(
        vec![json!([n("*", "445")])],
        None,
        &["EG002", "EG006", "EG007", "EG009"],
    )
    .ids("nsg-proto");
    let any = scan_docs(
        vec![json!([n("Any", "445")])],
        None,
        &["EG002", "EG006", "EG007", "EG009"],
    )
    .ids("nsg-proto");
    assert_eq!(star, any);
    assert!(star.contains("EG002"), "{star:?}");
    let icmp = scan_docs(
        vec![json!([n("Icmp", "*")])],
        None,
        &["EG002", "EG006", "EG007", "EG009"],
    )
    .ids("nsg-proto");
    assert_eq!(icmp, set(&["EG007"]));
    let esp = scan_docs(
        vec![json!([n("Esp", "*")])],
        None,
        &["EG002", "EG006", "EG007", "EG009"],
    )
    .ids("nsg-proto");
    assert!(esp.is_empty(), "{esp:?}");
    let udp = scan_docs(
        vec![json!([n("udp", "53")])],
        None,
        &["EG002", "EG006", "EG007", "EG009"],
    )
    .ids("nsg-proto");
    assert_eq!(udp, set(&["EG006", "EG009"]));
}

#[test]
fn asg_destinations_are_internal_and_asgs_are_selectors() {
    let mut r = rule(
        "Allow-SQL-ASG",
        100,
        "Allow",
        "Tcp",
        Value::Null,
        json!("445"),
    );
    r.as_object_mut()
        .unwrap()
        .remove("destinationAddressPrefix");
    r["destinationApplicationSecurityGroups"] =
        json!([{"id": id("rg-test", "applicationSecurityGroups", "asg-sql")}]);
    let n = nsg(
        "nsg-asg",
        vec![
            r,
            rule(
                "Deny-Internet",
                200,
                "Deny",
                "*",
                json!("Internet"),
                json!("*"),
            ),
        ],
    );
    let s = scan_docs(
        vec![
            json!([n]),
            json!([nic(
                "nic-a",
                "10.0.0.4",
                "snet-a",
                Some("nsg-asg"),
                &["asg-web", "asg-ops"]
            )]),
            vnet(&[("snet-a", None, None)]),
        ],
        None,
        crate::inputs::EVERY,
    );
    assert!(s.findings.is_empty(), "{:#?}", s.findings);
    assert_eq!(
        s.target("nic-a").3,
        vec!["asg-web".to_string(), "asg-ops".to_string()]
    );
}

/// REST → CLI: every `properties` object merged into its parent, `value` unwrapped.
fn flatten(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, x) in o {
                if k == "properties" {
                    if let Value::Object(p) = x {
                        for (pk, px) in p {
                            out.insert(pk.clone(), flatten(px));
                        }
                    }
                } else {
                    out.insert(k.clone(), flatten(x));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(flatten).collect()),
        other => other.clone(),
    }
}

fn summary(s: &Scan) -> Vec<String> {
    let mut v: Vec<String> = s
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {:?} {}",
                f.check_id,
                f.resource_id,
                f.rule,
                serde_json::to_string(&f.evidence).unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn cli_and_rest_shapes_give_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["nsg-list.json", "nic-list.json", "vnet-list.json"] {
        let text = std::fs::read_to_string(example("shadowed-deny").join(file)).unwrap();
        let rest: Value = serde_json::from_str(&text).unwrap();
        assert!(
            rest.get("value").is_some(),
            "the example is in the REST shape"
        );
        let cli = flatten(&rest["value"]);
        std::fs::write(dir.path().join(file), serde_json::to_string(&cli).unwrap()).unwrap();
    }
    let rest = scan_path(&example("shadowed-deny"), None, crate::inputs::EVERY);
    let cli = scan_path(dir.path(), None, crate::inputs::EVERY);
    assert!(!rest.findings.is_empty());
    assert_eq!(summary(&rest), summary(&cli));
    let msgs = |s: &Scan| {
        s.warnings
            .iter()
            .map(|w| w.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(msgs(&rest), msgs(&cli));
}

#[test]
fn hub_spoke_routes() {
    let s = scan_path(
        &example("hub-spoke"),
        None,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    let (_, route, _, _) = s.target("vm-batch-01-nic");
    assert_eq!(
        route.appliance.as_deref(),
        Some("route 0.0.0.0/0 → VirtualAppliance 10.0.1.4 (rt-spoke-egress, Azure Firewall afw-hub-weu)")
    );
    assert_eq!(route.internet_path, None);
    // Only the partner SFTP allow is open; the note names the firewall.
    assert_eq!(s.ids("vm-batch-01-nic"), set(&["EG013"]));
    let f = s.finding("vm-batch-01-nic", "EG013");
    assert_eq!(f.evidence[0].name, "nsg-spoke-workload/Allow-Partner-SFTP");
    assert!(f.notes[0].contains("afw-hub-weu"));

    let (_, route, _, _) = s.target("vm-render-01-nic");
    assert_eq!(route.internet_path, Some(false));
    let reason = route.reason.as_deref().unwrap();
    assert!(
        reason.contains("rt-spoke-isolated") && reason.contains("default-drop"),
        "{reason}"
    );
    assert_eq!(s.ids("vm-render-01-nic"), set(WIDE_OPEN));
    let f = s.finding("vm-render-01-nic", "EG002");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.original_severity, None);
}

#[test]
fn route_to_internet_and_unknown_route_table() {
    let rt = json!([{"name": "rt-inet", "id": id("rg-test", "routeTables", "rt-inet"),
        "type": "Microsoft.Network/routeTables",
        "routes": [{"name": "default", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}]}]);
    let s = scan_docs(
        vec![
            rt,
            json!([
                nic("nic-a", "10.0.0.4", "snet-a", None, &[]),
                nic("nic-b", "10.0.1.4", "snet-b", None, &[])
            ]),
            vnet(&[
                ("snet-a", None, Some("rt-inet")),
                ("snet-b", None, Some("rt-missing")),
            ]),
        ],
        None,
        crate::inputs::EVERY,
    );
    assert_eq!(s.target("nic-a").1.internet_path, Some(true));
    // The table is not in the inputs: nothing is assumed.
    assert_eq!(s.target("nic-b").1.internet_path, None);
}

#[test]
fn arm_ids_compare_case_insensitively() {
    let mut n = nic("nic-a", "10.0.0.4", "snet-a", None, &[]);
    n["networkSecurityGroup"] = json!({"id": nsg_id("nsg-closed").to_uppercase()});
    n["ipConfigurations"][0]["subnet"]["id"] = json!(subnet_id("snet-a").to_uppercase());
    let closed = nsg(
        "nsg-closed",
        vec![rule(
            "Deny-Internet",
            100,
            "Deny",
            "*",
            json!("Internet"),
            json!("*"),
        )],
    );
    let s = scan_docs(
        vec![json!([closed]), json!([n]), vnet(&[("snet-a", None, None)])],
        None,
        crate::inputs::EVERY,
    );
    assert_eq!(s.target("nic-a").2, 1);
    assert!(s.findings.is_empty(), "{:#?}", s.findings);
    assert!(s.warnings.is_empty(), "{:#?}", s.warnings);
}

#[test]
fn nic_whose_nsg_is_missing_is_not_guessed() {
    let s = scan_docs(
        vec![
            json!([nic(
                "nic-a",
                "10.0.0.4",
                "snet-a",
                Some("nsg-elsewhere"),
                &[]
            )]),
            vnet(&[("snet-a", None, None)]),
        ],
        None,
        crate::inputs::EVERY,
    );
    assert!(s.inv_targets.is_empty());
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].kind, "partial-data");
    assert!(s.warnings[0].message.contains("nsg-elsewhere"));
}

#[test]
fn source_conditions_decide_which_nics_a_rule_covers() {
    let mut deny = rule(
        "Deny-From-Other-Subnet",
        100,
        "Deny",
        "*",
        json!("Internet"),
        json!("*"),
    );
    deny["sourceAddressPrefix"] = json!("10.0.9.0/24");
    let n = nsg("nsg-src", vec![deny]);
    let s = scan_docs(
        vec![
            json!([n]),
            json!([
                nic("nic-in", "10.0.9.5", "snet-a", None, &[]),
                nic("nic-out", "10.0.1.5", "snet-a", None, &[])
            ]),
            vnet(&[("snet-a", Some("nsg-src"), None)]),
        ],
        None,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert!(s.ids("nic-in").is_empty());
    assert_eq!(s.ids("nic-out"), set(WIDE_OPEN));
}

#[test]
fn next_link_marks_the_listing_partial() {
    let doc = json!({"value": [nsg("nsg-page", vec![])], "nextLink": "https://management.azure.com/next"});
    let s = scan_docs(vec![doc], None, crate::inputs::EVERY);
    assert!(s
        .warnings
        .iter()
        .any(|w| w.kind == "truncated-listing" && w.message.contains("nextLink")));
}

fn load_error(doc: Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nsg-bad.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let mut loader = Loader::default();
    let err = loader.add_path(&path).unwrap_err().to_string();
    assert!(err.contains("nsg-bad.json"), "{err}");
    err
}

#[test]
fn malformed_inputs_name_the_file_object_and_field() {
    let mut r = rule(
        "Deny-SMB",
        100,
        "Deny",
        "Tcp",
        json!("Internet"),
        json!("445"),
    );
    r.as_object_mut().unwrap().remove("priority");
    let err = load_error(json!([nsg("nsg-web", vec![r])]));
    assert!(
        err.contains("NSG nsg-web rule Deny-SMB") && err.contains("`priority`"),
        "{err}"
    );

    let mut n = nsg("nsg-web", vec![]);
    n["securityRules"] = json!({"oops": 1});
    let err = load_error(json!({"value": [n]}));
    assert!(
        err.contains("NSG nsg-web") && err.contains("`securityRules`"),
        "{err}"
    );

    let r = rule(
        "Odd",
        100,
        "Allow",
        "Tcp",
        json!("10.0.0.0/33"),
        json!("445"),
    );
    let err = load_error(json!([nsg("nsg-web", vec![r])]));
    assert!(
        err.contains("rule Odd") && err.contains("10.0.0.0/33"),
        "{err}"
    );

    let r = rule(
        "Odd",
        100,
        "Allow",
        "Tcp",
        json!("Internet"),
        json!("70000"),
    );
    let err = load_error(json!([nsg("nsg-web", vec![r])]));
    assert!(
        err.contains("rule Odd") && err.contains("destinationPortRange"),
        "{err}"
    );

    let mut r = rule("Odd", 100, "Permit", "Tcp", json!("Internet"), json!("80"));
    r["access"] = json!("Permit");
    let err = load_error(json!([nsg("nsg-web", vec![r])]));
    assert!(err.contains("`access`") && err.contains("Permit"), "{err}");
}

#[test]
fn a_bad_service_tags_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tags.json");
    std::fs::write(
        &path,
        r#"{"values": [{"name": "Storage", "properties": {}}]}"#,
    )
    .unwrap();
    let err = ServiceTags::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("tags.json") && err.contains("Storage") && err.contains("addressPrefixes"),
        "{err}"
    );
    std::fs::write(&path, r#"{"value": []}"#).unwrap();
    let err = ServiceTags::load(&path).unwrap_err().to_string();
    assert!(err.contains("`values`"), "{err}");
    std::fs::write(
        &path,
        r#"{"values": [{"name": "X", "properties": {"addressPrefixes": ["1.2.3.4/40"]}}]}"#,
    )
    .unwrap();
    let err = ServiceTags::load(&path).unwrap_err().to_string();
    assert!(err.contains("1.2.3.4/40"), "{err}");
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/azure").join(name)
}

#[test]
fn mixed_shapes_subnet_listing_and_lower_case_values() {
    // REST NSG with lower-case `deny`/`outbound`/`tcp`/`internet` and a string priority, a CLI NIC
    // without `type` whose subnet id is upper-cased, `az network vnet subnet list` output, and a
    // route table without `type`.
    let s = scan_path(&fixture("mixed"), None, &["EG008", "EG009"]);
    assert_eq!(s.ids("vm-mixed-01-nic"), set(&["EG008", "EG009"]));
    let (_, route, chains, _) = s.target("vm-mixed-01-nic");
    assert_eq!(*chains, 1);
    assert_eq!(route.internet_path, Some(true));
    assert!(route.reason.as_deref().unwrap().contains("rt-mixed"));
    let f = s.finding("vm-mixed-01-nic", "EG009");
    assert_eq!(f.evidence[0].name, "nsg-mixed-subnet/allow-web");
    assert_eq!(f.evidence[0].ports, "80,443");
    assert_eq!(f.evidence[0].destination, "0.0.0.0/1, 128.0.0.0/1");
    assert!(s.warnings.is_empty(), "{:#?}", s.warnings);
}

#[test]
fn malformed_fixture_names_file_nsg_rule_and_field() {
    let mut loader = Loader::default();
    let err = loader
        .add_path(&fixture("bad/nsg-missing-priority.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nsg-missing-priority.json"), "{err}");
    assert!(err.contains("NSG nsg-broken rule Allow-Web"), "{err}");
    assert!(err.contains("`priority`"), "{err}");
}

#[test]
fn listings_are_told_by_fields_when_type_and_id_are_missing() {
    // A virtual network with neither `type` nor `id` (told by `addressSpace`) still ties the
    // subnet to its NSG.
    let v = json!([{"name": "vnet-test", "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "snet-a", "id": subnet_id("snet-a"),
            "networkSecurityGroup": {"id": nsg_id("nsg-closed")}}]}]);
    let closed = nsg(
        "nsg-closed",
        vec![rule(
            "Deny-Internet",
            100,
            "Deny",
            "*",
            json!("Internet"),
            json!("*"),
        )],
    );
    let s = scan_docs(
        vec![
            json!([closed]),
            json!([nic("nic-a", "10.0.0.4", "snet-a", None, &[])]),
            v,
        ],
        None,
        crate::inputs::EVERY,
    );
    assert_eq!(s.target("nic-a").2, 1);
    assert!(s.findings.is_empty(), "{:#?}", s.findings);
}

#[test]
fn without_nic_data_each_nsg_is_a_target_with_its_subnets_route() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "nsg-list.json",
        "vnet-list.json",
        "route-table-list.json",
        "firewall-list.json",
    ] {
        std::fs::copy(example("hub-spoke").join(file), dir.path().join(file)).unwrap();
    }
    let s = scan_path(
        dir.path(),
        None,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(s.inv_targets.len(), 2);
    let (_, route, _, _) = s.target("nsg-spoke-isolated");
    assert_eq!(route.internet_path, Some(false));
    assert_eq!(s.ids("nsg-spoke-isolated"), set(WIDE_OPEN));
    assert!(s.on("nsg-spoke-isolated").all(|f| f
        .notes
        .iter()
        .any(|n| n.starts_with("no internet path"))
        && f.resource_kind == "nsg"));
    let (_, route, _, _) = s.target("nsg-spoke-workload");
    assert!(route.appliance.as_deref().unwrap().contains("afw-hub-weu"));
    assert_eq!(s.ids("nsg-spoke-workload"), set(&["EG013"]));
}

#[test]
fn a_snapshot_of_rest_listings_gives_the_findings_of_the_files() {
    let mut documents = Vec::new();
    for (file, kind) in [
        ("nsg-list.json", "networkSecurityGroups"),
        ("nic-list.json", "networkInterfaces"),
        ("vnet-list.json", "virtualNetworks"),
    ] {
        let text = std::fs::read_to_string(example("shadowed-deny").join(file)).unwrap();
        let mut data: Value = serde_json::from_str(&text).unwrap();
        // A collector follows page links itself; one it kept is not a sign of a missing page.
        data["nextLink"] = json!(format!(
            "https://management.azure.com/subscriptions/{SUB}/providers/Microsoft.Network/{kind}?api-version=2024-05-01&$skiptoken=x"
        ));
        documents.push(json!({"provider": "azure", "account": SUB, "kind": kind, "data": data}));
    }
    let snap = json!({"format": "egress-audit-snapshot/1", "tool_version": "0.1.0",
        "collected_at": "2026-11-25T12:00:00Z", "documents": documents});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, snap.to_string()).unwrap();
    let from_snapshot = scan_path(&path, None, crate::inputs::EVERY);
    let from_files = scan_path(&example("shadowed-deny"), None, crate::inputs::EVERY);
    assert_eq!(summary(&from_snapshot), summary(&from_files));
    assert_eq!(from_snapshot.warnings.len(), from_files.warnings.len());
}

#[test]
fn routes_split_by_longest_prefix() {
    let table = |name: &str, routes: Value| {
        json!({"name": name, "id": id("rg-test", "routeTables", name),
            "type": "Microsoft.Network/routeTables", "routes": routes})
    };
    let r = |name: &str, prefix: &str, hop: &str| json!({"name": name, "addressPrefix": prefix, "nextHopType": hop, "nextHopIpAddress": "10.9.0.4"});
    let tables = json!([
        table(
            "rt-halves",
            json!([
                r("lo", "0.0.0.0/1", "VirtualAppliance"),
                r("hi", "128.0.0.0/1", "VirtualAppliance")
            ])
        ),
        table(
            "rt-drop-but",
            json!([
                r("drop", "0.0.0.0/0", "None"),
                r("vendor", "20.0.0.0/8", "Internet")
            ])
        ),
        table("rt-partial", json!([r("drop-lo", "0.0.0.0/1", "None")])),
        table(
            "rt-private",
            json!([
                r("onprem", "10.0.0.0/8", "VirtualNetworkGateway"),
                r("drop", "0.0.0.0/0", "None")
            ])
        ),
    ]);
    let nics: Vec<Value> = ["a", "b", "c", "d"]
        .iter()
        .map(|x| {
            nic(
                &format!("nic-{x}"),
                "10.0.0.4",
                &format!("snet-{x}"),
                None,
                &[],
            )
        })
        .collect();
    let s = scan_docs(
        vec![
            tables,
            Value::Array(nics),
            vnet(&[
                ("snet-a", None, Some("rt-halves")),
                ("snet-b", None, Some("rt-drop-but")),
                ("snet-c", None, Some("rt-partial")),
                ("snet-d", None, Some("rt-private")),
            ]),
        ],
        None,
        crate::inputs::EVERY,
    );
    // Two halves to an appliance are the default route.
    let a = &s.target("nic-a").1;
    assert_eq!(a.internet_path, None);
    assert!(a
        .appliance
        .as_deref()
        .unwrap()
        .contains("VirtualAppliance 10.9.0.4 (rt-halves)"));
    // A more specific Internet route under a dropping default is still an internet path.
    let b = &s.target("nic-b").1;
    assert_eq!(b.internet_path, Some(true));
    assert!(b.reason.as_deref().unwrap().contains("vendor"));
    // Half of public IPv4 left to the system route.
    assert_eq!(s.target("nic-c").1.internet_path, Some(true));
    // A gateway route for private space does not matter for the internet.
    let d = &s.target("nic-d").1;
    assert_eq!(d.internet_path, Some(false));
    assert!(d.reason.as_deref().unwrap().contains("route drop"));
}

#[test]
fn an_empty_page_with_a_next_link_is_partial_not_an_error() {
    let doc = json!({"value": [], "nextLink": format!(
        "https://management.azure.com/subscriptions/{SUB}/providers/Microsoft.Network/networkInterfaces?api-version=2024-05-01&$skiptoken=abc")});
    let s = scan_docs(vec![doc], None, crate::inputs::EVERY);
    assert!(s.inv_targets.is_empty());
    assert!(s
        .warnings
        .iter()
        .any(|w| w.kind == "truncated-listing" && w.message.contains("nextLink")));
}

#[test]
fn vm_tags_join_the_nic_labels() {
    let mut loader = Loader::default();
    loader.add_path(&example("defaults-only")).unwrap();
    let inv = loader.build(&Options::default());
    let t = inv
        .targets
        .iter()
        .find(|t| t.name.as_deref() == Some("vm-web-01-nic"))
        .unwrap();
    // `app` comes from the VM, `role` from the NIC; both carry `env`.
    assert_eq!(t.labels.get("app").map(String::as_str), Some("storefront"));
    assert_eq!(t.labels.get("role").map(String::as_str), Some("web"));
    assert_eq!(t.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(inv.targets.len(), 2, "VMs are not targets of their own");
}

#[test]
fn ipv6_only_where_the_nic_has_an_ipv6_address_and_0_0_0_0_slash_0_is_ipv4() {
    // Deny 0.0.0.0/0 blocks IPv4 only; AllowInternetOutBound still lets IPv6 out.
    let nsgs = json!([nsg(
        "nsg-v4deny",
        vec![rule(
            "deny-v4",
            100,
            "Deny",
            "*",
            json!("0.0.0.0/0"),
            json!("*")
        )]
    )]);
    let mut dual = nic("nic-dual", "10.0.0.4", "app", Some("nsg-v4deny"), &[]);
    dual["ipConfigurations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "ipconfig-v6", "privateIPAddress": "fd00::4",
                     "privateIPAddressVersion": "IPv6", "subnet": {"id": subnet_id("app")}}));
    let v4 = nic("nic-v4", "10.0.0.5", "app", Some("nsg-v4deny"), &[]);
    let s = scan_docs(
        vec![nsgs, json!([dual, v4]), vnet(&[("app", None, None)])],
        None,
        &["EG002"],
    );
    let smb = s.finding("nic-dual", "EG002");
    assert_eq!(smb.message, "tcp/445 is allowed to 100% of public IPv6");
    assert!(smb
        .evidence
        .iter()
        .any(|e| e.name.ends_with("AllowInternetOutBound")));
    // The IPv4-only NIC cannot send IPv6, and its IPv4 is denied.
    assert_eq!(s.ids("nic-v4"), set(&[]));
}

#[test]
fn nics_carry_their_identity() {
    let vm_id = id("rg-test", "virtualMachines", "vm-web");
    let mut n = nic("nic-web", "10.0.0.4", "app", None, &[]);
    n["virtualMachine"] = json!({"id": vm_id});
    // A second configuration with an expanded public address (as `az vm list-ip-addresses` or a
    // REST `$expand` shows it).
    n["ipConfigurations"].as_array_mut().unwrap().push(
        json!({"name": "ipconfig2", "privateIPAddress": "10.0.0.5",
            "subnet": {"id": subnet_id("app")},
            "publicIPAddress": {"id": id("rg-test", "publicIPAddresses", "pip-web"),
                "properties": {"ipAddress": "20.50.1.2"}}}),
    );
    let mut loader = Loader::default();
    for (i, d) in [vnet(&[("app", None, None)]), json!([n])]
        .into_iter()
        .enumerate()
    {
        let ctx = DocContext {
            source: format!("doc{i}.json"),
            ..Default::default()
        };
        loader.add_value(d, &ctx).unwrap();
    }
    let inv = loader.build(&Options::default());
    let t = inv
        .targets
        .iter()
        .find(|t| t.resource_id.ends_with("/nic-web"))
        .expect("the NIC is a target");
    assert_eq!(t.identity.instance_ids, vec![vm_id]);
    assert_eq!(
        t.identity.interface_ids,
        vec![id("rg-test", "networkInterfaces", "nic-web")]
    );
    let addrs: Vec<String> = t.identity.addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(addrs, vec!["10.0.0.4", "10.0.0.5", "20.50.1.2"]);
    assert_eq!(
        t.identity.network,
        Some(id("rg-test", "virtualNetworks", "vnet-test"))
    );
}
